/**
 * evidence_before_destroy: before remove_container, kill_container,
 * prune_containers or system_prune act (never on a dry run), an evidence
 * bundle of each container they will touch is collected into
 * `<dir>/<container id>-<UTC time>/`; the result gains `evidence`. If a
 * bundle cannot be collected, nothing is destroyed: FORBIDDEN naming the
 * rule. The connector calls this for every operation when the setting is
 * on, so every surface (library, CLI, service, MCP) honours it.
 */
import { join, resolve } from 'node:path';
import { ConnectorError, toConnectorError } from '../../errors.js';
import { enginePath } from '../../engine/path.js';
import type { OperationContext, OperationDefinition } from '../define.js';
import { collectEvidenceBundle } from './evidence-bundle.js';
import type { EvidenceRecord } from './evidence-schemas.js';

export const EVIDENCE_RULE = 'evidence_before_destroy';

type Params = Record<string, unknown>;
/** Runs the operation with given parameters, the way the connector does (plans included). */
type Runner = (params: Params) => Promise<unknown>;

/** What each guarded operation will touch, and the parameters of the real call (a plan made by the dry run binds it when the operation takes one). */
type Targets = { ids: string[]; params: Params };

/** The dry run the operation itself gives: the same decision the real call makes. */
async function dryRun<T>(run: Runner, params: Params): Promise<T> {
  const { plan_id: _given, ...rest } = params;
  return (await run({ ...rest, dry_run: true })) as T;
}

/**
 * With a plan from the dry run (plan-bound destructive calls), the real call
 * acts on exactly what was collected: nothing that appeared meanwhile goes
 * without its evidence.
 */
function bound(params: Params, plan: { plan_id?: unknown }): Params {
  return typeof plan.plan_id === 'string' && params.plan_id === undefined ? { ...params, plan_id: plan.plan_id } : params;
}

const PLANNERS: Record<string, (ctx: OperationContext, run: Runner, params: Params) => Promise<Targets>> = {
  async remove_container(_ctx, run, params) {
    if (params.link === true) return { ids: [], params }; // a link goes, no container
    const plan = await dryRun<{ id?: string; would_remove?: boolean; plan_id?: string }>(run, params);
    // One the real call will refuse (running, no force) is left to that refusal.
    return { ids: plan.would_remove && plan.id ? [plan.id] : [], params: bound(params, plan) };
  },
  async kill_container(ctx, _run, params) {
    const info = (await ctx.json<{ Id: string; State?: { Running?: boolean } }>({ method: 'GET', path: enginePath`/containers/${String(params.container)}/json` })).body;
    // A container not running gets no signal: the Engine's refusal stands.
    return { ids: info.State?.Running ? [info.Id] : [], params };
  },
  async prune_containers(_ctx, run, params) {
    const plan = await dryRun<{ deleted: { id: string }[]; plan_id?: string }>(run, params);
    return { ids: plan.deleted.map((c) => c.id), params: bound(params, plan) };
  },
  async system_prune(_ctx, run, params) {
    const plan = await dryRun<{ containers: { deleted: { id: string }[] }; plan_id?: string }>(run, params);
    return { ids: plan.containers.deleted.map((c) => c.id), params: bound(params, plan) };
  },
};

/** The operations this rule guards. */
export const EVIDENCE_GUARDED: readonly string[] = Object.keys(PLANNERS);

/** A folder name for one bundle: the container id and the UTC time, without characters some file systems refuse. */
function bundleName(id: string, now = new Date()): string {
  return `${id}-${now.toISOString().replace(/[-:]/g, '')}`;
}

/**
 * Artifacts a bundle may lack without failing the rule: a container that
 * is not running has no process list (the Engine refuses `top`).
 */
function fatalFailures(failed: { name: string; code: string; message: string }[], running: boolean) {
  return failed.filter((f) => !(f.name === 'top' && !running));
}

/**
 * Runs the operation through `run` (the connector's way: op.run, or with its
 * plan), first collecting evidence when it is a guarded, real (not dry-run) call.
 */
export async function runWithEvidence(ctx: OperationContext, op: OperationDefinition, params: unknown, setting: { dir: string }, run: Runner): Promise<unknown> {
  const planner = PLANNERS[op.name];
  const p = params as Params;
  if (!planner || p.dry_run === true) return run(p);
  const { ids, params: realParams } = await planner(ctx, run, p);
  const dir = resolve(setting.dir);
  const evidence: EvidenceRecord[] = [];
  for (const id of ids) {
    const where = join(dir, bundleName(id));
    let failure: string | undefined;
    try {
      const bundle = await collectEvidenceBundle(ctx, { container: id, path: where, createParents: true, pathParam: EVIDENCE_RULE });
      const fatal = fatalFailures(bundle.failed, bundle.container_running);
      if (fatal.length === 0) evidence.push({ container: id, path: bundle.path, manifest_sha256: bundle.manifest_sha256 });
      else failure = fatal.map((f) => `${f.name}: ${f.message}`).join('; ');
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      failure = toConnectorError(err).message;
    }
    if (failure !== undefined) {
      throw new ConnectorError(
        'FORBIDDEN',
        `${op.name} refused by ${EVIDENCE_RULE}: the evidence of container ${id} could not be collected into ${where} (${failure}); nothing was destroyed`,
        { operation: op.name, details: { rule: EVIDENCE_RULE, container: id, collected: evidence } },
      );
    }
  }
  const result = (await run(realParams)) as Params;
  return { ...result, evidence };
}
