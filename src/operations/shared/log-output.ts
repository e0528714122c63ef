/**
 * What the log operations share (container_logs, service_logs): the
 * parameters of a log window, the result shapes, and reading a log body
 * (framed or raw) into the result, a file, or a Node stream, with the cap
 * and the follow window.
 */
import { Readable } from 'node:stream';
import * as z from 'zod';
import { ConnectorError } from '../../errors.js';
import { isRawStream } from '../../engine/frames.js';
import { checkDestination, writeStreamToFile } from '../../files/file-sink.js';
import type { OperationContext } from '../define.js';
import { CappedOutput, MiB, OutputPump, type OutStream } from './output-pump.js';
import { timePointParam, toUnixSeconds } from './params.js';
import { fileWrittenFields } from './schemas/file-result.js';

export const DEFAULT_LOG_BYTES = 4 * MiB;
export const MAX_LOG_BYTES_IN_MEMORY = 64 * MiB;

/**
 * Whether a log body is raw (TTY) or framed. The Content-Type only says so
 * from API 1.42: older Engines label every such body `raw-stream`, framed or
 * not, so below 1.42 the TTY setting (of the container, or of the service's
 * task template) decides. (Exec output does not use this: see exec_container.)
 */
export function outputIsRaw(ctx: OperationContext, contentType: string | undefined, tty: boolean): boolean {
  return ctx.atLeast('1.42') ? isRawStream(contentType, tty) : tty;
}

/** The parameters of a log window, after the object the log belongs to. */
export const logWindowFields = {
  stdout: z.boolean().default(true).describe('Include stdout'),
  stderr: z.boolean().default(true).describe('Include stderr'),
  since: timePointParam.optional().describe('Only lines after this time: "10m" (ten minutes ago), unix seconds or RFC 3339'),
  until: timePointParam.optional().describe('Only lines before this time: same forms'),
  tail: z.union([z.number().int().min(0), z.literal('all')]).optional().describe('Only the last N lines (default: all)'),
  timestamps: z.boolean().default(false).describe('Prefix every line with its RFC 3339 time and return `lines` [{stream, timestamp, text}]'),
  max_bytes: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024 * MiB)
    .optional()
    .describe(`Stop after this many bytes of output and set truncated: true. Default ${DEFAULT_LOG_BYTES / MiB} MiB in the result (at most ${MAX_LOG_BYTES_IN_MEMORY / MiB} MiB); no limit with \`path\` or the stream form`),
  follow_for: z.number().positive().max(3600).optional().describe('Keep following new output for this many seconds, then return (default: return what is there now)'),
  path: z.string().min(1).optional().describe('Write the log to this local file instead of returning it (stdout and stderr interleaved, streamed to disk) → {path, bytes, sha256, truncated}'),
  overwrite: z.boolean().default(false).describe('With `path`: replace an existing file'),
};

/** The log parameters: `target` (the object whose log it is) and the window, with the rules beyond the fields. */
export function logParams<T extends z.ZodRawShape>(target: T) {
  return (
    z
      .object({ ...target, ...logWindowFields })
      .strict()
      .refine((p) => (p as { stdout: boolean }).stdout || (p as { stderr: boolean }).stderr, { message: 'stdout and stderr are both false: nothing to read', path: ['stdout'] })
      // The two rules checked beyond the fields, in the published JSON Schema too (a refinement does not export):
      // not both streams off, and the in-memory cap on max_bytes unless `path` is given (the stream form has no cap either).
      .meta({
        not: { properties: { stdout: { const: false }, stderr: { const: false } }, required: ['stdout', 'stderr'] },
        if: { properties: { path: false } },
        then: { properties: { max_bytes: { type: 'integer', maximum: MAX_LOG_BYTES_IN_MEMORY } } },
      })
  );
}

/** The window's values, as the operations receive them. */
export interface LogWindow {
  stdout: boolean;
  stderr: boolean;
  since?: string | number;
  until?: string | number;
  tail?: number | 'all';
  timestamps: boolean;
  max_bytes?: number;
  follow_for?: number;
  path?: string;
  overwrite: boolean;
}

/** One line of a timestamped log. */
const logLine = z.strictObject({
  stream: z.enum(['stdout', 'stderr']).describe('The stream the line came from'),
  timestamp: z.string().describe("The Engine's RFC 3339 time of the line, with nanoseconds"),
  text: z.string().describe('The line without its timestamp and newline'),
});

/** The log in the result. The connector's own shapes: closed. */
export const logsInResult = z
  .strictObject({
    stdout: z.string().describe('stdout (with a TTY: all output), UTF-8'),
    stderr: z.string().describe('stderr; "" when the container has a TTY'),
    truncated: z.boolean().describe('The log was cut at `max_bytes`'),
    lines: z.array(logLine).optional().describe('With `timestamps`: every line with its stream and time'),
  })
  .describe('Without `path`: the log itself');

/** The log written to a file (`path`). */
export const logsToFile = z
  .strictObject({
    ...fileWrittenFields,
    truncated: z.boolean().describe('The log was cut at `max_bytes`'),
  })
  .describe('With `path`: the file written');

export const logsResultSchema = z.union([logsInResult, logsToFile]);

export type LogLine = z.output<typeof logLine>;
export type LogsResult = z.output<typeof logsInResult>;
export type LogsFileResult = z.output<typeof logsToFile>;

/** The Engine's log query for a window (the same names on /containers/{id}/logs and /services/{id}/logs). */
export function engineLogQuery(p: LogWindow, now: number): Record<string, string | boolean | undefined> {
  return {
    stdout: p.stdout,
    stderr: p.stderr,
    timestamps: p.timestamps,
    follow: p.follow_for !== undefined,
    tail: p.tail === undefined ? undefined : String(p.tail),
    since: p.since === undefined ? undefined : toUnixSeconds(p.since, now)!.toFixed(9),
    until: p.until === undefined ? undefined : toUnixSeconds(p.until, now)!.toFixed(9),
  };
}

/**
 * Drops or rewrites log output on its way to the caller (service_logs'
 * `until`, which the Engine does not apply to services). `push` returns what
 * is kept of a chunk, `flush` what is kept of the unfinished end.
 */
export interface LogFilter {
  push(stream: OutStream, chunk: Buffer): Buffer;
  flush(): [OutStream, Buffer][];
}

/** An opened log body: framed or raw, and the filter its bytes go through, if any. */
export interface OpenedLog {
  body: Readable;
  raw: boolean;
  filter?: LogFilter;
}

/** Splits timestamped log output into lines, per stream, carrying partial lines across frames. */
export class LogLineSplitter {
  readonly lines: LogLine[] = [];
  private pending: Record<OutStream, string> = { stdout: '', stderr: '' };

  push(stream: OutStream, text: string): void {
    const all = this.pending[stream] + text;
    const parts = all.split('\n');
    this.pending[stream] = parts.pop()!;
    for (const line of parts) this.lines.push(parseLogLine(stream, line));
  }

  /** Emits what is left (a last line without newline, or one cut by the cap). */
  flush(): LogLine[] {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.pending[stream]) this.lines.push(parseLogLine(stream, this.pending[stream]));
      this.pending[stream] = '';
    }
    return this.lines;
  }
}

function parseLogLine(stream: OutStream, line: string): LogLine {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const space = text.indexOf(' ');
  return space < 0 ? { stream, timestamp: text, text: '' } : { stream, timestamp: text.slice(0, space), text: text.slice(space + 1) };
}

/**
 * The log as one Node stream of bytes, stdout and stderr interleaved in
 * order (frames removed). Ends after `maxBytes` (state.truncated), after
 * the follow window, or when the log ends.
 */
export function logReadable(ctx: OperationContext, log: OpenedLog, maxBytes: number | undefined, followFor: number | undefined): { stream: Readable; state: { truncated: boolean } } {
  const state = { truncated: false };
  let sent = 0;
  let pump: OutputPump | undefined;
  const out = new Readable({
    read() {
      pump?.resume();
    },
    destroy(err, cb) {
      pump?.stop();
      cb(err);
    },
  });
  const deliver = (chunk: Buffer) => {
    if (state.truncated) return;
    let piece = chunk;
    if (maxBytes !== undefined && sent + piece.length > maxBytes) {
      piece = piece.subarray(0, maxBytes - sent);
      state.truncated = true;
    }
    sent += piece.length;
    if (piece.length && !out.push(piece)) pump?.pause();
    if (state.truncated) pump?.stop();
  };
  pump = new OutputPump(log.body, log.raw, (stream, chunk) => deliver(log.filter ? log.filter.push(stream, chunk) : chunk), ctx.operation);
  const timer = followFor === undefined ? undefined : setTimeout(() => pump?.stop(), followFor * 1000);
  pump.done.then(
    () => {
      clearTimeout(timer);
      for (const [, piece] of log.filter?.flush() ?? []) deliver(piece);
      out.push(null);
    },
    (err: unknown) => {
      clearTimeout(timer);
      out.destroy(err as Error);
    },
  );
  return { stream: out, state };
}

/**
 * Runs a log operation: the log streamed to `path`, or read into the result
 * up to the cap. `open` sends the Engine request (called after the
 * parameters and the destination are checked).
 */
export async function readLog(ctx: OperationContext, p: LogWindow, open: () => Promise<OpenedLog>): Promise<LogsResult | LogsFileResult> {
  if (p.path !== undefined) {
    const dest = await checkDestination(p.path, 'path', p.overwrite);
    const { stream, state } = logReadable(ctx, await open(), p.max_bytes, p.follow_for);
    const written = await writeStreamToFile(stream, dest, { operation: ctx.operation, overwrite: p.overwrite });
    return { ...written, truncated: state.truncated };
  }
  const cap = p.max_bytes ?? DEFAULT_LOG_BYTES;
  if (cap > MAX_LOG_BYTES_IN_MEMORY) {
    throw new ConnectorError('INVALID_PARAMS', `Invalid parameter max_bytes: at most ${MAX_LOG_BYTES_IN_MEMORY} when the log is returned in the result; use path to write a larger log to a file`, {
      operation: ctx.operation,
    });
  }
  const log = await open();
  const out = new CappedOutput(cap, true);
  const splitter = p.timestamps ? new LogLineSplitter() : undefined;
  // One decoder per stream, so a character split across frames stays whole in `lines`.
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const deliver = (stream: OutStream, chunk: Buffer) => {
    const kept = out.add(stream, chunk);
    splitter?.push(stream, decoders[stream].decode(kept, { stream: true }));
  };
  const pump: OutputPump = new OutputPump(
    log.body,
    log.raw,
    (stream, chunk) => {
      deliver(stream, log.filter ? log.filter.push(stream, chunk) : chunk);
      // Enough: stop reading and drop the connection rather than drain a huge log.
      if (out.truncated) pump.stop();
    },
    ctx.operation,
  );
  const timer = p.follow_for === undefined ? undefined : setTimeout(() => pump.stop(), p.follow_for * 1000);
  try {
    await pump.done;
  } finally {
    clearTimeout(timer);
  }
  for (const [stream, piece] of log.filter?.flush() ?? []) deliver(stream, piece);
  const result: LogsResult = { stdout: out.text('stdout'), stderr: out.text('stderr'), truncated: out.truncated };
  if (splitter) result.lines = splitter.flush();
  return result;
}
