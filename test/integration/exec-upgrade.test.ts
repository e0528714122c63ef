import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorOptions } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { engines, type HarnessEngine } from '../support/harness.js';

type Logger = NonNullable<ConnectorOptions['logger']>;

/**
 * exec with stdin upgrades its connection (POST /exec/{id}/start, 101). That call goes through
 * the client like every other: the rate limiter, the version prefix and the request log.
 */

interface Entry {
  level: string;
  msg: string | undefined;
  obj: Record<string, unknown>;
}

function recordingLogger(entries: Entry[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, msg, obj: obj as Record<string, unknown> });
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe.each(engines())('exec with stdin through the client on Engine $name (API $apiVersion)', (engine: HarnessEngine) => {
  let container: string;

  beforeAll(() => {
    container = uniqueName('dct-upgrade');
    docker(engine, ['run', '-d', '--name', container, '--label', `${TEST_LABEL}=exec-upgrade`, 'dc-busybox:latest', 'sleep', '300']);
  });
  afterAll(() => {
    docker(engine, ['rm', '-f', container]);
  });

  it('the upgrade request is logged with its versioned path and status 101', async () => {
    const entries: Entry[] = [];
    const dc = connectorFor(engine, { logger: recordingLogger(entries) });
    try {
      const r = await dc.execute('exec_container', { container, command: ['cat'], stdin: 'through the log\n' });
      expect(r.stdout).toBe('through the log\n');
      const version = dc.engine.knownApiVersion();
      expect(version).toBe(engine.apiVersion);
      const requests = entries.filter((e) => e.msg === 'engine request');
      const upgrade = requests.find((e) => e.obj['path'] === `/v${version}/exec/${r.exec_id}/start`);
      expect(upgrade?.obj).toMatchObject({ operation: 'exec_container', method: 'POST', status: 101, endpoint: engine.host });
    } finally {
      dc.close();
    }
  });

  it('the upgrade waits for the rate limiter like every other call', async () => {
    const entries: Entry[] = [];
    // One call a second, no burst beyond one: every call after the first waits about a second.
    const dc = connectorFor(engine, { logger: recordingLogger(entries), rate_limit: 60, rate_limit_burst: 1, api_version: engine.apiVersion });
    try {
      const started = Date.now();
      const r = await dc.execute('exec_container', { container, command: ['cat'], stdin: 'limited\n' });
      expect(r.stdout).toBe('limited\n');
      const at = entries.findIndex((e) => e.msg === 'engine request' && e.obj['path'] === `/v${engine.apiVersion}/exec/${r.exec_id}/start`);
      expect(at).toBeGreaterThan(0);
      // The entry before the upgrade's is its own wait for the limiter.
      const wait = entries[at - 1]!;
      expect(wait).toMatchObject({ level: 'warn', msg: 'rate limit wait', obj: { operation: 'exec_container' } });
      expect(wait.obj['waited_ms'] as number).toBeGreaterThan(500);
      // create exec, upgrade, inspect exec: at least two waits of ~1 s each after the first call.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
    } finally {
      dc.close();
    }
  });
});
