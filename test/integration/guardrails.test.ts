import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { runCli } from '../support/cli.js';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { docker } from '../support/docker-cli.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';

/*
 * Guardrails (issue 16, section 4) end to end: every rule refused through the
 * HTTP service (403) and the MCP server (tool error), on by default there,
 * with nothing created (the docker CLI looks); each one allowed when relaxed,
 * the container really carrying the setting (docker inspect); the library
 * and CLI off by default and on with `guardrails: true`; a recording proxy
 * showing that nothing of a refused call reaches the Engine.
 */

const IMAGE = harness().image;
const RUN = uniqueName('grd');
const LABELS = { [TEST_LABEL]: RUN };
const ROOT = new URL('../../', import.meta.url).pathname;
const CHILD_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DOCKER_CONNECTOR_RATE_LIMIT: '0' };

type Inspect = { HostConfig: Record<string, any>; Mounts?: { Source: string }[] };

/** One create_container case per rule: the parameters that break it and how the created container shows the setting. */
interface CreateCase {
  rule: string;
  /** What the refusal must name. */
  value: string;
  params: Record<string, unknown>;
  shows: (i: Inspect) => void;
}

const CREATE_CASES: CreateCase[] = [
  { rule: 'privileged', value: 'Privileged', params: { host_config: { Privileged: true } }, shows: (i) => expect(i.HostConfig.Privileged).toBe(true) },
  { rule: 'host_pid', value: 'host', params: { host_config: { PidMode: 'host' } }, shows: (i) => expect(i.HostConfig.PidMode).toBe('host') },
  { rule: 'host_ipc', value: 'host', params: { host_config: { IpcMode: 'host' } }, shows: (i) => expect(i.HostConfig.IpcMode).toBe('host') },
  { rule: 'host_uts', value: 'host', params: { host_config: { UTSMode: 'host' } }, shows: (i) => expect(i.HostConfig.UTSMode).toBe('host') },
  { rule: 'host_userns', value: 'host', params: { host_config: { UsernsMode: 'host' } }, shows: (i) => expect(i.HostConfig.UsernsMode).toBe('host') },
  { rule: 'host_network', value: 'host', params: { network: 'host' }, shows: (i) => expect(i.HostConfig.NetworkMode).toBe('host') },
  { rule: 'capabilities', value: 'cap_sys_admin', params: { host_config: { CapAdd: ['cap_sys_admin'] } }, shows: (i) => expect(JSON.stringify(i.HostConfig.CapAdd)).toMatch(/sys_admin/i) },
  {
    rule: 'devices',
    value: '/dev/null',
    params: { host_config: { Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/guarded-null', CgroupPermissions: 'rwm' }] } },
    shows: (i) => expect(i.HostConfig.Devices[0].PathOnHost).toBe('/dev/null'),
  },
  { rule: 'seccomp_unconfined', value: 'seccomp=unconfined', params: { host_config: { SecurityOpt: ['seccomp=unconfined'] } }, shows: (i) => expect(i.HostConfig.SecurityOpt).toContain('seccomp=unconfined') },
  { rule: 'apparmor_unconfined', value: 'apparmor=unconfined', params: { host_config: { SecurityOpt: ['apparmor=unconfined'] } }, shows: (i) => expect(i.HostConfig.SecurityOpt).toContain('apparmor=unconfined') },
  { rule: 'label_disable', value: 'label=disable', params: { host_config: { SecurityOpt: ['label=disable'] } }, shows: (i) => expect(i.HostConfig.SecurityOpt).toContain('label=disable') },
  // The Engine knows no "systempaths" security option (the docker CLI turns it into empty lists): the lists are the way in.
  { rule: 'systempaths_unconfined', value: 'MaskedPaths', params: { host_config: { MaskedPaths: [], ReadonlyPaths: [] } }, shows: (i) => expect(i.HostConfig.MaskedPaths ?? []).toEqual([]) },
  { rule: 'docker_socket', value: '/var/run/docker.sock', params: { binds: ['/var/run/docker.sock:/var/run/docker.sock'] }, shows: (i) => expect(i.HostConfig.Binds).toContain('/var/run/docker.sock:/var/run/docker.sock') },
  {
    rule: 'host_paths',
    value: '/etc/',
    params: { host_config: { Mounts: [{ Type: 'bind', Source: '/etc/', Target: '/host-etc', ReadOnly: true }] } },
    shows: (i) => expect(i.HostConfig.Mounts[0].Source).toBe('/etc/'),
  },
];

/** The rules checked on the old Engine too (at least one per surface there). */
const ON_BOTH = new Set(['privileged', 'docker_socket', 'host_paths']);

const RELAXABLE = [...CREATE_CASES.map((c) => c.rule), 'privileged_exec'];

function containersNamed(engine: HarnessEngine, name: string): string {
  return docker(engine, ['ps', '-a', '-q', '--filter', `name=^/${name}$`]).trim();
}

function inspect(engine: HarnessEngine, name: string): Inspect {
  return JSON.parse(docker(engine, ['inspect', name]))[0] as Inspect;
}

function remove(engine: HarnessEngine, name: string): void {
  docker(engine, ['rm', '-f', name]);
}

/** GET of an Engine path straight from its socket: a view independent of the connector. */
function engineGet(engine: HarnessEngine, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: engine.host.replace('unix://', ''), path, method: 'GET' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CapEff of an exec: all bits for a privileged one, the default set otherwise. */
const CAP_EFF = 'grep CapEff /proc/self/status';

/** How each surface is driven: one call, answering ok/result or the error object. */
type Caller = (name: string, params: Record<string, unknown>) => Promise<{ ok: true; result: any } | { ok: false; status?: number; error: { code: string; message: string; details?: Record<string, any> } }>;

async function httpService(base: DockerConnector): Promise<{ call: Caller; close: () => Promise<void> }> {
  const service = HttpService.create({ base, env: {}, surface: { audit_log: 'off', service: { listen: '127.0.0.1:0', rate_limit: 0 } }, overrides: { no_auth: true } });
  const url = await service.listen();
  return {
    call: async (name, params) => {
      const res = await fetch(`${url}/v1/operations/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
      const body = (await res.json()) as any;
      return res.status === 200 ? { ok: true, result: body } : { ok: false, status: res.status, error: body.error };
    },
    close: () => service.close(),
  };
}

/** The real `mcp` command over stdio, configured by a config file (its guardrails come from there). */
async function mcpServer(engine: HarnessEngine, config: Record<string, unknown>): Promise<{ call: Caller; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dc-grd-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ audit_log: 'off', ...config }));
  const transport = new StdioClientTransport({ command: process.execPath, args: [join(ROOT, 'bin/docker-connector.js'), 'mcp', '--host', engine.host, '--config', file, '--allow-write'], env: CHILD_ENV, stderr: 'pipe', cwd: ROOT });
  let stderr = '';
  (transport.stderr as Readable).on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'guardrails-test', version: '1.0.0' });
  await client.connect(transport);
  return {
    call: async (name, args) => {
      const r = await client.callTool({ name, arguments: args });
      if (!r.isError) return { ok: true, result: r.structuredContent };
      const text = (r.content as { text: string }[])[1]?.text;
      if (!text) throw new Error(`unexpected tool error: ${JSON.stringify(r.content)} ${stderr}`);
      return { ok: false, error: (JSON.parse(text) as { error: any }).error };
    },
    close: async () => {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function expectRefused(answer: Awaited<ReturnType<Caller>>, rule: string, value: string, status?: number): void {
  if (answer.ok) throw new Error(`expected a refusal by ${rule}, got ${JSON.stringify(answer.result)}`);
  expect(answer.error.code).toBe('FORBIDDEN');
  if (status !== undefined) expect(answer.status).toBe(status);
  expect(answer.error.details).toMatchObject({ rule, policy: 'guardrails' });
  expect(answer.error.message).toContain(rule);
  expect(answer.error.message).toContain(value);
}

describe.each(engines())('guardrails on Engine $version (API $apiVersion)', (engine) => {
  const all = engine.name === 'new';
  const cases = CREATE_CASES.filter((c) => all || ON_BOTH.has(c.rule));
  const bases: DockerConnector[] = [];
  let target: string;
  let plain: DockerConnector;

  const base = (options: Record<string, unknown> = {}) => {
    const c = connectorFor(engine, options);
    bases.push(c);
    return c;
  };
  const createParams = (name: string, extra: Record<string, unknown>) => ({ image: IMAGE, name, labels: LABELS, command: ['sleep', '300'], ...extra });

  beforeAll(async () => {
    plain = base();
    // A running container for the exec rule.
    target = uniqueName('grd-target');
    await plain.execute('create_container', createParams(target, {}));
    await plain.execute('start_container', { container: target });
  });

  afterAll(async () => {
    for (const id of docker(engine, ['ps', '-a', '-q', '--filter', `label=${TEST_LABEL}=${RUN}`]).split('\n').filter(Boolean)) remove(engine, id);
    for (const c of bases) c.close();
  });

  /** Every rule refused on a surface, with nothing created and no exec made. */
  async function refusesEverything(call: Caller, status?: number): Promise<void> {
    for (const c of cases) {
      const name = uniqueName(`grd-${c.rule.replace(/_/g, '-')}`);
      expectRefused(await call('create_container', createParams(name, c.params)), c.rule, c.value, status);
      expect(containersNamed(engine, name), c.rule).toBe('');
    }
    expectRefused(await call('exec_container', { container: target, command: CAP_EFF, privileged: true }), 'privileged_exec', 'Privileged', status);
    expect(JSON.parse(docker(engine, ['inspect', '--format', '{{json .ExecIDs}}', target]))).toBeNull();
  }

  it('the HTTP service refuses every rule by default (403), creating nothing', async () => {
    const s = await httpService(base());
    try {
      await refusesEverything(s.call, 403);
      // What guardrails leave alone still runs.
      const name = uniqueName('grd-ok');
      const ok = await s.call('create_container', createParams(name, { binds: ['/tmp:/host-tmp:ro'], host_config: { CapAdd: ['NET_BIND_SERVICE'] } }));
      expect(ok.ok).toBe(true);
      expect(inspect(engine, name).HostConfig.CapAdd).toEqual(['NET_BIND_SERVICE']);
    } finally {
      await s.close();
    }
  });

  it('the MCP server refuses every rule by default (tool error), creating nothing', async () => {
    const s = await mcpServer(engine, {});
    try {
      await refusesEverything(s.call);
    } finally {
      await s.close();
    }
  });

  it('the MCP server creates what an allowed rule permits, and still refuses the others', async () => {
    const s = await mcpServer(engine, { guardrails: { allow: ['privileged'] } });
    try {
      const name = uniqueName('grd-mcp-priv');
      const r = await s.call('create_container', createParams(name, { host_config: { Privileged: true } }));
      expect(r.ok).toBe(true);
      expect(inspect(engine, name).HostConfig.Privileged).toBe(true);
      remove(engine, name);
      const other = uniqueName('grd-mcp-pid');
      expectRefused(await s.call('create_container', createParams(other, { host_config: { Privileged: true, PidMode: 'host' } })), 'host_pid', 'host');
      expect(containersNamed(engine, other)).toBe('');
    } finally {
      await s.close();
    }
  });

  it('the HTTP service with guardrails: false lets everything through', async () => {
    const s = await httpService(base({ guardrails: false }));
    try {
      const name = uniqueName('grd-off');
      expect((await s.call('create_container', createParams(name, { host_config: { Privileged: true } }))).ok).toBe(true);
      expect(inspect(engine, name).HostConfig.Privileged).toBe(true);
      remove(engine, name);
    } finally {
      await s.close();
    }
  });

  it('the HTTP service with every rule relaxed creates each setting for real, and a privileged exec gets every capability', async () => {
    const s = await httpService(base({ guardrails: { allow: RELAXABLE } }));
    try {
      for (const c of cases) {
        const name = uniqueName(`grd-allowed-${c.rule.replace(/_/g, '-')}`);
        const r = await s.call('create_container', createParams(name, c.params));
        if (!r.ok) throw new Error(`${c.rule}: ${JSON.stringify(r.error)}`);
        c.shows(inspect(engine, name));
        remove(engine, name);
      }
      const privileged = await s.call('exec_container', { container: target, command: CAP_EFF, privileged: true });
      const ordinary = await s.call('exec_container', { container: target, command: CAP_EFF });
      if (!privileged.ok || !ordinary.ok) throw new Error(JSON.stringify([privileged, ordinary]));
      // The Engine's own record of the exec (the docker CLI has no exec inspect).
      expect(((await engineGet(engine, `/exec/${privileged.result.exec_id}/json`)) as any).ProcessConfig.privileged).toBe(true);
      expect(((await engineGet(engine, `/exec/${ordinary.result.exec_id}/json`)) as any).ProcessConfig.privileged).toBe(false);
      // Where the runtime may grant them (not on the old harness Engine: "unable to apply caps"), the privileged exec has more capabilities.
      if (all) {
        const caps = (r: any) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(r.result.stdout)![1]}`);
        expect(caps(privileged)).toBeGreaterThan(caps(ordinary));
      }
    } finally {
      await s.close();
    }
  });

  it('allowed_images: the service refuses to create or pull any other image, and allows the listed ones', async () => {
    const registryImage = `${engine.registry}/dc/busybox`;
    const s = await httpService(base({ guardrails: { allowed_images: [IMAGE.replace(/:.*/, ''), `${engine.registry}/dc/*`] } }));
    try {
      const refused = uniqueName('grd-img');
      expectRefused(await s.call('create_container', createParams(refused, { image: 'alpine:3.20' })), 'allowed_images', 'alpine:3.20', 403);
      expect(containersNamed(engine, refused)).toBe('');
      const elsewhere = `${engine.registry}/other/${RUN}`;
      expectRefused(await s.call('pull_image', { image: elsewhere, tag: '1' }), 'allowed_images', elsewhere, 403);
      expect(docker(engine, ['images', '-q', elsewhere]).trim()).toBe('');
      const name = uniqueName('grd-img-ok');
      expect((await s.call('create_container', createParams(name, {}))).ok).toBe(true);
      expect(containersNamed(engine, name)).not.toBe('');
      const auth = { username: harness().registry.username, password: harness().registry.password, serveraddress: engine.registry };
      const pulled = await s.call('pull_image', { image: registryImage, tag: 'latest', auth });
      if (!pulled.ok) throw new Error(JSON.stringify(pulled.error));
      expect(docker(engine, ['images', '-q', `${registryImage}:latest`]).trim()).not.toBe('');
    } finally {
      await s.close();
    }
  });

  it('the library is off by default and on with guardrails: true; an upper-case field the Engine honours is caught', async () => {
    const name = uniqueName('grd-lib');
    // Engine field names match without regard to case: PRIVILEGED makes a privileged container.
    await plain.execute('create_container', createParams(name, { host_config: { PRIVILEGED: true } }));
    expect(inspect(engine, name).HostConfig.Privileged).toBe(true);
    remove(engine, name);
    const guarded = base({ guardrails: true });
    const refused = uniqueName('grd-lib-on');
    await expect(guarded.execute('create_container', createParams(refused, { host_config: { PRIVILEGED: true } }))).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { rule: 'privileged', field: 'HostConfig.Privileged' },
    });
    expect(containersNamed(engine, refused)).toBe('');
    await expect(guarded.execute('exec_container', { container: target, command: 'id', privileged: true })).rejects.toMatchObject({ code: 'FORBIDDEN', details: { rule: 'privileged_exec' } });
  });

  it('the CLI is off by default, on with --guardrails true, and relaxed by a JSON setting in the environment', async () => {
    const args = (name: string, hostConfig: Record<string, unknown>) => ['run', 'create_container', '--host', engine.host, '--params', JSON.stringify(createParams(name, { host_config: hostConfig }))];
    const off = uniqueName('grd-cli-off');
    const r1 = await runCli(args(off, { PidMode: 'host' }), CHILD_ENV);
    expect(r1.code, r1.stderr).toBe(0);
    expect(inspect(engine, off).HostConfig.PidMode).toBe('host');
    remove(engine, off);

    const on = uniqueName('grd-cli-on');
    const r2 = await runCli([...args(on, { PidMode: 'host' }), '--guardrails', 'true'], CHILD_ENV);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/FORBIDDEN/);
    expect(r2.stderr).toMatch(/host_pid/);
    expect(containersNamed(engine, on)).toBe('');

    const relaxed = uniqueName('grd-cli-env');
    const env = { ...CHILD_ENV, DOCKER_CONNECTOR_GUARDRAILS: '{"allow":["host_pid"]}' };
    const r3 = await runCli(args(relaxed, { PidMode: 'host' }), env);
    expect(r3.code, r3.stderr).toBe(0);
    expect(inspect(engine, relaxed).HostConfig.PidMode).toBe('host');
    remove(engine, relaxed);
    const r4 = await runCli(args(uniqueName('grd-cli-env2'), { IpcMode: 'host' }), env);
    expect(r4.stderr).toMatch(/host_ipc/);

    const bad = await runCli([...args(uniqueName('grd-cli-bad'), {}), '--guardrails', '{"allow":["privilegd"]}'], CHILD_ENV);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/INVALID_CONFIG/);
    expect(bad.stderr).toContain('unknown rule \\"privilegd\\"');
  });
});

describe.each(engines().filter((e) => e.name === 'new'))('guardrails: nothing of a refused call reaches Engine $version', (engine) => {
  let proxy: FaultProxy;
  let dc: DockerConnector;

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    dc = connectorFor(engine, { host: await proxy.start(), guardrails: true });
  });

  afterAll(async () => {
    dc.close();
    await proxy.close();
  });

  it('refused create and exec send no request at all, not even the version negotiation', async () => {
    const name = uniqueName('grd-proxy');
    await expect(dc.execute('create_container', { image: IMAGE, name, labels: LABELS, host_config: { Binds: ['/var/run/docker.sock:/s'] } })).rejects.toMatchObject({ code: 'FORBIDDEN', details: { rule: 'docker_socket' } });
    await expect(dc.execute('exec_container', { container: 'whatever', command: 'id', privileged: true })).rejects.toMatchObject({ code: 'FORBIDDEN', details: { rule: 'privileged_exec' } });
    expect(proxy.seen).toEqual([]);
    expect(containersNamed(engine, name)).toBe('');
  });

  it('a request only the request check sees (a volume binding /etc) is refused before it is sent', async () => {
    const volume = uniqueName('grd-vol');
    await expect(dc.execute('create_volume', { name: volume, driver_opts: { type: 'none', o: 'bind', device: '/etc' } })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      details: { rule: 'host_paths', value: '/etc' },
    });
    expect(proxy.forwarded('POST', /\/volumes\/create/)).toEqual([]);
    expect(docker(engine, ['volume', 'ls', '-q', '--filter', `name=${volume}`]).trim()).toBe('');
  });
});
