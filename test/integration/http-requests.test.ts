import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '../support/harness.js';
import { rawRequest, startServed, type Served } from '../support/served.js';

/*
 * What the service answers to requests its contract does not allow: a body
 * that is not a JSON object, a method a route does not take. `serve` as users
 * start it; the surface is checked, so one Engine is enough.
 */
const engine = engines()[0]!;

describe('serve: request shape and methods', () => {
  let s: Served;
  beforeAll(async () => {
    s = await startServed(['serve', '--host', engine.host, '--listen', '127.0.0.1:0', '--no-auth', '--audit-log', 'off']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const post = (path: string, body: string) => rawRequest(s.port, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body });

  it('refuses a body of null like any other body that is not an object (400 INVALID_PARAMS)', async () => {
    for (const body of ['null', '[]', '1', '"x"']) {
      const r = await post('/v1/operations/ping', body);
      expect(r.status, body).toBe(400);
      expect(r.json(), body).toMatchObject({ error: { code: 'INVALID_PARAMS', status: 400, operation: 'ping' } });
    }
    expect((await post('/v1/operations/ping', 'null')).json().error.message).toMatch(/JSON object/);
  });

  it('takes an empty body, or an empty object, as no parameters', async () => {
    for (const body of ['', '{}', '  ']) {
      const r = await post('/v1/operations/ping', body);
      expect(r.status, JSON.stringify(body)).toBe(200);
    }
  });

  it('answers 405 with Allow to a method a route does not take', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/v1/operations/ping', 'POST'],
      ['PUT', '/v1/operations/create_container', 'POST'],
      ['DELETE', '/v1/operations/no_such_operation', 'POST'],
      ['POST', '/v1/operations', 'GET, HEAD'],
      ['POST', '/v1/health', 'GET, HEAD'],
      ['DELETE', '/v1/manifest', 'GET, HEAD'],
      ['POST', '/openapi.json', 'GET, HEAD'],
      ['PUT', '/docs', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await rawRequest(s.port, { method, path: `${path}?x=1` });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow, `${method} ${path}`).toBe(allow);
      expect(r.json(), `${method} ${path}`).toMatchObject({ error: { code: 'INVALID_PARAMS', status: 405, message: expect.stringContaining(`${method} ${path}`) } });
    }
  });

  it('still answers 404 for a path no route has', async () => {
    const r = await rawRequest(s.port, { path: '/v1/nothing-here' });
    expect(r.status).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});
