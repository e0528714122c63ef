import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.js';
import type { OperationContext, OperationDefinition, PlanItem } from '../../src/operations/define.js';
import { PLAN_TTL_MS } from '../../src/operations/shared/plan.js';
import { defaultPlansDir, FilePlanStore, makePlan, paramsDigest, readPlan, runWithPlan } from '../../src/plans.js';

const root = mkdtempSync(path.join(tmpdir(), 'dc-plans-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const freshDir = () => path.join(root, `store-${++n}`, 'plans');
const items: PlanItem[] = [{ what: 'container', id: 'a'.repeat(64), name: 'web' }];
const ENDPOINT = 'unix:///var/run/docker.sock';
const params = { filters: { label: ['x=1'] }, dry_run: true };

async function invalid(p: Promise<unknown>): Promise<ConnectorError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectorError);
  const e = err as ConnectorError;
  expect(e.code).toBe('INVALID_PARAMS');
  expect(e.message).toMatch(/^Invalid parameter plan_id: /);
  expect(e.details?.parameters).toEqual(['plan_id']);
  return e;
}

describe('the file plan store', () => {
  it('keeps a plan in a private folder, one 0600 file per plan, written under a temporary name', async () => {
    const dir = freshDir();
    const store = new FilePlanStore(dir);
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items);
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files).toEqual([`${id.split('.')[0]}.json`]);
    expect(statSync(path.join(dir, files[0]!)).mode & 0o777).toBe(0o600);
    // Another store on the same folder (the next CLI command) reads it.
    expect(await readPlan(new FilePlanStore(dir), id, 'prune_containers', ENDPOINT, { filters: { label: ['x=1'] }, plan_id: id })).toEqual(items);
  });

  it('makes an existing folder private', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    await makePlan(new FilePlanStore(dir), 'prune_containers', ENDPOINT, params, items);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('refuses a folder that is a file, naming plans_dir', async () => {
    const file = path.join(root, `not-a-folder-${++n}`);
    writeFileSync(file, 'x');
    const err = await makePlan(new FilePlanStore(file), 'prune_containers', ENDPOINT, params, items).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_CONFIG');
    expect((err as ConnectorError).message).toContain('plans_dir');
  });

  it('forgets a plan once it expired, and sweeps expired files', async () => {
    const dir = freshDir();
    let now = 1_000_000;
    const store = new FilePlanStore(dir, () => now);
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items, now);
    now += PLAN_TTL_MS + 1;
    const e = await invalid(readPlan(store, id, 'prune_containers', ENDPOINT, params, now));
    expect(e.message).toContain('expired');
    expect(readdirSync(dir)).toEqual([]);
    // A plan expired by its own record is refused even where the store still has it.
    now = 2_000_000;
    const id2 = await makePlan(store, 'prune_containers', ENDPOINT, params, items, now - PLAN_TTL_MS - 5);
    await invalid(readPlan(store, id2, 'prune_containers', ENDPOINT, params, now));
  });

  it('sweeps plans that expired when a new one is stored', async () => {
    const dir = freshDir();
    let now = 5_000_000;
    const store = new FilePlanStore(dir, () => now);
    await makePlan(store, 'prune_containers', ENDPOINT, params, items, now);
    now += PLAN_TTL_MS + 1;
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items, now);
    expect(readdirSync(dir)).toEqual([`${id.split('.')[0]}.json`]);
  });
});

describe('plans', () => {
  it('refuses an altered plan', async () => {
    const dir = freshDir();
    const store = new FilePlanStore(dir);
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items);
    const file = path.join(dir, `${id.split('.')[0]}.json`);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { expires_at: number; value: string };
    writeFileSync(file, JSON.stringify({ ...stored, value: stored.value.replace('"web"', '"db"') }));
    const e = await invalid(readPlan(store, id, 'prune_containers', ENDPOINT, params));
    expect(e.message).toContain('altered');
  });

  it('refuses an id whose digest part was changed', async () => {
    const store = new FilePlanStore(freshDir());
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items);
    const [key, digest] = id.split('.') as [string, string];
    const other = `${key}.${digest[0] === 'A' ? 'B' : 'A'}${digest.slice(1)}`;
    expect((await invalid(readPlan(store, other, 'prune_containers', ENDPOINT, params))).message).toContain('altered');
  });

  it('refuses a plan made for another operation, another endpoint or other parameters', async () => {
    const store = new FilePlanStore(freshDir());
    const id = await makePlan(store, 'prune_containers', ENDPOINT, params, items);
    expect((await invalid(readPlan(store, id, 'prune_images', ENDPOINT, params))).message).toContain('made by prune_containers');
    expect((await invalid(readPlan(store, id, 'prune_containers', 'tcp://other:2376', params))).message).toContain('another Engine endpoint');
    expect((await invalid(readPlan(store, id, 'prune_containers', ENDPOINT, { filters: { label: ['x=2'] } }))).message).toContain('other parameters');
  });

  it('refuses an unknown plan id', async () => {
    const store = new FilePlanStore(freshDir());
    await invalid(readPlan(store, `${'A'.repeat(22)}.${'B'.repeat(22)}`, 'prune_containers', ENDPOINT, params));
    await invalid(readPlan(store, 'not-a-plan', 'prune_containers', ENDPOINT, params));
  });

  it('compares parameters without dry_run and plan_id, in any key order', () => {
    expect(paramsDigest({ a: 1, b: { c: [1, 2], d: 'x' }, dry_run: true })).toBe(paramsDigest({ plan_id: 'p', b: { d: 'x', c: [1, 2] }, a: 1, dry_run: false }));
    expect(paramsDigest({ a: 1 })).not.toBe(paramsDigest({ a: 2 }));
  });

  it('puts the default folder under XDG_STATE_HOME, else ~/.local/state', () => {
    expect(defaultPlansDir({ XDG_STATE_HOME: '/s', HOME: '/h' })).toBe('/s/docker-connector/plans');
    expect(defaultPlansDir({ XDG_STATE_HOME: 'relative', HOME: '/h' })).toBe('/h/.local/state/docker-connector/plans');
  });
});

describe('runWithPlan', () => {
  const ctx = { operation: 'prune_things', endpoint: { address: ENDPOINT, kind: 'unix', tls: false } } as unknown as OperationContext;
  const calls: { planned?: readonly PlanItem[] }[] = [];
  const op = {
    name: 'prune_things',
    async run(_ctx: OperationContext, p: { dry_run: boolean }) {
      calls.push({});
      return { deleted: [{ id: 'x1', name: 'one' }], dry_run: p.dry_run };
    },
    plan: {
      items: (_c: OperationContext, _p: unknown, r: { deleted: { id: string; name: string }[] }) => r.deleted.map((d) => ({ what: 'thing', id: d.id, name: d.name })),
      async run(_c: OperationContext, _p: unknown, planned: readonly PlanItem[]) {
        calls.push({ planned });
        return { deleted: [], dry_run: false, skipped: [] };
      },
    },
  } as unknown as OperationDefinition;

  it('gives a dry run a plan_id, runs the plan on the real call, and uses the plan up', async () => {
    const store = new FilePlanStore(freshDir());
    const dry = (await runWithPlan(op, ctx, { dry_run: true, filters: {} }, store)) as { plan_id: string };
    expect(dry.plan_id).toMatch(/\./);
    const real = await runWithPlan(op, ctx, { dry_run: false, filters: {}, plan_id: dry.plan_id }, store);
    expect(real).toEqual({ deleted: [], dry_run: false, skipped: [] });
    expect(calls.at(-1)?.planned).toEqual([{ what: 'thing', id: 'x1', name: 'one' }]);
    const again = await invalid(runWithPlan(op, ctx, { dry_run: false, filters: {}, plan_id: dry.plan_id }, store));
    expect(again.message).toContain('used already');
  });

  it('refuses plan_id on a dry run, and leaves a plain call alone', async () => {
    const store = new FilePlanStore(freshDir());
    const dry = (await runWithPlan(op, ctx, { dry_run: true }, store)) as { plan_id: string };
    await invalid(runWithPlan(op, ctx, { dry_run: true, plan_id: dry.plan_id }, store));
    expect(await runWithPlan(op, ctx, { dry_run: false }, store)).toEqual({ deleted: [{ id: 'x1', name: 'one' }], dry_run: false });
  });
});
