/**
 * Parameter building blocks every family uses: references to Engine
 * objects, filter values, time points and durations, the dry-run switch,
 * registry credentials.
 */
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import type { OperationContext } from '../define.js';


/** A container id, short id, or name. Names follow the Engine's rule; ids are hex. */
export const containerRef = z
  .string()
  .min(1)
  .max(256)
  .regex(/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'expected a container id or name (letters, digits, "_", ".", "-")')
  // A leading "/" (names as inspect shows them) encoded as %2F makes the Engine answer 301: drop it.
  .transform((s) => s.replace(/^\//, ''))
  .describe('Container id, short id, or name');

/*
 * Docker's image reference grammar (distribution/reference), as the Engine
 * parses a name, built from its parts so it can be read:
 *   reference := [domain "/"] path-component ("/" path-component)* [":" tag] ["@" digest]
 * - path components are lowercase letters and digits joined by ".", "_",
 *   "__" or runs of "-": each starts with a letter or digit, which also keeps
 *   "repo/..:tag" from becoming a ".." path segment once the tag is split off;
 * - a first component the Engine reads as a registry host (it holds a "." or a
 *   ":port") may have capitals and "-" but no "_"; one without either is a path
 *   component (the 20.10 Engine refuses capitals there, newer ones read them as a host);
 * - digests are the algorithms the Engine verifies, with their exact hex length.
 * Image ids need no branch of their own: "3f2a…" (full or short) is a valid
 * name and "sha256:3f2a…" a name and a tag, and the Engine looks both up as ids.
 */
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const REGISTRY_HOST = `${DOMAIN_COMPONENT}(?:(?:\\.${DOMAIN_COMPONENT})+(?::[0-9]+)?|:[0-9]+)`;
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}';

/** One standard pattern, so the published schema states the whole rule. */
export const IMAGE_REF_PATTERN = new RegExp(`^(?:${REGISTRY_HOST}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@(?:${DIGEST}))?$`);

/**
 * The longest reference taken: the Engine adds "docker.io/library/" (18
 * characters) to a bare name and refuses a name longer than 255 in all.
 */
export const IMAGE_REF_MAX_LENGTH = 237;

/** An image reference (repo[:tag][@digest]) or id. */
export const imageRef = z
  .string()
  .min(1)
  .max(IMAGE_REF_MAX_LENGTH)
  .regex(IMAGE_REF_PATTERN, 'expected an image reference like repo:tag, registry:5000/team/repo:tag, repo@sha256:… or an image id (lowercase repository path components of letters and digits joined by ".", "_", "__" or "-")')
  .describe('Image reference (repo:tag, registry:5000/repo:tag, repo@sha256:…) or image id');

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

/** INVALID_PARAMS naming the parameter, for rules checked in `run` (they need the Engine or the API version). */
export function invalidParam(ctx: OperationContext, param: string, why: string): ConnectorError {
  return new ConnectorError('INVALID_PARAMS', `Invalid parameter ${param}: ${why}`, { operation: ctx.operation, details: { parameters: [param] } });
}
