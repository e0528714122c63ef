/**
 * Local image operations: list, inspect, history, remove, tag, prune, save
 * and load. (Registry calls and build are families of their own.)
 */
import { createReadStream } from 'node:fs';
import * as z from 'zod';
import { readProgress } from '../engine/json-stream.js';
import { enginePath, normalizeFilters } from '../engine/path.js';
import { checkDestination, writeStreamToFile } from '../files/file-sink.js';
import { byteProgress, defineOperation, requireParam, STREAM_TYPES, type OperationContext } from './define.js';
import { listAllContainers } from './shared/container-lookup.js';
import type { ImageDeleteItem, ImageInspect } from './shared/engine-types.js';
import { inspectImageOrNull, realRefs, repoName, tagName } from './shared/image-refs.js';
import { checkLocalPath, localPathParam } from './shared/local-files.js';
import { boolFilter, dryRunParam, engineFilters, imageRef, oneOrMany, timePointParam, toUnixSeconds } from './shared/params.js';
import { identityChanged, planIdParam, singleItem, skip } from './shared/plan.js';
import { imagesOwnSize, imagesToPrune, listAllImages, pruneFiltersParam, removePlannedImages, resolvePruneFilters, runImagePrune } from './shared/prune.js';
import { fileWritten } from './shared/schemas/file-result.js';
import { historyResponseItem, imageInspect, imageSummary } from './shared/schemas/image.js';
import { planIdField, prunedImage, pruneReport, skippedItems, spaceReclaimed } from './shared/schemas/prune.js';
import { slowCallTimeoutMs } from './shared/timeouts.js';

const imageListFilters = engineFilters({
  dangling: boolFilter.describe('Only untagged images (true) or only tagged ones (false)'),
  label: oneOrMany(z.string()).describe('"key" or "key=value"'),
  reference: oneOrMany(z.string()).describe('"repo:tag" pattern'),
  // The Engine looks these images up and refuses a malformed reference (400): the whole imageRef rule, length included.
  before: imageRef.describe('Created before this image'),
  since: imageRef.describe('Created after this image'),
  // Checked by the connector: Engines before API 1.42 refuse the filter and newer ones read "1d" or "30" differently.
  until: timePointParam.describe('Only images created before this time: "24h" (a day ago), unix seconds or RFC 3339'),
});

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
  resultSchema: z.array(imageSummary).describe("The Engine's image summaries"),
  async run(ctx, p) {
    const { until, ...engineSide } = p.filters ?? {};
    const res = await ctx.json<z.output<typeof imageSummary>[]>({ method: 'GET', path: '/images/json', query: { all: p.all, digests: p.digests, filters: normalizeFilters(engineSide) } });
    const cutoff = until === undefined ? undefined : toUnixSeconds(until);
    return cutoff === undefined ? res.body : (res.body ?? []).filter((img) => img.Created <= cutoff);
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
  resultSchema: imageInspect,
  async run(ctx, p) {
    return (await ctx.json<z.output<typeof imageInspect>>({ method: 'GET', path: enginePath`/images/${p.image}/json` })).body;
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
  resultSchema: z.array(historyResponseItem).describe('The layers, newest first'),
  async run(ctx, p) {
    return (await ctx.json<z.output<typeof historyResponseItem>[]>({ method: 'GET', path: enginePath`/images/${p.image}/history` })).body;
  },
});

/* ---------- remove / tag ---------- */

/** The connector's own shapes: closed. */
const removeImageDone = z
  .strictObject({
    dry_run: z.literal(false).describe('The image was removed (or untagged)'),
    untagged: z.array(z.string()).describe('References the Engine removed ("repo:tag", "repo@sha256:…")'),
    deleted: z.array(z.string()).describe('Ids of the images and layers the Engine deleted; [] when it only untagged'),
    skipped: skippedItems,
  })
  .describe('Without dry_run: what the Engine did');

const removeImagePlan = z
  .strictObject({
    dry_run: z.literal(true).describe('Nothing was changed'),
    id: z.string().describe('Id of the image named'),
    untagged: z.array(z.string()).describe('References that would be removed'),
    deleted: z.array(z.string()).describe('Image ids that would be deleted ([] when only a tag would go); its layers are not listed'),
    used_by_containers: z.array(z.string()).describe('Ids of the containers (running or not) created from the image'),
    would_conflict: z.boolean().describe('The real call would be refused (CONFLICT): containers use the image and `force` is off'),
    plan_id: planIdField,
  })
  .describe('With dry_run: what the call would do');

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
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: false,
  result: '{untagged: [references], deleted: [ids of the images and layers the Engine deleted], dry_run}; with dry_run: what would be untagged and deleted, and the containers using the image',
  resultSchema: z.discriminatedUnion('dry_run', [removeImageDone, removeImagePlan]),
  async run(ctx, p) {
    if (p.dry_run) {
      const img = await ctx.json<ImageInspect>({ method: 'GET', path: enginePath`/images/${p.image}/json` });
      const tags = realRefs(img.body.RepoTags);
      const containers = await ctx.json<{ Id: string; ImageID?: string }[]>({ method: 'GET', path: '/containers/json', query: { all: true } });
      const users = containers.body.filter((c) => c.ImageID === img.body.Id).map((c) => c.Id);
      // Naming one tag of a multi-tagged image only removes that tag.
      const byTag = tags.includes(p.image) || tags.includes(`${p.image}:latest`);
      const onlyUntag = byTag && tags.length > 1 && !p.force;
      return {
        dry_run: true as const,
        id: img.body.Id,
        untagged: onlyUntag ? [tags.includes(p.image) ? p.image : `${p.image}:latest`] : [...tags, ...realRefs(img.body.RepoDigests)],
        deleted: onlyUntag ? [] : [img.body.Id],
        used_by_containers: users,
        would_conflict: !onlyUntag && users.length > 0 && !p.force,
      };
    }
    return deleteImage(ctx, p.image, p.force, p.noprune);
  },
  plan: {
    items: (_ctx, p, r) => (r.dry_run ? singleItem('image', r.id, p.image) : []),
    // The plan pins the image id: a reference that now names another image is skipped.
    async run(ctx, p, items) {
      const item = items[0];
      if (!item) return { dry_run: false as const, untagged: [], deleted: [], skipped: [] };
      const changed = await identityChanged(item, async () => (await ctx.json<ImageInspect>({ method: 'GET', path: enginePath`/images/${p.image}/json` })).body.Id);
      if (changed) return { dry_run: false as const, untagged: [], deleted: [], skipped: [skip(item, changed)] };
      // By the reference, checked just above: removing one tag of several only untags, as without a plan.
      return { ...(await deleteImage(ctx, p.image, p.force, p.noprune)), skipped: [] };
    },
  },
});

async function deleteImage(ctx: OperationContext, image: string, force: boolean, noprune: boolean) {
  const res = await ctx.json<ImageDeleteItem[]>({ method: 'DELETE', path: enginePath`/images/${image}`, query: { force, noprune } });
  const items = res.body ?? [];
  return {
    dry_run: false as const,
    untagged: items.flatMap((i) => (i.Untagged ? [i.Untagged] : [])),
    deleted: items.flatMap((i) => (i.Deleted ? [i.Deleted] : [])),
  };
}

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
  resultSchema: z.strictObject({
    image: z.string().describe('The image tagged, as named in the call'),
    reference: z.string().describe('The reference added, "repo:tag"'),
  }),
  async run(ctx, p) {
    await ctx.json({ method: 'POST', path: enginePath`/images/${p.image}/tag`, query: { repo: p.repo, tag: p.tag } });
    return { image: p.image, reference: `${p.repo}:${p.tag}` };
  },
});

/* ---------- prune ---------- */

export const pruneImages = defineOperation({
  name: 'prune_images',
  category: 'images',
  title: 'Remove unused images',
  description:
    'Removes images no container uses (POST /images/prune): by default only dangling (untagged) ones. `dry_run` lists what would go without removing anything (space_reclaimed is then an estimate).',
  params: z
    .object({
      dangling_only: z.boolean().default(true).describe('Only untagged images (false: every image no container uses)'),
      filters: pruneFiltersParam.optional().describe('Which images: {until, label, "label!"}'),
      dry_run: dryRunParam,
      plan_id: planIdParam,
    })
    .strict(),
  safety: 'destructive',
  idempotent: true,
  result: '{deleted: [{id, tags}], space_reclaimed, dry_run}',
  resultSchema: pruneReport(prunedImage, spaceReclaimed.describe("Bytes freed; for a dry run an estimate (each image's size less its parent's)")),
  async run(ctx, p) {
    // Resolved once, so the dry run and the Engine use the same instant.
    const f = resolvePruneFilters(p.filters);
    const images = await listAllImages(ctx);
    if (p.dry_run) {
      const used = new Set((await listAllContainers(ctx)).map((c) => c.ImageID ?? ''));
      const planned = await imagesToPrune(ctx, images, used, p.dangling_only, f);
      const byId = new Map(images.map((i) => [i.Id, i]));
      const deleted = planned.map(({ id }) => ({ id, tags: realRefs(byId.get(id)?.RepoTags) }));
      const space = imagesOwnSize(images, planned.map(({ id }) => id));
      return { deleted: deleted.sort((a, b) => a.id.localeCompare(b.id)), space_reclaimed: space, dry_run: true };
    }
    const res = await runImagePrune(ctx, f, p.dangling_only, images);
    return { deleted: res.deleted.map(({ id, tags }) => ({ id, tags })).sort((a, b) => a.id.localeCompare(b.id)), space_reclaimed: res.space_reclaimed, dry_run: false };
  },
  plan: {
    items: (_ctx, _p, r) => r.deleted.map((i) => ({ what: 'image', id: i.id, name: i.tags[0] ?? null })),
    async run(ctx, p, items) {
      const out = await removePlannedImages(ctx, items, p.dangling_only, resolvePruneFilters(p.filters));
      return { deleted: out.deleted.map(({ id, tags }) => ({ id, tags })), space_reclaimed: out.space_reclaimed, dry_run: false, skipped: out.skipped };
    },
  },
});

/* ---------- save / load ---------- */

const saveParams = z
  .object({
    images: z.array(imageRef).min(1).max(100).describe('Images to save into one tar (references or ids)'),
    path: localPathParam.optional().describe('File to write the tar to (required, except for the stream form)'),
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
  resultSchema: fileWritten,
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
      path: localPathParam.describe('The tar file to load'),
    })
    .strict(),
  safety: 'write',
  // Loading the same tar twice leaves the same images.
  idempotent: true,
  streaming: true,
  result: '{loaded: [references or ids as the Engine reports them], images: [{reference, id}]}',
  resultSchema: z.strictObject({
    loaded: z.array(z.string()).describe('What the Engine reports it loaded: "repo:tag" references, or image ids ("sha256:…") for untagged images'),
    images: z
      .array(
        z.strictObject({
          reference: z.string().describe('As in `loaded`'),
          id: z.string().nullable().describe('Its image id; null when it cannot be inspected'),
        }),
      )
      .describe('Each entry of `loaded` with its image id'),
  }),
  async run(ctx, p) {
    const full = await checkLocalPath(ctx, 'path', p.path, 'file');
    const res = await ctx.stream({
      method: 'POST',
      path: '/images/load',
      query: { quiet: false },
      body: createReadStream(full),
      headers: { 'content-type': 'application/x-tar' },
      idleTimeoutMs: slowCallTimeoutMs(ctx),
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
    for (const reference of loaded) images.push({ reference, id: (await inspectImageOrNull(ctx, reference))?.Id ?? null });
    return { loaded, images };
  },
});

export const imageOperations = [listImages, inspectImage, imageHistory, removeImage, tagImage, pruneImages, saveImages, loadImages] as const;
