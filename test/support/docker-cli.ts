import { execFileSync } from 'node:child_process';
import type { HarnessEngine } from './harness.js';

/**
 * The docker CLI against one harness Engine: fixtures and a second view of
 * what the connector did (the code under test is always the connector).
 */
export function docker(engine: HarnessEngine, args: string[], input?: Buffer): string {
  return execFileSync('docker', ['-H', engine.host, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
}
