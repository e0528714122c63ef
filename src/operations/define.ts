import type * as z from 'zod';
import { ConnectorError } from '../errors.js';
import type { Readable } from 'node:stream';
import type { EndpointDescription, EngineRequest, EngineResponse, EngineUpgradeRequest, PingInfo, UpgradedConnection } from '../engine/client.js';
import type { IncomingMessage } from 'node:http';
import type { ConnectorConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ProgressMessage } from '../engine/json-stream.js';
import type { RegistryCredentials } from '../engine/registry-auth.js';

export type Safety = 'read' | 'write' | 'destructive';
export type Category = 'system' | 'containers' | 'images' | 'networks' | 'volumes' | 'swarm';

/** Progress events the CLI turns into bars (pull, push, build, save, load, export). */
export type ProgressEvent = { kind: 'message'; message: ProgressMessage } | { kind: 'bytes'; bytes: number; total?: number; label?: string };

/**
 * What an operation's `run` may use. It is bound to one call: requests it
 * makes carry the operation's name (for logs and errors) and its
 * repeat-safety (for retries) unless a request says otherwise.
 */
export interface OperationContext {
  readonly operation: string;
  /** The API version requests go out with (negotiated or pinned). */
  readonly apiVersion: string;
  /** True when the API version in use is at least `v`. */
  atLeast(v: string): boolean;
  readonly config: ConnectorConfig;
  /** The environment the connector reads the docker CLI's files from (DOCKER_CONFIG, HOME, PATH for credential helpers). */
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  readonly signal: AbortSignal | undefined;
  /** Plain call → parsed JSON body. */
  json<T = unknown>(req: EngineRequest): Promise<EngineResponse<T>>;
  /** Streaming call → unread body (consume or destroy it). */
  stream(req: EngineRequest): Promise<EngineResponse<IncomingMessage>>;
  /**
   * Upgraded call (exec with stdin) → the raw connection, input one way and output the other
   * (end or destroy it). Rate-limited, versioned and logged like any call; never retried.
   */
  upgrade(req: EngineUpgradeRequest): Promise<UpgradedConnection>;
  /** Pings the Engine (unversioned /_ping): its newest API version, OS type, builder. */
  ping(): Promise<PingInfo>;
  /** The Engine endpoint this call goes to: its address (never credentials), kind and whether it speaks TLS. */
  readonly endpoint: EndpointDescription;
  /** X-Registry-Auth value from per-call credentials, else the configured ones; undefined when none. */
  registryAuth(override?: RegistryCredentials): string | undefined;
  /** Progress sink; a no-op unless a surface asked for progress. */
  progress(event: ProgressEvent): void;
  /** The connector's named endpoints (issue 17): what hunts fan out over. */
  readonly fleet: FleetAccess;
}

/** What one endpoint of a fan-out failed with: the stable code and a message that names the endpoint. */
export interface EndpointFailure {
  code: string;
  message: string;
}

/** The answers of a fan-out: each endpoint's result, or its failure; one failed endpoint never fails the whole call. */
export interface FanOut<T> {
  results: Record<string, T>;
  errors: Record<string, EndpointFailure>;
}

/**
 * The named endpoints of the connector an operation runs in (the config
 * file's `endpoints`; a connector without them has one, "default").
 */
export interface FleetAccess {
  /** Every configured name, in configuration order. */
  readonly names: readonly string[];
  /** The endpoint calls without one go to. */
  readonly defaultName: string;
  /**
   * Runs `work` on each chosen endpoint (names, one string "a,b", or
   * `undefined` / "all" = every one; "all" among names counts as all),
   * at most `fan_out_concurrency` at once, each with a context of its own
   * Engine (own version, timeout, rate limit). A name that is not
   * configured is INVALID_PARAMS naming `parameter`, before anything runs.
   */
  across<T>(endpoints: string | readonly string[] | undefined, work: (ctx: OperationContext, endpoint: string) => Promise<T>, parameter?: string): Promise<FanOut<T>>;
}

export interface OperationDefinition<Name extends string = string, S extends z.ZodType = z.ZodType, R = unknown> {
  name: Name;
  category: Category;
  title: string;
  description: string;
  params: S;
  safety: Safety;
  /** Sending it twice does no harm: retried after a lost connection. */
  idempotent: boolean;
  /** What the result holds, in one line, for the manifest and docs. */
  result: string;
  /**
   * The result's shape: the manifest's `result_schema`, OpenAPI's 200 schema,
   * MCP's `outputSchema` and the TypeScript result type all derive from it.
   * `z.object` is an open object (the Engine's objects: newer Engines add
   * fields, published without `additionalProperties: false`), `z.strictObject`
   * a closed one (shapes the connector makes). Not parsed at run time: the
   * integration suite proves results match it.
   */
  resultSchema: z.ZodType;
  /** Lowest Engine API version the operation works with, if above the connector's minimum. */
  minApiVersion?: string;
  /**
   * Parameters that name a file or folder on the connector's own host (a
   * log or export destination, a build context). Surfaces serving remote
   * callers refuse them unless local files are allowed.
   */
  localPaths?: readonly string[];
  /**
   * Touches only local files, never the Engine (verify_evidence): runs
   * without a version negotiation, so it works with the Engine unreachable.
   */
  local?: boolean;
  /**
   * Result fields copied into the call's audit line (collect_evidence's
   * `manifest_sha256`), so the line ties to what the call produced. Only
   * small, non-secret fields.
   */
  auditResult?: readonly string[];
  /** Long-running or streaming: the configured timeout applies as an idle timeout. */
  streaming?: boolean;
  /**
   * Fans out by itself over its `endpoints` parameter (the hunts): a
   * surface's endpoint choice (`--endpoint a,b`, `?endpoint=all`) becomes
   * that parameter, and the call runs once.
   */
  acrossEndpoints?: boolean;
  run(ctx: OperationContext, params: z.output<S>): Promise<R>;
  /** The result to give instead of failing (health reports an unreachable Engine, it does not throw). */
  resultOnError?(err: import('../errors.js').ConnectorError): R;
  /**
   * Optional raw-stream form for large results (export, save, copy): the
   * library returns the Node stream, the HTTP service sends it as the body.
   */
  openStream?(ctx: OperationContext, params: z.output<S>): Promise<{ stream: Readable; contentType: string }>;
  /**
   * The media type `openStream` answers with (what it returns as
   * `contentType`): the HTTP service's content negotiation and its OpenAPI
   * document both derive from it. Required with `openStream`.
   */
  streamContentType?: string;
  /**
   * Parameters optional in `params` because the stream form does without
   * them, but required by the result form (`run` refuses a call without them
   * with `requireParam`): the published parameter schema lists them as required.
   */
  resultRequires?: readonly string[];
  /**
   * Plan-bound calls (destructive operations): a dry run's items are kept as
   * a plan whose `plan_id` the dry run returns; the real call given that
   * `plan_id` runs `plan.run` on those items only (the connector stores and
   * checks plans: src/plans.ts).
   */
  plan?: OperationPlan<z.output<S>, R>;
}

/**
 * One object a plan pins: its kind, its identity (`id`: an Engine id, a
 * volume's name) and, where the id alone cannot tell a re-created object
 * from the planned one, `pin` (a volume's creation time).
 */
export interface PlanItem {
  what: string;
  id: string;
  name: string | null;
  pin?: string;
}

/** A planned item a plan-bound call left alone: gone, changed identity, or no longer matching. */
export interface SkippedItem {
  what: string;
  id: string;
  name: string | null;
  reason: string;
}

export interface OperationPlan<P, R> {
  /** The items a dry run's result names: what the plan-bound call may act on. */
  items(ctx: OperationContext, params: P, dryRun: R): PlanItem[] | Promise<PlanItem[]>;
  /** The plan-bound call: acts on these items only and lists those it left alone in `skipped`. */
  run(ctx: OperationContext, params: P, items: readonly PlanItem[]): Promise<R>;
}

/**
 * Declares an operation; the identity function keeps literal types for
 * inference. The result type is the result schema's: `run` must return it.
 */
export function defineOperation<const Name extends string, S extends z.ZodType, RS extends z.ZodType>(
  def: OperationDefinition<Name, S, z.output<RS>> & { resultSchema: RS },
): OperationDefinition<Name, S, z.output<RS>> & { resultSchema: RS };
export function defineOperation(def: OperationDefinition): OperationDefinition {
  return def;
}

/**
 * A parameter the file form of an operation needs but its stream form does
 * without (e.g. the destination `path` of an export): optional in the schema,
 * required here.
 */
export function requireParam<T>(ctx: OperationContext, value: T | undefined, parameter: string): T {
  if (value === undefined) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: required (only the stream form does without it)`, { operation: ctx.operation });
  }
  return value;
}

/** A progress callback for writeStreamToFile's onBytes: at most one event every 100 ms. */
export function byteProgress(ctx: OperationContext, label: string): (bytes: number) => void {
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    ctx.progress({ kind: 'bytes', bytes, label });
  };
}

/** Media types of the raw-stream forms (`openStream` results and `streamContentType`). */
export const STREAM_TYPES = { tar: 'application/x-tar', text: 'text/plain; charset=utf-8' } as const;
