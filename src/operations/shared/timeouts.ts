import type { OperationContext } from '../define.js';

/**
 * Calls that walk many objects or move much data (prunes, commit, build,
 * load) take a while on a busy Engine: they get the configured timeout, but
 * never less than this many seconds.
 */
export const SLOW_CALL_SECONDS = 300;

/** The timeout (ms) of a slow call: the configured one, at least `floorSeconds`. */
export function slowCallTimeoutMs(ctx: OperationContext, floorSeconds: number = SLOW_CALL_SECONDS): number {
  return Math.max(ctx.config.timeout, floorSeconds) * 1000;
}
