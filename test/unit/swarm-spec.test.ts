import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.js';
import { deepMerge, fileRefEntry, friendlySpecFragment, mergeEnv, mergeLabels } from '../../src/operations/shared/service-spec.js';
import { mapSwarmError } from '../../src/operations/shared/swarm.js';

describe('service spec merging (update_service semantics)', () => {
  it('env adds, replaces in place and removes by name; the rest is kept in order', () => {
    expect(mergeEnv(['A=1', 'B=2', 'C=3', 'FLAG'], { B: 'x', D: 4 }, ['C', 'FLAG'])).toEqual(['A=1', 'B=x', 'D=4']);
    expect(mergeEnv(null, { A: true }, undefined)).toEqual(['A=true']);
    // A name both added and removed is removed (as docker service update --env-add/--env-rm).
    expect(mergeEnv(['A=1'], { B: '2' }, ['B'])).toEqual(['A=1']);
  });

  it('labels add and remove by key', () => {
    expect(mergeLabels({ a: '1', b: '2' }, { c: '3', a: 'x' }, ['b'])).toEqual({ a: 'x', c: '3' });
  });

  it('deepMerge merges objects, replaces arrays and skips undefined', () => {
    expect(deepMerge({ A: { B: 1, C: [1, 2] }, D: 1 }, { A: { C: [3], E: undefined }, D: undefined })).toEqual({ A: { B: 1, C: [3] }, D: 1 });
  });

  it('friendly parameters become the Engine spec fields', () => {
    const f = friendlySpecFragment({ image: 'x:1', replicas: 2, endpoint_mode: 'dnsrr', publish: [{ target: 80, protocol: 'tcp', mode: 'host' }], constraints: ['node.role==manager'] });
    expect(f).toMatchObject({
      TaskTemplate: { ContainerSpec: { Image: 'x:1' }, Placement: { Constraints: ['node.role==manager'] } },
      Mode: { Replicated: { Replicas: 2 } },
      EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishMode: 'host' }] },
    });
  });

  it('secrets are references by id and name with a file target, never data', () => {
    expect(fileRefEntry('secret', 'db', { id: 'abc', name: 'db' })).toEqual({ SecretID: 'abc', SecretName: 'db', File: { Name: 'db', UID: '0', GID: '0', Mode: 0o444 } });
    expect(fileRefEntry('config', { config: 'c', target: '/etc/c.conf', uid: '1', gid: '2', mode: 0o400 }, { id: 'i', name: 'c' })).toEqual({ ConfigID: 'i', ConfigName: 'c', File: { Name: '/etc/c.conf', UID: '1', GID: '2', Mode: 0o400 } });
  });
});

describe('Swarm error mapping', () => {
  const engineErr = (code: ConstructorParameters<typeof ConnectorError>[0], status: number, message: string, extra: Record<string, unknown> = {}) =>
    new ConnectorError(code, `Engine answered HTTP ${status}: ${message}`, { status, details: { engine_message: message, ...extra } });

  it('a non-manager Engine is UNAVAILABLE, saying so and what to do', () => {
    const e = mapSwarmError(engineErr('UNAVAILABLE', 503, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'), 'list_services') as ConnectorError;
    expect(e).toMatchObject({ code: 'UNAVAILABLE', operation: 'list_services', details: expect.objectContaining({ swarm: 'not_manager' }) });
    expect(e.message).toMatch(/not a swarm manager.*docker swarm init/);
  });

  it("an Engine without Swarm (a router 404, or Podman's 503) is UNSUPPORTED naming Swarm", () => {
    const e = mapSwarmError(engineErr('UNSUPPORTED', 404, 'Not Found', { route: 'GET /services' })) as ConnectorError;
    expect(e).toMatchObject({ code: 'UNSUPPORTED' });
    expect(e.message).toMatch(/does not support Swarm \(GET \/services answered 404/);
    const p = mapSwarmError(engineErr('UNAVAILABLE', 503, 'Podman does not support service: /v1.41/nodes/x')) as ConnectorError;
    expect(p).toMatchObject({ code: 'UNSUPPORTED' });
  });

  it('a secret or config in use is CONFLICT; other errors pass unchanged', () => {
    expect(mapSwarmError(engineErr('INVALID_PARAMS', 400, "rpc error: code = InvalidArgument desc = secret 's' is in use by the following service: web"))).toMatchObject({ code: 'CONFLICT' });
    const other = engineErr('NOT_FOUND', 404, 'service x not found');
    expect(mapSwarmError(other)).toBe(other);
  });
});
