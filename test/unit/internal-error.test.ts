import { describe, expect, it } from 'vitest';
import type { DockerConnector } from '../../src/connector.js';
import { bodyReadError, ConnectorError, toConnectorError } from '../../src/errors.js';
import { buildApp } from '../../src/http/app.js';
import { parseServiceSettings } from '../../src/http/settings.js';
import type { Logger } from '../../src/log.js';
import { createAuditLog } from '../../src/access/audit.js';
import { Policy } from '../../src/access/policy.js';

/*
 * A fault in the connector's own code (like the bundle's "tarPack is not a
 * function") is an internal error, never the caller's INVALID_PARAMS nor an
 * Engine error.
 */

describe('internal errors', () => {
  it('toConnectorError maps faults in code to INTERNAL_ERROR and keeps other errors as before', async () => {
    let fault: unknown;
    try {
      (undefined as unknown as () => void)();
    } catch (err) {
      fault = err;
    }
    for (const err of [fault, new TypeError('tarPack is not a function'), new ReferenceError('x is not defined'), new RangeError('Invalid array length')]) {
      const e = toConnectorError(err, 'build_image');
      expect(e).toMatchObject({ code: 'INTERNAL_ERROR', operation: 'build_image', retryable: false });
      expect(e.message).toMatch(/^Internal error in the connector: /);
      expect(e.cause).toBe(err);
    }
    expect(toConnectorError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).code).toBe('ENGINE_ERROR');
    // A chunk of the bundle that cannot be loaded is the package's fault, not the Engine's.
    const missing = await import('../../dist/bundle/no-such-chunk.js' as string).catch((e: unknown) => e);
    expect(toConnectorError(missing, 'copy_to_container')).toMatchObject({ code: 'INTERNAL_ERROR', operation: 'copy_to_container' });
    const own = new ConnectorError('NOT_FOUND', 'gone');
    expect(toConnectorError(own, 'x')).toBe(own);
  });

  it('a request body that fails: a fault is INTERNAL_ERROR, an unreadable file of the caller INVALID_PARAMS', () => {
    expect(bodyReadError(new TypeError('tarPack is not a function'))).toMatchObject({ code: 'INTERNAL_ERROR', message: expect.stringContaining('tarPack is not a function') });
    expect(bodyReadError(Object.assign(new Error("EACCES: permission denied, open '/ctx/secret'"), { code: 'EACCES' }))).toMatchObject({
      code: 'INVALID_PARAMS',
      message: expect.stringMatching(/^Reading the request body failed: EACCES/),
    });
    const own = new ConnectorError('STREAM_ERROR', 'too big');
    expect(bodyReadError(own)).toBe(own);
  });

  it('the HTTP service answers a fault with 500 INTERNAL_ERROR and logs it with its stack', async () => {
    const logged: { obj: Record<string, unknown>; msg?: string }[] = [];
    const noop = () => {};
    const logger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: (obj, msg) => logged.push({ obj: obj as Record<string, unknown>, msg }) };
    // A connector whose operation hits a fault in code; nothing reaches an Engine.
    const broken = {
      config: {},
      executeDynamic: async () => {
        const { pack: tarPack } = {} as { pack?: () => void };
        tarPack!();
      },
    } as unknown as DockerConnector;
    const { app } = buildApp({
      endpoints: new Map([['default', broken]]),
      keys: null,
      policy: new Policy({}),
      audit: createAuditLog('off'),
      settings: parseServiceSettings({}),
      logger,
    });
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/operations/ping', headers: { 'content-type': 'application/json' }, payload: '{}' });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toMatchObject({ error: { code: 'INTERNAL_ERROR', status: 500, operation: 'ping', message: expect.stringMatching(/^Internal error in the connector: .*not a function/) } });
      expect(res.body).not.toMatch(/\bat .*\.(js|ts):\d+/);
      expect(logged).toEqual([expect.objectContaining({ msg: 'internal error in the HTTP service', obj: expect.objectContaining({ operation: 'ping', stack: expect.stringContaining('TypeError') }) })]);
    } finally {
      await app.close();
    }
  });
});
