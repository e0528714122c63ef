/**
 * What the destructive operations share for plan-bound calls: the
 * `plan_id` parameter and the identity checks of a single-object removal.
 * The connector makes, stores and checks plans (src/plans.ts); an operation
 * only says which items its dry run named and how to act on exactly those.
 */
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import type { PlanItem, SkippedItem } from '../define.js';

/** How long a plan holds: what a dry run showed may no longer be true later. */
export const PLAN_TTL_MS = 10 * 60 * 1000;

/** A plan id: 128 random bits, then 128 bits of the plan's SHA-256 (so a stored plan cannot be altered unseen), both base64url. */
export const PLAN_ID_PATTERN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/;

export const planIdParam = z
  .string()
  .regex(PLAN_ID_PATTERN, 'expected the plan_id a dry run of this operation returned')
  .optional()
  .describe(
    'The plan_id a dry run returned (same other parameters, within 10 minutes): act only on what that dry run named; planned objects gone, re-created or no longer matching are skipped, objects that appeared since are left alone',
  );

export function skip(item: PlanItem, reason: string): SkippedItem {
  return { what: item.what, id: item.id, name: item.name, reason };
}

export const GONE = 'it no longer exists';

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/**
 * Whether a reference still names the planned object: undefined when it
 * does, else why the object is skipped. `current` resolves the reference to
 * an id now (NOT_FOUND when nothing has that name).
 */
export async function identityChanged(item: PlanItem, current: () => Promise<string>): Promise<string | undefined> {
  let id: string;
  try {
    id = await current();
  } catch (err) {
    if (err instanceof ConnectorError && err.code === 'NOT_FOUND') return GONE;
    throw err;
  }
  return id === item.id ? undefined : `${item.name ?? short(item.id)} now names another object (${short(id)}), not the planned ${short(item.id)}`;
}

/** A single removal's plan item, or none when the dry run found nothing to remove. */
export function singleItem(what: string, id: string | null | undefined, name: string | null | undefined, pin?: string): PlanItem[] {
  if (!id) return [];
  return [{ what, id, name: name ?? null, ...(pin ? { pin } : {}) }];
}
