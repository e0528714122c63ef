/**
 * What the Engine client reports as it works, for whoever counts it (the
 * service's /metrics). The engine layer knows nothing of metrics libraries:
 * a surface sets an observer on a connector and receives these events.
 * Events carry names and codes only, never parameter values, paths or secrets.
 * Without an observer the client builds no event at all.
 */
export interface EngineObserver {
  /** One HTTP request to the Engine finished, whatever its outcome (each retry is its own request). */
  request?(event: EngineRequestEvent): void;
  /** A request is about to be sent again. */
  retry?(event: EngineRetryEvent): void;
  /** A request waited for the Engine rate limiter before going out, or was refused because the wait was too long. */
  rateLimitWait?(event: EngineRateLimitEvent): void;
}

export interface EngineRequestEvent {
  /** The connector's name for the Engine ("default" without named endpoints). */
  endpoint: string;
  /** The operation that sent it; undefined for the client's own requests outside one (version negotiation from a bare client). */
  operation: string | undefined;
  method: string;
  /** The Engine's HTTP status (101 for an upgraded connection); undefined when no answer came (connection failure, timeout). */
  status: number | undefined;
  /** The error code the request failed with; undefined on success. */
  code: string | undefined;
  /** Until the answer's status line (a stream's body is still to come), or until the failure. */
  durationMs: number;
}

export interface EngineRetryEvent {
  endpoint: string;
  operation: string | undefined;
  /** The error code of the failed attempt that is retried (CONNECTION_FAILED, UNAVAILABLE, …). */
  code: string;
  /** The Engine's HTTP status of that attempt, when it answered one (502/503/504). */
  status: number | undefined;
}

export interface EngineRateLimitEvent {
  endpoint: string;
  operation: string | undefined;
  /** How long the request waited; for a refusal, how long it would have had to wait. */
  waitMs: number;
  /** The wait would have outlasted the request's timeout: the call failed with RATE_LIMITED instead. */
  refused: boolean;
}
