import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What test/harness/up.sh writes to $DC_HARNESS_DIR/env.json. */
export interface HarnessEngine {
  name: 'old' | 'new';
  host: string;
  version: string;
  apiVersion: string;
  netns: string;
  pidfile: string;
  registry: string;
  searchRegistry: string;
}

export interface HarnessEnv {
  stateDir: string;
  image: string;
  engines: HarnessEngine[];
  registry: { username: string; password: string };
  tls: {
    host: string;
    engine: string;
    caCert: string;
    clientCert: string;
    clientKey: string;
    wrongCaCert: string;
    wrongClientCert: string;
    wrongClientKey: string;
    certDir: string;
  };
  proxy: { engine: string; basicHost: string; username: string; password: string; bearerHost: string; token: string };
}

export const HARNESS_DIR = process.env.DC_HARNESS_DIR ?? '/tmp/dch';

let cached: HarnessEnv | undefined;

export function harness(): HarnessEnv {
  cached ??= JSON.parse(readFileSync(join(HARNESS_DIR, 'env.json'), 'utf8')) as HarnessEnv;
  return cached;
}

/** The Engines this run tests against: all, or those named in DC_ENGINES (e.g. "new"). */
export function engines(): HarnessEngine[] {
  const wanted = process.env.DC_ENGINES?.split(',').map((s) => s.trim()).filter(Boolean);
  const all = harness().engines;
  return wanted?.length ? all.filter((e) => wanted.includes(e.name)) : all;
}
