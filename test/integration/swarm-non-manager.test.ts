/**
 * An Engine that is not a swarm manager: every Swarm operation (category
 * "swarm") fails with the clear error, through the library and through the
 * CLI, never with a crash or a stack trace.
 *
 * The "old" Engine leaves its swarm for this (`docker swarm leave --force`)
 * and starts a new one afterwards (`docker swarm init`), which changes what
 * every other test file sees: this file runs only in the sequential
 * "integration-restart" vitest project, after the others (vitest.config.ts).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { listOperations, type OperationName, type ParamsOf } from 'docker-connector/catalogue';
import { runCli } from '../support/cli.js';
import { connectorFor } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { failure } from '../support/expect-error.js';
import { harness, type HarnessEngine } from '../support/harness.js';

/** Valid parameters for each Swarm operation: the call must reach the Engine, not stop at validation. */
type Calls = { [N in OperationName]?: ParamsOf<N>[] };

const CALLS: Calls = {
  inspect_swarm: [{}],
  list_nodes: [{}],
  inspect_node: [{ node: 'dc-no-node' }],
  update_node: [{ node: 'dc-no-node', availability: 'drain' }],
  list_services: [{ status: true }],
  inspect_service: [{ service: 'dc-no-service' }],
  create_service: [{ name: 'dc-nm-service', image: harness().image, command: ['sleep', '60'] }],
  update_service: [{ service: 'dc-no-service', env: { A: '1' } }],
  scale_service: [{ service: 'dc-no-service', replicas: 2 }],
  rollback_service: [{ service: 'dc-no-service' }],
  remove_service: [{ service: 'dc-no-service', dry_run: true }, { service: 'dc-no-service' }],
  service_logs: [{ service: 'dc-no-service' }, { service: 'dc-no-service', until: '1m', path: '/tmp/dc-non-manager-never-written.log' }],
  list_tasks: [{ filters: { service: ['dc-no-service'] } }],
  inspect_task: [{ task: 'dc-no-task' }],
  list_secrets: [{}],
  inspect_secret: [{ secret: 'dc-no-secret' }],
  create_secret: [{ name: 'dc-nm-secret', data: 'never-stored' }],
  remove_secret: [{ secret: 'dc-no-secret', dry_run: true }, { secret: 'dc-no-secret' }],
  list_configs: [{}],
  inspect_config: [{ config: 'dc-no-config' }],
  create_config: [{ name: 'dc-nm-config', data_base64: 'eA==' }],
  remove_config: [{ config: 'dc-no-config', dry_run: true }, { config: 'dc-no-config' }],
};

const NOT_MANAGER = /not a swarm manager/i;

function swarmState(engine: HarnessEngine): string {
  return docker(engine, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']).trim();
}

describe('Swarm operations on an Engine that is not a swarm manager (Engine "old")', () => {
  const engine = harness().engines.find((e) => e.name === 'old') as HarnessEngine;
  let dc: DockerConnector;

  beforeAll(() => {
    dc = connectorFor(engine);
    if (swarmState(engine).startsWith('active')) docker(engine, ['swarm', 'leave', '--force']);
    expect(swarmState(engine)).toBe('inactive false');
  }, 120_000);

  afterAll(() => {
    dc?.close();
    // Later tests (and the next run) expect the harness Engines to be swarm managers again.
    if (!swarmState(engine).startsWith('active')) execFileSync('docker', ['-H', engine.host, 'swarm', 'init', '--advertise-addr', '127.0.0.1'], { stdio: 'ignore', timeout: 60_000 });
  }, 120_000);

  it('has parameters for every Swarm operation of the catalogue', () => {
    const swarmOps = listOperations()
      .filter((op) => op.category === 'swarm')
      .map((op) => op.name)
      .sort();
    expect(swarmOps.length).toBeGreaterThanOrEqual(22);
    expect(Object.keys(CALLS).sort()).toEqual(swarmOps);
  });

  it('every Swarm operation, through the library, is UNAVAILABLE saying the Engine is not a swarm manager', async () => {
    for (const [op, list] of Object.entries(CALLS)) {
      for (const params of list!) {
        const err = await failure(dc.executeDynamic(op, params));
        expect([op, err.code], `${op} ${JSON.stringify(params)}: ${err.message}`).toEqual([op, 'UNAVAILABLE']);
        expect(err.message, op).toMatch(NOT_MANAGER);
        expect(err.message, op).toMatch(/docker swarm init/);
        expect(err.retryable, op).toBe(false);
      }
    }
  });

  it('every Swarm operation, through the CLI, exits 1 with that error as JSON and no stack trace', async () => {
    for (const [op, list] of Object.entries(CALLS)) {
      // The Engine's 503 is retried before it is reported (as any 503): short delays keep this file quick.
      const run = await runCli(['run', op, '--host', engine.host, '--params', JSON.stringify(list![0])], { DOCKER_CONNECTOR_RATE_LIMIT: '0', DOCKER_CONNECTOR_RETRY_DELAY: '0.05' });
      expect(run.code, `${op}: ${run.stdout}${run.stderr}`).toBe(1);
      const err = JSON.parse(run.stdout || run.stderr).error;
      expect([op, err.code]).toEqual([op, 'UNAVAILABLE']);
      expect(err.message, op).toMatch(NOT_MANAGER);
      expect(`${run.stdout}${run.stderr}`, op).not.toMatch(/\n\s+at /);
    }
    // Nothing was created on the way.
    expect(docker(engine, ['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=dc-nm-service']).trim()).toBe('');
  });

  it('the same calls work again once the Engine is a swarm manager', async () => {
    execFileSync('docker', ['-H', engine.host, 'swarm', 'init', '--advertise-addr', '127.0.0.1'], { stdio: 'ignore', timeout: 60_000 });
    expect(swarmState(engine)).toBe('active true');
    expect(await dc.execute('list_tasks', { filters: { label: ['dc-no-such-label'] } })).toEqual([]);
    expect((await failure(dc.execute('inspect_service', { service: 'dc-no-service' }))).code).toBe('NOT_FOUND');
    expect((await dc.execute('inspect_swarm', {})).ID).toBe(docker(engine, ['info', '--format', '{{.Swarm.Cluster.ID}}']).trim());
    expect((await failure(dc.execute('inspect_secret', { secret: 'dc-no-secret' }))).code).toBe('NOT_FOUND');
  });
});
