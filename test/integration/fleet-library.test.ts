import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, DockerConnector } from 'docker-connector';
import { harness } from '../support/harness.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { FLEET, FLEET_NAMES, fleetConfigFile } from '../support/fleet.js';

/*
 * Named endpoints through the library (issue 17 §1–2): three endpoints over
 * the two private Engines (one over mTLS) and one unreachable, from a config
 * file, as a Node program would use them.
 */

const engine = (name: 'old' | 'new') => harness().engines.find((e) => e.name === name)!;

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try {
    await p;
  } catch (e) {
    return e as ConnectorError;
  }
  throw new Error('expected a failure');
}

describe('named endpoints from a config file (library)', () => {
  let dc: DockerConnector;
  const onOld = uniqueName('fleet-old');
  const onNew = uniqueName('fleet-new');

  beforeAll(async () => {
    dc = new DockerConnector({ configFile: fleetConfigFile(), env: {} });
    const labels = { [TEST_LABEL]: '1', 'dc.fleet': onOld };
    await dc.execute('create_container', { name: onOld, image: harness().image, command: ['sleep', '60'], labels }, { endpoint: FLEET.old });
    await dc.execute('create_container', { name: onNew, image: harness().image, command: ['sleep', '60'], labels: { ...labels, 'dc.fleet': onNew } }, { endpoint: FLEET.new });
  });
  afterAll(async () => {
    await dc.execute('remove_container', { container: onOld, force: true }, { endpoint: FLEET.old }).catch(() => undefined);
    await dc.execute('remove_container', { container: onNew, force: true }, { endpoint: FLEET.new }).catch(() => undefined);
    dc.close();
  });

  it('lists the names in configuration order, with the configured default', () => {
    expect(dc.endpointNames).toEqual([...FLEET_NAMES]);
    expect(dc.defaultEndpoint).toBe(FLEET.new);
  });

  it('sends each call to the endpoint it names, and calls naming none to the default', async () => {
    expect((await dc.execute('get_version', {}, { endpoint: FLEET.old })).ApiVersion).toBe(engine('old').apiVersion);
    expect((await dc.execute('get_version', {}, { endpoint: FLEET.mtls })).ApiVersion).toBe(engine('new').apiVersion);
    expect((await dc.execute('get_version', {})).Version).toBe(engine('new').version);
    // The container made through "old" is on the old Engine only.
    expect((await dc.execute('inspect_container', { container: onOld }, { endpoint: FLEET.old })).Name).toBe(`/${onOld}`);
    expect((await failure(dc.execute('inspect_container', { container: onOld }, { endpoint: FLEET.new }))).code).toBe('NOT_FOUND');
  });

  it('names the endpoint in errors; an unknown name is INVALID_PARAMS naming it and the configured ones', async () => {
    const down = await failure(dc.execute('get_version', {}, { endpoint: FLEET.unreachable }));
    expect(down.code).toBe('CONNECTION_FAILED');
    expect(down.endpoint).toBe(FLEET.unreachable);
    expect(down.message).toMatch(/^Endpoint "unreachable": Cannot connect/);
    const missing = await failure(dc.execute('get_version', {}, { endpoint: 'staging' }));
    expect(missing.code).toBe('INVALID_PARAMS');
    expect(missing.message).toBe(`Unknown endpoint "staging" (endpoint); configured: ${FLEET_NAMES.join(', ')}`);
    const notFound = await failure(dc.execute('inspect_container', { container: onNew }, { endpoint: FLEET.old }));
    expect(notFound.toJSON()).toMatchObject({ code: 'NOT_FOUND', endpoint: FLEET.old });
  });

  it('fans a read out over every endpoint: each answer under its name, the unreachable one in errors', async () => {
    const out = await dc.executeAcross('list_containers', { all: true, filters: { label: [`dc.fleet`] } }, { endpoints: 'all' });
    expect(Object.keys(out.results)).toEqual([FLEET.old, FLEET.new, FLEET.mtls]);
    const names = (name: string) => out.results[name]!.map((c) => c.Names?.[0]);
    expect(names(FLEET.old)).toContain(`/${onOld}`);
    expect(names(FLEET.old)).not.toContain(`/${onNew}`);
    expect(names(FLEET.new)).toContain(`/${onNew}`);
    expect(names(FLEET.new)).not.toContain(`/${onOld}`);
    // The mTLS endpoint reaches the same Engine as "new".
    expect(names(FLEET.mtls).sort()).toEqual(names(FLEET.new).sort());
    expect(Object.keys(out.errors)).toEqual([FLEET.unreachable]);
    expect(out.errors[FLEET.unreachable]).toEqual({ code: 'CONNECTION_FAILED', message: expect.stringMatching(/^Endpoint "unreachable": Cannot connect to the Docker Engine at http:\/\/127\.0\.0\.1:9/) });
  });

  it('fans out over the endpoints named, in the order given, each once', async () => {
    const out = await dc.executeAcross('get_version', {}, { endpoints: 'new-mtls,old,old' });
    expect(Object.keys(out.results)).toEqual([FLEET.mtls, FLEET.old]);
    expect(out.results[FLEET.old]!.ApiVersion).toBe(engine('old').apiVersion);
    expect(out.errors).toEqual({});
  });

  it('refuses to fan out a write or destructive operation, bad parameters, or an unknown name, before anything is sent', async () => {
    const name = uniqueName('fleet-net');
    const write = await failure(dc.executeAcross('create_network', { name }, { endpoints: 'all' }));
    expect(write.code).toBe('INVALID_PARAMS');
    expect(write.message).toMatch(/create_network is a write operation: it runs on one endpoint at a time/);
    const destructive = await failure(dc.executeAcross('remove_container', { container: onOld }, { endpoints: [FLEET.old] }));
    expect(destructive.message).toMatch(/is a destructive operation/);
    for (const e of [FLEET.old, FLEET.new]) expect((await dc.execute('list_networks', { filters: { name: [name] } }, { endpoint: e })).length).toBe(0);
    expect((await dc.execute('inspect_container', { container: onOld }, { endpoint: FLEET.old })).Id).toBeTruthy();
    const bad = await failure(dc.executeAcross('list_containers', { all: 'yes' } as never, { endpoints: 'all' }));
    expect(bad.code).toBe('INVALID_PARAMS');
    expect(bad.message).toMatch(/all/);
    const unknown = await failure(dc.executeAcross('get_version', {}, { endpoints: ['old', 'prod'] }));
    expect(unknown.message).toMatch(/Unknown endpoint "prod"/);
  });

  it('lists the endpoints with reachability, Engine and negotiated API versions', async () => {
    const list = await dc.listEndpoints();
    expect(list.map((e) => [e.name, e.default, e.reachable])).toEqual([
      [FLEET.old, false, true],
      [FLEET.new, true, true],
      [FLEET.mtls, false, true],
      [FLEET.unreachable, false, false],
    ]);
    expect(list[0]).toMatchObject({ engine_version: engine('old').version, api_version: engine('old').apiVersion, endpoint: engine('old').host });
    expect(list[2]).toMatchObject({ engine_version: engine('new').version, endpoint: harness().tls.host.replace('tcp://', 'https://') });
    expect(list[3]).toMatchObject({ endpoint: 'http://127.0.0.1:9', error: { code: 'CONNECTION_FAILED' } });
    expect(list[0]!.endpoint_source).toMatch(/^endpoints\.old in .*fleet\.json$/);
  });

  it('keeps each endpoint\'s own settings: the default endpoint of a file without endpoints is "default"', async () => {
    const single = new DockerConnector({ host: engine('old').host, env: {} });
    try {
      expect(single.endpointNames).toEqual(['default']);
      expect((await single.execute('get_version', {}, { endpoint: 'default' })).ApiVersion).toBe(engine('old').apiVersion);
      const out = await single.executeAcross('get_version', {}, { endpoints: 'all' });
      expect(Object.keys(out.results)).toEqual(['default']);
      expect((await failure(single.execute('get_version', {}, { endpoint: FLEET.old }))).message).toBe('Unknown endpoint "old" (endpoint); configured: default');
    } finally {
      single.close();
    }
  });

  it('takes the endpoints map as a library option too, and checks default_endpoint and each entry', async () => {
    const lib = new DockerConnector({ env: {}, endpoints: { a: { host: engine('old').host }, b: { host: engine('new').host } }, default_endpoint: 'b' });
    try {
      expect((await lib.execute('get_version', {})).ApiVersion).toBe(engine('new').apiVersion);
    } finally {
      lib.close();
    }
    expect(() => new DockerConnector({ env: {}, endpoints: { a: { host: engine('old').host } }, default_endpoint: 'z' })).toThrow(/default_endpoint "z" is not one of the endpoints \(a\)/);
    expect(() => new DockerConnector({ env: {}, endpoints: { a: { host: 'ftp://x' } } })).toThrow(/^Invalid configuration: endpoints\.a: host: /);
    expect(() => new DockerConnector({ env: {}, host: engine('old').host, default_endpoint: 'prod' })).toThrow(/there is no endpoints map/);
  });
});
