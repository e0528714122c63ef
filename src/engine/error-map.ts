import type { IncomingHttpHeaders } from 'node:http';
import { ConnectorError, type ErrorCode } from '../errors.js';

const BODY_CAP = 1000;

/** The Engine's own message from an error body; a non-JSON body (a proxy's HTML) is kept, capped. */
export function engineMessage(body: string, contentType: string | undefined): string {
  const text = body.trim();
  if (text.startsWith('{') || contentType?.includes('json')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // fall through: report the raw text
    }
  }
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > BODY_CAP ? `${flat.slice(0, BODY_CAP)}… (${flat.length} characters, truncated)` : flat;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_PARAMS',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  429: 'RATE_LIMITED',
  500: 'ENGINE_ERROR',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'TIMEOUT',
};

export interface HttpErrorContext {
  operation?: string;
  apiVersion?: string;
  retryable?: boolean;
  /** The answer's Location header (redirects). */
  location?: string;
  /** "METHOD /path" of the request (no query: it may carry values), to name what the Engine lacks. */
  route?: string;
}

/**
 * The Engine's router has no such route: a Docker Engine answers
 * `{"message":"page not found"}`, Podman's compatible API a plain "Not Found"
 * or "Path /v1.41/… is not supported". A missing object always names itself
 * ("No such container: x"), so these bodies mean the Engine lacks the
 * endpoint, not the object.
 */
const NO_ROUTE = /^(404 )?(page )?not found$|^Path \S+ is not supported$/i;

/** A redirect's Location header, scrubbed (a proxy may echo credentials into it); undefined when absent. */
export function locationOf(headers: IncomingHttpHeaders, client: { scrub(text: string): string }): string | undefined {
  const location = headers['location'];
  return typeof location === 'string' ? client.scrub(location) : undefined;
}

export function mapHttpError(status: number, body: string, contentType: string | undefined, ctx: HttpErrorContext): ConnectorError {
  const message = engineMessage(body, contentType);
  const base = { status, operation: ctx.operation, retryable: ctx.retryable ?? false, details: { engine_message: message } };

  const versionMatch = /client version (\S+) is too (old|new)/i.exec(message);
  if (status === 400 && versionMatch) {
    const limit = /(Minimum|Maximum) supported API version is (\S+?)[,.]?(\s|$)/i.exec(message);
    const engineSide = limit ? `the Engine's ${limit[1]!.toLowerCase()} is ${limit[2]}` : 'the Engine refused it';
    return new ConnectorError(
      'API_VERSION_UNSUPPORTED',
      `API version ${versionMatch[1]} is too ${versionMatch[2]} for this Engine (${engineSide}): ${message}`,
      { ...base, details: { ...base.details, client_version: versionMatch[1], engine_limit: limit?.[2] } },
    );
  }
  if (status === 400 && /HTTP request to an HTTPS server/i.test(message)) {
    return new ConnectorError('TLS_ERROR', `The Engine endpoint speaks TLS but the connector used plain HTTP: is this a TLS endpoint? Use https:// or set TLS certificates (${message})`, base);
  }
  if ((status === 400 || status === 500) && /multiple IDs found with provided prefix|is ambiguous \(\d+ matches found/i.test(message)) {
    // A well-formed short id that more than one object starts with (28 answers 400, 20.10 500): the
    // Engine's state, not a malformed parameter (no schema can tell in advance), so CONFLICT, saying what to do.
    return new ConnectorError('CONFLICT', `The reference matches more than one object; give more of the id, or the name: ${message}`, base);
  }
  if (status === 404 && NO_ROUTE.test(message)) {
    const what = ctx.operation ? `${ctx.operation}: the Engine` : 'The Engine';
    return new ConnectorError(
      'UNSUPPORTED',
      `${what} does not support this (it has no ${ctx.route ?? 'such'} endpoint and answered 404 ${message}); Engines with a partial Docker API, such as Podman, lack some operations`,
      { ...base, details: { ...base.details, ...(ctx.route ? { route: ctx.route } : {}) } },
    );
  }
  if (status >= 300 && status < 400) {
    // The connector follows no redirect (a request sent elsewhere is not the one that was asked for),
    // and a redirect is the Engine's (or a proxy's) answer to the path it was sent, not a mistake in
    // the caller's parameters: e.g. the Engine answers 301 to /containers/%2Fname/json.
    const where = ctx.location ? ` to ${ctx.location}` : ' with no Location';
    return new ConnectorError('ENGINE_ERROR', `Engine answered HTTP ${status} (redirect${where}), which the connector does not follow${message ? `: ${message}` : ''}`, {
      ...base,
      details: { ...base.details, ...(ctx.location !== undefined ? { location: ctx.location } : {}) },
    });
  }
  const code: ErrorCode = STATUS_CODES[status] ?? (status >= 500 ? 'ENGINE_ERROR' : 'INVALID_PARAMS');
  const prefix =
    status === 401
      ? 'Authentication failed (HTTP 401)'
      : status === 403
        ? 'Access denied (HTTP 403)'
        : `Engine answered HTTP ${status}`;
  return new ConnectorError(code, message ? `${prefix}: ${message}` : prefix, base);
}

const TLS_UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/** Human messages for TLS failures; undefined when the error is not about TLS. */
export function tlsErrorMessage(err: NodeJS.ErrnoException & { reason?: string; host?: string; cert?: { subjectaltname?: string; subject?: { CN?: string } } }, address: string): string | undefined {
  const code = err.code ?? '';
  const msg = err.message ?? '';
  if (TLS_UNKNOWN_CA.has(code)) {
    return `TLS: certificate signed by unknown authority (${code}) at ${address}; set ca_cert to the CA that signed the Engine's certificate, or verify_ssl=false to skip verification`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert?.subjectaltname ?? err.cert?.subject?.CN ?? 'other names';
    return `TLS: hostname mismatch (certificate is for ${names}) at ${address}; connect by one of those names or set tls_server_name`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `TLS: the Engine's certificate is not valid now (${code}) at ${address}`;
  }
  if (/CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA|ALERT_HANDSHAKE_FAILURE|ALERT_CERTIFICATE_UNKNOWN/i.test(code + msg)) {
    return `TLS: the server requires a client certificate it trusts (${code || msg}) at ${address}; set client_cert and client_key to a certificate signed by the Engine's CA`;
  }
  if (/WRONG_VERSION_NUMBER|packet length too long|unknown protocol|HTTP_REQUEST/i.test(code + msg)) {
    return `TLS: the endpoint at ${address} did not answer with TLS: is this a TLS endpoint? Use http:// or tcp:// without certificates for a plain endpoint`;
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO' || /SSL|TLS/.test(msg)) {
    return `TLS: handshake with ${address} failed (${code || msg})`;
  }
  return undefined;
}
