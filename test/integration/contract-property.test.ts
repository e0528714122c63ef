import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN } from '../support/cli.js';
import { engines, harness } from '../support/harness.js';
import { TEST_LABEL, uniqueName } from '../support/connector.js';

/*
 * The published contract against the running service (`serve --no-auth`
 * from the built CLI) on a real Engine: requests generated from the
 * parameter schemas in /openapi.json for every read operation get no 400
 * the schema did not predict (404/409 for objects that do not exist are
 * fine) and an answer (only calls that wait on purpose may still be running
 * when given up on); each media type a stream operation declares is served,
 * and one it does not is refused before anything runs.
 */

const SAMPLES = 15;
/** Fixed, so a failure can be replayed (DC_CONTRACT_SEED picks another run). */
const SEED = Number(process.env.DC_CONTRACT_SEED ?? 13);
/** Validation and Engine refusals answer at once: a call with no answer by then failed. */
const ANSWER_WITHIN_MS = 5000;
/** A waiting call still running after this long was accepted (validation answers at once); it is given up on. */
const ACCEPTED_AFTER_MS = 2500;

/**
 * Calls that wait on purpose (for events up to `until`, for a container's
 * exit, for new log output): no answer within ACCEPTED_AFTER_MS means the
 * call was taken. Every other read must answer.
 */
function waitsOnPurpose(name: string, params: Record<string, unknown>): boolean {
  if (name === 'system_events' || name === 'wait_container') return true;
  return name === 'container_logs' && params.follow_for !== undefined;
}

type Schema = Record<string, any>;

function arb(s: Schema): fc.Arbitrary<unknown> {
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  if (Array.isArray(s.anyOf)) return fc.oneof(...s.anyOf.map((b: Schema) => arb({ ...s, anyOf: undefined, ...b })));
  switch (s.type) {
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000), max: Math.min(s.maximum ?? 1_000_000, Number.MAX_SAFE_INTEGER) });
    case 'number':
      return fc.double({ min: s.minimum ?? s.exclusiveMinimum ?? -1e6, max: s.maximum ?? 1e12, noNaN: true, noDefaultInfinity: true });
    case 'string': {
      const base = s.pattern ? fc.stringMatching(new RegExp(s.pattern, 'u')) : fc.string({ maxLength: Math.min(s.maxLength ?? 20, 20) });
      return base.filter((x) => x.length >= (s.minLength ?? 0) && x.length <= (s.maxLength ?? Infinity));
    }
    case 'array':
      return fc.array(arb(s.items ?? {}), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    case 'object': {
      if (s.properties) {
        const props = Object.fromEntries(Object.entries(s.properties as Record<string, Schema>).filter(([, v]) => v !== (false as unknown)).map(([k, v]) => [k, arb(v)]));
        return fc.record(props, { requiredKeys: (s.required ?? []) as string[] });
      }
      const key = s.propertyNames?.pattern ? fc.stringMatching(new RegExp(s.propertyNames.pattern, 'u')) : fc.string({ maxLength: 8 });
      return fc.dictionary(key, arb(typeof s.additionalProperties === 'object' ? s.additionalProperties : {}), { maxKeys: 3 });
    }
    default:
      return fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean());
  }
}

interface Served {
  child: ChildProcess;
  url: string;
}

function serve(host: string): Promise<Served> {
  // The service's per-key limit (600/min) would answer most samples with 429 and test nothing.
  const dir = mkdtempSync(join(tmpdir(), 'dc-contract-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ service: { rate_limit: 0 } }));
  const child = spawn(process.execPath, [CLI_BIN, '--config', config, 'serve', '--no-auth', '--host', host, '--listen', '127.0.0.1:0'], {
    env: { PATH: process.env.PATH ?? '', DOCKER_CONNECTOR_RATE_LIMIT: '0' },
    // The audit log goes to stdout and is written synchronously: a pipe nobody reads fills up
    // and then blocks the whole service, so stdout is not piped.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(stderr);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      reject(new Error(`serve exited (${code}): ${stderr}`));
    });
  });
}

type Answer = { status: number; type: string; text: string };

/** The head of the answer, or 'no answer' when none came within `ms`. */
async function post(url: string, name: string, body: unknown, accept = 'application/json', ms = ANSWER_WITHIN_MS): Promise<Answer | 'no answer'> {
  try {
    const res = await fetch(`${url}/v1/operations/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ms),
    });
    const reader = res.body!.getReader();
    // The head of the answer is enough (a stream form may be long).
    const first = await reader.read();
    await reader.cancel().catch(() => {});
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: first.value ? Buffer.from(first.value).toString('utf8', 0, 300) : '' };
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') return 'no answer';
    throw err;
  }
}

/** The whole answer (for small JSON results and a whole export). */
async function call(url: string, name: string, body: unknown, accept = 'application/json'): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`${url}/v1/operations/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = accept === 'application/json' ? await res.text() : `${(await res.arrayBuffer()).byteLength} bytes`;
  return { status: res.status, text, json: accept === 'application/json' ? JSON.parse(text) : undefined };
}

function answered(r: Answer | 'no answer'): Answer {
  if (r === 'no answer') throw new Error('no answer');
  return r;
}

describe.each(engines())('published contract vs the running service on Engine $name', (engine) => {
  let s: Served;
  let doc: { paths: Record<string, any>; components: Record<string, any> };
  const container = uniqueName('dc-contract');

  beforeAll(async () => {
    s = await serve(engine.host);
    doc = await (await fetch(`${s.url}/openapi.json`)).json();
    const created = answered(await post(s.url, 'create_container', { image: harness().image, name: container, command: ['sh', '-c', 'echo hello; echo oops >&2'], labels: { [TEST_LABEL]: '1' } }));
    expect(created.status, created.text).toBe(200);
    const started = answered(await post(s.url, 'start_container', { container }));
    expect(started.status, started.text).toBe(200);
  });

  afterAll(async () => {
    await post(s.url, 'remove_container', { container, force: true }).catch(() => {});
    s?.child.kill('SIGTERM');
  });

  it('requests valid per the published schema of every read operation get no unpredicted 400, and an answer', async () => {
    const ajv = new Ajv2020({ strict: true });
    (addFormats as unknown as (a: Ajv2020) => void)(ajv);
    const reads = Object.entries(doc.paths).filter(([p, item]) => p.startsWith('/v1/operations/') && item.post['x-safety'] === 'read');
    expect(reads.length).toBeGreaterThan(15);
    const unpredicted: string[] = [];
    const unanswered: string[] = [];
    const check = async (name: string, params: Record<string, unknown>) => {
      const waits = waitsOnPurpose(name, params);
      const r = await post(s.url, name, params, 'application/json', waits ? ACCEPTED_AFTER_MS : ANSWER_WITHIN_MS);
      if (process.env.DC_CONTRACT_DEBUG) console.log(name, JSON.stringify(params).slice(0, 120), r === 'no answer' ? r : r.status);
      if (r === 'no answer') {
        if (!waits) unanswered.push(`${name} ${JSON.stringify(params)}`);
        return;
      }
      // 400 is what the schema predicts against; 500 is never the caller's doing.
      if (r.status === 400 || r.status === 500) unpredicted.push(`${name} ${JSON.stringify(params)} → ${r.status} ${r.text}`);
    };
    for (const [path, item] of reads) {
      const name = path.slice('/v1/operations/'.length);
      const schema = item.post.requestBody.content['application/json'].schema as Schema;
      const valid = ajv.compile(schema);
      const samples = fc.sample(arb(schema).filter((v) => valid(v)), { numRuns: SAMPLES, seed: SEED }) as Record<string, unknown>[];
      expect(samples.length, name).toBe(SAMPLES);
      const t0 = performance.now();
      // Calls that may wait go together (each is given up on after ACCEPTED_AFTER_MS); the rest one by one.
      await Promise.all(samples.filter((p) => waitsOnPurpose(name, p)).map((p) => check(name, p)));
      for (const params of samples.filter((p) => !waitsOnPurpose(name, p))) await check(name, params);
      if (process.env.DC_CONTRACT_DEBUG) console.log('TIME', name, Math.round(performance.now() - t0));
    }
    expect(unpredicted).toEqual([]);
    expect(unanswered).toEqual([]);
    // Callers that gave up on waiting calls left the service answering.
    expect(answered(await post(s.url, 'ping', {}, 'application/json', 1000)).status).toBe(200);
  });

  it('each media type a stream operation declares is served, not refused with 406', async () => {
    const logs = doc.paths['/v1/operations/container_logs'].post.responses['200'].content;
    for (const type of Object.keys(logs).filter((t) => t !== 'application/json')) {
      const r = answered(await post(s.url, 'container_logs', { container }, type));
      expect([r.status, r.type.split(';')[0]], type).toEqual([200, type]);
    }
    const exp = doc.paths['/v1/operations/container_export'].post.responses['200'].content;
    for (const type of Object.keys(exp).filter((t) => t !== 'application/json')) {
      const r = answered(await post(s.url, 'container_export', { container }, type));
      expect([r.status, r.type.split(';')[0]], type).toEqual([200, type]);
    }
    // A stream type the operation does not declare is the 406 the document lists.
    const refused = answered(await post(s.url, 'container_export', { container }, 'application/octet-stream'));
    expect(refused.status).toBe(406);
    expect(Object.keys(exp)).not.toContain('application/octet-stream');
  });

  it('a refused media type is refused before anything runs: no export is opened', async () => {
    // The Engine logs an "export" event for the container: 20.10 when the export is opened, 28 when it
    // has been read to the end. So on 20.10 an export opened and then dropped shows up here too.
    const exports = async (since: number, until: number) => {
      const r = await call(s.url, 'system_events', { since, until, filters: { type: 'container', event: 'export', container } });
      expect(r.status, r.text).toBe(200);
      return (r.json as { count: number }).count;
    };
    const t0 = Date.now() / 1000;
    const refused = await call(s.url, 'container_export', { container }, 'application/octet-stream');
    expect(refused.status).toBe(406);
    const t1 = Date.now() / 1000;
    const served = await call(s.url, 'container_export', { container }, 'application/x-tar');
    expect(served.status).toBe(200);
    const t2 = Date.now() / 1000 + 1;
    // The export that was served shows up, so the refused one would have too.
    expect(await exports(t1, t2)).toBeGreaterThanOrEqual(1);
    expect(await exports(t0, t1)).toBe(0);
  });

  it('a short id more than one container starts with is a CONFLICT (409), not the caller\'s 400', async () => {
    // Containers until two ids share a first character (at most 17 by pigeonhole).
    const made: { id: string; name: string }[] = [];
    try {
      let prefix: string | undefined;
      while (!prefix) {
        const name = uniqueName('dc-contract-prefix');
        const r = await call(s.url, 'create_container', { image: harness().image, name, labels: { [TEST_LABEL]: '1' } });
        expect(r.status, r.text).toBe(200);
        const id = (r.json as { id: string }).id;
        prefix = made.find((m) => m.id[0] === id[0])?.id[0];
        made.push({ id, name });
      }
      for (const name of ['inspect_container', 'container_changes']) {
        const r = await call(s.url, name, { container: prefix });
        expect([r.status, r.json.error.code], r.text).toEqual([409, 'CONFLICT']);
      }
    } finally {
      for (const m of made) await post(s.url, 'remove_container', { container: m.name, force: true });
    }
  });

  it('search_images: a registry out of reach is the Engine\'s failure (502), credentials for another registry are left out, a malformed host is the schema\'s 400', async () => {
    const search = engine.searchRegistry;
    const unreachable = await call(s.url, 'search_images', { term: 'unreachable.invalid:5999/x' });
    expect([unreachable.status, unreachable.json.error?.code], unreachable.text).toEqual([502, 'ENGINE_ERROR']);
    const elsewhere = await call(s.url, 'search_images', { term: `${search}/foo`, auth: { username: 'u', password: 'p', serveraddress: 'other.example:5000' } });
    expect(elsewhere.status, elsewhere.text).toBe(200);
    expect((elsewhere.json as { count: number }).count).toBeGreaterThan(0);
    const malformed = await call(s.url, 'search_images', { term: 'a.b:c:d/x' });
    expect([malformed.status, malformed.json.error?.details?.parameters], malformed.text).toEqual([400, ['term']]);
    const schema = doc.paths['/v1/operations/search_images'].post.requestBody.content['application/json'].schema;
    expect(new RegExp(schema.properties.term.pattern, 'u').test('a.b:c:d/x')).toBe(false);
  });

  it('the served document lists the configured endpoint names as the values `endpoint` takes', async () => {
    const manifest = (await (await fetch(`${s.url}/v1/manifest`)).json()) as { endpoints: string[] };
    expect(manifest.endpoints.length).toBeGreaterThan(0);
    expect(doc.components.parameters.endpoint.schema.enum).toEqual(manifest.endpoints);
    const call = (endpoint: string) => fetch(`${s.url}/v1/operations/ping?endpoint=${encodeURIComponent(endpoint)}`, { method: 'POST' });
    expect((await call(manifest.endpoints[0]!)).status).toBe(200);
    // A name the enum leaves out is refused, as the document predicts.
    expect(manifest.endpoints).not.toContain('elsewhere');
    expect((await call('elsewhere')).status).toBe(400);
  });
});
