/**
 * Result shapes shared by every prune (prune_containers, prune_images,
 * prune_networks, prune_volumes, system_prune) and every destructive
 * operation's dry run. These are the connector's own shapes (see
 * ../prune.ts, which produces them), so they are closed objects
 * (z.strictObject); a family composes its result from these pieces.
 */
import * as z from 'zod';

/** `dry_run` as echoed in a destructive operation's result. */
export const dryRunFlag = z.boolean().describe('True for a dry run: nothing was changed, the result says what the real call would do');

/** Bytes freed, as the Engine reports them (an estimate for a dry run where the operation says so). */
export const spaceReclaimed = z.number().int().min(0).describe('Bytes freed');

/** Bytes freed, or null where a dry run cannot know them. */
export const spaceReclaimedOrNull = z.number().int().min(0).nullable().describe('Bytes freed; null for a dry run (the Engine alone can tell)');

/** An object named by id, whose name may be unknown (containers, images in system_prune, build cache records). */
export const prunedObject = z.strictObject({
  id: z.string().describe('Full id'),
  name: z.string().nullable().describe('Its name (a container name without the leading "/", an image\'s first tag, a build cache record\'s description); null when it has none or it is not known'),
});
export type PrunedObject = z.output<typeof prunedObject>;

/** A container removed (or that a dry run would remove). */
export const prunedContainer = prunedObject;

/** An image removed by prune_images: its id and the tags it carried. */
export const prunedImage = z.strictObject({
  id: z.string().describe('Image id (sha256:…)'),
  tags: z.array(z.string()).describe('Its repo:tag references that went with it (empty for a dangling image)'),
});

/** A network removed: the Engine's prune answers with names, so the id is null when it was not known beforehand. */
export const prunedNetwork = z.strictObject({
  id: z.string().nullable().describe('Network id; null when the Engine removed a network the connector had not listed'),
  name: z.string().describe('Network name'),
});

/** A volume removed (volumes have names only). */
export const prunedVolume = z.strictObject({
  name: z.string().describe('Volume name'),
});

/** A build cache record removed. */
export const prunedBuildCache = prunedObject;

/** The plan a dry run made (src/plans.ts): present on every destructive operation's dry run. */
export const planIdField = z
  .string()
  .optional()
  .describe('Dry run only: the plan of what it names; give it as plan_id to the real call (same other parameters, within 10 minutes) to act on exactly these items');

/** A planned item a plan-bound call left alone. */
export const skippedItem = z.strictObject({
  what: z.string().describe('Its kind: "container", "image", "network", "volume", "build_cache", …'),
  id: z.string().describe('Its id as planned (a volume\'s name)'),
  name: z.string().nullable().describe('Its name as planned; null when it had none'),
  reason: z.string().describe('Why it was left alone: gone, re-created under the same name, or no longer matching'),
});

/** `skipped` of a plan-bound call. */
export const skippedItems = z
  .array(skippedItem)
  .optional()
  .describe('Plan-bound calls (plan_id) only: planned items left alone because they are gone, changed identity or no longer match');

/** The fields plans add to a destructive operation's result. */
export const planFields = { plan_id: planIdField, skipped: skippedItems } as const;

/** The list of what went (or would go, for a dry run). */
export function deletedList<T extends z.ZodType>(item: T) {
  return z.array(item).describe('What was removed; for a dry run, what the real call would remove');
}

/** `{deleted, space_reclaimed, dry_run}`: the report of a prune whose Engine endpoint reports the space freed. */
export function pruneReport<T extends z.ZodType, S extends z.ZodType>(item: T, space: S) {
  return z.strictObject({
    deleted: deletedList(item),
    space_reclaimed: space,
    dry_run: dryRunFlag,
    ...planFields,
  });
}

/** `{deleted, dry_run}`: the report of a prune or removal that frees no space it can count (networks, remove_volume, remove_network). */
export function removalReport<T extends z.ZodType>(item: T) {
  return z.strictObject({
    deleted: deletedList(item),
    dry_run: dryRunFlag,
    ...planFields,
  });
}

/** A part of a combined prune left out, and why (system_prune). */
export const skippedPart = z.strictObject({
  what: z.string().describe('The kind of object left out: "volumes", "build_cache"'),
  reason: z.string().describe('Why it was left out'),
});
