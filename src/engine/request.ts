import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { QueryValue } from './path.js';

/** What a call to the Engine says: the request types of EngineClient, and building a request's headers and payload. */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

export interface EngineRequest {
  method: HttpMethod;
  /** Path without the version prefix, built with enginePath`…`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** A plain value is sent as JSON; a Buffer or Readable as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send again after it may have reached the Engine. Defaults to true for GET/HEAD. */
  idempotent?: boolean;
  /** Total time for a plain call (ms). Defaults to the configured timeout. */
  timeoutMs?: number;
  /** For streams: the longest silence tolerated (ms). Defaults to the configured timeout. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  operation?: string;
  /** Non-2xx statuses that are answers, not errors (e.g. 304 "already started"). */
  okStatuses?: number[];
  /** Unversioned paths (/_ping) skip the /v1.xx prefix. */
  versioned?: boolean;
  /** The caller reads nothing of a success answer: its body is not parsed (whatever an Engine puts there). */
  ignoreBody?: boolean;
}

/**
 * A request whose answer upgrades the connection to a raw stream both ways
 * (exec with stdin: POST /exec/{id}/start). Never retried. `timeoutMs` runs
 * until the Engine's 101 answer (default: the configured timeout); what
 * follows is the caller's to time.
 */
export type EngineUpgradeRequest = Omit<EngineRequest, 'method' | 'idempotent' | 'idleTimeoutMs' | 'okStatuses'> & { method?: 'POST' };

export interface EngineResponse<T> {
  status: number;
  headers: IncomingHttpHeaders;
  body: T;
}

export interface PingInfo {
  apiVersion: string | undefined;
  osType: string | undefined;
  experimental: boolean;
  builderVersion: string | undefined;
  /** Podman's libpod API version (its Libpod-Api-Version header): set only when the Engine is Podman. */
  libpodVersion?: string;
}

/** The Engine's facts from a ping answer's headers. */
export function pingInfoOf(h: IncomingHttpHeaders): PingInfo {
  return {
    apiVersion: typeof h['api-version'] === 'string' ? h['api-version'] : undefined,
    osType: typeof h['ostype'] === 'string' ? h['ostype'] : undefined,
    experimental: h['docker-experimental'] === 'true',
    builderVersion: typeof h['builder-version'] === 'string' ? h['builder-version'] : undefined,
    ...(typeof h['libpod-api-version'] === 'string' ? { libpodVersion: h['libpod-api-version'] } : {}),
  };
}

/** Headers (Host, Authorization, content) and payload of a request; a plain body goes as JSON, a Buffer or Readable as is. */
export function prepareRequest(
  req: Pick<EngineRequest, 'method' | 'body' | 'headers'>,
  hostHeader: string,
  authHeader: string | undefined,
): { headers: Record<string, string>; payload: Buffer | Readable | undefined } {
  const headers: Record<string, string> = { host: hostHeader, ...req.headers };
  if (authHeader) headers['authorization'] = authHeader;
  let payload: Buffer | Readable | undefined;
  if (req.body instanceof Readable) {
    payload = req.body;
    headers['content-type'] ??= 'application/x-tar';
  } else if (Buffer.isBuffer(req.body)) {
    payload = req.body;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (req.body !== undefined) {
    payload = Buffer.from(JSON.stringify(req.body));
    headers['content-type'] = 'application/json';
  }
  if (Buffer.isBuffer(payload)) headers['content-length'] = String(payload.length);
  else if (!payload && (req.method === 'POST' || req.method === 'PUT')) headers['content-length'] = '0';
  return { headers, payload };
}
