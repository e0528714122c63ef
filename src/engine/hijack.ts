import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable, type Duplex } from 'node:stream';
import { ConnectorError } from '../errors.js';
import type { Dialer } from './connect.js';
import { locationOf, mapHttpError, tlsErrorMessage } from './error-map.js';

/**
 * An upgraded ("hijacked") connection to the Engine: after the request the
 * socket carries the process's stdin one way and its output the other. Used
 * by exec with stdin; the pooled client cannot do this (node:http hands an
 * upgraded socket out of the pool, through the 'upgrade' event only), so each
 * upgrade dials a connection of its own. Callers go through
 * EngineClient.upgrade (rate limit, version prefix, request log).
 *
 * The request asks for `Connection: Upgrade` / `Upgrade: tcp`; the Engine
 * answers `101 UPGRADED` and from then on the socket is raw. Any other
 * status is an ordinary error answer.
 */
export interface UpgradedConnection {
  socket: Duplex;
  /** Bytes of the stream that arrived with the 101 answer. */
  head: Buffer;
  headers: IncomingHttpHeaders;
}

export interface UpgradeAttempt {
  method: string;
  /** The full path, version prefix and query included (`/v1.51/exec/…/start`). */
  path: string;
  /** Host, authorization and content headers; the upgrade headers are added here. */
  headers: Record<string, string>;
  payload: Buffer | Readable | undefined;
  /** Until the 101 answer arrives. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  operation?: string | undefined;
  apiVersion?: string | undefined;
  /** Removes configured secrets from text that came from outside. */
  scrub(text: string): string;
}

const ERROR_BODY_CAP = 64 * 1024;

/** Sends one upgrade request on a connection of its own and resolves with the raw socket once the Engine answered 101. */
export function openUpgraded(dialer: Dialer, req: UpgradeAttempt): Promise<UpgradedConnection> {
  const address = dialer.description.address;
  const headers = { ...req.headers, connection: 'Upgrade', upgrade: 'tcp' };
  return new Promise((resolve, reject) => {
    let settled = false;
    let sent = false;
    const finish = (err: ConnectorError | undefined, value?: UpgradedConnection) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) {
        request?.destroy();
        reject(err);
      } else resolve(value!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new ConnectorError('TIMEOUT', `The Engine at ${address} did not answer within ${req.timeoutMs / 1000}s${sent ? '; the request was sent, so its outcome is unknown' : ''}`, {
            operation: req.operation,
            outcomeUnknown: sent,
          }),
        ),
      req.timeoutMs,
    );
    timer.unref?.();
    const onAbort = () => finish(new ConnectorError('TIMEOUT', 'The call was cancelled', { operation: req.operation, outcomeUnknown: sent }));
    let request: http.ClientRequest | undefined;
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });

    // No agent: a dedicated connection, which leaves HTTP after the 101. The dialer's default socket
    // options are those of node's one-off agent (no-delay on).
    request = http.request({ method: req.method, path: req.path, headers, createConnection: () => dialer.dial({ noDelay: true }) });
    request.on('finish', () => (sent = true));
    request.on('upgrade', (res, socket, head) => {
      if (settled) return socket.destroy();
      finish(undefined, { socket, head, headers: res.headers });
    });
    request.on('response', (res) => {
      // Not upgraded: an error answer (404 no such exec, 409 not running) or a proxy refusing.
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < ERROR_BODY_CAP) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const body = req.scrub(Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_CAP));
        finish(
          status >= 200 && status < 300
            ? new ConnectorError('ENGINE_ERROR', `The Engine answered ${status} instead of upgrading the connection (a proxy in front of it may not pass upgrades)`, { status, operation: req.operation })
            : mapHttpError(status, body, res.headers['content-type'], { operation: req.operation, apiVersion: req.apiVersion, location: locationOf(res.headers, req) }),
        );
      });
      res.on('error', () => finish(new ConnectorError('CONNECTION_FAILED', `Connection to the Docker Engine at ${address} was lost`, { operation: req.operation })));
    });
    request.on('error', (raw: NodeJS.ErrnoException) => {
      const tlsMessage = tlsErrorMessage(raw, address);
      if (tlsMessage) return finish(new ConnectorError('TLS_ERROR', req.scrub(tlsMessage), { operation: req.operation }));
      const unknown = sent ? '; the request was sent, so its outcome is unknown' : '';
      finish(
        new ConnectorError('CONNECTION_FAILED', req.scrub(`Cannot reach the Docker Engine at ${address}: ${raw.code ?? raw.message}${unknown}`), {
          operation: req.operation,
          outcomeUnknown: sent,
        }),
      );
    });
    if (req.payload instanceof Readable) req.payload.pipe(request);
    else request.end(req.payload);
  });
}
