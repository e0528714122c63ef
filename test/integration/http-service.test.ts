import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { listOperations } from 'docker-connector/catalogue';
import { HttpService } from 'docker-connector/service';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines } from '../support/harness.js';

/*
 * The HTTP service end to end: a real service (in-process, listening on
 * 127.0.0.1:0) in front of each harness Engine, called over real HTTP.
 */

const IMAGE = 'dc-busybox:latest';
const LABEL_VALUE = 'http-service';
const KEYS = {
  read: 'read-key-5f0c2a9e7d1b4c36',
  write: 'write-key-8e4d1f7a2c9b6053',
  admin: 'admin-key-3b7e9d2f5a1c8064',
};
const API_KEYS = [
  { id: 'reader', key: KEYS.read, scopes: ['read'] },
  { id: 'writer', key: KEYS.write, scopes: ['read', 'write'] },
  // Configured by hash: the service never needs the key itself.
  { id: 'admin', key_sha256: sha256(KEYS.admin), scopes: ['admin'] },
];
/** Planted in parameters; must never reach the audit log. */
const PLANTED = 'planted-secret-9c41e7b2d6';

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(base: string, name: string, params: unknown = {}, opts: { key?: string | null; query?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = opts.key === undefined ? KEYS.admin : opts.key;
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${base}/v1/operations/${name}${opts.query ?? ''}`, { method: 'POST', headers, body: JSON.stringify(params) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function auditLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function tarEntries(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const names: string[] = [];
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      names.push(header.name);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.fromWeb(body as import('node:stream/web').ReadableStream).pipe(extract);
  await done;
  return names;
}

describe.each(engines())('HTTP service in front of Engine $version (API $apiVersion)', (engine) => {
  let base: DockerConnector;
  let service: HttpService;
  let url: string;
  let dir: string;
  let auditPath: string;
  const containers: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dc-http-'));
    auditPath = join(dir, 'audit.log');
    base = connectorFor(engine);
    service = HttpService.create({
      base,
      env: {},
      surface: { api_keys: API_KEYS, audit_log: auditPath, service: { listen: '127.0.0.1:0', rate_limit: 0, body_limit: 4096 } },
    });
    url = await service.listen();
  });

  afterAll(async () => {
    for (const id of containers) await base.executeDynamic('remove_container', { container: id, force: true }).catch(() => undefined);
    await service.close();
    base.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function createContainer(command: string[], key = KEYS.admin): Promise<{ id: string; name: string }> {
    const name = uniqueName('dchttp');
    const r = await call(url, 'create_container', { image: IMAGE, name, command, labels: { [TEST_LABEL]: LABEL_VALUE } }, { key });
    expect(r.status).toBe(200);
    containers.push(r.body.id);
    return { id: r.body.id, name };
  }

  it('GET /v1/health reports the Engine reachable with the negotiated API version', async () => {
    const res = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${KEYS.read}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body).toMatchObject({ ok: true, endpoints: { default: { reachable: true, api_version: engine.apiVersion, engine_version: engine.version } } });
  });

  it('runs read operations with a read key: ping, get_version, list_containers', async () => {
    const ping = await call(url, 'ping', {}, { key: KEYS.read });
    expect(ping).toMatchObject({ status: 200, body: { ok: true, api_version: engine.apiVersion } });
    const version = await call(url, 'get_version', undefined, { key: KEYS.read });
    expect(version.status).toBe(200);
    expect(version.body).toMatchObject({ Version: engine.version, ApiVersion: engine.apiVersion });
    const list = await call(url, 'list_containers', { all: true, filters: { label: [`${TEST_LABEL}=${LABEL_VALUE}`] } }, { key: KEYS.read });
    expect(list.status).toBe(200);
    expect(Array.isArray(list.body)).toBe(true);
  });

  it('GET /v1/operations and /v1/manifest list every operation of the catalogue', async () => {
    const auth = { headers: { authorization: `Bearer ${KEYS.read}` } };
    const ops = ((await (await fetch(`${url}/v1/operations`, auth)).json()) as { operations: { name: string; path: string }[] }).operations;
    const manifest = (await (await fetch(`${url}/v1/manifest`, auth)).json()) as { operations: { name: string }[]; endpoints: string[] };
    const names = listOperations().map((o) => o.name);
    expect(ops.map((o) => o.name)).toEqual(names);
    expect(ops.find((o) => o.name === 'ping')?.path).toBe('/v1/operations/ping');
    expect(manifest.operations.map((o) => o.name)).toEqual(names);
    expect(manifest.endpoints).toEqual(['default']);
  });

  it('drives a container lifecycle: create, start, inspect, stop, remove', async () => {
    const { id, name } = await createContainer(['sleep', '300'], KEYS.write);
    expect(await call(url, 'start_container', { container: name }, { key: KEYS.write })).toMatchObject({ status: 200, body: { changed: true } });
    // Starting again is a no-op on the Engine (304), success with changed:false here.
    expect(await call(url, 'start_container', { container: name }, { key: KEYS.write })).toMatchObject({ status: 200, body: { changed: false } });
    const running = await call(url, 'inspect_container', { container: id }, { key: KEYS.read });
    expect(running.body.State.Running).toBe(true);
    expect(await call(url, 'stop_container', { container: name, timeout: 1 }, { key: KEYS.write })).toMatchObject({ status: 200, body: { changed: true } });
    const stopped = await call(url, 'inspect_container', { container: id }, { key: KEYS.read });
    expect(stopped.body.State.Running).toBe(false);
    expect((await call(url, 'remove_container', { container: id })).status).toBe(200);
    const gone = await call(url, 'inspect_container', { container: id }, { key: KEYS.read });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'NOT_FOUND', status: 404, operation: 'inspect_container', engine_status: 404 });
  });

  it('maps errors to HTTP statuses with {"error": {code, status, message, operation}}', async () => {
    const unknown = await call(url, 'no_such_operation');
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'UNKNOWN_OPERATION', status: 404, operation: 'no_such_operation' } } });

    const bad = await call(url, 'inspect_container', { container: 'x', bogus: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_PARAMS', status: 400, operation: 'inspect_container' });
    expect(bad.body.error.message).toContain('bogus');

    const notJson = await fetch(`${url}/v1/operations/ping`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json' }, body: '{nope' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as any).error.code).toBe('INVALID_PARAMS');

    const { name } = await createContainer(['sleep', '300']);
    const conflict = await call(url, 'create_container', { image: IMAGE, name, labels: { [TEST_LABEL]: LABEL_VALUE } });
    expect(conflict).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT', status: 409, operation: 'create_container' } } });

    const missing = await call(url, 'remove_container', { container: uniqueName('missing') });
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });

    const endpoint = await call(url, 'ping', {}, { query: '?endpoint=nowhere' });
    expect(endpoint).toMatchObject({ status: 400, body: { error: { code: 'INVALID_PARAMS' } } });
    expect(endpoint.body.error.message).toContain('nowhere');

    const big = await call(url, 'ping', { padding: 'x'.repeat(8000) });
    expect(big).toMatchObject({ status: 413, body: { error: { code: 'INVALID_PARAMS', status: 413 } } });

    const route = await fetch(`${url}/v2/elsewhere`);
    expect(route.status).toBe(404);
  });

  it('refuses callers without a valid key (401) and keys without the scope (403), before the Engine is called', async () => {
    const none = await call(url, 'ping', {}, { key: null });
    expect(none).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED', status: 401 } } });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await call(url, 'ping', {}, { key: 'not-a-key-0123456789' })).status).toBe(401);
    expect((await fetch(`${url}/v1/operations`)).status).toBe(401);

    const { id } = await createContainer(['sleep', '300']);
    const asReader = await call(url, 'remove_container', { container: id, force: true }, { key: KEYS.read });
    expect(asReader).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', status: 403, operation: 'remove_container', details: { rule: 'scope', needed_scope: 'admin' } } } });
    const asWriter = await call(url, 'remove_container', { container: id, force: true }, { key: KEYS.write });
    expect(asWriter.status).toBe(403);
    expect((await call(url, 'start_container', { container: id }, { key: KEYS.read })).status).toBe(403);
    // Nothing reached the Engine: the container is still there, never started.
    const still = await call(url, 'inspect_container', { container: id }, { key: KEYS.read });
    expect(still.status).toBe(200);
    expect(still.body.State.Running).toBe(false);

    const listing = await fetch(`${url}/v1/operations`, { headers: { authorization: `Bearer ${KEYS.read}` } });
    const ops = ((await listing.json()) as { operations: { name: string; allowed: boolean }[] }).operations;
    expect(ops.find((o) => o.name === 'ping')?.allowed).toBe(true);
    expect(ops.find((o) => o.name === 'remove_container')?.allowed).toBe(false);
  });

  it('streams a container export as a tar body (Accept: application/x-tar)', async () => {
    const { id } = await createContainer(['true']);
    const res = await fetch(`${url}/v1/operations/container_export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json', accept: 'application/x-tar' },
      // `path` is required by the operation's schema and unused by its stream form.
      body: JSON.stringify({ container: id, path: '/nonexistent/unused.tar' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    const names = await tarEntries(res.body!);
    expect(names.length).toBeGreaterThan(5);
    expect(names.some((n) => /^bin\/?/.test(n))).toBe(true);
  });

  it('streams save_images and copy_from_container as tar bodies; 406 when no stream form fits', async () => {
    const post = (name: string, params: unknown, accept: string, key = KEYS.write) =>
      fetch(`${url}/v1/operations/${name}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept }, body: JSON.stringify(params) });
    const saved = await post('save_images', { images: [IMAGE], path: '/nonexistent/unused.tar' }, 'application/x-tar');
    expect(saved.status).toBe(200);
    expect(await tarEntries(saved.body!)).toContain('manifest.json');

    const { id } = await createContainer(['true']);
    const copied = await post('copy_from_container', { container: id, path: '/bin', dest: '/nonexistent' }, 'application/x-tar');
    expect(copied.status).toBe(200);
    expect((await tarEntries(copied.body!)).some((n) => /^bin\/./.test(n))).toBe(true);

    const noForm = await post('ping', {}, 'application/x-tar');
    expect(noForm.status).toBe(406);
    expect(((await noForm.json()) as any).error).toMatchObject({ code: 'INVALID_PARAMS', status: 406 });
    // container_logs streams text: a tar is not on offer.
    const wrongType = await post('container_logs', { container: id }, 'application/x-tar', KEYS.read);
    expect(wrongType.status).toBe(406);
  });

  it('refuses parameters naming files on the service host unless local_files is on', async () => {
    const { id } = await createContainer(['true']);
    const r = await call(url, 'container_export', { container: id, path: join(dir, 'export.tar') }, { key: KEYS.read });
    expect(r).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN', details: { rule: 'local_files', parameters: ['path'] } } } });
  });

  it('streams followed logs as newline-delimited JSON, line by line', async () => {
    const { id } = await createContainer(['sh', '-c', 'echo one; sleep 2; echo two; sleep 60']);
    expect((await call(url, 'start_container', { container: id })).status).toBe(200);
    const started = Date.now();
    const res = await fetch(`${url}/v1/operations/container_logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.read}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ container: id, follow_for: 3.5 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const decoder = new TextDecoder();
    let text = '';
    let firstLineAt: number | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      if (firstLineAt === undefined && text.includes('\n')) firstLineAt = Date.now() - started;
    }
    const endedAt = Date.now() - started;
    expect(text.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ text: 'one' }, { text: 'two' }]);
    // The first line came while the log was still being followed, not at the end.
    expect(firstLineAt!).toBeLessThan(endedAt - 1500);
  });

  it('writes one audit line per call, with the key id and never a key or a planted secret', async () => {
    const before = auditLines(auditPath).length;
    const planted = { image: IMAGE, name: uniqueName('dchttp'), env: [`DB_PASSWORD=${PLANTED}`], labels: { [TEST_LABEL]: LABEL_VALUE } };
    const created = await call(url, 'create_container', planted, { key: KEYS.write });
    expect(created.status).toBe(200);
    containers.push(created.body.id);
    await call(url, 'pull_image', { image: `127.0.0.1:5000/nowhere/${uniqueName()}`, auth: { username: 'u', password: PLANTED } }, { key: KEYS.write });
    await call(url, 'ping', {}, { key: 'wrong-key-000000000000' });
    await call(url, 'remove_container', { container: created.body.id }, { key: KEYS.read });
    await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${KEYS.read}` } });

    const text = readFileSync(auditPath, 'utf8');
    const lines = auditLines(auditPath).slice(before);
    expect(lines.map((l) => [l.operation, l.key_id, l.outcome, l.status])).toEqual([
      ['create_container', 'writer', 'ok', 200],
      ['pull_image', 'writer', expect.any(String), expect.any(Number)],
      ['ping', null, 'UNAUTHORIZED', 401],
      ['remove_container', 'reader', 'FORBIDDEN', 403],
      ['health', 'reader', 'ok', 200],
    ]);
    expect(lines[1]!.outcome).not.toBe('ok');
    for (const l of lines) {
      expect(l).toMatchObject({ surface: 'http', client: '127.0.0.1' });
      expect(typeof l.time).toBe('string');
      expect(typeof l.duration_ms).toBe('number');
    }
    expect(lines[0]).toMatchObject({ endpoint: 'default', params: { env: ['DB_PASSWORD=[REDACTED]'] } });
    expect(text).not.toContain(PLANTED);
    for (const k of Object.values(KEYS)) expect(text).not.toContain(k);
  });
});
