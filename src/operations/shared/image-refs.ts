/**
 * Image references: their parts and parameter schemas, and the lookups the
 * image, registry and build families share.
 */
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import { splitReference } from '../../config/image-patterns.js';
import { enginePath } from '../../engine/path.js';
import type { OperationContext } from '../define.js';
import type { ImageInspect } from './engine-types.js';

/** A repository name, optionally with a registry host[:port]: "app", "127.0.0.1:5000/team/app". */
export const repoName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'expected a repository name like "app" or "registry:5000/team/app" (lowercase)')
  .describe('Repository name, optionally with a registry host[:port]');

export const tagName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'expected a tag: letters, digits, "_", ".", "-" (at most 128, not starting with "." or "-")')
  .describe('Tag, e.g. "latest" or "1.2.3"');

/** repo[:tag], as build `t` and tag targets take it. */
export const taggedName = z
  .string()
  .min(1)
  .max(384)
  .refine((s) => {
    const { repo, tag, digest } = splitReference(s);
    return !digest && repoName.safeParse(repo).success && (tag === undefined || tagName.safeParse(tag).success);
  }, 'expected "repo" or "repo:tag" (lowercase repository; tag of letters, digits, "_", ".", "-")')
  .describe('Name and optional tag, e.g. "app:1.0"');

export const platformParam = z
  .string()
  .regex(/^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_.]+)?$/, 'expected os/arch[/variant], e.g. "linux/amd64"')
  .describe('Platform as os/arch[/variant], e.g. "linux/arm64"');

export { splitReference };

/** Engine lists on older API versions say "<none>:<none>" / "<none>@<none>" for "no reference". */
export function realRefs(refs: string[] | null | undefined): string[] {
  return (refs ?? []).filter((r) => !r.startsWith('<none>'));
}

/** GET /images/{name}/json, or null when there is no such image. */
export async function inspectImageOrNull(ctx: OperationContext, ref: string): Promise<ImageInspect | null> {
  try {
    return (await ctx.json<ImageInspect>({ method: 'GET', path: enginePath`/images/${ref}/json` })).body;
  } catch (err) {
    if (err instanceof ConnectorError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}
