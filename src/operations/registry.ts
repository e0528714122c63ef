/**
 * Registry operations: pull, push and search, which reach a Docker registry
 * through the Engine. Credentials travel only in the X-Registry-Auth header.
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { readProgress, type ProgressMessage } from '../engine/json-stream.js';
import { enginePath } from '../engine/path.js';
import { encodeRegistryAuth, type RegistryCredentials } from '../engine/registry-auth.js';
import { defineOperation, type OperationContext } from './define.js';
import { inspectImageOrNull, realRefs, splitReference, tagName, platformParam } from './shared/image-refs.js';
import { imageRef, invalidParam, registryCredentialsParam } from './shared/params.js';
import { normalizeRegistry, registryCall, registryOf } from './shared/registry-access.js';

const authParam = registryCredentialsParam;

/**
 * A search term: without "/", or whose first part has neither "." nor ":"
 * (Docker Hub, any text), or whose first part is a registry host[:port].
 */
const SEARCH_TERM_PATTERN = /^(?:[^/]+|[^/.:]*\/[\s\S]*|[A-Za-z0-9._-]+(?::[0-9]{0,5})?\/[\s\S]*)$/;

/**
 * X-Registry-Auth for a call to `registry`. The Engine hands the header to
 * whatever registry the image names, so credentials scoped to another
 * registry are never sent: configured ones are left out (anonymous), per-call
 * ones are refused as a mistake by pull and push (`onMismatch: 'refuse'`) and
 * left out by search (`'omit'`: a search changes nothing and an anonymous one
 * is still an answer; a rule relating two parameters cannot be stated in the
 * published schema, so a read does not refuse over it). Credentials without
 * an address go anywhere.
 */
function authFor(ctx: OperationContext, registry: string, perCall: RegistryCredentials | undefined, onMismatch: 'refuse' | 'omit' = 'refuse'): string | undefined {
  const given = perCall && Object.values(perCall).some((v) => v !== undefined) ? perCall : undefined;
  if (given?.serveraddress && normalizeRegistry(given.serveraddress) !== registry) {
    if (onMismatch === 'omit') return undefined;
    throw invalidParam(ctx, 'auth.serveraddress', `the credentials are for ${normalizeRegistry(given.serveraddress)}, the image is on ${registry}`);
  }
  if (!given && ctx.config.registry_server && normalizeRegistry(ctx.config.registry_server) !== registry) return undefined;
  return ctx.registryAuth(given);
}

/** Forwards each progress message to the surface (CLI bars) and keeps nothing else. */
function forward(ctx: OperationContext): (m: ProgressMessage) => void {
  return (message) => ctx.progress({ kind: 'message', message });
}

/** The RepoDigest of `repo`, matched on the repository (the Engine may shorten "docker.io/library/x" to "x"). */
function digestFor(repoDigests: string[] | undefined, repo: string): string | null {
  const entries = realRefs(repoDigests).map((d) => ({ name: d.slice(0, d.indexOf('@')), digest: d.slice(d.indexOf('@') + 1) }));
  const hit = entries.find((e) => e.name === repo || e.name.endsWith(`/${repo}`) || repo.endsWith(`/${e.name}`));
  return hit?.digest ?? null;
}

export const pullImage = defineOperation({
  name: 'pull_image',
  category: 'images',
  title: 'Pull an image',
  description:
    'Pulls an image from its registry (POST /images/create?fromImage=…) and reads the progress to the end: a failure reported inside the stream fails the call. Credentials come from `auth` or the configured registry_* settings, sent only in the X-Registry-Auth header. Idempotent: pulling again only re-checks the registry.',
  params: z
    .object({
      image: imageRef.describe('Image to pull: repo, repo:tag or repo@sha256:…'),
      tag: tagName.optional().describe('Tag to pull when `image` has none (default "latest")'),
      platform: platformParam.optional(),
      auth: authParam.optional(),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{image, id, digest, status, changed}: the reference pulled, the local image id, its registry digest, the Engine\'s last status line, and whether the local image changed',
  async run(ctx, p) {
    const ref = splitReference(p.image);
    if (/^(sha256:)?[a-f0-9]{64}$/.test(p.image)) throw invalidParam(ctx, 'image', 'an image id cannot be pulled; give a repository reference');
    if (p.tag !== undefined && ref.digest) throw invalidParam(ctx, 'tag', '`image` already names a digest');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalidParam(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
    const tagOrDigest = ref.digest ?? p.tag ?? ref.tag ?? 'latest';
    const reference = ref.digest ? `${ref.repo}@${ref.digest}` : `${ref.repo}:${tagOrDigest}`;
    // The query carries only names; credentials go in the header.
    const query = { fromImage: ref.repo, tag: tagOrDigest, platform: p.platform };
    const auth = authFor(ctx, registryOf(ref.repo), p.auth);

    return registryCall(p.auth, async () => {
      const before = await inspectImageOrNull(ctx, reference);
      const res = await ctx.stream({ method: 'POST', path: '/images/create', query, headers: auth ? { 'x-registry-auth': auth } : undefined });
      const progress = await readProgress(res.body, { operation: ctx.operation, onMessage: forward(ctx), keep: 50 });
      const after = await ctx.json<{ Id: string; RepoDigests?: string[] }>({ method: 'GET', path: enginePath`/images/${reference}/json` });
      const status = [...progress.messages].reverse().find((m) => m.status)?.status ?? null;
      return {
        image: reference,
        id: after.body.Id,
        digest: ref.digest ?? digestFor(after.body.RepoDigests, ref.repo),
        status,
        changed: before?.Id !== after.body.Id,
      };
    });
  },
});

export const pushImage = defineOperation({
  name: 'push_image',
  category: 'images',
  title: 'Push an image',
  description:
    'Pushes a tag to its registry (POST /images/{name}/push) and reads the progress to the end: a failure inside the stream fails the call. The registry is the one named in the image reference. Credentials from `auth` or the configured registry_* settings, sent only in X-Registry-Auth.',
  params: z
    .object({
      image: imageRef.describe('Local reference to push, e.g. "registry:5000/team/app" or "registry:5000/team/app:1.0"'),
      tag: tagName.optional().describe('Tag to push when `image` has none (default "latest")'),
      auth: authParam.optional(),
    })
    .strict(),
  safety: 'write',
  // Pushing the same tag again uploads nothing new and leaves the registry as it was.
  idempotent: true,
  streaming: true,
  result: '{image, tag, digest, size}: the digest and manifest size the registry stored',
  async run(ctx, p) {
    const ref = splitReference(p.image);
    if (ref.digest) throw invalidParam(ctx, 'image', 'push a tag, not a digest');
    if (/^(sha256:)?[a-f0-9]{64}$/.test(p.image)) throw invalidParam(ctx, 'image', 'an image id cannot be pushed; tag it first (tag_image)');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalidParam(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
    const tag = p.tag ?? ref.tag ?? 'latest';
    // The Engine refuses a push without the header: "{}" stands for "no credentials".
    const auth = authFor(ctx, registryOf(ref.repo), p.auth) ?? encodeRegistryAuth({});
    return registryCall(p.auth, async () => {
      const res = await ctx.stream({ method: 'POST', path: enginePath`/images/${ref.repo}/push`, query: { tag }, headers: { 'x-registry-auth': auth } });
      const progress = await readProgress(res.body, { operation: ctx.operation, onMessage: forward(ctx), keep: 50 });
      const result = progress.aux.find((a) => typeof a === 'object' && a !== null && typeof a.Digest === 'string');
      if (!result) throw new ConnectorError('ENGINE_ERROR', 'The Engine finished the push without reporting a digest', { operation: ctx.operation });
      return { image: `${ref.repo}:${tag}`, tag: (result.Tag as string | undefined) ?? tag, digest: result.Digest as string, size: (result.Size as number | undefined) ?? null };
    });
  },
});

/* ---------- search ---------- */

export const searchImages = defineOperation({
  name: 'search_images',
  category: 'images',
  title: 'Search a registry',
  description: 'Searches Docker Hub, or the registry named in the term ("registry:5000/foo") (GET /images/search).',
  params: z
    .object({
      term: z
        .string()
        .min(1)
        .max(256)
        // As the Engine splits it: a first "/"-separated part holding "." or ":" names the registry and must be a
        // host[:port] (anything else there is a malformed URL, 400); otherwise the whole term goes to Docker Hub.
        .regex(SEARCH_TERM_PATTERN, 'expected a search term, optionally after a registry host[:port] and "/", e.g. "registry.example:5000/foo"')
        .describe('Search term; prefix a registry host[:port] and "/" to search that registry, e.g. "registry.example:5000/foo"'),
      limit: z.number().int().min(1).max(100).default(25).describe('At most this many results'),
      filters: z
        .object({
          'is-official': z.boolean().optional().describe('Only official images (true) or only non-official (false)'),
          'is-automated': z.boolean().optional().describe('Only automated builds (deprecated by the Engine)'),
          stars: z.number().int().min(0).optional().describe('Only images with at least this many stars'),
        })
        .strict()
        .optional()
        .describe('Result filters'),
      auth: authParam.optional(),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{results: [{name, description, star_count, is_official, is_automated}], count}',
  async run(ctx, p) {
    const f = p.filters;
    const filters: Record<string, string[]> = {};
    if (f?.['is-official'] !== undefined) filters['is-official'] = [String(f['is-official'])];
    if (f?.['is-automated'] !== undefined) filters['is-automated'] = [String(f['is-automated'])];
    if (f?.stars !== undefined) filters.stars = [String(f.stars)];
    const auth = authFor(ctx, registryOf(p.term), p.auth, 'omit');
    return registryCall(p.auth, async () => {
      const res = await ctx
        .json<{ name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[]>({
          method: 'GET',
          path: '/images/search',
          query: { term: p.term, limit: p.limit, filters: Object.keys(filters).length ? filters : undefined },
          headers: auth ? { 'x-registry-auth': auth } : undefined,
        })
        .catch((err: unknown) => {
          // Newer Engines answer 400 "invalid registry endpoint" for a well-formed registry they cannot reach
          // (20.10 answers 500): the registry's failure, not the caller's mistake.
          if (err instanceof ConnectorError && err.code === 'INVALID_PARAMS' && /invalid registry endpoint/i.test(err.message)) {
            throw new ConnectorError('ENGINE_ERROR', err.message, { status: err.status, operation: ctx.operation });
          }
          throw err;
        });
      // Some registries ignore the limit they are passed: apply it here too.
      const results = (res.body ?? []).slice(0, p.limit);
      return { results, count: results.length };
    });
  },
});

export const registryOperations = [pullImage, pushImage, searchImages] as const;
