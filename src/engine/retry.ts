/**
 * When a failed attempt may be sent again, and how long to wait first.
 *
 * The rule: a request that never reached the Engine may always be retried;
 * one that may have reached it is retried only when the operation is
 * declared safe to repeat. A non-repeatable write is never sent twice.
 */

/** Socket errors raised before a connection existed: the Engine saw nothing. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOENT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Errors after the request may have been written. */
const MAYBE_SENT = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

export type FailureKind = 'not-connected' | 'maybe-sent' | 'other';

export function classifySocketError(code: string | undefined, connected: boolean): FailureKind {
  if (code && NOT_CONNECTED.has(code)) return 'not-connected';
  if (!connected && code && MAYBE_SENT.has(code)) return 'not-connected';
  if (code && MAYBE_SENT.has(code)) return 'maybe-sent';
  return 'other';
}

/** Statuses that say "try later" without the Engine having acted (or where a repeat is harmless). */
export const RETRY_STATUSES = new Set([502, 503, 504]);

/**
 * A 503 that states a lasting fact rather than a passing one: the Engine is not a swarm manager,
 * or (Podman) does not offer the endpoint. Sending it again only makes the caller wait.
 */
const LASTING_503 = /not a swarm manager|not part of a swarm|does not support/i;

/** The status is worth another attempt, given what the Engine said. */
export function retryableStatus(status: number, message: string): boolean {
  return RETRY_STATUSES.has(status) && !(status === 503 && LASTING_503.test(message));
}

export function shouldRetry(kind: FailureKind | 'status', idempotent: boolean): boolean {
  if (kind === 'not-connected') return true;
  if (kind === 'maybe-sent' || kind === 'status') return idempotent;
  return false;
}

/**
 * Exponential backoff with "equal jitter": half the delay fixed, half random,
 * so retries from many callers spread out but never collapse to zero.
 * `attempt` is 1 for the first retry.
 */
export function backoffDelay(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  const exp = baseSeconds * 1000 * 2 ** (attempt - 1);
  const capped = Math.min(exp, 30_000);
  return capped / 2 + random() * (capped / 2);
}
