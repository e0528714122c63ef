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
  'STREAM_ERROR',
  'RATE_LIMITED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ConnectorErrorOptions {
  /** HTTP status the Engine (or a proxy in front of it) answered, if any. */
  status?: number;
  operation?: string;
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
  readonly retryable: boolean;
  readonly outcomeUnknown: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.status = options.status;
    this.operation = options.operation;
    this.retryable = options.retryable ?? false;
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, status: this.status ?? null, message: this.message };
    if (this.operation) out.operation = this.operation;
    out.retryable = this.retryable;
    if (this.outcomeUnknown) out.outcome_unknown = true;
    if (this.details) out.details = this.details;
    return out;
  }
}

export function isConnectorError(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError;
}

/** Turns anything thrown into a ConnectorError without leaking a stack trace to users. */
export function toConnectorError(err: unknown, operation?: string): ConnectorError {
  if (err instanceof ConnectorError) {
    if (operation && !err.operation) err.operation = operation;
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectorError('ENGINE_ERROR', message, { operation, cause: err });
}
