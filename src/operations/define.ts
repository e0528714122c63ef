import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import type { Readable } from 'node:stream';
import type { EngineClient, EngineRequest, EngineResponse } from '../engine/client.js';
import type { IncomingMessage } from 'node:http';
import type { ConnectorConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ProgressMessage } from '../engine/json-stream.js';
import type { RegistryCredentials } from '../engine/registry-auth.js';

export type Safety = 'read' | 'write' | 'destructive';
export type Category = 'system' | 'containers' | 'images' | 'networks' | 'volumes';

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
  readonly log: Logger;
  readonly signal: AbortSignal | undefined;
  /** Plain call → parsed JSON body. */
  json<T = unknown>(req: EngineRequest): Promise<EngineResponse<T>>;
  /** Streaming call → unread body (consume or destroy it). */
  stream(req: EngineRequest): Promise<EngineResponse<IncomingMessage>>;
  /** The low-level client, for the few operations that need it (ping). */
  readonly engine: EngineClient;
  /** X-Registry-Auth value from per-call credentials, else the configured ones; undefined when none. */
  registryAuth(override?: RegistryCredentials): string | undefined;
  /** Progress sink; a no-op unless a surface asked for progress. */
  progress(event: ProgressEvent): void;
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
  /** What the result holds, for the manifest and docs. */
  result: string;
  /** Lowest Engine API version the operation works with, if above the connector's minimum. */
  minApiVersion?: string;
  /**
   * Parameters that name a file or folder on the connector's own host (a
   * log or export destination, a build context). Surfaces serving remote
   * callers refuse them unless local files are allowed.
   */
  localPaths?: readonly string[];
  /** Long-running or streaming: the configured timeout applies as an idle timeout. */
  streaming?: boolean;
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
}

/** Declares an operation; the identity function keeps literal types for inference. */
export function defineOperation<const Name extends string, S extends z.ZodType, R>(def: OperationDefinition<Name, S, R>): OperationDefinition<Name, S, R> {
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

/* ---------- parameter building blocks shared by the families ---------- */

/** A container id, short id, or name. Names follow the Engine's rule; ids are hex. */
export const containerRef = z
  .string()
  .min(1)
  .max(256)
  .regex(/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a container id or name (letters, digits, "_", ".", "-")')
  // A leading "/" (names as inspect shows them) encoded as %2F makes the Engine answer 301: drop it.
  .transform((s) => s.replace(/^\//, ''))
  .describe('Container id, short id, or name');

/**
 * An image reference: as in Docker's reference grammar, every "/"-separated
 * component starts with a letter or digit, which also keeps "repo/..:tag"
 * from becoming a ".." path segment once the tag is split off. One pattern,
 * so the published schema states the whole rule.
 */
export const IMAGE_REF_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._\-:@]*(?:\/[a-zA-Z0-9][a-zA-Z0-9._\-:@]*)*$/;

/** An image reference (repo[:tag][@digest]) or id. */
export const imageRef = z
  .string()
  .min(1)
  .max(512)
  .regex(IMAGE_REF_PATTERN, 'expected an image reference like repo:tag, repo@sha256:… or an image id (each "/"-separated component starting with a letter or digit)')
  .describe('Image reference (repo:tag, repo@sha256:…) or id');

/** A filter value: one value or a list of them (the Engine matches any of a list). */
export function oneOrMany<T extends z.ZodType>(value: T) {
  return z.union([value, z.array(value)]);
}

/** A true/false filter, as JSON or as the Engine's own "true"/"false". */
export const boolFilter = z.union([z.boolean(), z.enum(['true', 'false'])]);

/**
 * The filters an operation takes, each with the values the Engine accepts:
 * an unknown filter name is refused here (the Engine would answer 400), and
 * the published schema lists the names.
 */
export function engineFilters<Shape extends Record<string, z.ZodType>>(shape: Shape) {
  return z.object(Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as { [K in keyof Shape]: z.ZodOptional<Shape[K]> }).strict();
}

/** Engine filters: {"status": ["exited"], "label": ["a=b"]}; a single string is accepted for one value. */
export const filtersParam = z
  .record(z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'filter names are letters, digits, "_", ".", "-"'), z.union([z.string(), z.array(z.string()), z.boolean(), z.number()]))
  .describe('Engine filters, e.g. {"status": ["exited"], "label": ["env=prod"]}');

export const dryRunParam = z.boolean().default(false).describe('List what would be removed without removing anything');

export const registryCredentialsParam = z
  .object({
    username: z.string().optional().describe('Registry user'),
    password: z.string().optional().describe('Registry password'),
    serveraddress: z.string().optional().describe('Registry the credentials are for, e.g. "registry.example:5000"; they are only sent to that registry'),
    identitytoken: z.string().optional().describe('Identity token (instead of username/password)'),
  })
  .strict()
  .describe('Registry credentials for this call (default: the configured ones)');

/** A duration like "10m", "90s", "2h", "1d", or a plain number of seconds. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;

export function durationToSeconds(value: string): number | undefined {
  const m = DURATION_PATTERN.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[unit] ?? 1;
  return n * factor;
}

/**
 * A point in time for `since`/`until`: a relative duration back from `now`
 * ("10m"), unix seconds, or an RFC 3339 date. Returns unix seconds.
 */
export function toUnixSeconds(value: string | number, now: number = Date.now()): number | undefined {
  if (typeof value === 'number') return value;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s) && Number(s) > 100_000_000) return Number(s);
  const rel = durationToSeconds(s);
  // A duration reaching back before 1970 means "from the beginning".
  if (rel !== undefined) return Math.max(0, now / 1000 - rel);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t / 1000);
}

/**
 * The string forms of a time point: a duration back from now ("10m", "1.5h",
 * digits alone are seconds), unix seconds (digits above 100000000), or an
 * RFC 3339 date or date-time (1970 to 9999; "T", "t" or a space between
 * date and time; seconds, fraction and offset optional).
 */
export const TIME_POINT_PATTERN =
  /^(?:\d{1,12}(?:\.\d{1,9})?(?:ms|s|m|h|d)?|(?:19[7-9]\d|[2-9]\d{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[Tt ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?)$/;

/** Latest unix time taken (9999-12-31T23:59:59Z). */
const MAX_UNIX_SECONDS = 253_402_300_799;

export const timePointParam = z
  .union([
    z.number().nonnegative().max(MAX_UNIX_SECONDS),
    z
      .string()
      .regex(TIME_POINT_PATTERN, 'expected a duration like "10m", unix seconds, or an RFC 3339 date')
      .refine((s) => toUnixSeconds(s) !== undefined, 'expected a duration like "10m", unix seconds, or an RFC 3339 date'),
  ])
  .describe('A time: relative ("10m" = ten minutes ago), unix seconds, or RFC 3339');
