/**
 * A smaller sample of the parameter fuzz (test/unit/fuzz-params.test.ts)
 * against the real Engines, through the fault proxy: whatever the input,
 * the Engine never sees a request outside the operation's endpoint family,
 * nor a path that decodes to "." or ".." segments.
 *
 * Nothing real may be touched: operations that change things get object
 * references that cannot exist ("dct-nx-…": not hex, so never an id
 * prefix), destructive ones run with dry_run, and operations that would
 * reach the internet or create objects without a reference are left to
 * the unit fuzz.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, type DockerConnector } from 'docker-connector';
import { parameterSchema } from 'docker-connector/catalogue';
import { listOperations, type OperationDefinition } from 'docker-connector/catalogue';
import { connectorFor } from '../support/connector.js';
import { arbitraryFromSchema, checkRoute, FaultProxy, familiesOf, hostileParams } from '../support/fault-proxy.js';
import { engines } from '../support/harness.js';

const RUNS_VALID = 5;
const RUNS_HOSTILE = 10;

/** Reach a registry on the internet, or create objects from a name alone. */
const LEFT_TO_UNIT_FUZZ = new Set(['pull_image', 'search_images', 'build_image', 'create_network', 'create_volume', 'load_images', 'registry_login', 'create_service', 'create_secret', 'create_config']);
/** Parameters that name Engine objects. */
const REF_KEYS = new Set(['container', 'image', 'images', 'network', 'volume']);
/** Swarm operations name their objects too (`config` elsewhere is create_container's raw config, not a name). */
const SWARM_REF_KEYS = new Set([...REF_KEYS, 'service', 'node', 'task', 'secret', 'config']);
const refKeysOf = (op: { category: string }) => (op.category === 'swarm' ? SWARM_REF_KEYS : REF_KEYS);
/** Reads where a hostile reference is sent as is: they answer at once whatever they find. */
const QUICK_READS = new Set(['inspect_container', 'inspect_image', 'image_history', 'container_top', 'container_changes', 'inspect_network', 'inspect_volume', 'container_stats']);
const LOCAL_PATH_KEYS = new Set(['path', 'dest', 'src', 'context', 'context_tar']);

const nx = () => `dct-nx-${randomBytes(4).toString('hex')}`;

describe.each(engines())('hostile parameters against Engine $name (sample)', (engine) => {
  let proxy: FaultProxy;
  let dc: DockerConnector;
  const root = mkdtempSync(join(tmpdir(), 'dc-rel-fuzz-'));
  const work = join(root, 'a', 'b', 'work');
  const totals = { calls: 0, requests: 0, ops: 0 };

  beforeAll(async () => {
    mkdirSync(join(work, 'ctx'), { recursive: true });
    writeFileSync(join(work, 'ctx', 'f.txt'), 'x');
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const host = await proxy.start();
    dc = connectorFor(engine, { host, retry_attempts: 0, timeout: 10 });
  });

  afterAll(async () => {
    dc.close();
    await proxy.close();
    rmSync(root, { recursive: true, force: true });
    process.stderr.write(`[reliability-fuzz] Engine ${engine.name}: ${totals.ops} operations, ${totals.calls} calls, ${totals.requests} Engine requests checked\n`);
  });

  /** Makes an input safe for a shared real Engine (see the file comment). */
  function defuse(op: OperationDefinition, input: unknown): unknown {
    if (!input || typeof input !== 'object' || Array.isArray(input)) return input;
    const props = (parameterSchema(op).properties ?? {}) as Record<string, { description?: string }>;
    const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    for (const [k, v] of Object.entries(out)) {
      if (refKeysOf(op).has(k) && !QUICK_READS.has(op.name)) out[k] = Array.isArray(v) ? [nx()] : nx();
      if (LOCAL_PATH_KEYS.has(k) && typeof v === 'string' && !/in the container/i.test(props[k]?.description ?? '')) {
        const full = resolve(work, v.replace(/\0/g, ''));
        out[k] = full.startsWith(root + sep) ? full : join(work, `outside-${v.length}`);
      }
    }
    if ('dry_run' in props) out.dry_run = true;
    // Waits that could run long on a real Engine.
    delete out.follow_for;
    delete out.until;
    return out;
  }

  async function check(op: OperationDefinition, input: unknown): Promise<void> {
    const params = defuse(op, input);
    totals.calls++;
    const before = proxy.seen.length;
    try {
      await dc.executeDynamic(op.name, params);
    } catch (err) {
      if (!(err instanceof ConnectorError)) throw new Error(`${op.name} threw a non-ConnectorError: ${String(err)}`, { cause: err });
    }
    const families = familiesOf(op);
    for (const r of proxy.seen.slice(before)) {
      totals.requests++;
      const route = checkRoute(r.method, r.path);
      expect(route.problems, `${op.name}: ${r.method} ${r.path.slice(0, 300)}`).toEqual([]);
      expect(families.has(route.family!), `${op.name} reached ${route.route}`).toBe(true);
      // A dry run reads only.
      if ((params as { dry_run?: boolean } | null)?.dry_run) expect(['GET', 'HEAD'], `${op.name} dry_run sent ${r.method} ${r.path}`).toContain(r.method);
    }
  }

  const ops = listOperations().filter((op) => {
    if (LEFT_TO_UNIT_FUZZ.has(op.name)) return false;
    if (op.safety === 'read') return true;
    const props = Object.keys((parameterSchema(op).properties ?? {}) as object);
    // A write must name an object (which will not exist); a destructive one that names none must have a dry run.
    const names = props.some((k) => refKeysOf(op).has(k));
    return op.safety === 'write' ? names : names || props.includes('dry_run');
  });

  it('samples most of the catalogue', () => {
    expect(ops.length).toBeGreaterThanOrEqual(listOperations().length - LEFT_TO_UNIT_FUZZ.size - 2);
  });

  it.each(ops.map((op) => [op.name, op] as const))('%s', async (_name, op) => {
    totals.ops++;
    const schema = parameterSchema(op);
    await fc.assert(fc.asyncProperty(arbitraryFromSchema(schema), (p) => check(op, p)), { numRuns: RUNS_VALID });
    await fc.assert(fc.asyncProperty(hostileParams(schema), (p) => check(op, p)), { numRuns: RUNS_HOSTILE });
  });
});
