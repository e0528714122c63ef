/**
 * Hostile parameters, property-based, over EVERY operation in the catalogue.
 * Inputs come from each operation's JSON Schema (src/manifest.ts
 * parameterSchema) and from malformed variants of them (hostile strings with
 * "/", "..", "?", "#", "%", newlines, NUL, huge strings; wrong types; unknown
 * keys; missing required keys; no object at all).
 *
 * The connector is pointed at a local recording HTTP server on a unix socket
 * that answers /_ping and 404s everything else: it only records the request
 * lines, because the property is about what the connector sends:
 * - every input settles (no hang) with a result or a ConnectorError with a
 *   known code, never an unhandled exception;
 * - input the schema refuses is INVALID_PARAMS and sends nothing;
 * - every request goes to a versioned, fully encoded path of a real Engine
 *   route in the operation's own family, with no "."/".." segment once
 *   decoded, and no secret in the URL.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, DockerConnector } from '../../src/index.js';
import { ERROR_CODES } from '../../src/errors.js';
import { parameterSchema } from '../../src/manifest.js';
import { listOperations, type OperationDefinition } from '../../src/operations/index.js';
import { arbitraryFromSchema, checkRoute, familiesOf, hostileParams, PLANTED } from '../support/fault-proxy.js';

const RUNS_VALID = 40;
const RUNS_HOSTILE = 70;
const CALL_LIMIT_MS = 5_000;

/** Parameters naming local files or folders (the connector's own side). */
const LOCAL_PATH_KEYS = new Set(['path', 'dest', 'src', 'context', 'context_tar']);
/** Node errors that mean a value reached the HTTP layer unencoded or a bug threw. */
const INTERNAL = /ERR_UNESCAPED_CHARACTERS|ERR_INVALID_CHAR|ERR_INVALID_HTTP_TOKEN|ERR_HTTP_INVALID_HEADER_VALUE|ERR_INVALID_ARG/;

interface Recorded {
  method: string;
  url: string;
}

const stats = { inputs: 0, rejected: 0, requests: 0, routes: new Map<string, Set<string>>(), perOp: new Map<string, { inputs: number; accepted: number }>() };

describe('hostile parameters against a recording socket', () => {
  const root = mkdtempSync(join(tmpdir(), 'dc-fuzz-'));
  // Work three levels down, so ".." and "../.." stay inside the sandbox.
  const work = join(root, 'a', 'b', 'c', 'work');
  const socketPath = join(root, 'engine.sock');
  const recorded: Recorded[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  let server: Server;
  let dc: DockerConnector;
  let cwd: string;

  beforeAll(async () => {
    mkdirSync(join(work, 'ctx'), { recursive: true });
    mkdirSync(join(work, 'out'));
    writeFileSync(join(work, 'ctx', 'Dockerfile'), 'FROM busybox\n');
    writeFileSync(join(work, 'file.tar'), Buffer.alloc(1024));
    cwd = process.cwd();
    process.chdir(work);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    server = createServer({ maxHeaderSize: 4 * 1024 * 1024 }, (req, res) => {
      recorded.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      if (req.url === '/_ping') {
        res.writeHead(200, { 'api-version': '1.51', ostype: 'linux', 'content-type': 'text/plain' });
        return res.end(req.method === 'HEAD' ? undefined : 'OK');
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"no such object (fuzz)"}\n');
    });
    await new Promise<void>((ok) => server.listen(socketPath, ok));
    dc = new DockerConnector({
      host: `unix://${socketPath}`,
      rate_limit: 0,
      retry_attempts: 0,
      timeout: 3,
      env: {},
      registry_username: 'fuzz-user',
      registry_password: `${PLANTED}config-regpass-9a8b`,
      registry_server: 'registry.local:5000',
    });
  });

  afterAll(async () => {
    dc.close();
    process.chdir(cwd);
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await new Promise<void>((ok) => server.close(() => ok()));
    rmSync(root, { recursive: true, force: true });
    const routes = [...stats.routes.entries()].map(([op, r]) => `${op} (${stats.perOp.get(op)?.accepted}/${stats.perOp.get(op)?.inputs} valid): ${[...r].sort().join(', ')}`).join('\n  ');
    process.stderr.write(`[fuzz-params] ${stats.inputs} inputs, ${stats.rejected} refused as INVALID_PARAMS, ${stats.requests} requests checked\n  ${routes}\n`);
  });

  /** Keeps local paths inside the sandbox: a path on the caller's own disk is theirs to choose, not the Engine's. */
  function sandboxed(op: OperationDefinition, params: unknown): unknown {
    if (!params || typeof params !== 'object' || Array.isArray(params)) return params;
    const props = (parameterSchema(op).properties ?? {}) as Record<string, { description?: string }>;
    const out: Record<string, unknown> = { ...(params as Record<string, unknown>) };
    for (const [k, v] of Object.entries(out)) {
      if (!LOCAL_PATH_KEYS.has(k) || typeof v !== 'string' || /in the container/i.test(props[k]?.description ?? '')) continue;
      const full = resolve(work, v.replace(/\0/g, ''));
      if (full !== root && !full.startsWith(root + sep)) out[k] = `outside-${v.length}`;
    }
    return out;
  }

  async function check(op: OperationDefinition, input: unknown): Promise<void> {
    const params = sandboxed(op, input);
    stats.inputs++;
    const mine = stats.perOp.get(op.name) ?? { inputs: 0, accepted: 0 };
    stats.perOp.set(op.name, mine);
    mine.inputs++;
    const before = recorded.length;
    const asObject = params === null || params === undefined ? {} : params;
    const schemaOk = typeof asObject === 'object' && !Array.isArray(asObject) && op.params.safeParse(asObject).success;
    if (schemaOk) mine.accepted++;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        dc.executeDynamic(op.name, params),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${op.name} did not settle within ${CALL_LIMIT_MS} ms`)), CALL_LIMIT_MS))),
      ]);
    } catch (err) {
      if (!(err instanceof ConnectorError)) throw new Error(`${op.name} threw a non-ConnectorError: ${String(err)}`, { cause: err });
      expect(ERROR_CODES).toContain(err.code);
      const cause = err.cause as Error | undefined;
      if (cause instanceof TypeError || cause instanceof RangeError || cause instanceof ReferenceError || cause instanceof SyntaxError || INTERNAL.test(`${err.message} ${(cause as NodeJS.ErrnoException | undefined)?.code ?? ''}`)) {
        throw new Error(`${op.name}: an internal error surfaced as ${err.code}: ${err.message}`, { cause: err });
      }
      if (err.code === 'INVALID_PARAMS') stats.rejected++;
      if (!schemaOk) expect(err.code, `${op.name}: ${err.message}`).toBe('INVALID_PARAMS');
    } finally {
      clearTimeout(timer);
    }
    const sent = recorded.slice(before);
    if (!schemaOk) expect(sent.filter((r) => r.url !== '/_ping'), `${op.name} sent requests for parameters its schema refuses`).toEqual([]);
    const families = familiesOf(op);
    for (const r of sent) {
      stats.requests++;
      const route = checkRoute(r.method, r.url);
      expect(route.problems, `${op.name}: ${r.method} ${r.url.slice(0, 300)}`).toEqual([]);
      expect(families.has(route.family!), `${op.name} reached ${route.route} (family ${route.family})`).toBe(true);
      expect(r.url).not.toContain(PLANTED);
      if (!stats.routes.has(op.name)) stats.routes.set(op.name, new Set());
      stats.routes.get(op.name)!.add(route.route!);
    }
  }

  const ops = listOperations();

  it('covers every operation in the catalogue', () => {
    expect(ops.length).toBeGreaterThan(40);
    for (const op of ops) expect(parameterSchema(op).type).toBe('object');
  });

  it.each(ops.map((op) => [op.name, op] as const))('%s: inputs from its schema and malformed ones', async (_name, op) => {
    const schema = parameterSchema(op);
    // Always tried, besides the random ones: each string parameter set to a reference whose
    // last segment is "." or ".." behind a tag (the Engine decodes %2F and cleans dot segments).
    const base = fc.sample(arbitraryFromSchema(schema), { numRuns: 1, seed: 1 })[0] as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, { type?: string; anyOf?: unknown[] }>;
    const examples = Object.keys(props)
      .filter((k) => props[k]!.type === 'string')
      .flatMap((k) => ['registry.local:5000/team/..:v1', 'app/.:latest', 'a/..@sha256:' + 'b'.repeat(64)].map((v) => [{ ...base, [k]: v }] as [unknown]));
    await fc.assert(
      fc.asyncProperty(arbitraryFromSchema(schema), (p) => check(op, p)),
      { numRuns: RUNS_VALID, examples },
    );
    await fc.assert(
      fc.asyncProperty(hostileParams(schema), (p) => check(op, p)),
      { numRuns: RUNS_HOSTILE },
    );
    expect(unhandled).toEqual([]);
  });
});
