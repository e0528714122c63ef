import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../support/cli.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { FLEET, FLEET_NAMES, fleetConfigFile } from '../support/fleet.js';
import { harness } from '../support/harness.js';

/**
 * Named endpoints through the built CLI (issue 17): `--endpoint` on `run`
 * and `health`, fan-outs and their exit codes, hunts, and the `endpoints`
 * listing, over the fleet of test/support/fleet.ts (old, new (default),
 * new-mtls over TLS, unreachable).
 */

const engine = (name: 'old' | 'new') => harness().engines.find((e) => e.name === name)!;

let config: string;
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runCli([...args, '--config', config], env);
const out = (r: CliRun) => JSON.parse(r.stdout) as Record<string, any>;
const errorOf = (r: CliRun) => (JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string } }).error;

/** One label value for this file's containers: fan-outs filter on it, so other test files' containers never show. */
const RUN = uniqueName('fleet-cli');
const created: { endpoint: string; id: string }[] = [];

async function createOn(endpoint: string, name: string): Promise<string> {
  const r = await cli(['run', 'create_container', '--endpoint', endpoint, '--params', JSON.stringify({ image: harness().image, name, labels: { [TEST_LABEL]: RUN } })]);
  expect(r.code, r.stderr).toBe(0);
  const id = out(r).id as string;
  created.push({ endpoint, id });
  return id;
}

const ids = (list: unknown) => (list as { Id: string }[]).map((c) => c.Id);

describe('CLI --endpoint and endpoints over a fleet', () => {
  let oldId: string;
  let newId: string;
  const oldName = uniqueName('fleet-old');
  const newName = uniqueName('fleet-new');

  beforeAll(async () => {
    config = fleetConfigFile();
    oldId = await createOn(FLEET.old, oldName);
    newId = await createOn(FLEET.new, newName);
  }, 120_000);

  afterAll(async () => {
    for (const c of created) await cli(['run', 'remove_container', '--endpoint', c.endpoint, '-p', `container=${c.id}`, '-p', 'force=true']);
  }, 120_000);

  it('run get_version --endpoint reaches that endpoint: old is Engine 20.10, new-mtls Engine 28 over TLS', async () => {
    const old = await cli(['run', 'get_version', '--endpoint', FLEET.old]);
    expect(old.code, old.stderr).toBe(0);
    expect(out(old)).toMatchObject({ Version: engine('old').version, ApiVersion: engine('old').apiVersion });
    const mtls = await cli(['run', 'get_version', '--endpoint', FLEET.mtls]);
    expect(mtls.code, mtls.stderr).toBe(0);
    expect(out(mtls)).toMatchObject({ Version: engine('new').version, ApiVersion: engine('new').apiVersion });
  });

  it('without --endpoint the default endpoint (new) answers, and a write op with one name runs there', async () => {
    const r = await cli(['run', 'get_version']);
    expect(r.code, r.stderr).toBe(0);
    expect(out(r)).toMatchObject({ Version: engine('new').version });
    // The containers made in beforeAll went where --endpoint sent them.
    const onOld = await cli(['run', 'inspect_container', '--endpoint', FLEET.old, '-p', `container=${oldId}`]);
    expect(onOld.code, onOld.stderr).toBe(0);
    const onNew = await cli(['run', 'inspect_container', '-p', `container=${oldId}`]);
    expect(onNew.code).toBe(1);
    expect(errorOf(onNew).code).toBe('NOT_FOUND');
    expect(errorOf(onNew).message).toMatch(/^Endpoint "new": /);
  });

  it('DOCKER_CONNECTOR_DEFAULT_ENDPOINT (the default_endpoint setting) moves the default', async () => {
    const r = await cli(['run', 'get_version'], { DOCKER_CONNECTOR_DEFAULT_ENDPOINT: FLEET.old });
    expect(r.code, r.stderr).toBe(0);
    expect(out(r)).toMatchObject({ Version: engine('old').version });
  });

  it('an unknown endpoint is a usage error (exit 2) naming it and the configured ones, on run and health', async () => {
    for (const args of [
      ['run', 'get_version', '--endpoint', 'nope'],
      ['run', 'list_containers', '--endpoint', `${FLEET.old},nope`],
      ['health', '--endpoint', 'nope'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      const err = errorOf(r);
      expect(err.code).toBe('INVALID_PARAMS');
      expect(err.message).toContain('"nope"');
      for (const n of FLEET_NAMES) expect(err.message).toContain(n);
    }
    const empty = await cli(['run', 'get_version', '--endpoint', ',']);
    expect(empty.code).toBe(2);
    expect(errorOf(empty).message).toMatch(/--endpoint/);
  });

  it('list_containers --endpoint all: each container under the endpoints of its Engine, unreachable in errors, exit 1', async () => {
    const r = await cli(['run', 'list_containers', '--endpoint', 'all', '--params', JSON.stringify({ all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } })]);
    expect(r.code, r.stderr).toBe(1);
    const answer = out(r);
    expect(Object.keys(answer.results).sort()).toEqual([FLEET.mtls, FLEET.new, FLEET.old].sort());
    expect(ids(answer.results[FLEET.old])).toEqual([oldId]);
    expect(ids(answer.results[FLEET.new])).toEqual([newId]);
    expect(ids(answer.results[FLEET.mtls])).toEqual([newId]);
    expect(Object.keys(answer.errors)).toEqual([FLEET.unreachable]);
    expect(answer.errors[FLEET.unreachable].message).toMatch(/^Endpoint "unreachable": /);
    // The endpoints failing is in the JSON, not an error line.
    expect(r.stderr).toBe('');
  });

  it('--endpoint old,new: every endpoint answered, exit 0', async () => {
    const r = await cli(['run', 'list_containers', '--endpoint', `${FLEET.old},${FLEET.new}`, '--params', JSON.stringify({ all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } })]);
    expect(r.code, r.stderr).toBe(0);
    const answer = out(r);
    expect(answer.errors).toEqual({});
    expect(ids(answer.results[FLEET.old])).toEqual([oldId]);
    expect(ids(answer.results[FLEET.new])).toEqual([newId]);
  });

  it('a write or destructive operation with several endpoints: exit 2, nothing done', async () => {
    const name = uniqueName('fleet-never');
    const write = await cli(['run', 'create_container', '--endpoint', 'all', '--params', JSON.stringify({ image: harness().image, name, labels: { [TEST_LABEL]: RUN } })]);
    expect(write.code).toBe(2);
    expect(errorOf(write)).toMatchObject({ code: 'INVALID_PARAMS' });
    expect(errorOf(write).message).toMatch(/write operation/);
    const destroy = await cli(['run', 'remove_container', '--endpoint', `${FLEET.old},${FLEET.new}`, '-p', `container=${oldId}`, '-p', 'force=true']);
    expect(destroy.code).toBe(2);
    expect(errorOf(destroy).message).toMatch(/destructive operation/);
    // Still there, and the refused create made nothing anywhere.
    expect((await cli(['run', 'inspect_container', '--endpoint', FLEET.old, '-p', `container=${oldId}`])).code).toBe(0);
    const none = await cli(['run', 'list_containers', '--endpoint', `${FLEET.old},${FLEET.new}`, '--params', JSON.stringify({ all: true, filters: { name: [name] } })]);
    expect(none.code, none.stderr).toBe(0);
    expect(Object.values(out(none).results).flat()).toEqual([]);
  });

  it('a fan-out that would write a file on this host is a usage error (exit 2); on one endpoint it runs', async () => {
    const r = await cli(['run', 'container_logs', '--endpoint', 'all', '-p', `container=${newId}`, '-p', `path=/tmp/${RUN}.log`]);
    expect(r.code).toBe(2);
    expect(errorOf(r)).toMatchObject({ code: 'INVALID_PARAMS' });
    expect(errorOf(r).message).toMatch(/path/);
    const one = await cli(['run', 'container_logs', '--endpoint', FLEET.old, '-p', `container=${oldId}`]);
    expect(one.code, one.stderr).toBe(0);
  });

  it('health --endpoint: one endpoint as health reports it; all: every one, exit 1 when one is unreachable', async () => {
    const old = await cli(['health', '--endpoint', FLEET.old]);
    expect(old.code, old.stderr).toBe(0);
    expect(out(old)).toMatchObject({ reachable: true, api_version: engine('old').apiVersion, engine_version: engine('old').version });
    const down = await cli(['health', '--endpoint', FLEET.unreachable]);
    expect(down.code).toBe(1);
    expect(out(down)).toMatchObject({ reachable: false });
    const all = await cli(['health', '--endpoint', 'all']);
    expect(all.code).toBe(1);
    const answer = out(all);
    expect(answer.results[FLEET.mtls]).toMatchObject({ reachable: true, api_version: engine('new').apiVersion });
    expect(answer.results[FLEET.unreachable]).toMatchObject({ reachable: false });
    const two = await cli(['health', '--endpoint', `${FLEET.old},${FLEET.mtls}`]);
    expect(two.code, two.stderr).toBe(0);
    expect(Object.keys(out(two).results).sort()).toEqual([FLEET.mtls, FLEET.old].sort());
  });

  it('endpoints --json lists every endpoint with reachable and versions; exit 0 with one unreachable', async () => {
    const r = await cli(['endpoints', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as Record<string, any>[];
    expect(rows.map((row) => row.name)).toEqual([...FLEET_NAMES]);
    const by = Object.fromEntries(rows.map((row) => [row.name, row]));
    expect(by[FLEET.old]).toMatchObject({ default: false, reachable: true, engine_version: engine('old').version, api_version: engine('old').apiVersion, endpoint: engine('old').host });
    expect(by[FLEET.new]).toMatchObject({ default: true, reachable: true, engine_version: engine('new').version, api_version: engine('new').apiVersion });
    expect(by[FLEET.mtls]).toMatchObject({ default: false, reachable: true, engine_version: engine('new').version, api_version: engine('new').apiVersion });
    expect(by[FLEET.mtls]!.endpoint).toMatch(/^https:\/\//);
    expect(by[FLEET.unreachable]).toMatchObject({ default: false, reachable: false, engine_version: null, api_version: null });
    expect(by[FLEET.unreachable]!.endpoint).toContain('127.0.0.1:9');
    expect(by[FLEET.unreachable]!.error.code).toBe('CONNECTION_FAILED');
  });

  it('endpoints prints a table (stdout not a terminal): a row per endpoint, the default marked, why one is unreachable', async () => {
    const r = await cli(['endpoints']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+REACHABLE\s+ENGINE\s+API\s+ADDRESS$/);
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))!;
    expect(row(FLEET.old)).toMatch(new RegExp(`^old\\s+yes\\s+${engine('old').version.replace(/[.+]/g, '\\$&')}\\s+${engine('old').apiVersion}\\s+${engine('old').host}$`));
    expect(row(`${FLEET.new} *`)).toMatch(/\syes\s/);
    expect(row(FLEET.mtls)).toMatch(/\syes\s.*https:\/\//);
    expect(row(FLEET.unreachable)).toMatch(/^unreachable\s+no\s+-\s+-\s+/);
    expect(r.stdout).toMatch(/^unreachable: .*127\.0\.0\.1:9/m);
    expect(r.stdout).toMatch(/^default: new /m);
  });

  it('without an endpoints map, endpoints lists the one endpoint "default"', async () => {
    const r = await runCli(['endpoints', '--json', '--host', engine('old').host]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ name: 'default', default: true, reachable: true, engine_version: engine('old').version })]);
  });

  it('find_containers by name glob: searches every endpoint without --endpoint, exit 1 for the unreachable one; --endpoint narrows it', async () => {
    const glob = 'fleet-old-*';
    const everywhere = await cli(['run', 'find_containers', '-p', `name=${oldName}`]);
    expect(everywhere.code, everywhere.stderr).toBe(1);
    const a = out(everywhere);
    expect(a.matches.map((m: { endpoint: string; id: string }) => [m.endpoint, m.id])).toEqual([[FLEET.old, oldId]]);
    expect(Object.keys(a.errors)).toEqual([FLEET.unreachable]);
    // Narrowed to the endpoints that answer: exit 0; the glob finds the old one, never the new one.
    const narrowed = await cli(['run', 'find_containers', '--endpoint', `${FLEET.old},${FLEET.new},${FLEET.mtls}`, '-p', `name=${glob}`, '-p', `label=${TEST_LABEL}=${RUN}`]);
    expect(narrowed.code, narrowed.stderr).toBe(0);
    const n = out(narrowed);
    expect(n.errors).toEqual({});
    expect(n.matches.map((m: { endpoint: string; id: string; name: string }) => [m.endpoint, m.id, m.name])).toEqual([[FLEET.old, oldId, oldName]]);
    const newGlob = await cli(['run', 'find_containers', '--endpoint', 'all', '-p', 'name=fleet-new-*', '-p', `label=${TEST_LABEL}=${RUN}`]);
    expect(newGlob.code).toBe(1);
    expect(out(newGlob).matches.map((m: { endpoint: string; id: string }) => [m.endpoint, m.id])).toEqual([
      [FLEET.new, newId],
      [FLEET.mtls, newId],
    ]);
    const one = await cli(['run', 'find_containers', '--endpoint', FLEET.new, '-p', 'name=fleet-*', '-p', `label=${TEST_LABEL}=${RUN}`]);
    expect(one.code, one.stderr).toBe(0);
    expect(out(one).matches.map((m: { endpoint: string }) => m.endpoint)).toEqual([FLEET.new]);
    // --endpoint and the endpoints parameter together: one would be ignored, so neither is.
    const both = await cli(['run', 'find_containers', '--endpoint', FLEET.old, '--params', JSON.stringify({ name: 'x', endpoints: [FLEET.new] })]);
    expect(both.code).toBe(2);
    expect(errorOf(both).message).toMatch(/--endpoint .*endpoints parameter/);
  });

  it('help and describe mention --endpoint', async () => {
    const run = await cli(['run', '--help']);
    expect(run.stdout).toMatch(/--endpoint <name>/);
    const health = await cli(['health', '--help']);
    expect(health.stdout).toMatch(/--endpoint <name>/);
    const read = await cli(['describe', 'list_containers']);
    expect(read.stdout).toMatch(/ENDPOINTS\n[^]*--endpoint a,b or\s+--endpoint all/);
    const write = await cli(['describe', 'create_container']);
    expect(write.stdout).toMatch(/ENDPOINTS\n[^]*never runs on\s+several/);
  });
});
