import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { harness } from '../support/harness.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { FLEET, FLEET_NAMES, fleetConfigFile } from '../support/fleet.js';

/*
 * Named endpoints and fan-out through the HTTP service (issue 17 §1–2):
 * `?endpoint=name`, `?endpoint=a,b`, `?endpoint=all`, with the fleet of
 * test/support/fleet.ts (three endpoints over the two Engines, one over
 * mTLS, and one unreachable) read from a config file, as `serve` does.
 */

const KEY = 'fleet-http-key-5b1d0e7c93';
const engine = (name: 'old' | 'new') => harness().engines.find((e) => e.name === name)!;

describe('fleet through the HTTP service', () => {
  let base: DockerConnector;
  let service: HttpService;
  let url: string;
  let auditFile: string;
  const onOld = uniqueName('fleet-http-old');

  async function call(name: string, query: string, params: unknown = {}, accept = 'application/json'): Promise<{ status: number; body: any }> {
    const res = await fetch(`${url}/v1/operations/${name}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${KEY}` },
      body: JSON.stringify(params),
    });
    const text = await res.text();
    return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') && text ? JSON.parse(text) : text };
  }

  beforeAll(async () => {
    auditFile = join(mkdtempSync(join(tmpdir(), 'dc-fleet-http-')), 'audit.log');
    base = new DockerConnector({ configFile: fleetConfigFile({ api_keys: [{ id: 'ops', key: KEY, scopes: ['admin'] }], audit_log: auditFile, service: { listen: '127.0.0.1:0' } }), env: {} });
    service = HttpService.create({ base, env: {} });
    url = await service.listen();
    await base.execute('create_container', { name: onOld, image: harness().image, command: ['sleep', '60'], labels: { [TEST_LABEL]: '1', 'dc.fleet-http': '1' } }, { endpoint: FLEET.old });
  });
  afterAll(async () => {
    await base.execute('remove_container', { container: onOld, force: true }, { endpoint: FLEET.old }).catch(() => undefined);
    await service.close();
    base.close();
  });

  it('serves every named endpoint of the config file, the default one first', () => {
    expect([...service.endpoints.keys()]).toEqual([FLEET.new, FLEET.old, FLEET.mtls, FLEET.unreachable]);
  });

  it('runs a call on the endpoint named by ?endpoint=, and on the default without it', async () => {
    expect((await call('get_version', `?endpoint=${FLEET.old}`)).body.ApiVersion).toBe(engine('old').apiVersion);
    expect((await call('get_version', `?endpoint=${FLEET.mtls}`)).body.Version).toBe(engine('new').version);
    expect((await call('get_version', '')).body.Version).toBe(engine('new').version);
  });

  it('answers an unknown endpoint with 400 naming it, and an unreachable one with 502 naming it', async () => {
    const unknown = await call('get_version', '?endpoint=prod');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/Unknown endpoint "prod".*configured: new, old, new-mtls, unreachable/);
    const down = await call('get_version', `?endpoint=${FLEET.unreachable}`);
    expect(down.status).toBe(502);
    expect(down.body.error).toMatchObject({ code: 'CONNECTION_FAILED', endpoint: FLEET.unreachable, message: expect.stringMatching(/^Endpoint "unreachable": /) });
  });

  it('fans a read out with ?endpoint=all: 200, every answer under its endpoint, the unreachable one in errors', async () => {
    const r = await call('list_containers', '?endpoint=all', { all: true, filters: { label: ['dc.fleet-http'] } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.results)).toEqual([FLEET.old, FLEET.new, FLEET.mtls]);
    expect(r.body.results[FLEET.old].map((c: { Names: string[] }) => c.Names[0])).toEqual([`/${onOld}`]);
    expect(r.body.results[FLEET.new]).toEqual([]);
    expect(r.body.errors).toEqual({ [FLEET.unreachable]: { code: 'CONNECTION_FAILED', message: expect.stringMatching(/^Endpoint "unreachable": Cannot connect/) } });
    const two = await call('get_version', `?endpoint=${FLEET.old},${FLEET.new}`);
    expect(Object.keys(two.body.results)).toEqual([FLEET.old, FLEET.new]);
    expect(two.body.errors).toEqual({});
  });

  it('refuses to fan out a write (400, nothing created), a stream (406) or an unknown name (400)', async () => {
    const name = uniqueName('fleet-http-net');
    const write = await call('create_network', '?endpoint=all', { name });
    expect(write.status).toBe(400);
    expect(write.body.error.message).toMatch(/create_network is a write operation: it runs on one endpoint at a time/);
    for (const e of [FLEET.old, FLEET.new]) expect(await base.execute('list_networks', { filters: { name: [name] } }, { endpoint: e })).toEqual([]);
    const stream = await call('container_logs', '?endpoint=all', { container: onOld }, 'text/plain');
    expect(stream.status).toBe(406);
    const unknown = await call('get_version', '?endpoint=old,prod');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/Unknown endpoint "prod"/);
  });

  it('writes the selection into the audit line', async () => {
    await call('get_version', `?endpoint=${FLEET.old},${FLEET.mtls}`);
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l) => l.operation === 'get_version' && l.endpoint === `${FLEET.old},${FLEET.mtls}` && l.outcome === 'ok')).toBe(true);
  });

  it('publishes the selection and the fan-out answer in its OpenAPI document', async () => {
    const doc = await (await fetch(`${url}/openapi.json`)).json();
    const read = doc.paths['/v1/operations/list_containers'].post;
    const write = doc.paths['/v1/operations/create_network'].post;
    expect(read.parameters).toEqual([{ $ref: '#/components/parameters/endpointSelection' }]);
    expect(write.parameters).toEqual([{ $ref: '#/components/parameters/endpoint' }]);
    expect(doc.components.parameters.endpoint.schema.enum).toEqual([FLEET.new, FLEET.old, FLEET.mtls, FLEET.unreachable]);
    const pattern = new RegExp(doc.components.parameters.endpointSelection.schema.pattern);
    for (const ok of ['all', 'old', 'old,new-mtls']) expect(pattern.test(ok)).toBe(true);
    for (const bad of ['prod', 'old,', 'oldx']) expect(pattern.test(bad)).toBe(false);
    const schema = read.responses['200'].content['application/json'].schema;
    expect(schema.anyOf).toHaveLength(2);
    expect(schema.anyOf[1].required).toEqual(['results', 'errors']);
  });

  it('reports every endpoint in /v1/health, 503 while one is unreachable', async () => {
    const res = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${KEY}` } });
    const body = await res.json();
    expect(res.status).toBe(503);
    expect(Object.keys(body.endpoints).sort()).toEqual([...FLEET_NAMES].sort());
    expect(body.endpoints[FLEET.unreachable].reachable).toBe(false);
    expect(body.endpoints[FLEET.mtls]).toMatchObject({ reachable: true, api_version: engine('new').apiVersion });
  });
});
