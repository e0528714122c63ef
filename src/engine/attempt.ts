import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { bodyReadError, ConnectorError } from '../errors.js';
import { tlsErrorMessage } from './error-map.js';
import { bodyTooLarge } from './caps.js';
import { classifySocketError, shouldRetry } from './retry.js';
import type { BufferedAnswer, UndiciTransport } from './transport-undici.js';

/**
 * One attempt of an Engine request, on either transport: its deadline, the
 * sending, reading a whole answer, and what a failure means (timeout,
 * cancelled, TLS, lost connection, maybe sent or not).
 */

export class AttemptTimeout extends Error {
  constructor(
    readonly kind: 'total' | 'idle',
    readonly ms: number,
  ) {
    super(`${kind} timeout ${ms}ms`);
  }
}

/** A total or idle timer for one attempt. */
export class Deadline {
  fired = false;
  private timer: NodeJS.Timeout | undefined;
  private onFire: ((err: Error) => void) | undefined;

  constructor(
    readonly ms: number,
    readonly kind: 'total' | 'idle',
  ) {}

  start(onFire: (err: Error) => void): void {
    this.onFire = onFire;
    this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.onFire?.(new AttemptTimeout(this.kind, this.ms));
    }, this.ms);
    this.timer.unref?.();
  }

  /** From now on the timer fires `onFire`; for idle deadlines each chunk re-arms it. */
  watch(res: IncomingMessage, onFire: (err: Error) => void): void {
    this.onFire = onFire;
    if (this.kind !== 'idle') return;
    this.arm();
    // Watch the socket, not the body: a 'data' listener on the body would
    // switch it to flowing mode before its consumer is attached.
    const socket = res.socket;
    if (!socket) return;
    const refresh = () => {
      if (!this.fired && this.timer) this.timer.refresh();
    };
    socket.on('data', refresh);
    res.once('close', () => socket.off('data', refresh));
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Sends a request through node:http (the agent's pool) and resolves with the unread answer; the deadline and the signal cancel it. */
export function sendNode(
  agent: http.Agent,
  method: string,
  path: string,
  headers: Record<string, string>,
  payload: Buffer | Readable | undefined,
  deadline: Deadline,
  signal: AbortSignal | undefined,
  onConnected: () => void,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // `headers` carries Host; the agent's dialer decides where the connection goes.
    const request = http.request({ agent, method, path, headers });
    // The error listener comes first: destroy(err) below emits 'error', and an
    // 'error' with no listener would be thrown as an uncaught exception.
    request.on('error', reject);
    const fail = (err: unknown) => {
      request.destroy(err instanceof Error ? err : new Error(String(err)));
      reject(err);
    };
    deadline.start(fail);
    if (signal) {
      const onAbort = () => fail(signal.reason ?? new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      // A long-lived signal (a service's, a session's) must not collect one listener per call.
      request.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    request.on('socket', (socket) => {
      if (request.reusedSocket || !socket.connecting) onConnected();
      else socket.once('connect', onConnected);
    });
    request.on('response', (res) => resolve(res));
    if (payload instanceof Readable) {
      payload.on('error', (err) => fail(bodyReadError(err)));
      payload.pipe(request);
    } else {
      request.end(payload);
    }
  });
}

/** The same through undici, answer read whole; the deadline and the signal cancel it. */
export function sendUndici(
  undici: UndiciTransport,
  method: string,
  path: string,
  headers: Record<string, string>,
  payload: Buffer | undefined,
  deadline: Deadline,
  signal: AbortSignal | undefined,
  onConnected: () => void,
): Promise<BufferedAnswer> {
  const { answer, cancel } = undici.request(method, path, headers, payload, onConnected);
  const fail = (err: unknown) => cancel.cancel(err instanceof Error ? err : new Error(String(err)));
  deadline.start(fail);
  if (signal) {
    // (A signal aborted before the attempt never gets here: see withRetries.)
    const onAbort = () => fail(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    // A long-lived signal (a service's, a session's) must not collect one listener per call.
    return answer.finally(() => signal.removeEventListener('abort', onAbort));
  }
  return answer;
}

/**
 * Reads a whole (small) answer as text; the deadline keeps watching it. One function for every call, no closure per call.
 * An answer larger than `cap` fails with STREAM_ERROR: at once when its Content-Length says so, else as soon as it passes the cap.
 */
export function readText(res: { status: number; headers: IncomingHttpHeaders; message: IncomingMessage }, deadline: Deadline, cap: number): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const message = res.message;
    const declared = Number(res.headers['content-length']);
    if (declared > cap) {
      message.destroy();
      reject(bodyTooLarge(cap));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    deadline.watch(message, (err) => {
      message.destroy();
      reject(err);
    });
    message.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) {
        message.destroy();
        reject(bodyTooLarge(cap));
        return;
      }
      chunks.push(c);
    });
    message.on('end', () => {
      // Most answers arrive in one chunk: no copy then.
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      resolve({ status: res.status, headers: res.headers, body: text });
    });
    message.on('error', reject);
  });
}

/** At most `cap` bytes of an (error) answer, as text; the rest is dropped and the answer destroyed. */
export async function readCapped(res: IncomingMessage, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (size < cap) chunks.push(chunk.subarray(0, cap - size));
      size += chunk.length;
      if (size >= cap) break;
    }
  } catch {
    // A body cut short still says what it said so far.
  } finally {
    res.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface FailedAttempt {
  method: string;
  operation: string | undefined;
  signal: AbortSignal | undefined;
  /** Safe to send again. */
  idempotent: boolean;
  /** A connection was made: the Engine may have seen the request. */
  connected: boolean;
  deadline: Deadline;
}

/** What a failed attempt (no answer) means, as a ConnectorError; `address` names the endpoint, `scrub` removes secrets. */
export function mapFailure(raw: unknown, attempt: FailedAttempt, address: string, scrub: (text: string) => string): ConnectorError {
  const { operation, idempotent, connected, deadline } = attempt;
  const isWrite = !(attempt.method === 'GET' || attempt.method === 'HEAD');
  if (raw instanceof AttemptTimeout || deadline.fired) {
    const ms = deadline.ms;
    const what = deadline.kind === 'idle' ? `no data from the Engine for ${ms / 1000}s (idle timeout)` : `the Engine did not answer within ${ms / 1000}s`;
    const unknown = isWrite && connected;
    return new ConnectorError('TIMEOUT', `${what} at ${address}${unknown ? '; the request was sent, so its outcome is unknown' : ''}`, {
      operation,
      outcomeUnknown: unknown,
    });
  }
  if (attempt.signal?.aborted) {
    return new ConnectorError('TIMEOUT', `The call was cancelled${isWrite && connected ? '; the request was sent, so its outcome is unknown' : ''}`, {
      operation,
      outcomeUnknown: isWrite && connected,
    });
  }
  const err = raw as NodeJS.ErrnoException;
  const tlsMessage = tlsErrorMessage(err, address);
  if (tlsMessage) return new ConnectorError('TLS_ERROR', scrub(tlsMessage), { operation });
  if (typeof err.code === 'string' && err.code.startsWith('ERR_OSSL')) {
    // OpenSSL refused the configured files themselves (a key that is not a PEM key, an encrypted key…).
    return new ConnectorError(
      'TLS_ERROR',
      `TLS: the certificate or key files could not be used (${err.code}) for ${address}; ca_cert, client_cert and client_key must be PEM files, the key unencrypted`,
      { operation },
    );
  }
  // undici's connect timeout: no connection was made, so the Engine saw nothing.
  const kind = err.code === 'UND_ERR_CONNECT_TIMEOUT' ? 'not-connected' : classifySocketError(err.code, connected);
  const reason = err.code ?? err.message;
  if (kind === 'not-connected') {
    const hint = err.code === 'ENOENT' ? ' (no socket at that path: is the Engine running?)' : err.code === 'EACCES' ? ' (permission denied on the socket)' : '';
    return new ConnectorError('CONNECTION_FAILED', `Cannot connect to the Docker Engine at ${address}: ${reason}${hint}`, { operation, retryable: true });
  }
  if (kind === 'maybe-sent') {
    const retryable = shouldRetry(kind, idempotent);
    const unknown = isWrite && !idempotent;
    return new ConnectorError(
      'CONNECTION_FAILED',
      `Connection to the Docker Engine at ${address} was lost (${reason})${unknown ? '; the request may have reached the Engine, so its outcome is unknown (not retried: the operation is not safe to repeat)' : ''}`,
      { operation, retryable, outcomeUnknown: unknown },
    );
  }
  if (err.code === 'EACCES') {
    return new ConnectorError('CONNECTION_FAILED', `Cannot connect to the Docker Engine at ${address}: permission denied`, { operation });
  }
  return new ConnectorError('CONNECTION_FAILED', scrub(`Request to the Docker Engine at ${address} failed: ${reason}`), { operation, cause: err });
}
