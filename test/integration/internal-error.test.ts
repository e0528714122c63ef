import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EngineClient, loadConfig } from 'docker-connector';
import { failure } from '../support/expect-error.js';
import { engines } from '../support/harness.js';

/*
 * A request body the connector streams to the Engine (a build context, a
 * copy's tar) that fails: a fault in the code producing it (the bundle's
 * "tarPack is not a function" was one) is an internal error, not the
 * caller's INVALID_PARAMS; a file the caller named that cannot be read stays
 * the caller's to fix. Against a real Engine, through the built package.
 */
function client(host: string): EngineClient {
  const { config } = loadConfig({ options: { host, rate_limit: 0, retry_attempts: 0 }, env: {} });
  return new EngineClient(config);
}

/** A tar body whose first read fails with `err`. */
const failingBody = (err: Error) =>
  new Readable({
    read() {
      this.destroy(err);
    },
  });

describe.each(engines())('a failing request body on Engine $name', (engine) => {
  it('a fault in code is INTERNAL_ERROR, an unreadable file INVALID_PARAMS', async () => {
    const c = client(engine.host);
    try {
      const fault = await failure(c.json({ method: 'POST', path: '/build', query: { q: true }, body: failingBody(new TypeError('tarPack is not a function')), operation: 'build_image' }));
      expect(fault).toMatchObject({ code: 'INTERNAL_ERROR', message: expect.stringContaining('tarPack is not a function') });
      const unreadable = Object.assign(new Error("EACCES: permission denied, open '/ctx/private'"), { code: 'EACCES' });
      const caller = await failure(c.json({ method: 'POST', path: '/build', query: { q: true }, body: failingBody(unreadable), operation: 'build_image' }));
      expect(caller).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/^Reading the request body failed: EACCES/) });
    } finally {
      c.close();
    }
  });
});
