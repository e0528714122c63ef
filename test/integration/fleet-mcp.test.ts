import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { FLEET, fleetConfigFile } from '../support/fleet.js';
import { harness } from '../support/harness.js';
import { errorOf, ok, type CallResult } from '../support/mcp-results.js';

/*
 * The MCP server in front of a fleet (issue 17): the real `mcp` command
 * started with a config file of four named endpoints (old, new, new-mtls
 * over TLS with a client certificate, unreachable), driven over stdio by the
 * SDK's Client, which validates each structuredContent against the tool's
 * outputSchema (so both the single and the fan-out shape are checked).
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const ENTRY = join(ROOT, 'bin/docker-connector.js');
const CHILD_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };
const IMAGE = 'dc-busybox:latest';
const RUN = uniqueName('fmcp');
const NAMES = [FLEET.old, FLEET.new, FLEET.mtls, FLEET.unreachable];

type Props = Record<string, { anyOf?: { type: string; enum?: string[]; items?: { enum?: string[] } }[]; enum?: string[] }>;

interface FanOut<T> {
  results: Record<string, T>;
  errors: Record<string, { code: string; message: string }>;
}

describe('MCP server over a fleet of named endpoints', () => {
  // The fleet spans both Engines whatever the run tests (DC_ENGINES limits only which Engines tests iterate over).
  const [oldEngine, newEngine] = [harness().engines.find((e) => e.name === 'old')!, harness().engines.find((e) => e.name === 'new')!];
  let dcOld: DockerConnector;
  let dcNew: DockerConnector;
  let client: Client;
  let stderr = '';
  const audit = () =>
    stderr
      .split('\n')
      .filter((l) => l.includes('"log":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  /** The audit lines of one operation once there are `n` (stderr and the answer travel on different pipes). */
  const auditOf = async (operation: string, n: number) => {
    const deadline = Date.now() + 5000;
    let lines = audit().filter((l) => l.operation === operation);
    while (lines.length < n && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      lines = audit().filter((l) => l.operation === operation);
    }
    return lines;
  };
  const made: { dc: () => DockerConnector; kind: 'container' | 'volume'; name: string }[] = [];

  beforeAll(async () => {
    dcOld = connectorFor(oldEngine);
    dcNew = connectorFor(newEngine);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [ENTRY, 'mcp', '--config', fleetConfigFile(), '--allow-destructive', '--confirm-destructive'],
      env: CHILD_ENV,
      stderr: 'pipe',
      cwd: ROOT,
    });
    (transport.stderr as Readable).on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'fleet-mcp-test', version: '1.0.0' });
    await client.connect(transport);
    // The SDK client validates structured content only against tools it has listed.
    await client.listTools();
  });

  afterAll(async () => {
    await client?.close();
    for (const m of made.reverse()) {
      const op = m.kind === 'container' ? 'remove_container' : 'remove_volume';
      const params = m.kind === 'container' ? { container: m.name, force: true } : { volume: m.name };
      await m.dc().executeDynamic(op, params).catch(() => {});
    }
    dcOld?.close();
    dcNew?.close();
  });

  it('tools/list: each tool takes the endpoint names; read tools also "all" or a list; hunts keep their own endpoints', async () => {
    const { tools } = await client.listTools();
    const props = (name: string) => tools.find((t) => t.name === name)!.inputSchema.properties as Props;

    const read = props('get_version').endpoint!;
    expect(read.anyOf![0]).toEqual({ type: 'string', enum: [...NAMES, 'all'] });
    expect(read.anyOf![1]).toMatchObject({ type: 'array', items: { enum: NAMES } });
    expect(props('create_volume').endpoint).toMatchObject({ type: 'string', enum: NAMES });
    expect(props('remove_volume').endpoint).toMatchObject({ type: 'string', enum: NAMES });

    const hunt = props('find_containers');
    expect(hunt.endpoint).toBeUndefined();
    expect(hunt.endpoints!.anyOf![0]).toEqual({ type: 'string', enum: [...NAMES, 'all'] });
    expect(hunt.endpoints!.anyOf![1]!.items).toEqual({ type: 'string', enum: [...NAMES, 'all'] });
    // A read tool's outputSchema admits the fan-out's answer as well as the usual one.
    expect(JSON.stringify(tools.find((t) => t.name === 'list_containers')!.outputSchema)).toContain('"required":["results","errors"]');
    expect(client.getInstructions()).toMatch(/Named endpoints: old, new, new-mtls, unreachable \(default new\)/);
  });

  it('get_version on a named endpoint reaches that Engine (old directly, new-mtls over TLS); none named: the default', async () => {
    const oldVersion = ok<{ ApiVersion: string; Version: string }>(await client.callTool({ name: 'get_version', arguments: { endpoint: FLEET.old } }));
    const mtlsVersion = ok<{ ApiVersion: string; Version: string }>(await client.callTool({ name: 'get_version', arguments: { endpoint: FLEET.mtls } }));
    const byDefault = ok<{ Version: string }>(await client.callTool({ name: 'get_version', arguments: {} }));
    const [libOld, libNew] = [await dcOld.execute('get_version'), await dcNew.execute('get_version')];
    expect(oldVersion.Version).toBe(libOld.Version);
    expect(oldVersion.ApiVersion).toBe(oldEngine.apiVersion);
    expect(mtlsVersion.Version).toBe(libNew.Version);
    expect(mtlsVersion.ApiVersion).toBe(newEngine.apiVersion);
    expect(byDefault.Version).toBe(libNew.Version);
    const lines = await auditOf('get_version', 3);
    expect(lines.map((l) => l.endpoint)).toEqual([FLEET.old, FLEET.mtls, FLEET.new]);
    // The endpoint is the audit line's own field, not a parameter of the operation.
    expect(lines[0]!.params).toEqual({});
  });

  it('an unknown endpoint name is a tool error INVALID_PARAMS naming it, before any Engine is asked', async () => {
    const e = errorOf(await client.callTool({ name: 'get_version', arguments: { endpoint: 'prod' } }));
    expect(e.code).toBe('INVALID_PARAMS');
    expect(e.message).toMatch(/"prod"/);
    expect(e.message).toMatch(/old, new, new-mtls, unreachable/);
    const inList = errorOf(await client.callTool({ name: 'list_containers', arguments: { endpoint: [FLEET.old, 'staging'] } }));
    expect(inList.code).toBe('INVALID_PARAMS');
    expect(inList.message).toMatch(/"staging"/);
    expect((await auditOf('get_version', 4)).filter((l) => l.outcome === 'INVALID_PARAMS').map((l) => l.endpoint)).toEqual(['prod']);
    expect((await auditOf('list_containers', 1)).map((l) => `${l.endpoint} ${l.outcome}`)).toEqual(['old,staging INVALID_PARAMS']);
  });

  it('list_containers on "all": results of old, new and new-mtls with each Engine\'s containers, unreachable in errors', async () => {
    const onOld = `${RUN}-old`;
    const onNew = `${RUN}-new`;
    for (const [endpoint, name, dc] of [
      [FLEET.old, onOld, () => dcOld],
      [FLEET.new, onNew, () => dcNew],
    ] as const) {
      ok(await client.callTool({ name: 'create_container', arguments: { endpoint, image: IMAGE, name, command: ['sleep', '300'], labels: { [TEST_LABEL]: RUN } } }));
      made.push({ dc, kind: 'container', name });
    }
    const r = await client.callTool({ name: 'list_containers', arguments: { endpoint: 'all', all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } } });
    const fan = ok<FanOut<{ Names: string[] }[]>>(r);
    expect(Object.keys(fan.results)).toEqual([FLEET.old, FLEET.new, FLEET.mtls]);
    const names = (endpoint: string) => fan.results[endpoint]!.flatMap((c) => c.Names);
    expect(names(FLEET.old)).toEqual([`/${onOld}`]);
    expect(names(FLEET.new)).toEqual([`/${onNew}`]);
    expect(names(FLEET.mtls)).toEqual([`/${onNew}`]);
    expect(Object.keys(fan.errors)).toEqual([FLEET.unreachable]);
    expect(fan.errors[FLEET.unreachable]!.code).toBe('CONNECTION_FAILED');
    expect(fan.errors[FLEET.unreachable]!.message).toMatch(/^Endpoint "unreachable": /);
    expect((r.content as { text: string }[])[0]!.text).toBe(
      'list_containers on 4 endpoints: 3 answered (old: 1 item, new: 1 item, new-mtls: 1 item); 1 failed (unreachable: CONNECTION_FAILED)',
    );
    // A list of names is a fan-out over those only.
    const two = ok<FanOut<unknown[]>>(await client.callTool({ name: 'list_containers', arguments: { endpoint: [FLEET.mtls, FLEET.old], all: true, filters: { label: [`${TEST_LABEL}=${RUN}`] } } }));
    expect(Object.keys(two.results).sort()).toEqual([FLEET.mtls, FLEET.old].sort());
    expect(two.errors).toEqual({});
    expect((await auditOf('list_containers', 3)).map((l) => l.endpoint)).toEqual(['old,staging', 'all', 'new-mtls,old']);
  });

  it('a write tool with "all" is a tool error INVALID_PARAMS, and nothing is created anywhere', async () => {
    const name = `${RUN}-vall`;
    const e = errorOf(await client.callTool({ name: 'create_volume', arguments: { endpoint: 'all', name } }));
    expect(e.code).toBe('INVALID_PARAMS');
    expect(e.message).toMatch(/create_volume is a write operation/);
    for (const dc of [dcOld, dcNew]) await expect(dc.execute('inspect_volume', { volume: name })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('--confirm-destructive: a dry run on old does not confirm the same call on new', async () => {
    const volume = `${RUN}-vol`;
    for (const [endpoint, dc] of [
      [FLEET.old, () => dcOld],
      [FLEET.new, () => dcNew],
    ] as const) {
      ok(await client.callTool({ name: 'create_volume', arguments: { endpoint, name: volume, labels: { [TEST_LABEL]: RUN } } }));
      made.push({ dc, kind: 'volume', name: volume });
    }
    expect(ok(await client.callTool({ name: 'remove_volume', arguments: { endpoint: FLEET.old, volume, dry_run: true } }))).toMatchObject({ dry_run: true });

    const refused = errorOf(await client.callTool({ name: 'remove_volume', arguments: { endpoint: FLEET.new, volume } }));
    expect(refused).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'confirm_destructive' } });
    // Nor does it confirm the call on the default endpoint (new), named or not.
    expect(errorOf(await client.callTool({ name: 'remove_volume', arguments: { volume } })).details).toMatchObject({ rule: 'confirm_destructive' });
    expect((await dcNew.execute('inspect_volume', { volume })).Name).toBe(volume);

    // On old, where the dry run was made, the call runs.
    ok(await client.callTool({ name: 'remove_volume', arguments: { endpoint: FLEET.old, volume } }));
    await expect(dcOld.execute('inspect_volume', { volume })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await dcNew.execute('inspect_volume', { volume })).Name).toBe(volume);

    // A dry run on the default endpoint confirms the call naming it.
    ok(await client.callTool({ name: 'remove_volume', arguments: { volume, dry_run: true } }));
    ok(await client.callTool({ name: 'remove_volume', arguments: { endpoint: FLEET.new, volume } }));
    await expect(dcNew.execute('inspect_volume', { volume })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const lines = await auditOf('remove_volume', 6);
    expect(lines.map((l) => `${l.endpoint} ${l.outcome}`)).toEqual(['old ok', 'new FORBIDDEN', 'new FORBIDDEN', 'old ok', 'new ok', 'new ok']);
  });

  it('find_containers by name across the fleet: the right endpoints, unreachable in errors', async () => {
    const r = ok<{ matches: { endpoint: string; name: string }[]; errors: Record<string, { code: string }> }>(
      await client.callTool({ name: 'find_containers', arguments: { name: `${RUN}-*`, endpoints: 'all' } }),
    );
    expect(r.matches.map((m) => `${m.endpoint} ${m.name}`)).toEqual([`${FLEET.old} ${RUN}-old`, `${FLEET.new} ${RUN}-new`, `${FLEET.mtls} ${RUN}-new`]);
    expect(Object.keys(r.errors)).toEqual([FLEET.unreachable]);
    const some = ok<{ matches: { endpoint: string }[]; errors: object }>(await client.callTool({ name: 'find_containers', arguments: { name: `${RUN}-*`, endpoints: [FLEET.old] } }));
    expect(some.matches.map((m) => m.endpoint)).toEqual([FLEET.old]);
    expect(some.errors).toEqual({});
    expect((await auditOf('find_containers', 2)).map((l) => l.endpoint)).toEqual(['all', 'old']);
  });
});
