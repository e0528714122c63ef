/**
 * What the hunts ask one Engine: which of its images a reference or digest
 * names, its containers, and the processes of one of them.
 */
import { ConnectorError } from '../../errors.js';
import { enginePath, normalizeFilters } from '../../engine/path.js';
import type { OperationContext } from '../define.js';
import { BARE_DIGEST, imageHasDigest } from './hunt-match.js';
import { inspectImageOrNull, realRefs } from './image-refs.js';

/** An image a hunt found: its id and references ("<none>" placeholders dropped). */
export interface FoundImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

/** The fields of a GET /containers/json entry the hunts read. */
export interface HuntedContainer {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  ImageID?: string;
  State?: string;
  Labels?: Record<string, string> | null;
  Ports?: { PublicPort?: number | null }[] | null;
}

interface ListedImage {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
}

const found = (i: ListedImage): FoundImage => ({ id: i.Id, repoTags: realRefs(i.RepoTags), repoDigests: realRefs(i.RepoDigests) });

/**
 * The images on this Engine that `image` names, resolved the way the Engine
 * resolves it: a name, name:tag, name@digest, id or short id goes to
 * GET /images/{ref}/json (the Engine adds docker.io/library/ and looks ids
 * up by prefix); a bare "sha256:<64 hex>" is either an image id or a
 * manifest digest, so every image (GET /images/json?all=true) whose id is it
 * or whose RepoDigests hold it is taken. None found is an empty list.
 */
export async function resolveImages(ctx: OperationContext, image: string): Promise<FoundImage[]> {
  if (BARE_DIGEST.test(image)) {
    const listed = (await ctx.json<ListedImage[] | null>({ method: 'GET', path: '/images/json', query: { all: true, digests: true } })).body ?? [];
    return listed.filter((i) => imageHasDigest(i, image)).map(found);
  }
  const inspected = await inspectImageOrNull(ctx, image);
  return inspected ? [found(inspected)] : [];
}

/** Every container (all states) the Engine-side filters let through. */
export async function listContainers(ctx: OperationContext, filters: Record<string, string[] | undefined>): Promise<HuntedContainer[]> {
  const res = await ctx.json<HuntedContainer[] | null>({ method: 'GET', path: '/containers/json', query: { all: true, filters: normalizeFilters(filters) } });
  return res.body ?? [];
}

/** Errors of `top` that mean the container stopped or went away after it was listed. */
const GONE = /not running|is restarting|no such container|is paused/i;

/**
 * GET /containers/{id}/top with the Engine's default `ps` columns; null when
 * the container stopped, restarted or was removed since it was listed (a
 * hunt skips it: it no longer runs anything).
 */
export async function topOrNull(ctx: OperationContext, id: string): Promise<{ titles: string[]; processes: string[][] } | null> {
  try {
    const res = await ctx.json<{ Titles?: string[] | null; Processes?: string[][] | null }>({ method: 'GET', path: enginePath`/containers/${id}/top` });
    return { titles: res.body?.Titles ?? [], processes: res.body?.Processes ?? [] };
  } catch (err) {
    if (err instanceof ConnectorError && (err.code === 'NOT_FOUND' || err.code === 'CONFLICT' || (err.code === 'ENGINE_ERROR' && GONE.test(err.message)))) return null;
    throw err;
  }
}
