/**
 * Plan-bound destructive calls (issue 16 §3). A destructive dry run's items
 * are kept as a plan and the dry run returns its `plan_id`; the real call
 * given that `plan_id` (same other parameters, same Engine endpoint, within
 * PLAN_TTL_MS) acts on those items only, through the operation's own
 * `plan.run`. Everything an operation declares is in its `plan` section
 * (src/operations/define.ts); this module makes, stores and checks plans.
 *
 * A plan id is `<key>.<digest>`: the key (128 random bits) names the stored
 * plan, the digest (128 bits of the stored text's SHA-256) proves the text
 * was not changed since, so a store needs no secret key of its own and a
 * shared store (issue 17's Redis) is as safe as a private folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConnectorConfig } from './config/schema.js';
import { ConnectorError } from './errors.js';
import type { OperationContext, OperationDefinition, PlanItem } from './operations/define.js';
import { PLAN_TTL_MS } from './operations/shared/plan.js';
import { canonicalParams as canonical } from './operations/parameter-schema.js';
import { KEY_PREFIX, openStateStore, stateStoreSettingsOf, type StateStore } from './state-store.js';

/**
 * Where plans wait between the dry run and the real call: opaque text under
 * a key, kept at least `ttlMs`. Integrity and expiry are checked by this
 * module, not trusted to the store. A Redis store is `SET key value PX ttl`,
 * `GET key`, `DEL key`.
 */
export interface PlanStore {
  put(key: string, value: string, ttlMs: number): Promise<void>;
  /** The value, or undefined when there is none (never stored, deleted, or expired). */
  get(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
}

const KEY = /^[A-Za-z0-9_-]{22}$/;

/** The default folder: $XDG_STATE_HOME/docker-connector/plans, else ~/.local/state/docker-connector/plans. */
export function defaultPlansDir(env: NodeJS.ProcessEnv): string {
  const state = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(env.HOME || os.homedir(), '.local', 'state');
  return path.join(state, 'docker-connector', 'plans');
}

/**
 * The store a connector uses unless it is given one: the shared state store
 * when `state_store` is set (never files as a fallback: a replica that kept
 * plans to itself would answer "no such plan" on the others), else files
 * under `plans_dir` (or the default folder).
 */
export function planStoreFor(config: Pick<ConnectorConfig, 'plans_dir' | 'state_store' | 'state_store_ca_cert'>, env: NodeJS.ProcessEnv): PlanStore {
  const shared = stateStoreSettingsOf(config);
  if (shared) return new RedisPlanStore(() => openStateStore(shared)!);
  return new FilePlanStore(config.plans_dir ?? defaultPlansDir(env));
}

/**
 * Plans in the state store: `SET key value PX ttl`, `GET`, `DEL`. A store
 * that cannot be reached fails the call closed (UNAVAILABLE naming it).
 */
export class RedisPlanStore implements PlanStore {
  constructor(private readonly open: () => Promise<StateStore>) {}

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const store = await this.open();
    try {
      await store.run(() => store.client.set(redisKey(key), value, 'PX', ttlMs));
    } catch (err) {
      throw store.unavailable('the dry run\'s plan cannot be kept, so no plan_id is given; retry when it is back', err);
    }
  }

  async get(key: string): Promise<string | undefined> {
    const store = await this.open();
    try {
      return (await store.run(() => store.client.get(redisKey(key)))) ?? undefined;
    } catch (err) {
      throw store.unavailable('the plan cannot be read, so the plan-bound call is refused (nothing was done); retry when it is back', err);
    }
  }

  async delete(key: string): Promise<void> {
    const store = await this.open();
    // The call it was used for has already acted: failing it now would misreport what happened. A plan
    // left behind names items that are gone, which a second use skips; it expires with its PX.
    await store.run(() => store.client.del(redisKey(key))).catch(() => {});
  }
}

function redisKey(key: string): string {
  if (!KEY.test(key)) throw new ConnectorError('INVALID_PARAMS', 'Invalid parameter plan_id: not a plan id', { details: { parameters: ['plan_id'] } });
  return `${KEY_PREFIX}plan:${key}`;
}

/**
 * One file per plan in a folder only its owner can read (0700, files 0600),
 * each written under a temporary name and renamed, so a reader never sees
 * half a plan. Processes of one user on one machine (consecutive CLI
 * commands, service replicas sharing a volume) share it.
 */
export class FilePlanStore implements PlanStore {
  private ready: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const file = this.file(key);
    await this.folder();
    await this.sweep();
    const tmp = path.join(this.dir, `.${key}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await fs.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify({ expires_at: this.now() + ttlMs, value }));
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  }

  async get(key: string): Promise<string | undefined> {
    const file = this.file(key);
    let text: string;
    try {
      // O_NOFOLLOW: a link planted in the folder is not followed.
      const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        text = await fh.readFile('utf8');
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isCode(err, 'ENOENT', 'ELOOP')) return undefined;
      throw err;
    }
    const stored = parseStored(text);
    if (!stored) return undefined;
    if (stored.expires_at <= this.now()) {
      await this.delete(key);
      return undefined;
    }
    return stored.value;
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.file(key), { force: true });
  }

  private file(key: string): string {
    if (!KEY.test(key)) throw new ConnectorError('INVALID_PARAMS', 'Invalid parameter plan_id: not a plan id', { details: { parameters: ['plan_id'] } });
    return path.join(this.dir, `${key}.json`);
  }

  /** Creates the folder (0700) once; an existing one must be a folder of this user, and is made private. */
  private folder(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
        const st = await fs.lstat(this.dir);
        if (!st.isDirectory()) throw new Error('it is not a folder');
        const uid = process.getuid?.();
        if (uid !== undefined && st.uid !== uid) throw new Error('it belongs to another user');
        if ((st.mode & 0o077) !== 0) await fs.chmod(this.dir, 0o700);
      } catch (err) {
        this.ready = undefined;
        throw new ConnectorError('INVALID_CONFIG', `Invalid setting plans_dir: cannot keep plans in ${this.dir}: ${(err as Error).message}`);
      }
    })();
    return this.ready;
  }

  /** Drops expired plans and temporary files left by a crash (best effort: another process may be sweeping too). */
  private async sweep(): Promise<void> {
    const now = this.now();
    for (const name of await fs.readdir(this.dir).catch(() => [] as string[])) {
      const file = path.join(this.dir, name);
      try {
        if (name.endsWith('.tmp')) {
          if ((await fs.stat(file)).mtimeMs < now - PLAN_TTL_MS) await fs.rm(file, { force: true });
        } else if (name.endsWith('.json')) {
          const stored = parseStored(await fs.readFile(file, 'utf8'));
          if (!stored || stored.expires_at <= now) await fs.rm(file, { force: true });
        }
      } catch {
        // gone meanwhile, or unreadable: left for the next sweep
      }
    }
  }
}

function parseStored(text: string): { expires_at: number; value: string } | undefined {
  try {
    const v = JSON.parse(text) as { expires_at?: unknown; value?: unknown };
    return typeof v.expires_at === 'number' && typeof v.value === 'string' ? { expires_at: v.expires_at, value: v.value } : undefined;
  } catch {
    return undefined;
  }
}

function isCode(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes(String((err as { code?: unknown }).code));
}

/* ---------------- plans ---------------- */

interface PlanRecord {
  operation: string;
  /** The Engine endpoint's address (never credentials). */
  endpoint: string;
  /** SHA-256 of the parameters other than dry_run and plan_id, after validation. */
  params: string;
  created_at: number;
  expires_at: number;
  items: PlanItem[];
}


const sha256 = (text: string) => createHash('sha256').update(text).digest();

export function paramsDigest(params: Record<string, unknown>): string {
  const { dry_run: _d, plan_id: _p, ...rest } = params;
  return sha256(canonical(rest)).toString('hex');
}

const textDigest = (text: string) => sha256(text).subarray(0, 16).toString('base64url');

function badPlan(operation: string, why: string): ConnectorError {
  return new ConnectorError('INVALID_PARAMS', `Invalid parameter plan_id: ${why}`, { operation, details: { parameters: ['plan_id'] } });
}

/** Stores a plan of these items and returns its id. */
export async function makePlan(store: PlanStore, operation: string, endpoint: string, params: Record<string, unknown>, items: PlanItem[], now: number = Date.now()): Promise<string> {
  const record: PlanRecord = { operation, endpoint, params: paramsDigest(params), created_at: now, expires_at: now + PLAN_TTL_MS, items };
  const text = JSON.stringify(record);
  const key = randomBytes(16).toString('base64url');
  await store.put(key, text, PLAN_TTL_MS);
  return `${key}.${textDigest(text)}`;
}

/** The plan's items, once it is shown to be unaltered, unexpired and made for this call; INVALID_PARAMS naming plan_id otherwise. */
export async function readPlan(store: PlanStore, planId: string, operation: string, endpoint: string, params: Record<string, unknown>, now: number = Date.now()): Promise<PlanItem[]> {
  const [key = '', digest = ''] = planId.split('.');
  if (!KEY.test(key) || !/^[A-Za-z0-9_-]{22}$/.test(digest)) throw badPlan(operation, 'not a plan id; make a plan with dry_run: true');
  const text = await store.get(key);
  const lost = `no such plan: it is unknown, was used already, or expired (plans hold ${PLAN_TTL_MS / 60000} minutes); make a new one with dry_run: true`;
  if (text === undefined) throw badPlan(operation, lost);
  if (textDigest(text) !== digest) throw badPlan(operation, 'the stored plan does not match its id (it was altered); make a new one with dry_run: true');
  const record = JSON.parse(text) as PlanRecord;
  if (!(record.expires_at > now)) throw badPlan(operation, lost);
  if (record.operation !== operation) throw badPlan(operation, `the plan was made by ${record.operation}, not ${operation}`);
  if (record.endpoint !== endpoint) throw badPlan(operation, `the plan was made for another Engine endpoint (${record.endpoint})`);
  if (record.params !== paramsDigest(params)) throw badPlan(operation, 'the plan was made with other parameters; repeat the dry run\'s parameters (without dry_run) with plan_id');
  return record.items;
}

/**
 * Runs an operation that declares a plan: a dry run also returns a
 * `plan_id`; a call with `plan_id` acts on that plan's items only, and uses
 * the plan up once it succeeded (a failed one may be tried again; what it
 * removed is then skipped as gone).
 */
export async function runWithPlan(op: OperationDefinition, ctx: OperationContext, params: unknown, store: PlanStore): Promise<unknown> {
  const plan = op.plan;
  const p = params as Record<string, unknown> & { dry_run?: boolean; plan_id?: string };
  if (!plan) return op.run(ctx, params);
  if (p.plan_id !== undefined) {
    if (p.dry_run) throw badPlan(op.name, 'a dry run makes a plan and the real call uses it: drop dry_run to act on the plan, or plan_id to make a new one');
    const items = await readPlan(store, p.plan_id, op.name, ctx.endpoint.address, p);
    const result = await plan.run(ctx, params, items);
    await store.delete(p.plan_id.split('.')[0]!);
    return result;
  }
  const result = await op.run(ctx, params);
  if (!p.dry_run) return result;
  const planId = await makePlan(store, op.name, ctx.endpoint.address, p, await plan.items(ctx, params, result));
  return { ...(result as Record<string, unknown>), plan_id: planId };
}
