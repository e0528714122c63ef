import { randomBytes } from 'node:crypto';
import { DockerConnector, type ConnectorOptions } from 'docker-connector';
import type { HarnessEngine } from './harness.js';

/** DC_TEST_TRANSPORT=node|undici|auto: the transport of buffered calls for this run (see package.json "test"). */
export const TEST_TRANSPORT: Pick<ConnectorOptions, 'transport'> = process.env.DC_TEST_TRANSPORT ? { transport: process.env.DC_TEST_TRANSPORT as ConnectorOptions['transport'] } : {};

/**
 * A connector for one harness Engine, isolated from the caller's env:
 * limiter off, quick retries, so tests measure behaviour, not waiting.
 */
export function connectorFor(engine: HarnessEngine, options: ConnectorOptions = {}): DockerConnector {
  return new DockerConnector({ host: engine.host, rate_limit: 0, retry_delay: 0.05, env: {}, ...TEST_TRANSPORT, ...options });
}

/** A unique name for objects a test creates, so files can run in parallel. */
export function uniqueName(prefix = 'dct'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** The label every test object carries, so prunes in tests touch only their own objects. */
export const TEST_LABEL = 'docker-connector-test';
