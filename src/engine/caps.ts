import { ConnectorError } from '../errors.js';

/**
 * How much of an Engine answer the client holds in memory at once. Without
 * a cap, an Engine (or anything in front of it) that sends a line with no end
 * or an endless buffered answer grows the process until it dies.
 */

/**
 * The longest line of a newline-delimited stream (pull/push/build/load
 * progress, events), in characters of the decoded text (bytes, for the ASCII
 * JSON the Engine sends). One progress or event message is a few hundred
 * bytes; a build's `stream` line carries one line of the build's output.
 */
export const MAX_LINE_LENGTH = 1024 * 1024;

/**
 * The largest successful answer read whole (json(), text()). It is held
 * twice while decoded (bytes, then the string) and then parsed, so the peak is
 * a few times this. The largest buffered answers are lists: an entry of
 * `GET /containers/json?all=1` is around a kilobyte (more with many labels,
 * mounts or networks), so even tens of thousands of objects stay well under
 * it, while a runaway answer is stopped long before it can exhaust memory.
 * Bodies that can be larger (exports, logs, saves) are streamed, never
 * buffered.
 */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** "1 MiB", "64 MiB", or the exact count when not a whole number of MiB. */
export function capText(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

export function lineTooLong(cap: number, operation?: string): ConnectorError {
  return new ConnectorError('STREAM_ERROR', `A line of the Engine's stream is longer than the ${capText(cap)} line cap; the stream was stopped`, {
    operation,
    details: { cap: 'line', cap_bytes: cap },
  });
}

export function bodyTooLarge(cap: number, operation?: string): ConnectorError {
  return new ConnectorError('STREAM_ERROR', `The Engine's answer is larger than the ${capText(cap)} cap for an answer read whole; it was not read further`, {
    operation,
    details: { cap: 'body', cap_bytes: cap },
  });
}
