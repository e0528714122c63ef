import type { Readable } from 'node:stream';
import { ConnectorError } from '../errors.js';
import { readLines } from './line-reader.js';

/** One message of a pull/push/build/load progress stream. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  stream?: string;
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  [key: string]: unknown;
}

export interface ReadProgressOptions {
  operation?: string;
  /** Called for every message, e.g. to draw progress bars. */
  onMessage?: (msg: ProgressMessage) => void;
  /** Keep at most this many messages (the rest are counted, not kept). */
  keep?: number;
}

export interface ProgressResult {
  messages: ProgressMessage[];
  count: number;
  aux: Record<string, unknown>[];
}

/**
 * Reads a newline-delimited JSON progress stream to its end. The Engine
 * answers 200 and reports failure inside the body: any `errorDetail` (or the
 * older `error`) becomes a STREAM_ERROR carrying the Engine's message. A
 * stream cut before its end is a STREAM_ERROR too, and so is a line longer
 * than MAX_LINE_LENGTH (see readLines).
 */
export async function readProgress(body: Readable, opts: ReadProgressOptions = {}): Promise<ProgressResult> {
  const keep = opts.keep ?? 1000;
  const messages: ProgressMessage[] = [];
  const aux: Record<string, unknown>[] = [];
  let count = 0;
  let failure: ConnectorError | undefined;

  const handle = (line: string) => {
    const trimmed = line.trim();
    if (!trimmed) return;
    let msg: ProgressMessage;
    try {
      msg = JSON.parse(trimmed) as ProgressMessage;
    } catch {
      msg = { stream: trimmed };
    }
    count++;
    if (messages.length < keep) messages.push(msg);
    else {
      messages.shift();
      messages.push(msg);
    }
    if (msg.aux) aux.push(msg.aux);
    opts.onMessage?.(msg);
    const errorText = msg.errorDetail?.message ?? msg.error;
    if (errorText && !failure) {
      failure = new ConnectorError('STREAM_ERROR', errorText, {
        operation: opts.operation,
        details: { engine_message: errorText, ...(msg.errorDetail?.code ? { error_code: msg.errorDetail.code } : {}) },
      });
    }
  };

  try {
    for await (const line of readLines(body, { operation: opts.operation })) handle(line);
  } catch (err) {
    if (failure) throw failure;
    throw toStreamError(err, opts.operation);
  }
  if (failure) throw failure;
  return { messages, count, aux };
}

/** A failure while reading a response body: the stream was cut, or went silent. */
export function toStreamError(err: unknown, operation?: string): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e?.name === 'AttemptTimeout' || /idle timeout/.test(e?.message ?? '')) {
    return new ConnectorError('TIMEOUT', `The Engine stream went silent: ${e.message}`, { operation });
  }
  return new ConnectorError('STREAM_ERROR', `The Engine stream was cut before its end (${e?.code ?? e?.message ?? String(err)})`, { operation, cause: err });
}
