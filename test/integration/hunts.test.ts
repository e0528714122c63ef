import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { CLI_BIN, runCli } from '../support/cli.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';
import { FLEET, fleetConfigFile } from '../support/fleet.js';
import { ENGINE_ALIASES, harness, type HarnessEngine } from '../support/harness.js';

/*
 * find_containers and find_images through the library, over the fleet of
 * test/support/fleet.ts: `old` (Engine 20.10), `new` (28.5), `new-mtls` (the
 * same Engine 28.5 over mTLS: it must report what `new` reports) and
 * `unreachable` (always an entry of `errors`).
 *
 * One image is made on Engine 28.5 and loaded into 20.10 (so its id is the
 * same on both), pushed from each Engine to its own registry (each Engine's
 * registry lives in its network namespace; the two pushes compress the layer
 * differently, so the manifest digests differ) and pulled back by digest.
 * Each Engine then runs, under this run's label: `sleep` from that image, an
 * exited container of it, and a busybox `httpd` publishing a host port.
 */

type Json = any;

const h = harness();
const engine = (name: 'old' | 'new') => h.engines.find((e) => e.name === name)!;
const OLD = engine('old');
const NEW = engine('new');

const value = uniqueName('hunt');
const L = `${TEST_LABEL}=${value}`;
const ROLE = `${TEST_LABEL}.role`;
const repo = `${NEW.registry}/dc/hunt-${value}`;
const port = 20000 + Math.floor(Math.random() * 9000);
const dockerConfig = mkdtempSync(join(tmpdir(), 'dc-hunt-docker-'));

function dk(e: HarnessEngine, args: string[]): string {
  return execFileSync('docker', ['-H', e.host, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000, env: { ...process.env, DOCKER_CONFIG: dockerConfig } }).trim();
}

/** Per Engine: the manifest digest its push gave, and the container ids. */
const fx = {
  imageId: '',
  digest: {} as Record<'old' | 'new', string>,
  ids: {} as Record<'old' | 'new', { sleep: string; exited: string; web: string }>,
};

/** Which harness Engine each answering fleet endpoint reaches. */
const ENGINE_OF = { [FLEET.old]: 'old', [FLEET.new]: 'new', [FLEET.mtls]: 'new' } as const;

let dc: DockerConnector;

const hunt = (params: Record<string, unknown>): Promise<Json> => dc.executeDynamic('find_containers', params);
/** The matches as "endpoint:kind" (kind: which fixture container it is), sorted. */
function found(r: Json): string[] {
  return r.matches
    .map((m: Json) => {
      const ids = fx.ids[ENGINE_OF[m.endpoint as keyof typeof ENGINE_OF]];
      const kind = Object.entries(ids ?? {}).find(([, id]) => id === m.id)?.[0] ?? `other(${m.name})`;
      return `${m.endpoint}:${kind}`;
    })
    .sort();
}
const on = (endpoints: string[], kinds: string[]) => endpoints.flatMap((e) => kinds.map((k) => `${e}:${k}`)).sort();
const ALL3 = [FLEET.old, FLEET.new, FLEET.mtls];
const unreachableError = { [FLEET.unreachable]: { code: 'CONNECTION_FAILED', message: expect.stringContaining(`"${FLEET.unreachable}"`) } };

beforeAll(() => {
  // The image: made on 28.5, loaded into 20.10 with the same id.
  const src = `${value}-src`;
  dk(NEW, ['run', '--name', src, '--label', L, h.image, 'sh', '-c', `echo ${value} > /hunt`]);
  dk(NEW, ['commit', '--change', `LABEL ${L}`, src, `${repo}:v1`]);
  dk(NEW, ['rm', src]);
  const tar = join(dockerConfig, 'image.tar');
  dk(NEW, ['save', '-o', tar, `${repo}:v1`]);
  dk(OLD, ['load', '-i', tar]);
  fx.imageId = dk(NEW, ['image', 'inspect', '-f', '{{.Id}}', `${repo}:v1`]);
  expect(dk(OLD, ['image', 'inspect', '-f', '{{.Id}}', `${repo}:v1`])).toBe(fx.imageId);
  for (const e of [OLD, NEW]) {
    execFileSync('docker', ['-H', e.host, 'login', '-u', h.registry.username, '--password-stdin', e.registry], {
      input: h.registry.password,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    });
    const pushed = dk(e, ['push', `${repo}:v1`]);
    fx.digest[e.name] = /digest: (sha256:[a-f0-9]{64})/.exec(pushed)![1]!;
    // Pulled back by digest: the image has that repo digest and no tag.
    dk(e, ['rmi', `${repo}:v1`]);
    dk(e, ['pull', `${repo}@${fx.digest[e.name]}`]);
    const run = (name: string, extra: string[], image: string, cmd: string[]) => dk(e, ['run', '-d', '--label', L, '--name', name, ...extra, image, ...cmd]);
    const exited = dk(e, ['create', '--label', L, '--name', `${value}-exited`, `${repo}@${fx.digest[e.name]}`, 'true']);
    dk(e, ['start', '-a', exited]);
    fx.ids[e.name] = {
      sleep: run(`${value}-sleep`, [], `${repo}@${fx.digest[e.name]}`, ['sleep', '600']),
      exited,
      web: run(`${value}-web`, ['--label', `${ROLE}=web`, '-p', `${port}:8080`], h.image, ['httpd', '-f', '-p', '8080']),
    };
  }
  dc = new DockerConnector({ configFile: fleetConfigFile(), env: {} });
}, 180_000);

afterAll(() => {
  dc?.close();
  for (const e of [OLD, NEW]) {
    try {
      const ids = dk(e, ['ps', '-aq', '--filter', `label=${L}`]).split('\n').filter(Boolean);
      if (ids.length) dk(e, ['rm', '-f', ...ids]);
      if (fx.digest[e.name]) dk(e, ['rmi', `${repo}@${fx.digest[e.name]}`]);
    } catch {
      // best effort: a failed fixture leaves less behind
    }
  }
  rmSync(dockerConfig, { recursive: true, force: true });
});

describe('find_containers across a fleet (old, new, new-mtls, unreachable)', () => {
  it('the two pushes gave two manifest digests (the premise of the digest cases)', () => {
    expect(fx.digest.old).not.toBe(fx.digest.new);
  });

  it('by manifest digest: only the Engine whose image has it (both of its endpoints); the unreachable one is in errors', async () => {
    const r = await hunt({ image: fx.digest.new, label: L });
    expect(found(r)).toEqual(on([FLEET.new, FLEET.mtls], ['exited', 'sleep']));
    expect(r.errors).toEqual(unreachableError);
    const sleep = r.matches.find((m: Json) => m.endpoint === FLEET.new && m.id === fx.ids.new.sleep);
    expect(sleep).toEqual({ endpoint: FLEET.new, id: fx.ids.new.sleep, name: `${value}-sleep`, image: `${repo}@${fx.digest.new}`, image_id: fx.imageId, state: 'running', matched: ['image', `label:${L}`] });
    // The mTLS endpoint reaches the same Engine: the same containers, in the same order.
    const of = (e: string) => r.matches.filter((m: Json) => m.endpoint === e).map((m: Json) => ({ ...m, endpoint: undefined }));
    expect(of(FLEET.mtls)).toEqual(of(FLEET.new));
    expect(found(await hunt({ image: fx.digest.old, label: L }))).toEqual(on([FLEET.old], ['exited', 'sleep']));
  });

  it('by name@digest, image id, short id and name: each Engine resolves the reference itself', async () => {
    expect(found(await hunt({ image: `${repo}@${fx.digest.new}`, label: L }))).toEqual(on([FLEET.new, FLEET.mtls], ['exited', 'sleep']));
    expect(found(await hunt({ image: `${repo}@${fx.digest.old}`, label: L }))).toEqual(on([FLEET.old], ['exited', 'sleep']));
    // The id is the same on both Engines (save/load).
    expect(found(await hunt({ image: fx.imageId, label: L }))).toEqual(on(ALL3, ['exited', 'sleep']));
    expect(found(await hunt({ image: fx.imageId.slice('sha256:'.length, 'sha256:'.length + 12), label: L }))).toEqual(on(ALL3, ['exited', 'sleep']));
    // "dc-busybox:latest" is a different image on each Engine: resolved per endpoint.
    expect(found(await hunt({ image: h.image, label: L }))).toEqual(on(ALL3, ['web']));
    // An image no endpoint has: no match, and no error for it.
    const none = await hunt({ image: `${repo}:no-such-tag`, label: L });
    expect(none).toEqual({ matches: [], errors: unreachableError });
  });

  it('by name glob (the leading "/" dropped), by label, by state', async () => {
    const byName = await hunt({ name: `${value}-*` });
    expect(found(byName)).toEqual(on(ALL3, ['exited', 'sleep', 'web']));
    for (const m of byName.matches) expect(m.matched).toEqual(['name']);
    expect(found(await hunt({ name: `${value}-w?b` }))).toEqual(on(ALL3, ['web']));
    expect(found(await hunt({ name: `*${value.slice(5)}-{sleep,exited}` }))).toEqual(on(ALL3, ['exited', 'sleep']));
    expect(found(await hunt({ name: `x${value}-*` }))).toEqual([]);
    const byLabel = await hunt({ label: [L, `${ROLE}=web`] });
    expect(found(byLabel)).toEqual(on(ALL3, ['web']));
    expect(byLabel.matches[0].matched).toEqual([`label:${L}`, `label:${ROLE}=web`]);
    expect(found(await hunt({ label: [L, ROLE] }))).toEqual(on(ALL3, ['web']));
    const exited = await hunt({ label: L, status: 'exited' });
    expect(found(exited)).toEqual(on(ALL3, ['exited']));
    expect(exited.matches[0]).toMatchObject({ state: 'exited', matched: [`label:${L}`, 'status:exited'] });
  });

  it('by published host port', async () => {
    const r = await hunt({ published_port: port, label: L });
    expect(found(r)).toEqual(on(ALL3, ['web']));
    expect(r.matches[0].matched).toEqual([`label:${L}`, `published_port:${port}`]);
    // 8080 is the container's port, not a host port.
    expect(found(await hunt({ published_port: 8080, label: L }))).toEqual([]);
  });

  it('by process name: the command name in `top` of running containers', async () => {
    const sleep = await hunt({ process: 'sleep', label: L });
    expect(found(sleep)).toEqual(on(ALL3, ['sleep']));
    expect(sleep.matches[0].matched).toEqual([`label:${L}`, 'process:sleep']);
    const web = await hunt({ process: 'h*d', label: L });
    expect(found(web)).toEqual(on(ALL3, ['web']));
    expect(web.matches[0].matched).toEqual([`label:${L}`, 'process:httpd']);
    // Arguments are not command names.
    expect(found(await hunt({ process: '600', label: L }))).toEqual([]);
    // Every criterion must match.
    expect(found(await hunt({ process: 'sleep', image: fx.digest.new, name: `${value}-*`, label: L, status: 'running' }))).toEqual(on([FLEET.new, FLEET.mtls], ['sleep']));
  });

  it('searches only the chosen endpoints; an unknown name fails the call before any request', async () => {
    const oldOnly = await hunt({ label: L, endpoints: [FLEET.old] });
    expect(found(oldOnly)).toEqual(on([FLEET.old], ['exited', 'sleep', 'web']));
    expect(oldOnly.errors).toEqual({});
    expect(found(await hunt({ label: L, process: 'sleep', endpoints: `${FLEET.new},${FLEET.old}` }))).toEqual(on([FLEET.old, FLEET.new], ['sleep']));
    const err = await hunt({ label: L, endpoints: [FLEET.old, 'nope'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('"nope"') });
    expect((err as { message: string }).message).toContain('endpoints');
    const bad = await hunt({ published_port: 'http' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('published_port') });
  });
});

describe('find_images across the fleet', () => {
  it('by manifest digest: the image and how many containers use it, on the endpoints that have it', async () => {
    const r: Json = await dc.executeDynamic('find_images', { digest: fx.digest.new });
    const entry = { id: fx.imageId, repo_tags: [], repo_digests: [`${repo}@${fx.digest.new}`], containers: 2 };
    expect(r).toEqual({ matches: [{ endpoint: FLEET.new, ...entry }, { endpoint: FLEET.mtls, ...entry }], errors: unreachableError });
  });

  it('by reference and by id', async () => {
    const byRef: Json = await dc.executeDynamic('find_images', { reference: `${repo}@${fx.digest.old}`, endpoints: 'all' });
    expect(byRef.matches).toEqual([{ endpoint: FLEET.old, id: fx.imageId, repo_tags: [], repo_digests: [`${repo}@${fx.digest.old}`], containers: 2 }]);
    const byId: Json = await dc.executeDynamic('find_images', { digest: fx.imageId, endpoints: [FLEET.old, FLEET.new] });
    expect(byId).toEqual({ matches: [expect.objectContaining({ endpoint: FLEET.old, id: fx.imageId, containers: 2 }), expect.objectContaining({ endpoint: FLEET.new, id: fx.imageId, containers: 2 })], errors: {} });
  });

  it('takes exactly one of reference and digest', async () => {
    for (const params of [{}, { reference: h.image, digest: fx.imageId }]) {
      await expect(dc.executeDynamic('find_images', params)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('exactly one of reference and digest') });
    }
  });
});

/**
 * A TCP proxy in front of an Engine's socket that holds the first request
 * whose path matches until the test releases it: the Engine sees the request
 * only after the test changed what it will find.
 */
function holdingProxy(socketPath: string, hold: (path: string) => boolean) {
  let held!: (path: string) => void;
  let release!: () => void;
  const heldPath = new Promise<string>((r) => (held = r));
  const released = new Promise<void>((r) => (release = r));
  let holding = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engineSide = net.connect(socketPath);
    sockets.add(client).add(engineSide);
    engineSide.pipe(client);
    client.on('end', () => engineSide.end());
    for (const s of [client, engineSide]) s.on('error', () => (client.destroy(), engineSide.destroy()));
    client.on('data', (chunk: Buffer) => {
      const path = /^(?:GET|POST|HEAD|PUT|DELETE) (\S+) HTTP/m.exec(chunk.toString('latin1'))?.[1];
      if (holding && path && hold(path)) {
        holding = false;
        client.pause();
        held(path);
        void released.then(() => {
          engineSide.write(chunk);
          client.resume();
        });
        return;
      }
      engineSide.write(chunk);
    });
  });
  return {
    heldPath,
    release,
    listen: () => new Promise<string>((ok) => server.listen(0, '127.0.0.1', () => ok(`tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`))),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('a container that stops during a hunt', () => {
  it('is left out, not an error', async () => {
    const victim = dk(NEW, ['run', '-d', '--label', L, '--name', `${value}-victim`, h.image, 'sleep', '600']);
    const proxy = holdingProxy(NEW.host.replace('unix://', ''), (path) => path.includes(`/containers/${victim}/top`));
    const host = await proxy.listen();
    ENGINE_ALIASES.set(host, NEW.host);
    const gated = new DockerConnector({ endpoints: { gated: { host, rate_limit: 0, retry_attempts: 0 } }, env: {} });
    try {
      const pending = gated.executeDynamic('find_containers', { label: L, process: 'sleep' }) as Promise<Json>;
      // Listed as running; its `top` waits at the proxy while the container stops.
      expect(await proxy.heldPath).toMatch(new RegExp(`/containers/${victim}/top`));
      dk(NEW, ['kill', victim]);
      proxy.release();
      const r = await pending;
      expect(r.errors).toEqual({});
      expect(r.matches.map((m: Json) => m.id)).toEqual([fx.ids.new.sleep]);
      expect(r.matches[0]).toMatchObject({ endpoint: 'gated', matched: [`label:${L}`, 'process:sleep'] });
    } finally {
      gated.close();
      proxy.close();
    }
  });
});

/*
 * Issue 17's acceptance: the same hunts (by image digest, by process name,
 * find_images) through every surface users run — the CLI, the HTTP service
 * and MCP (the library is above) — find the right hosts and report the
 * unreachable one in errors.
 */
describe('the acceptance hunts through the CLI, the HTTP service and MCP', () => {
  const KEY = 'hunt-acceptance-key-3c9e1f';
  let file: string;
  let base: DockerConnector;
  let service: HttpService;
  let url: string;
  let client: Client;

  beforeAll(async () => {
    file = fleetConfigFile({ api_keys: [{ id: 'hunter', key: KEY, scopes: ['read'] }], audit_log: 'off', service: { listen: '127.0.0.1:0' } });
    base = new DockerConnector({ configFile: file, env: {} });
    service = HttpService.create({ base, env: {} });
    url = await service.listen();
    client = new Client({ name: 'hunt-acceptance', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI_BIN, 'mcp', '--config', file], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' }, stderr: 'ignore' }));
    await client.listTools();
  });
  afterAll(async () => {
    await client?.close();
    await service?.close();
    base?.close();
  });

  /** One hunt through one surface: its answer, and (CLI) the exit code. */
  async function through(surface: 'cli' | 'http' | 'mcp', op: 'find_containers' | 'find_images', params: Record<string, unknown>): Promise<{ answer: Json; code?: number }> {
    if (surface === 'cli') {
      const r = await runCli(['run', op, '--config', file, '--params', JSON.stringify(params)]);
      return { answer: JSON.parse(r.stdout), code: r.code };
    }
    if (surface === 'http') {
      const res = await fetch(`${url}/v1/operations/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(params) });
      expect(res.status).toBe(200);
      return { answer: await res.json() };
    }
    const r = await client.callTool({ name: op, arguments: params });
    expect(r.isError).toBeFalsy();
    return { answer: r.structuredContent };
  }

  describe.each(['cli', 'http', 'mcp'] as const)('through %s', (surface) => {
    it('find_containers by image digest: the Engine whose image has it, both of its endpoints; unreachable in errors', async () => {
      const { answer, code } = await through(surface, 'find_containers', { image: fx.digest.new, label: L });
      expect(found(answer)).toEqual(on([FLEET.new, FLEET.mtls], ['exited', 'sleep']));
      expect(answer.errors).toEqual(unreachableError);
      // A fan-out with a failed endpoint: the CLI exits 1 and still prints every match.
      if (surface === 'cli') expect(code).toBe(1);
    });

    it('find_containers by process name: every answering endpoint', async () => {
      const { answer } = await through(surface, 'find_containers', { process: 'sleep', label: L });
      expect(found(answer)).toEqual(on(ALL3, ['sleep']));
      expect(answer.errors).toEqual(unreachableError);
    });

    it('find_images by digest: only the endpoint that has it, with its container count', async () => {
      const { answer } = await through(surface, 'find_images', { digest: fx.digest.old });
      expect(answer.matches).toEqual([{ endpoint: FLEET.old, id: fx.imageId, repo_tags: [], repo_digests: [`${repo}@${fx.digest.old}`], containers: 2 }]);
      expect(answer.errors).toEqual(unreachableError);
    });
  });
});
