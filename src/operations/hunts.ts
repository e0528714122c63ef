/**
 * Hunts (issue 17): "where else is this running?" asked of every named
 * endpoint at once. Each operation fans out by itself over its `endpoints`
 * parameter (ctx.fleet.across); an endpoint that fails is an entry of
 * `errors`, never a failure of the call.
 */
import * as z from 'zod';
import { defineOperation, type FanOut, type OperationContext } from './define.js';
import { compileGlob, containerNames, isValidGlob, labelMatches, matchingProcess, nameFilterHint, parseLabel, publishesHostPort, sameImageId, type LabelSpec } from './shared/hunt-match.js';
import { mapBounded } from './shared/map-bounded.js';
import { listContainers, resolveImages, topOrNull, type HuntedContainer } from './shared/hunt-lookup.js';
import { imageRef, oneOrMany } from './shared/params.js';
import { containerStatus } from './shared/schemas/container.js';

/* ---------------- parameters ---------------- */

const endpointName = z.string().min(1).max(128);

const endpointsParam = z
  .union([endpointName, z.array(endpointName).min(1).max(1000)])
  .optional()
  .describe('Endpoints to search: names from the config file\'s `endpoints` (a list, or one string "a,b"), or "all" (the default)');

const glob = (what: string) =>
  z
    .string()
    .min(1)
    .max(256)
    .refine((s) => !/[\0-\x1f]/.test(s), 'must not contain control characters')
    .refine(isValidGlob, `expected a glob of ${what}: "*" any characters, "?" one, [abc] a set, {a,b} alternatives`);

const labelText = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^=\0-\x1f][^=\0-\x1f]*(?:=[^\0-\x1f]*)?$/, 'expected "key" or "key=value" (a key is not empty and holds no "=")');

const errorsResult = z
  .record(
    z.string(),
    z.strictObject({
      code: z.string().describe('Stable error code (UNAVAILABLE, CONNECTION_FAILED, TIMEOUT, …)'),
      message: z.string().describe('What went wrong, naming the endpoint'),
    }),
  )
  .describe('Endpoints that could not be searched, by name; every other chosen endpoint was searched');

/** Where the fleet's answers go: matches in configuration order of the endpoints, then the Engine's order. */
function collect<T>(ctx: OperationContext, fan: FanOut<T[]>): { matches: T[]; errors: FanOut<T[]>['errors'] } {
  return { matches: ctx.fleet.names.flatMap((n) => fan.results[n] ?? []), errors: fan.errors };
}

/* ---------------- find_containers ---------------- */

const findContainersParams = z
  .object({
    image: imageRef
      .optional()
      .describe(
        'Containers of this image, resolved on each endpoint as its Engine resolves it: name (docker.io/library/ added as the Engine does), name:tag, name@sha256:<digest>, image id or short id; a bare "sha256:<64 hex>" matches an image with that id or that manifest digest among its RepoDigests',
      ),
    name: glob('container names').optional().describe('Glob on container names, without the leading "/", e.g. "web-*"'),
    label: oneOrMany(labelText).optional().describe('"key" or "key=value", or a list of them (all must match); the Engine filters on them'),
    published_port: z.number().int().min(1).max(65535).optional().describe('Containers publishing this port on their host (Ports[].PublicPort; only running containers publish ports)'),
    process: glob('command names')
      .optional()
      .describe(
        'Running (or paused) containers with a process whose command name matches this glob: the basename of the first word of its command line as `top` shows it (CMD / COMMAND), e.g. "nginx", "python*"',
      ),
    status: oneOrMany(containerStatus).optional().describe('Container state(s), as the Engine filters them; default: every state'),
    endpoints: endpointsParam,
  })
  .strict();

const containerMatch = z.strictObject({
  endpoint: z.string().describe('The endpoint (config file name) the container is on'),
  id: z.string().describe('Container id'),
  name: z.string().nullable().describe('Container name without the leading "/"; null when it has none'),
  image: z.string().describe('The image as the container was created from it (or its id once that reference is gone)'),
  image_id: z.string().describe('Image id, "sha256:…"'),
  state: z.string().describe('State: created, running, paused, restarting, removing, exited, dead'),
  matched: z
    .array(z.string())
    .describe('The criteria it matched, in this order: "image", "name", "label:<key>[=<value>]" (each), "published_port:<port>", "status:<state>", "process:<command name>"'),
});

type ContainerMatch = z.output<typeof containerMatch>;

interface ContainerCriteria {
  image?: string;
  name?: (n: string) => boolean;
  nameHint?: string;
  labels: LabelSpec[];
  port?: number;
  process?: (n: string) => boolean;
  statuses: string[];
}

/** How many `top` calls one endpoint has in flight at once. */
const TOP_CONCURRENCY = 4;

async function huntContainers(ctx: OperationContext, endpoint: string, c: ContainerCriteria): Promise<ContainerMatch[]> {
  let imageIds: string[] | undefined;
  if (c.image !== undefined) {
    imageIds = (await resolveImages(ctx, c.image)).map((i) => i.id);
    if (imageIds.length === 0) return [];
  }
  const listed = await listContainers(ctx, {
    label: c.labels.length ? c.labels.map((l) => l.text) : undefined,
    status: c.statuses.length ? c.statuses : undefined,
    name: c.nameHint ? [c.nameHint] : undefined,
  });
  const candidates: { entry: HuntedContainer; matched: string[] }[] = [];
  for (const entry of listed) {
    const matched: string[] = [];
    if (imageIds) {
      if (!imageIds.some((id) => sameImageId(id, entry.ImageID))) continue;
      matched.push('image');
    }
    if (c.name) {
      if (!containerNames(entry.Names).some(c.name)) continue;
      matched.push('name');
    }
    // The Engine filtered on labels and status already; checked again so the answer holds whatever the Engine did.
    if (!c.labels.every((l) => labelMatches(entry.Labels, l))) continue;
    matched.push(...c.labels.map((l) => `label:${l.text}`));
    if (c.port !== undefined) {
      if (!publishesHostPort(entry.Ports, c.port)) continue;
      matched.push(`published_port:${c.port}`);
    }
    if (c.statuses.length) {
      if (!c.statuses.includes(entry.State ?? '')) continue;
      matched.push(`status:${entry.State}`);
    }
    candidates.push({ entry, matched });
  }
  const kept = c.process ? await withProcess(ctx, candidates, c.process) : candidates;
  return kept.map(({ entry, matched }) => ({
    endpoint,
    id: entry.Id,
    name: containerNames(entry.Names)[0] ?? null,
    image: entry.Image ?? '',
    image_id: entry.ImageID ?? '',
    state: entry.State ?? '',
    matched,
  }));
}

/** The candidates running a matching process; one that stopped since the list is left out. */
async function withProcess(ctx: OperationContext, candidates: { entry: HuntedContainer; matched: string[] }[], process: (n: string) => boolean) {
  const running = candidates.filter((c) => c.entry.State === 'running' || c.entry.State === 'paused');
  const hits = await mapBounded(running, TOP_CONCURRENCY, async (c) => {
    const top = await topOrNull(ctx, c.entry.Id);
    const name = top ? matchingProcess(top.titles, top.processes, process) : undefined;
    return name === undefined ? undefined : { ...c, matched: [...c.matched, `process:${name}`] };
  });
  return hits.filter((h) => h !== undefined);
}

export const findContainers = defineOperation({
  name: 'find_containers',
  category: 'containers',
  title: 'Find containers across endpoints',
  description:
    'Searches the containers of every chosen endpoint at once (default: all of them) by image, name glob, label, published host port, running process and state; every criterion given must match (none: every container). Labels, state and a part of the name are filtered by each Engine; the rest is checked on its list. `process` asks `top` of each running candidate: a container that stops meanwhile is left out. An endpoint that cannot be searched is an entry of `errors`, not a failure of the call.',
  params: findContainersParams,
  safety: 'read',
  idempotent: true,
  acrossEndpoints: true,
  result: '{matches: [{endpoint, id, name, image, image_id, state, matched: [criteria]}], errors: {<endpoint>: {code, message}}}',
  resultSchema: z.strictObject({
    matches: z.array(containerMatch).describe('Matching containers, endpoint by endpoint (in configuration order), newest first on each'),
    errors: errorsResult,
  }),
  async run(ctx, p) {
    const labels = p.label === undefined ? [] : (typeof p.label === 'string' ? [p.label] : p.label).map(parseLabel);
    const criteria: ContainerCriteria = {
      image: p.image,
      name: p.name ? compileGlob(p.name) : undefined,
      nameHint: p.name ? nameFilterHint(p.name) : undefined,
      labels,
      port: p.published_port,
      process: p.process ? compileGlob(p.process) : undefined,
      statuses: p.status === undefined ? [] : typeof p.status === 'string' ? [p.status] : [...new Set(p.status)],
    };
    const fan = await ctx.fleet.across(p.endpoints, (ectx, endpoint) => huntContainers(ectx, endpoint, criteria), 'endpoints');
    return collect(ctx, fan);
  },
});

/* ---------------- find_images ---------------- */

const imageMatch = z.strictObject({
  endpoint: z.string().describe('The endpoint (config file name) the image is on'),
  id: z.string().describe('Image id, "sha256:…"'),
  repo_tags: z.array(z.string()).describe('Its "repo:tag" references'),
  repo_digests: z.array(z.string()).describe('Its "repo@sha256:…" references'),
  containers: z.number().int().min(0).describe('Containers on that endpoint (any state) created from it'),
});

type ImageMatch = z.output<typeof imageMatch>;

async function huntImages(ctx: OperationContext, endpoint: string, image: string): Promise<ImageMatch[]> {
  const images = await resolveImages(ctx, image);
  if (images.length === 0) return [];
  const containers = await listContainers(ctx, {});
  return images.map((i) => ({
    endpoint,
    id: i.id,
    repo_tags: i.repoTags,
    repo_digests: i.repoDigests,
    containers: containers.filter((c) => sameImageId(c.ImageID, i.id)).length,
  }));
}

export const findImages = defineOperation({
  name: 'find_images',
  category: 'images',
  title: 'Find an image across endpoints',
  description:
    'Looks for one image on every chosen endpoint at once (default: all of them): by `reference` (resolved by each Engine as it resolves names, tags, name@digest, ids and short ids) or by `digest` (an image id or a manifest digest among its RepoDigests), with how many containers use it there. An endpoint that cannot be searched is an entry of `errors`, not a failure of the call.',
  params: z
    .object({
      reference: imageRef.optional().describe('Image reference (name, name:tag, name@sha256:…) or image id / short id, resolved by each Engine'),
      digest: z
        .string()
        .regex(/^sha256:[a-f0-9]{64}$/, 'expected "sha256:" and 64 lowercase hex digits')
        .optional()
        .describe('"sha256:<64 hex>": the image with this id, or with this manifest digest among its RepoDigests'),
      endpoints: endpointsParam,
    })
    .strict()
    .refine((p) => (p.reference === undefined) !== (p.digest === undefined), { message: 'give exactly one of reference and digest', path: ['reference'] })
    // The rule beyond the fields, in the published JSON Schema too (a refinement does not export).
    .meta({ oneOf: [{ properties: { reference: { type: 'string' } }, required: ['reference'] }, { properties: { digest: { type: 'string' } }, required: ['digest'] }] }),
  safety: 'read',
  idempotent: true,
  acrossEndpoints: true,
  result: '{matches: [{endpoint, id, repo_tags, repo_digests, containers}], errors: {<endpoint>: {code, message}}}',
  resultSchema: z.strictObject({
    matches: z.array(imageMatch).describe('The image on each endpoint that has it, in configuration order of the endpoints'),
    errors: errorsResult,
  }),
  async run(ctx, p) {
    const image = (p.reference ?? p.digest)!;
    const fan = await ctx.fleet.across(p.endpoints, (ectx, endpoint) => huntImages(ectx, endpoint, image), 'endpoints');
    return collect(ctx, fan);
  },
});

export const huntOperations = [findContainers, findImages] as const;
