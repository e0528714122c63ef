import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { posix, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { scrubText } from '../config/redact.js';
import { packDirectory, packFiles } from '../engine/build-context.js';
import { checkDestination, writeStreamToFile } from '../engine/file-sink.js';
import { readProgress, type ProgressMessage } from '../engine/json-stream.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { encodeRegistryAuth, encodeRegistryConfig, type RegistryCredentials } from '../engine/registry-auth.js';
import { boolFilter, byteProgress, defineOperation, dryRunParam, engineFilters, IMAGE_REF_PATTERN, oneOrMany, requireParam, STREAM_TYPES, timePointParam, imageRef, registryCredentialsParam, toUnixSeconds, type OperationContext } from './define.js';

/* ---------- parameters ---------- */

/** A repository name, optionally with a registry host[:port]: "app", "127.0.0.1:5000/team/app". */
const repoName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, 'expected a repository name like "app" or "registry:5000/team/app" (lowercase)')
  .describe('Repository name, optionally with a registry host[:port]');

const tagName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'expected a tag: letters, digits, "_", ".", "-" (at most 128, not starting with "." or "-")')
  .describe('Tag, e.g. "latest" or "1.2.3"');

/** repo[:tag], as build `t` and tag targets take it. */
const taggedName = z
  .string()
  .min(1)
  .max(384)
  .refine((s) => {
    const { repo, tag, digest } = splitReference(s);
    return !digest && repoName.safeParse(repo).success && (tag === undefined || tagName.safeParse(tag).success);
  }, 'expected "repo" or "repo:tag" (lowercase repository; tag of letters, digits, "_", ".", "-")')
  .describe('Name and optional tag, e.g. "app:1.0"');

const platformParam = z
  .string()
  .regex(/^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_.]+)?$/, 'expected os/arch[/variant], e.g. "linux/amd64"')
  .describe('Platform as os/arch[/variant], e.g. "linux/arm64"');

const authParam = registryCredentialsParam;

const imageListFilters = engineFilters({
  dangling: boolFilter.describe('Only untagged images (true) or only tagged ones (false)'),
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  reference: oneOrMany(z.string()).describe('"repo:tag" pattern'),
  before: z.string().regex(IMAGE_REF_PATTERN, 'expected an image reference').describe('Created before this image'),
  since: z.string().regex(IMAGE_REF_PATTERN, 'expected an image reference').describe('Created after this image'),
  // Checked by the connector: Engines before API 1.42 refuse the filter and newer ones read "1d" or "30" differently.
  until: timePointParam.describe('Only images created before this time: "24h" (a day ago), unix seconds or RFC 3339'),
});

const imagePruneFilters = engineFilters({
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  'label!': oneOrMany(z.string()).describe('Images without this label'),
  until: z.union([z.string(), z.number()]).describe('Only images created before this time'),
});

/* ---------- helpers ---------- */

/** Splits "host:5000/repo:tag@sha256:…" into its parts; the tag colon is the one after the last "/". */
export function splitReference(ref: string): { repo: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) return { repo: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { repo: rest, digest };
}

/** Engine lists on older API versions say "<none>:<none>" / "<none>@<none>" for "no reference". */
function realRefs(refs: string[] | null | undefined): string[] {
  return (refs ?? []).filter((r) => !r.startsWith('<none>'));
}

function invalid(ctx: OperationContext, param: string, why: string): ConnectorError {
  return new ConnectorError('INVALID_PARAMS', `Invalid parameter ${param}: ${why}`, { operation: ctx.operation, details: { parameters: [param] } });
}

/**
 * Runs a registry call with per-call secrets scrubbed from any error (the
 * configured ones are scrubbed by the client already), and reports a
 * registry's refusal of credentials as UNAUTHORIZED whatever status the
 * Engine wrapped it in.
 */
export async function registryCall<T>(creds: RegistryCredentials | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ConnectorError)) throw err;
    const secrets = [creds?.password, creds?.identitytoken].filter((s): s is string => !!s);
    const message = scrubText(err.message, secrets);
    const details = err.details ? (JSON.parse(scrubText(JSON.stringify(err.details), secrets)) as Record<string, unknown>) : undefined;
    const denied = (err.code === 'ENGINE_ERROR' || err.code === 'STREAM_ERROR') && /unauthorized|authentication required|no basic auth credentials|incorrect username or password/i.test(message);
    if (!denied && message === err.message) throw err;
    throw new ConnectorError(denied ? 'UNAUTHORIZED' : err.code, message, { status: err.status, operation: err.operation, retryable: err.retryable, outcomeUnknown: err.outcomeUnknown, details });
  }
}

/** The registry a repository lives on: its first segment when that looks like a host, else Docker Hub. */
export function registryOf(repo: string): string {
  const first = repo.split('/')[0]!;
  const isHost = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? normalizeRegistry(first) : 'docker.io';
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://reg:5000/" → "reg:5000". */
export function normalizeRegistry(address: string): string {
  const host = address.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host) ? 'docker.io' : host;
}

/**
 * X-Registry-Auth for a call to `registry`. The Engine hands the header to
 * whatever registry the image names, so credentials scoped to another
 * registry are never sent: configured ones are left out (anonymous), per-call
 * ones are refused as a mistake. Credentials without an address go anywhere.
 */
function authFor(ctx: OperationContext, registry: string, perCall: RegistryCredentials | undefined): string | undefined {
  const given = perCall && Object.values(perCall).some((v) => v !== undefined) ? perCall : undefined;
  if (given?.serveraddress && normalizeRegistry(given.serveraddress) !== registry) {
    throw invalid(ctx, 'auth.serveraddress', `the credentials are for ${normalizeRegistry(given.serveraddress)}, the image is on ${registry}`);
  }
  if (!given && ctx.config.registry_server && normalizeRegistry(ctx.config.registry_server) !== registry) return undefined;
  return ctx.registryAuth(given);
}

/** Forwards each progress message to the surface (CLI bars) and keeps nothing else. */
function forward(ctx: OperationContext): (m: ProgressMessage) => void {
  return (message) => ctx.progress({ kind: 'message', message });
}

async function inspectOrNull(ctx: OperationContext, ref: string): Promise<{ Id: string; RepoTags?: string[]; RepoDigests?: string[] } | null> {
  try {
    return (await ctx.json<{ Id: string; RepoTags?: string[]; RepoDigests?: string[] }>({ method: 'GET', path: enginePath`/images/${ref}/json` })).body;
  } catch (err) {
    if (err instanceof ConnectorError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
}

/** The RepoDigest of `repo`, matched on the repository (the Engine may shorten "docker.io/library/x" to "x"). */
function digestFor(repoDigests: string[] | undefined, repo: string): string | null {
  const entries = realRefs(repoDigests).map((d) => ({ name: d.slice(0, d.indexOf('@')), digest: d.slice(d.indexOf('@') + 1) }));
  const hit = entries.find((e) => e.name === repo || e.name.endsWith(`/${repo}`) || repo.endsWith(`/${e.name}`));
  return hit?.digest ?? null;
}

/* ---------- list / inspect / history ---------- */

export const listImages = defineOperation({
  name: 'list_images',
  category: 'images',
  title: 'List images',
  description: 'Images on the Engine (GET /images/json). Intermediate build images only with `all`.',
  params: z
    .object({
      all: z.boolean().default(false).describe('Include intermediate images'),
      digests: z.boolean().default(false).describe('Include RepoDigests in each summary'),
      filters: imageListFilters.optional().describe('Filters: dangling ("true"/"false"), label ("k" or "k=v"), reference ("repo:tag" pattern), before, since (an image reference), until'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "Array of the Engine's image summaries (Id, RepoTags, RepoDigests, Created, Size, Labels, …)",
  async run(ctx, p) {
    const { until, ...engineSide } = p.filters ?? {};
    const res = await ctx.json<{ Created?: number }[]>({ method: 'GET', path: '/images/json', query: { all: p.all, digests: p.digests, filters: normalizeFilters(engineSide) } });
    const cutoff = until === undefined ? undefined : toUnixSeconds(until);
    return cutoff === undefined ? res.body : (res.body ?? []).filter((img) => (img.Created ?? 0) <= cutoff);
  },
});

export const inspectImage = defineOperation({
  name: 'inspect_image',
  category: 'images',
  title: 'Inspect an image',
  description: 'Low-level information on an image (GET /images/{name}/json).',
  params: z.object({ image: imageRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's image object (Id, RepoTags, RepoDigests, Config, RootFS, Size, …)",
  async run(ctx, p) {
    return (await ctx.json<Record<string, unknown>>({ method: 'GET', path: enginePath`/images/${p.image}/json` })).body;
  },
});

export const imageHistory = defineOperation({
  name: 'image_history',
  category: 'images',
  title: 'Image history',
  description: 'The layers an image was built from, newest first (GET /images/{name}/history).',
  params: z.object({ image: imageRef }).strict(),
  safety: 'read',
  idempotent: true,
  result: 'Array of {Id, Created, CreatedBy, Tags, Size, Comment}',
  async run(ctx, p) {
    return (await ctx.json<unknown[]>({ method: 'GET', path: enginePath`/images/${p.image}/history` })).body;
  },
});

/* ---------- remove / tag ---------- */

interface DeleteItem {
  Untagged?: string;
  Deleted?: string;
}

export const removeImage = defineOperation({
  name: 'remove_image',
  category: 'images',
  title: 'Remove an image',
  description:
    'Removes an image or one of its tags (DELETE /images/{name}). Removing a tag of an image that has other tags only untags it. An image used by a container is refused (CONFLICT) unless `force`.',
  params: z
    .object({
      image: imageRef,
      force: z.boolean().default(false).describe('Remove even if containers use it or it has several tags'),
      noprune: z.boolean().default(false).describe('Keep untagged parent images'),
      dry_run: dryRunParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: false,
  result: '{untagged: [references], deleted: [ids of the images and layers the Engine deleted], dry_run}; with dry_run: what would be untagged and deleted, and the containers using the image',
  async run(ctx, p) {
    if (p.dry_run) {
      const img = await ctx.json<{ Id: string; RepoTags?: string[]; RepoDigests?: string[] }>({ method: 'GET', path: enginePath`/images/${p.image}/json` });
      const tags = realRefs(img.body.RepoTags);
      const containers = await ctx.json<{ Id: string; ImageID?: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
      const users = containers.body.filter((c) => c.ImageID === img.body.Id).map((c) => c.Id);
      // Naming one tag of a multi-tagged image only removes that tag.
      const byTag = tags.includes(p.image) || tags.includes(`${p.image}:latest`);
      const onlyUntag = byTag && tags.length > 1 && !p.force;
      return {
        dry_run: true,
        id: img.body.Id,
        untagged: onlyUntag ? [tags.includes(p.image) ? p.image : `${p.image}:latest`] : [...tags, ...realRefs(img.body.RepoDigests)],
        deleted: onlyUntag ? [] : [img.body.Id],
        used_by_containers: users,
        would_conflict: !onlyUntag && users.length > 0 && !p.force,
      };
    }
    const res = await ctx.json<DeleteItem[]>({ method: 'DELETE', path: enginePath`/images/${p.image}`, query: { force: p.force, noprune: p.noprune } });
    const items = res.body ?? [];
    return {
      dry_run: false,
      untagged: items.flatMap((i) => (i.Untagged ? [i.Untagged] : [])),
      deleted: items.flatMap((i) => (i.Deleted ? [i.Deleted] : [])),
    };
  },
});

export const tagImage = defineOperation({
  name: 'tag_image',
  category: 'images',
  title: 'Tag an image',
  description: 'Adds a repo:tag reference to an image (POST /images/{name}/tag). Moves the tag if it already points elsewhere.',
  params: z
    .object({
      image: imageRef,
      repo: repoName,
      tag: tagName.default('latest'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  result: '{image, reference: "repo:tag"}',
  async run(ctx, p) {
    await ctx.json({ method: 'POST', path: enginePath`/images/${p.image}/tag`, query: { repo: p.repo, tag: p.tag } });
    return { image: p.image, reference: `${p.repo}:${p.tag}` };
  },
});

/* ---------- pull / push ---------- */

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
    if (/^(sha256:)?[a-f0-9]{64}$/.test(p.image)) throw invalid(ctx, 'image', 'an image id cannot be pulled; give a repository reference');
    if (p.tag !== undefined && ref.digest) throw invalid(ctx, 'tag', '`image` already names a digest');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalid(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
    const tagOrDigest = ref.digest ?? p.tag ?? ref.tag ?? 'latest';
    const reference = ref.digest ? `${ref.repo}@${ref.digest}` : `${ref.repo}:${tagOrDigest}`;
    // The query carries only names; credentials go in the header.
    const query = { fromImage: ref.repo, tag: tagOrDigest, platform: p.platform };
    const auth = authFor(ctx, registryOf(ref.repo), p.auth);

    return registryCall(p.auth, async () => {
      const before = await inspectOrNull(ctx, reference);
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
    if (ref.digest) throw invalid(ctx, 'image', 'push a tag, not a digest');
    if (/^(sha256:)?[a-f0-9]{64}$/.test(p.image)) throw invalid(ctx, 'image', 'an image id cannot be pushed; tag it first (tag_image)');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalid(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
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
      term: z.string().min(1).max(256).describe('Search term; prefix a registry host to search it, e.g. "registry.example:5000/foo"'),
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
    const auth = authFor(ctx, registryOf(p.term), p.auth);
    return registryCall(p.auth, async () => {
      const res = await ctx.json<{ name: string; description: string; star_count: number; is_official: boolean; is_automated: boolean }[]>({
        method: 'GET',
        path: '/images/search',
        query: { term: p.term, limit: p.limit, filters: Object.keys(filters).length ? filters : undefined },
        headers: auth ? { 'x-registry-auth': auth } : undefined,
      });
      // Some registries ignore the limit they are passed: apply it here too.
      const results = (res.body ?? []).slice(0, p.limit);
      return { results, count: results.length };
    });
  },
});

/* ---------- build ---------- */

const BUILD_LOG_CAP = 64 * 1024;
const STEP_OUTPUT_CAP = 4 * 1024;

const contextPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

/** A file name inside the build context: relative, "/"-separated, no "..". */
const contextFileName = z
  .string()
  .min(1)
  .max(1024)
  .refine((s) => !s.startsWith('/') && !s.includes('\0') && !s.includes('\\') && s.split('/').every((seg) => seg !== '..' && seg !== ''), 'must be a relative path inside the context (no "..", no leading "/")');

const buildParams = z
  .object({
    dockerfile: z.string().min(1).max(1_000_000).optional().describe('Dockerfile text (inline). Alone or with `files` it is the whole context; with `context` it replaces the directory\'s Dockerfile'),
    files: z.record(contextFileName, z.string().max(10_000_000)).optional().describe('Inline context files, path → text content (with an inline `dockerfile`)'),
    context: contextPath.optional().describe('Local directory to send as the context; its .dockerignore is honoured'),
    context_tar: contextPath.optional().describe('Local tar file to send as the context'),
    remote: z
      .string()
      .max(2048)
      .regex(/^(https?:\/\/|git@|git:\/\/|github\.com\/)/, 'expected an http(s) or git URL')
      .optional()
      .describe('A Git repository or tarball URL the Engine fetches the context from'),
    dockerfile_path: contextFileName.optional().describe('Path of the Dockerfile inside the context (default "Dockerfile")'),
    tags: z.array(taggedName).max(32).default([]).describe('Names to tag the result with, e.g. ["app:1.0", "app:latest"]'),
    build_args: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'build arg names are letters, digits and "_"'), z.string())
      .optional()
      .describe('ARG values. They end up in the image history: never pass secrets here'),
    labels: z.record(z.string().min(1).max(512), z.string()).optional().describe('Labels to set on the image'),
    target: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected a build stage name').optional().describe('Build stage to stop at'),
    no_cache: z.boolean().default(false).describe('Do not use the build cache'),
    pull: z.boolean().default(false).describe('Always try to pull newer base images'),
    platform: platformParam.optional(),
    auth: authParam.optional().describe('Credentials for pulling private base images (needs serveraddress); default: the configured ones'),
  })
  .strict()
  .superRefine((p, issue) => {
    const sources = (['context', 'context_tar', 'remote'] as const).filter((k) => p[k] !== undefined);
    if (sources.length > 1) issue.addIssue({ code: 'custom', path: [sources[1]!], message: `give only one of context, context_tar, remote (also got ${sources[0]})` });
    if (sources.length === 0 && p.dockerfile === undefined && p.files === undefined)
      issue.addIssue({ code: 'custom', path: ['dockerfile'], message: 'give a Dockerfile (inline `dockerfile` or `files`), a `context` directory, a `context_tar` or a `remote`' });
    if (p.files !== undefined && sources.length > 0) issue.addIssue({ code: 'custom', path: ['files'], message: 'inline files only go with an inline context (no context, context_tar or remote)' });
    if (p.dockerfile !== undefined && (p.context_tar !== undefined || p.remote !== undefined))
      issue.addIssue({ code: 'custom', path: ['dockerfile'], message: 'an inline Dockerfile goes with `files` or a `context` directory, not with context_tar or remote' });
    if (p.dockerfile !== undefined && p.dockerfile_path !== undefined) issue.addIssue({ code: 'custom', path: ['dockerfile_path'], message: 'not with an inline `dockerfile`' });
    if (p.dockerfile !== undefined && p.files?.Dockerfile !== undefined) issue.addIssue({ code: 'custom', path: ['files'], message: '"Dockerfile" is given inline by `dockerfile`; do not repeat it in files' });
    if (p.dockerfile === undefined && p.files !== undefined && p.files[p.dockerfile_path ?? 'Dockerfile'] === undefined)
      issue.addIssue({ code: 'custom', path: ['files'], message: `no ${p.dockerfile_path ?? 'Dockerfile'} among the files; give \`dockerfile\` or include it` });
    if (p.remote !== undefined && /^[a-z+]+:\/\/[^/]*@/i.test(p.remote)) issue.addIssue({ code: 'custom', path: ['remote'], message: 'credentials do not go in URLs' });
  });

type BuildParams = z.output<typeof buildParams>;

async function checkPath(ctx: OperationContext, param: string, path: string, kind: 'dir' | 'file'): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (!st) throw invalid(ctx, param, `${full} does not exist`);
  if (kind === 'dir' && !st.isDirectory()) throw invalid(ctx, param, `${full} is not a directory`);
  if (kind === 'file' && !st.isFile()) throw invalid(ctx, param, `${full} is not a file`);
  return full;
}

/** The context body and the Dockerfile path to tell the Engine. */
async function buildContext(ctx: OperationContext, p: BuildParams): Promise<{ body?: Readable; dockerfile?: string }> {
  if (p.remote !== undefined) return { dockerfile: p.dockerfile_path };
  if (p.context_tar !== undefined) {
    const full = await checkPath(ctx, 'context_tar', p.context_tar, 'file');
    return { body: createReadStream(full), dockerfile: p.dockerfile_path };
  }
  if (p.context !== undefined) {
    const dir = await checkPath(ctx, 'context', p.context, 'dir');
    if (p.dockerfile !== undefined) {
      // Like `docker build -f - dir`: the inline Dockerfile travels under a name no directory uses.
      const name = `.dockerconnector-Dockerfile-${randomBytes(6).toString('hex')}`;
      return { body: packDirectory(dir, { dockerfile: name, extra: { [name]: p.dockerfile } }), dockerfile: name };
    }
    const dockerfile = p.dockerfile_path ?? 'Dockerfile';
    await checkPath(ctx, 'dockerfile_path', posix.join(dir, dockerfile), 'file');
    return { body: packDirectory(dir, { dockerfile }), dockerfile: p.dockerfile_path };
  }
  const files: Record<string, string> = { ...(p.files ?? {}) };
  if (p.dockerfile !== undefined) files.Dockerfile = p.dockerfile;
  return { body: packFiles(files), dockerfile: p.dockerfile === undefined ? p.dockerfile_path : undefined };
}

/** X-Registry-Config for base-image pulls: a map keyed by registry address. */
function registryConfig(ctx: OperationContext, p: BuildParams): string | undefined {
  const c = ctx.config;
  const creds: RegistryCredentials | undefined = p.auth ?? (c.registry_server && (c.registry_username || c.registry_identity_token) ? { username: c.registry_username, password: c.registry_password, identitytoken: c.registry_identity_token, serveraddress: c.registry_server } : undefined);
  if (!creds) return undefined;
  if (!creds.serveraddress) throw invalid(ctx, 'auth.serveraddress', 'build needs the registry address the credentials are for');
  return encodeRegistryConfig({ [creds.serveraddress]: creds });
}

/** Keeps the tail of the build log within a cap. */
class LogTail {
  text = '';
  truncated = false;
  constructor(private readonly cap: number) {}
  add(s: string): void {
    this.text += s;
    if (this.text.length > this.cap * 2) this.trim();
  }
  trim(): string {
    if (this.text.length > this.cap) {
      this.text = this.text.slice(this.text.length - this.cap);
      this.truncated = true;
    }
    return this.text;
  }
}

export const buildImage = defineOperation({
  name: 'build_image',
  localPaths: ['context', 'context_tar'],
  category: 'images',
  title: 'Build an image',
  description:
    'Builds an image with the classic builder (POST /build?version=1). The context is one of: an inline `dockerfile` (plus optional `files`), a local `context` directory (honouring .dockerignore), a local `context_tar`, or a `remote` URL. The context is streamed as a tar. A failing step fails the call with that step\'s message and output.',
  params: buildParams,
  safety: 'write',
  // A rebuild can differ (RUN steps see the network, no_cache) and re-points tags.
  idempotent: false,
  streaming: true,
  result: '{id, tags, log, log_truncated}: the image id, the tags applied, and the build output (the last 64 KiB; the full log goes to progress)',
  async run(ctx, p) {
    const headers: Record<string, string> = { 'content-type': 'application/x-tar' };
    const config = registryConfig(ctx, p);
    if (config) headers['x-registry-config'] = config;
    // Last of the checks: from here on the context is being read.
    const { body, dockerfile } = await buildContext(ctx, p);
    const query = {
      version: '1', // the classic builder: BuildKit over the API needs a session the connector does not run
      t: p.tags.length ? p.tags : undefined,
      dockerfile,
      remote: p.remote,
      buildargs: p.build_args,
      labels: p.labels,
      target: p.target,
      nocache: p.no_cache || undefined,
      pull: p.pull || undefined,
      platform: p.platform,
      rm: true,
      forcerm: true, // no intermediate containers left behind after a failed step
    };
    const log = new LogTail(BUILD_LOG_CAP);
    let step = '';
    let stepOutput = new LogTail(STEP_OUTPUT_CAP);
    const onMessage = (m: ProgressMessage) => {
      ctx.progress({ kind: 'message', message: m });
      if (typeof m.stream !== 'string') return;
      log.add(m.stream);
      // Remember which step ran last, only to say where a failure happened.
      const stepLine = /^Step \d+\/\d+ : .*/.exec(m.stream);
      if (stepLine) {
        step = stepLine[0].trim();
        stepOutput = new LogTail(STEP_OUTPUT_CAP);
      } else stepOutput.add(m.stream);
    };
    try {
      return await registryCall(p.auth, async () => {
        const res = await ctx.stream({
          method: 'POST',
          path: '/build',
          query,
          headers,
          body,
          // A RUN step may print nothing for minutes.
          idleTimeoutMs: Math.max(ctx.config.timeout, 300) * 1000,
        });
        const progress = await readProgress(res.body, { operation: ctx.operation, onMessage, keep: 1 });
        const idAux = progress.aux.find((a) => typeof a === 'object' && a !== null && typeof a.ID === 'string');
        let id = idAux?.ID as string | undefined;
        if (!id && p.tags[0]) id = (await inspectOrNull(ctx, p.tags[0]))?.Id;
        if (!id) throw new ConnectorError('ENGINE_ERROR', 'The build finished without reporting an image id', { operation: ctx.operation });
        return { id, tags: p.tags, log: log.trim(), log_truncated: log.truncated };
      });
    } catch (err) {
      body?.destroy();
      // A failure reported inside the stream (no HTTP status): say which step failed and what it printed.
      if (err instanceof ConnectorError && err.status === undefined && err.details?.engine_message) {
        const output = stepOutput
          .trim()
          .replace(/\u001b\[[0-9;]*m/g, '') // the Engine colours a step's stderr
          .split('\n')
          .filter((l) => l.trim() && !/^(?: ---> )?(Running in|Removed intermediate|Removing intermediate|Using cache)/.test(l))
          .join('\n');
        const where = step ? ` at ${step}` : '';
        throw new ConnectorError(err.code, `Build failed${where}: ${String(err.details.engine_message)}${output ? `\n${output}` : ''}`, {
          operation: ctx.operation,
          details: { ...err.details, step: step || null, output },
        });
      }
      throw err;
    }
  },
});

/* ---------- prune ---------- */

interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  Labels?: Record<string, string> | null;
}

function labelsMatch(labels: Record<string, string>, wanted: string[], negated: string[]): boolean {
  const has = (f: string) => {
    const eq = f.indexOf('=');
    return eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
  };
  // As the Engine does: an object is kept out of a prune only when it carries every `label!` label.
  return wanted.every(has) && !(negated.length > 0 && negated.every(has));
}

/**
 * What POST /images/prune would remove, computed the way the Engine does it:
 * candidates are the leaf images (dangling_only) or all images, minus
 * untagged images that have children, minus those the filters exclude;
 * images used by a container are refused; removing an image also removes
 * parents left untagged and childless.
 */
async function planPrune(ctx: OperationContext, danglingOnly: boolean, filters: Record<string, string[]>) {
  const [imagesRes, containersRes] = await Promise.all([
    ctx.json<ImageSummary[]>({ method: 'GET', path: '/images/json', query: { all: true, digests: true } }),
    ctx.json<{ ImageID?: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true } }),
  ]);
  const images = new Map(imagesRes.body.map((i) => [i.Id, i]));
  const used = new Set(containersRes.body.map((c) => c.ImageID));
  const children = new Map<string, string[]>();
  for (const i of images.values()) if (i.ParentId) children.set(i.ParentId, [...(children.get(i.ParentId) ?? []), i.Id]);
  const refs = (i: ImageSummary) => [...realRefs(i.RepoTags), ...realRefs(i.RepoDigests)];
  const until = filters.until?.[0] !== undefined ? toUnixSeconds(filters.until[0]) : undefined;

  const doomed = new Set<string>();
  for (const img of images.values()) {
    const kids = children.get(img.Id) ?? [];
    if (danglingOnly && kids.length) continue;
    if (refs(img).length === 0 && kids.length) continue;
    if (danglingOnly && realRefs(img.RepoTags).length) continue;
    if (until !== undefined && img.Created > until) continue;
    if (!labelsMatch(img.Labels ?? {}, filters.label ?? [], filters['label!'] ?? [])) continue;
    if (used.has(img.Id)) continue;
    doomed.add(img.Id);
  }
  // Parents go too once they are untagged, unused and all their children go.
  for (let grew = true; grew; ) {
    grew = false;
    for (const id of [...doomed]) {
      const parent = images.get(images.get(id)?.ParentId ?? '');
      if (!parent || doomed.has(parent.Id) || refs(parent).length || used.has(parent.Id)) continue;
      if ((children.get(parent.Id) ?? []).every((k) => doomed.has(k))) {
        doomed.add(parent.Id);
        grew = true;
      }
    }
  }
  const deleted = [...doomed].map((id) => ({ id, tags: realRefs(images.get(id)!.RepoTags) }));
  // Each image's own layer is its size less its parent's.
  const space = [...doomed].reduce((sum, id) => {
    const img = images.get(id)!;
    const parent = img.ParentId ? images.get(img.ParentId) : undefined;
    return sum + Math.max(0, img.Size - (parent?.Size ?? 0));
  }, 0);
  return { deleted, space };
}

export const pruneImages = defineOperation({
  name: 'prune_images',
  category: 'images',
  title: 'Remove unused images',
  description:
    'Removes images no container uses (POST /images/prune): by default only dangling (untagged) ones. `dry_run` lists what would go without removing anything (space_reclaimed is then an estimate).',
  params: z
    .object({
      dangling_only: z.boolean().default(true).describe('Only untagged images (false: every image no container uses)'),
      filters: imagePruneFilters.optional().describe('Filters: label ("k" or "k=v"), label! (images without it), until (a time)'),
      dry_run: dryRunParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, tags}], space_reclaimed, dry_run}',
  async run(ctx, p) {
    const filters = normalizeFilters(p.filters) ?? {};
    if (p.dry_run) {
      const plan = await planPrune(ctx, p.dangling_only, filters);
      return { deleted: plan.deleted.sort((a, b) => a.id.localeCompare(b.id)), space_reclaimed: plan.space, dry_run: true };
    }
    // The Engine's "Deleted" entries mix image ids with the ids of layers it released; the
    // images present just before the prune tell them apart.
    const before = await ctx.json<ImageSummary[]>({ method: 'GET', path: '/images/json', query: { all: true } });
    const imageIds = new Set(before.body.map((i) => i.Id));
    const res = await ctx.json<{ ImagesDeleted?: DeleteItem[] | null; SpaceReclaimed?: number }>({
      method: 'POST',
      path: '/images/prune',
      query: { filters: { ...filters, dangling: [String(p.dangling_only)] } },
      // Pruning many images takes a while.
      timeoutMs: Math.max(ctx.config.timeout, 300) * 1000,
    });
    // The Engine lists references untagged before the image they pointed to is deleted.
    const deleted: { id: string; tags: string[] }[] = [];
    let pending: string[] = [];
    for (const item of res.body?.ImagesDeleted ?? []) {
      if (item.Untagged) pending.push(item.Untagged);
      if (item.Deleted && imageIds.has(item.Deleted)) {
        deleted.push({ id: item.Deleted, tags: pending.filter((r) => !r.includes('@')) });
        pending = [];
      }
    }
    return { deleted: deleted.sort((a, b) => a.id.localeCompare(b.id)), space_reclaimed: res.body?.SpaceReclaimed ?? 0, dry_run: false };
  },
});

/* ---------- save / load ---------- */

const saveParams = z
  .object({
    images: z.array(imageRef).min(1).max(100).describe('Images to save into one tar (references or ids)'),
    path: contextPath.optional().describe('File to write the tar to (required, except for the stream form)'),
    overwrite: z.boolean().default(false).describe('Replace the file if it exists'),
  })
  .strict();

async function openSave(ctx: OperationContext, images: string[]) {
  return ctx.stream({ method: 'GET', path: '/images/get', query: { names: images } });
}

export const saveImages = defineOperation({
  name: 'save_images',
  localPaths: ['path'],
  category: 'images',
  title: 'Save images to a tar file',
  description: 'Writes images (with their tags and layers) to a tar file (GET /images/get), streamed to disk under a temporary name and renamed when complete. The tar loads back with load_images.',
  params: saveParams,
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{path, bytes, sha256}',
  async run(ctx, p) {
    const full = await checkDestination(requireParam(ctx, p.path, 'path'), 'path', p.overwrite);
    const res = await openSave(ctx, p.images);
    const result = await writeStreamToFile(res.body, full, { operation: ctx.operation, overwrite: p.overwrite, onBytes: byteProgress(ctx, 'save') });
    ctx.progress({ kind: 'bytes', bytes: result.bytes, label: 'save' });
    return result;
  },
  async openStream(ctx, p) {
    const res = await openSave(ctx, p.images);
    return { stream: res.body, contentType: STREAM_TYPES.tar };
  },
  streamContentType: STREAM_TYPES.tar,
  resultRequires: ['path'],
});

export const loadImages = defineOperation({
  name: 'load_images',
  localPaths: ['path'],
  category: 'images',
  title: 'Load images from a tar file',
  description: 'Loads images from a tar made by save_images or `docker save` (POST /images/load). The file is streamed as the request body; a failure inside the Engine\'s answer fails the call.',
  params: z
    .object({
      path: contextPath.describe('The tar file to load'),
    })
    .strict(),
  safety: 'write',
  // Loading the same tar twice leaves the same images.
  idempotent: true,
  streaming: true,
  result: '{loaded: [references or ids as the Engine reports them], images: [{reference, id}]}',
  async run(ctx, p) {
    const full = await checkPath(ctx, 'path', p.path, 'file');
    const res = await ctx.stream({
      method: 'POST',
      path: '/images/load',
      query: { quiet: false },
      body: createReadStream(full),
      headers: { 'content-type': 'application/x-tar' },
      idleTimeoutMs: Math.max(ctx.config.timeout, 300) * 1000,
    });
    // The Engine's only report of what it loaded is its "Loaded image: x" / "Loaded image ID: sha256:…" lines.
    const loaded: string[] = [];
    await readProgress(res.body, {
      operation: ctx.operation,
      keep: 1,
      onMessage: (m) => {
        ctx.progress({ kind: 'message', message: m });
        const hit = typeof m.stream === 'string' ? /^Loaded image(?: ID)?: (\S+)/.exec(m.stream) : null;
        if (hit) loaded.push(hit[1]!);
      },
    });
    const images = [];
    for (const reference of loaded) images.push({ reference, id: (await inspectOrNull(ctx, reference))?.Id ?? null });
    return { loaded, images };
  },
});

export const imageOperations = [listImages, inspectImage, imageHistory, removeImage, tagImage, pullImage, pushImage, searchImages, buildImage, pruneImages, saveImages, loadImages] as const;
