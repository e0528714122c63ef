import { redact } from '../config/redact.js';
import type { ConnectorError, ErrorCode } from '../errors.js';

/** Failures of the Engine or of the path to it: the service is a gateway, so 502. */
const GATEWAY_CODES = new Set<ErrorCode>(['ENGINE_ERROR', 'UNAVAILABLE', 'CONNECTION_FAILED', 'TLS_ERROR', 'STREAM_ERROR', 'API_VERSION_UNSUPPORTED', 'UNSUPPORTED']);

/**
 * True when the error is the Engine's (or its proxy's) answer rather than
 * the service's own decision: such errors carry the Engine's HTTP status.
 */
export function fromEngine(err: ConnectorError): boolean {
  return err.status !== undefined;
}

const explicit = new WeakMap<ConnectorError, number>();

/** Gives an error a status of its own where the code's usual one does not fit (406 Not Acceptable). */
export function withHttpStatus(err: ConnectorError, status: number): ConnectorError {
  explicit.set(err, status);
  return err;
}

/**
 * The HTTP status the service answers with for an error.
 *
 * UNAUTHORIZED and FORBIDDEN mean "your key" / "the server's policy" only
 * when the service itself decided. When the Engine or a proxy in front of it
 * refused the *connector* (Engine answered 401/403), the caller's key is
 * fine and nothing the caller can change fixes it: 502, with the code kept
 * (UNAUTHORIZED / FORBIDDEN) and the Engine's status in `engine_status`.
 */
export function httpStatusFor(err: ConnectorError): number {
  const chosen = explicit.get(err);
  if (chosen !== undefined) return chosen;
  switch (err.code) {
    case 'INVALID_PARAMS':
      return 400;
    case 'UNAUTHORIZED':
      return fromEngine(err) ? 502 : 401;
    case 'FORBIDDEN':
      return fromEngine(err) ? 502 : 403;
    case 'NOT_FOUND':
    case 'UNKNOWN_OPERATION':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'RATE_LIMITED':
      return 429;
    case 'TIMEOUT':
      return 504;
    case 'INVALID_CONFIG':
    case 'INTERNAL_ERROR':
      return 500;
    default:
      return GATEWAY_CODES.has(err.code) ? 502 : 500;
  }
}

/**
 * `{"error": {code, status, message, operation, …}}`: `status` is the HTTP
 * status of this response; `engine_status` the Engine's (or its proxy's)
 * when it answered one.
 */
export function errorBody(err: ConnectorError, status: number = httpStatusFor(err)): { error: Record<string, unknown> } {
  const e: Record<string, unknown> = { code: err.code, status, message: err.message, operation: err.operation ?? null };
  if (err.endpoint !== undefined) e.endpoint = err.endpoint;
  if (err.status !== undefined) e.engine_status = err.status;
  e.retryable = err.retryable;
  if (err.outcomeUnknown) e.outcome_unknown = true;
  if (err.details) e.details = redact(err.details);
  return { error: e };
}
