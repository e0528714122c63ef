/**
 * Registry operations: pull, push, search, inspect_distribution and login,
 * which reach a Docker registry through the Engine. Credentials travel only
 * in the X-Registry-Auth header (login: in the request body).
 */
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { readProgress, type ProgressMessage } from '../engine/json-stream.js';
import { enginePath } from '../engine/path.js';
import { encodeRegistryAuth } from '../engine/registry-auth.js';
import { DOCKER_HUB_KEY } from '../engine/docker-credentials.js';
import { defineOperation, type OperationContext } from './define.js';
import { inspectImageOrNull, realRefs, splitReference, tagName, platformParam } from './shared/image-refs.js';
import { imageRef, invalidParam, registryCredentialsParam } from './shared/params.js';
import { normalizeRegistry, registryCall, registryOf, resolveRegistryAuth } from './shared/registry-access.js';

const authParam = registryCredentialsParam.describe(
  'Registry credentials for this call. Default: the configured registry_* settings when they apply to the image\'s registry, else the docker CLI\'s own ($DOCKER_CONFIG/config.json: auths, credHelpers, credsStore)',
);

/**
 * A search term: without "/", or whose first part has neither "." nor ":"
 * (Docker Hub, any text), or whose first part is a registry host[:port].
 */
const SEARCH_TERM_PATTERN = /^(?:[^/]+|[^/.:]*\/[\s\S]*|[A-Za-z0-9._-]+(?::[0-9]{0,5})?\/[\s\S]*)$/;

/** An image id is local: no registry holds it under that name. */
const IMAGE_ID = /^(sha256:)?[a-f0-9]{64}$/;

/** Forwards each progress message to the surface (CLI bars) and keeps nothing else. */
function forward(ctx: OperationContext): (m: ProgressMessage) => void {
  return (message) => ctx.progress({ kind: 'message', message });
}

/**
 * The RepoDigest of `repo`, matched on the repository (the Engine may shorten "docker.io/library/x"
 * to "x"); null when there is none, or several that disagree: Podman lists every digest the image
 * has ever had under every name, so which one the registry served cannot be told.
 */
function digestFor(repoDigests: string[] | undefined, repo: string): string | null {
  const entries = realRefs(repoDigests).map((d) => ({ name: d.slice(0, d.indexOf('@')), digest: d.slice(d.indexOf('@') + 1) }));
  const hits = new Set(entries.filter((e) => e.name === repo || e.name.endsWith(`/${repo}`) || repo.endsWith(`/${e.name}`)).map((e) => e.digest));
  return hits.size === 1 ? [...hits][0]! : null;
}

export const pullImage = defineOperation({
  name: 'pull_image',
  category: 'images',
  title: 'Pull an image',
  description:
    'Pulls an image from its registry (POST /images/create?fromImage=…) and reads the progress to the end: a failure reported inside the stream fails the call. Credentials come from `auth`, else the configured registry_* settings, else the docker CLI\'s ($DOCKER_CONFIG/config.json, credential helpers included); they are sent only in the X-Registry-Auth header. Idempotent: pulling again only re-checks the registry.',
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
  resultSchema: z.strictObject({
    image: z.string().describe('The reference pulled: repo:tag or repo@sha256:…'),
    id: z.string().describe('The local image id (sha256:…) the reference now names'),
    digest: z.string().nullable().describe('The registry digest (sha256:…) of what was pulled; null when the Engine recorded none for this repository, or several (Podman)'),
    status: z.string().nullable().describe('The Engine\'s last status line, e.g. "Status: Downloaded newer image for …"; null when it sent none'),
    changed: z.boolean().describe('Whether the reference names another local image than before the pull'),
  }),
  async run(ctx, p) {
    const ref = splitReference(p.image);
    if (IMAGE_ID.test(p.image)) throw invalidParam(ctx, 'image', 'an image id cannot be pulled; give a repository reference');
    if (p.tag !== undefined && ref.digest) throw invalidParam(ctx, 'tag', '`image` already names a digest');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalidParam(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
    const tagOrDigest = ref.digest ?? p.tag ?? ref.tag ?? 'latest';
    const reference = ref.digest ? `${ref.repo}@${ref.digest}` : `${ref.repo}:${tagOrDigest}`;
    // The query carries only names; credentials go in the header.
    const query = { fromImage: ref.repo, tag: tagOrDigest, platform: p.platform };
    const auth = await resolveRegistryAuth(ctx, registryOf(ref.repo), p.auth);

    return registryCall(auth.secrets, async () => {
      const before = await inspectImageOrNull(ctx, reference);
      const res = await ctx.stream({ method: 'POST', path: '/images/create', query, headers: auth.header ? { 'x-registry-auth': auth.header } : undefined });
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
    'Pushes a tag to its registry (POST /images/{name}/push) and reads the progress to the end: a failure inside the stream fails the call. The registry is the one named in the image reference. Credentials from `auth`, else the configured registry_* settings, else the docker CLI\'s ($DOCKER_CONFIG/config.json, credential helpers included), sent only in X-Registry-Auth.',
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
  resultSchema: z.strictObject({
    image: z.string().describe('The reference pushed, repo:tag'),
    tag: z.string().describe('The tag the registry stored'),
    digest: z.string().describe('The manifest digest (sha256:…) the registry stored'),
    size: z.number().int().nullable().describe('The manifest size in bytes; null when the Engine did not say'),
  }),
  async run(ctx, p) {
    const ref = splitReference(p.image);
    if (ref.digest) throw invalidParam(ctx, 'image', 'push a tag, not a digest');
    if (IMAGE_ID.test(p.image)) throw invalidParam(ctx, 'image', 'an image id cannot be pushed; tag it first (tag_image)');
    if (p.tag !== undefined && ref.tag !== undefined && ref.tag !== p.tag) throw invalidParam(ctx, 'tag', `\`image\` already has tag "${ref.tag}"`);
    const tag = p.tag ?? ref.tag ?? 'latest';
    // The Engine refuses a push without the header: "{}" stands for "no credentials".
    const auth = await resolveRegistryAuth(ctx, registryOf(ref.repo), p.auth);
    return registryCall(auth.secrets, async () => {
      const res = await ctx.stream({ method: 'POST', path: enginePath`/images/${ref.repo}/push`, query: { tag }, headers: { 'x-registry-auth': auth.header ?? encodeRegistryAuth({}) } });
      const progress = await readProgress(res.body, { operation: ctx.operation, onMessage: forward(ctx), keep: 50 });
      const result: Record<string, unknown> | undefined = progress.aux.find((a) => typeof a === 'object' && a !== null && typeof a.Digest === 'string') ?? digestFromStatus(progress.messages);
      if (!result) throw new ConnectorError('ENGINE_ERROR', 'The Engine finished the push without reporting a digest', { operation: ctx.operation });
      return { image: `${ref.repo}:${tag}`, tag: (result.Tag as string | undefined) ?? tag, digest: result.Digest as string, size: (result.Size as number | undefined) ?? null };
    });
  },
});

/**
 * The digest from the push's last status line ("v1: digest: sha256:… size: 427"), which Docker
 * Engines send beside the aux record and Podman sends alone.
 */
function digestFromStatus(messages: { status?: string }[]): { Digest: string; Size: number; Tag?: string } | undefined {
  for (const m of [...messages].reverse()) {
    const hit = /\bdigest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(m.status ?? '');
    if (hit) return { Digest: hit[1]!, Size: Number(hit[2]) };
  }
  return undefined;
}

/* ---------- search ---------- */

/** One answer of GET /images/search (the Engine's ImageSearchResponseItem; every field is always sent). */
const searchResultItem = z.object({
  name: z.string().describe('Repository name'),
  description: z.string().describe('Its description ("" when none)'),
  star_count: z.number().int().describe('Stars'),
  is_official: z.boolean().describe('An official image'),
  is_automated: z.boolean().describe('Automated builds (deprecated by the Engine: always false on newer Engines)'),
});

/** Podman's compatible API answers with its own field names ("Name", "Stars", "Official": "[OK]"): the documented ones are given back. */
function documentedSearchItem(item: z.output<typeof searchResultItem> | PodmanSearchItem): z.output<typeof searchResultItem> {
  if (!('Name' in item) || 'name' in item) return item as z.output<typeof searchResultItem>;
  return {
    name: item.Name,
    description: item.Description ?? '',
    star_count: item.Stars ?? 0,
    is_official: item.Official === true || item.Official === '[OK]',
    is_automated: item.Automated === true || item.Automated === '[OK]',
  };
}
interface PodmanSearchItem {
  Name: string;
  Description?: string;
  Stars?: number;
  Official?: string | boolean;
  Automated?: string | boolean;
}

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
  resultSchema: z.strictObject({
    results: z.array(searchResultItem).describe('The registry\'s answers, at most `limit` of them, as the Engine gives them'),
    count: z.number().int().min(0).describe('How many results there are'),
  }),
  async run(ctx, p) {
    const f = p.filters;
    const filters: Record<string, string[]> = {};
    if (f?.['is-official'] !== undefined) filters['is-official'] = [String(f['is-official'])];
    if (f?.['is-automated'] !== undefined) filters['is-automated'] = [String(f['is-automated'])];
    if (f?.stars !== undefined) filters.stars = [String(f.stars)];
    // As `docker search`: a credential helper that fails leaves the search anonymous.
    const auth = await resolveRegistryAuth(ctx, registryOf(p.term), p.auth, { onMismatch: 'omit', onHelperFailure: 'anonymous' });
    return registryCall(auth.secrets, async () => {
      const res = await ctx
        .json<(z.output<typeof searchResultItem> | PodmanSearchItem)[] | null>({
          method: 'GET',
          path: '/images/search',
          query: { term: p.term, limit: p.limit, filters: Object.keys(filters).length ? filters : undefined },
          headers: auth.header ? { 'x-registry-auth': auth.header } : undefined,
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
      const results = (res.body ?? []).slice(0, p.limit).map(documentedSearchItem);
      return { results, count: results.length };
    });
  },
});

/* ---------- distribution ---------- */

/** A platform an image runs on (the Engine's OCIPlatform). */
const ociPlatform = z.object({
  architecture: z.string().describe('CPU architecture, e.g. "amd64", "arm64"'),
  os: z.string().describe('Operating system, e.g. "linux"'),
  'os.version': z.string().optional().describe('Operating system version (Windows images)'),
  'os.features': z.array(z.string()).nullable().optional().describe('Required OS features (Windows images)'),
  variant: z.string().optional().describe('CPU variant, e.g. "v8" for arm64'),
  features: z.array(z.string()).nullable().optional().describe('Required CPU features (older image specifications)'),
});

/** GET /distribution/{name}/json: the manifest's descriptor and the platforms it serves. */
interface DistributionInspect {
  Descriptor: { mediaType: string; digest: string; size: number };
  Platforms: z.output<typeof ociPlatform>[] | null;
}

export const inspectDistribution = defineOperation({
  name: 'inspect_distribution',
  category: 'images',
  title: 'Inspect an image in its registry',
  description:
    'Asks the image\'s registry, through the Engine, for the manifest a reference names (GET /distribution/{name}/json) without pulling it: its digest, media type, size and the platforms it serves. A reference without tag or digest means ":latest". Credentials as for pull_image: `auth` (left out when it names another registry), else the configured registry_* settings, else the docker CLI\'s ($DOCKER_CONFIG/config.json).',
  params: z
    .object({
      image: imageRef.describe('Image in its registry: repo, repo:tag or repo@sha256:…, e.g. "registry.example:5000/team/app:1.0"'),
      auth: authParam.optional(),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: '{digest, media_type, size, platforms}: the manifest the registry holds for the reference, and the platforms it serves',
  resultSchema: z.strictObject({
    digest: z.string().describe('The manifest digest (sha256:…), as the registry\'s Docker-Content-Digest header gives it'),
    media_type: z.string().describe('The manifest\'s media type: an image manifest, or an index / manifest list for a multi-platform image'),
    size: z.number().int().describe('The manifest size in bytes'),
    platforms: z.array(ociPlatform).describe('The platforms the image serves (every entry of an index; for a single manifest, its image\'s platform)'),
  }),
  async run(ctx, p) {
    if (IMAGE_ID.test(p.image)) throw invalidParam(ctx, 'image', 'an image id is local; give a repository reference');
    const ref = splitReference(p.image);
    const reference = ref.digest ? `${ref.repo}@${ref.digest}` : `${ref.repo}:${ref.tag ?? 'latest'}`;
    // A read, as search: credentials given for another registry are left out rather than refused
    // (no schema can relate the two fields, so a refusal would be a 400 the contract does not predict).
    const auth = await resolveRegistryAuth(ctx, registryOf(ref.repo), p.auth, { onMismatch: 'omit' });
    return registryCall(auth.secrets, async () => {
      const res = await ctx.json<DistributionInspect>({
        method: 'GET',
        path: enginePath`/distribution/${reference}/json`,
        headers: auth.header ? { 'x-registry-auth': auth.header } : undefined,
      });
      const d = res.body.Descriptor;
      return { digest: d.digest, media_type: d.mediaType, size: d.size, platforms: res.body.Platforms ?? [] };
    });
  },
});

/* ---------- login ---------- */

/** A registry address as `docker login` takes it: host[:port], optionally as an http(s) URL with a path. */
const REGISTRY_SERVER_PATTERN = /^(?:https?:\/\/)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:\/[^\s]*)?$/;

export const registryLogin = defineOperation({
  name: 'registry_login',
  category: 'images',
  title: 'Check registry credentials',
  description:
    'Has the Engine log in to a registry with a username and password (POST /auth) and reports whether the registry accepted them, with the identity token some registries give in exchange. It only checks: nothing is stored, neither by the Engine nor in the docker CLI\'s config.json (unlike `docker login`); pass the credentials to pull_image/push_image as `auth`, or configure them as registry_*. Refused credentials fail with UNAUTHORIZED.',
  params: z
    .object({
      username: z.string().min(1).max(1024).describe('Registry user'),
      password: z.string().min(1).max(8192).describe('Registry password or access token (a secret: never logged)'),
      server: z
        .string()
        .max(512)
        .regex(REGISTRY_SERVER_PATTERN, 'expected a registry address: host[:port], e.g. "registry.example:5000", or an http(s) URL')
        .optional()
        .describe('Registry address, e.g. "registry.example:5000" (default: Docker Hub)'),
    })
    .strict(),
  safety: 'write',
  // A second check of the same credentials changes nothing.
  idempotent: true,
  result: '{status, identity_token}: the Engine\'s status ("Login Succeeded") and the identity token the registry gave, or null',
  resultSchema: z.strictObject({
    status: z.string().describe('The Engine\'s status, "Login Succeeded"'),
    identity_token: z.string().nullable().describe('An identity token to use instead of the password (a secret), when the registry gives one; else null'),
  }),
  async run(ctx, p) {
    // Docker Hub is known by the key the docker CLI logs in with.
    const server = p.server === undefined || normalizeRegistry(p.server) === 'docker.io' ? DOCKER_HUB_KEY : p.server;
    const secrets = { password: p.password };
    return registryCall(secrets, async () => {
      const res = await ctx.json<{ Status?: string; IdentityToken?: string } | undefined>({
        method: 'POST',
        path: '/auth',
        body: { username: p.username, password: p.password, serveraddress: server },
      });
      return { status: res.body?.Status || 'Login Succeeded', identity_token: res.body?.IdentityToken || null };
    });
  },
});

export const registryOperations = [pullImage, pushImage, searchImages, inspectDistribution, registryLogin] as const;
