/**
 * The one error type every layer raises. `code` is the stable contract that
 * playbooks branch on; `message` is for people.
 */
export const ERROR_CODES = [
  'INVALID_PARAMS',
  'INVALID_CONFIG',
  'UNKNOWN_OPERATION',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'ENGINE_ERROR',
  'UNAVAILABLE',
  'TIMEOUT',
  'CONNECTION_FAILED',
  'TLS_ERROR',
  'API_VERSION_UNSUPPORTED',
  'UNSUPPORTED',
  'STREAM_ERROR',
  'RATE_LIMITED',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ConnectorErrorOptions {
  /** HTTP status the Engine (or a proxy in front of it) answered, if any. */
  status?: number;
  operation?: string;
  /** The named endpoint (config file `endpoints`) the error came from, when the connector has several. */
  endpoint?: string;
  /** True when sending the same request again may succeed and cannot do harm. */
  retryable?: boolean;
  /** Set when a write may or may not have taken effect (timeout or reset after sending). */
  outcomeUnknown?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  operation: string | undefined;
  /** The named endpoint the error came from (set by the connector when it routes a call to one). */
  endpoint: string | undefined;
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.status = options.status;
    this.operation = options.operation;
    this.endpoint = options.endpoint;
    this.retryable = options.retryable ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, status: this.status ?? null, message: this.message };
    if (this.operation) out.operation = this.operation;
    if (this.endpoint) out.endpoint = this.endpoint;
    out.retryable = this.retryable;
    if (this.outcomeUnknown) out.outcome_unknown = true;
    if (this.details) out.details = this.details;
    return out;
  }
}

export function isConnectorError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError;
}

/**
 * True for the errors JavaScript raises on a fault in code (a call of
 * something that is not a function, a missing variable, …): a bug of the
 * connector or of how it was built, never the caller's mistake nor the
 * Engine's answer.
 */
export function isProgrammingFault(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof RangeError || err instanceof EvalError || err instanceof URIError) return true;
  // A part of the package that cannot be loaded (a missing or broken chunk) is the installation's fault, not the Engine's.
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_REQUIRE_ESM' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
}

/** A fault in the connector itself, as the error every surface reports (HTTP 500, CLI exit 1, MCP tool error). */
export function internalError(err: unknown, operation?: string): ConnectorError {
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectorError('INTERNAL_ERROR', `Internal error in the connector: ${message}`, { operation, cause: err });
}

/** Turns anything thrown into a ConnectorError without leaking a stack trace to users. */
export function toConnectorError(err: unknown, operation?: string): ConnectorError {
  if (err instanceof ConnectorError) {
    if (operation && !err.operation) err.operation = operation;
    return err;
  }
  if (isProgrammingFault(err)) return internalError(err, operation);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectorError('ENGINE_ERROR', message, { operation, cause: err });
}

/**
 * A request body the connector streams to the Engine (a build context, a
 * copy's tar) failed while being read. A file of the caller's that cannot be
 * read is the caller's to fix; a fault in the code that produces the body is
 * not; an error already classified keeps its code.
 */
export function bodyReadError(err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  if (isProgrammingFault(err)) return internalError(err);
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectorError('INVALID_PARAMS', `Reading the request body failed: ${message}`, { cause: err });
}
