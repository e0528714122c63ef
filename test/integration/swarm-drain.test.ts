/**
 * update_node drains the node and makes it active again, on both harness
 * Engines (each a single-node swarm manager). A drained single node stops
 * every service's tasks, which changes what every other test file sees:
 * this file runs only in the sequential "integration-restart" vitest
 * project, after the others (vitest.config.ts). Services use dnsrr and
 * host-mode publishing: the test machine's kernel has no IPVS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (probe()) return;
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.each(engines())('update_node drain and active on Engine $name (API $apiVersion)', (engine: HarnessEngine) => {
  const value = uniqueName('swarm-drain');
  const svc = uniqueName('dcdrain');
  let dc: DockerConnector;
  const nodeId = () => docker(engine, ['info', '--format', '{{.Swarm.NodeID}}']).trim();
  const running = () => docker(engine, ['service', 'ps', svc, '--filter', 'desired-state=running', '--format', '{{.CurrentState}}']).split('\n').filter((l) => l.startsWith('Running')).length;
  const replicasShown = () => docker(engine, ['service', 'ls', '--filter', `name=${svc}`, '--format', '{{.Name}} {{.Replicas}}']).split('\n').find((l) => l.startsWith(`${svc} `))?.split(' ')[1];

  beforeAll(async () => {
    dc = connectorFor(engine);
    await dc.execute('create_service', {
      name: svc,
      image: harness().image,
      command: ['sleep', '600'],
      replicas: 2,
      endpoint_mode: 'dnsrr',
      publish: [{ target: 8080, mode: 'host' }],
      labels: { [TEST_LABEL]: value },
      // `sleep` ignores SIGTERM: killed after 1 s instead of 10.
      spec: { TaskTemplate: { ContainerSpec: { StopGracePeriod: 1_000_000_000 } } },
    });
    await until(`${svc} at 2/2`, () => replicasShown() === '2/2');
  });

  afterAll(() => {
    dc.close();
    // The docker CLI cleans up, whatever the connector did: the node takes tasks again, the service goes.
    docker(engine, ['node', 'update', '--availability', 'active', nodeId()]);
    const left = docker(engine, ['service', 'ls', '-q', '--filter', `label=${TEST_LABEL}=${value}`]).split('\n').filter(Boolean);
    if (left.length) docker(engine, ['service', 'rm', ...left]);
  });

  it('drain stops the tasks of the only node and keeps what was not named; active brings them back', async () => {
    const before = await dc.execute('inspect_node', { node: 'self' });
    expect(before).toMatchObject({ ID: nodeId(), Spec: { Role: 'manager', Availability: 'active' } });
    try {
      const drained = await dc.execute('update_node', { node: 'self', availability: 'drain' });
      expect(drained).toMatchObject({ ID: before.ID, Spec: { Availability: 'drain', Role: 'manager', Labels: before.Spec.Labels ?? {} } });
      expect(drained.Version.Index).toBeGreaterThan(before.Version.Index);
      expect(docker(engine, ['node', 'inspect', before.ID, '--format', '{{.Spec.Availability}}']).trim()).toBe('drain');
      // A single node: the tasks have nowhere to go, so they stop and wait.
      await until(`${svc}'s tasks gone from the drained node`, () => running() === 0 && replicasShown() === '0/2');
    } finally {
      const active = await dc.execute('update_node', { node: 'self', availability: 'active' });
      expect(active.Spec.Availability).toBe('active');
    }
    expect(docker(engine, ['node', 'inspect', before.ID, '--format', '{{.Spec.Availability}}']).trim()).toBe('active');
    await until(`${svc} back at 2/2`, () => replicasShown() === '2/2' && running() === 2);
  });

  it('labels replace the node labels; a label constraint places tasks by them', async () => {
    const node = await dc.execute('update_node', { node: 'self', labels: { zone: 'a', tier: 'edge' } });
    expect(node.Spec).toMatchObject({ Labels: { zone: 'a', tier: 'edge' }, Availability: 'active', Role: 'manager' });
    const replaced = await dc.execute('update_node', { node: 'self', labels: { zone: 'b' } });
    expect(replaced.Spec.Labels).toEqual({ zone: 'b' });
    expect(JSON.parse(docker(engine, ['node', 'inspect', replaced.ID, '--format', '{{json .Spec.Labels}}']))).toEqual({ zone: 'b' });
    // A constraint no node meets leaves the task pending; one the node meets runs it.
    await dc.execute('update_service', { service: svc, replicas: 1, constraints: ['node.labels.zone==a'] });
    const states = () => docker(engine, ['service', 'ps', svc, '--filter', 'desired-state=running', '--format', '{{.CurrentState}} {{.Error}}']);
    await until(`${svc} pending on zone a`, () => running() === 0 && /^Pending .*no suitable node/m.test(states()));
    await dc.execute('update_service', { service: svc, constraints: ['node.labels.zone==b'] });
    await until(`${svc} running on zone b`, () => running() === 1);
    const cleared = await dc.execute('update_node', { node: 'self', labels: {} });
    expect(cleared.Spec.Labels ?? {}).toEqual({});
  });
});
