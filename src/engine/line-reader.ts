import { pipeline, type Readable } from 'node:stream';
import split2 from 'split2';
import { ConnectorError } from '../errors.js';
import { lineTooLong, MAX_LINE_LENGTH } from './caps.js';

/** split2's own error when a line outgrows `maxLength` before its end arrives. */
const SPLIT2_OVERFLOW = 'maximum buffer reached';

export interface ReadLinesOptions {
  /** Longest line accepted (characters); default MAX_LINE_LENGTH. */
  maxLength?: number;
  operation?: string;
}

/**
 * The lines of a newline-delimited body (progress, events) as they arrive,
 * without their line ends (`\n` or `\r\n`); the last line needs none. The one
 * line splitter of the engine layer (split2).
 *
 * A line longer than the cap fails with STREAM_ERROR as soon as the buffered
 * part of it is longer, without waiting for its end: at most the cap and one
 * network chunk are held. A failure of the body (cut, idle timeout) is thrown
 * as it came, for the caller's toStreamError. Leaving the loop early destroys
 * the body.
 */
export async function* readLines(body: Readable, opts: ReadLinesOptions = {}): AsyncGenerator<string> {
  const cap = opts.maxLength ?? MAX_LINE_LENGTH;
  // split2 checks only the unfinished line; a whole line that came in one chunk is checked here.
  const lines = split2(
    (line: string) => {
      if (line.length > cap) throw lineTooLong(cap, opts.operation);
      return line;
    },
    { maxLength: cap },
  );
  // An error of either side destroys both: the loop below sees the body's failure too.
  pipeline(body, lines, () => undefined);
  try {
    for await (const line of lines as AsyncIterable<string>) yield line;
  } catch (err) {
    if (!(err instanceof ConnectorError) && (err as Error)?.message === SPLIT2_OVERFLOW) throw lineTooLong(cap, opts.operation);
    throw err;
  }
}
