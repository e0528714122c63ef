import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConnectorError } from '../errors.js';
import type { EngineClient } from './client.js';
import { locationOf, mapHttpError, tlsErrorMessage } from './error-map.js';

/**
 * An upgraded ("hijacked") connection to the Engine: after the request the
 * socket carries the process's stdin one way and its output the other. Used
 * by exec with stdin; the pooled client cannot do this (node:http hands an
 * upgraded socket out of the pool, through the 'upgrade' event only).
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

export interface UpgradeRequest {
  /** The full path, version prefix included (`/v1.51/exec/…/start`). */
  path: string;
  body: unknown;
  /** Until the 101 answer arrives. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  operation?: string;
  apiVersion?: string;
}

const ERROR_BODY_CAP = 64 * 1024;

export function upgradeRequest(engine: EngineClient, req: UpgradeRequest): Promise<UpgradedConnection> {
  const ep = engine.endpoint;
  const payload = Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = {
    host: ep.kind === 'unix' ? 'docker' : `${ep.hostname}:${ep.port}`,
    'content-type': 'application/json',
    'content-length': String(payload.length),
    connection: 'Upgrade',
    upgrade: 'tcp',
  };
  if (engine.authHeader) headers['authorization'] = engine.authHeader;

  const useTls = ep.kind === 'tcp' && ep.tls;
  const options: https.RequestOptions = {
    agent: false, // a dedicated socket: it leaves HTTP after the 101
    method: 'POST',
    path: req.path,
    headers,
    ...(ep.kind === 'unix' ? { socketPath: ep.socketPath } : { host: ep.hostname, port: ep.port }),
  };
  if (useTls) Object.assign(options, engine.tlsOptions);

  return new Promise((resolve, reject) => {
    let settled = false;
    let sent = false;
    const request = (useTls ? https : http).request(options);
    const finish = (err: ConnectorError | undefined, value?: UpgradedConnection) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      if (err) {
        request.destroy();
        reject(err);
      } else resolve(value!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new ConnectorError('TIMEOUT', `The Engine at ${ep.address} did not answer within ${req.timeoutMs / 1000}s${sent ? '; the request was sent, so its outcome is unknown' : ''}`, {
            operation: req.operation,
            outcomeUnknown: sent,
          }),
        ),
      req.timeoutMs,
    );
    timer.unref?.();
    const onAbort = () => finish(new ConnectorError('TIMEOUT', 'The call was cancelled', { operation: req.operation, outcomeUnknown: sent }));
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });

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
        const body = engine.scrub(Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_CAP));
        finish(
          status >= 200 && status < 300
            ? new ConnectorError('ENGINE_ERROR', `The Engine answered ${status} instead of upgrading the connection (a proxy in front of it may not pass upgrades)`, { status, operation: req.operation })
            : mapHttpError(status, body, res.headers['content-type'], { operation: req.operation, apiVersion: req.apiVersion, location: locationOf(res.headers, engine) }),
        );
      });
      res.on('error', () => finish(new ConnectorError('CONNECTION_FAILED', `Connection to the Docker Engine at ${ep.address} was lost`, { operation: req.operation })));
    });
    request.on('error', (raw: NodeJS.ErrnoException) => {
      const tlsMessage = tlsErrorMessage(raw, ep.address);
      if (tlsMessage) return finish(new ConnectorError('TLS_ERROR', engine.scrub(tlsMessage), { operation: req.operation }));
      const unknown = sent ? '; the request was sent, so its outcome is unknown' : '';
      finish(
        new ConnectorError('CONNECTION_FAILED', engine.scrub(`Cannot reach the Docker Engine at ${ep.address}: ${raw.code ?? raw.message}${unknown}`), {
          operation: req.operation,
          outcomeUnknown: sent,
        }),
      );
    });
    request.end(payload);
  });
}
