/** container_logs: a container's stdout and stderr, in the result, to a file, or as a stream. */
import { Readable } from 'node:stream';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { isRawStream } from '../engine/frames.js';
import { enginePath } from '../engine/path.js';
import { checkDestination, writeStreamToFile } from '../files/file-sink.js';
import { defineOperation, STREAM_TYPES, type OperationContext } from './define.js';
import { CappedOutput, MiB, OutputPump, type OutStream } from './shared/output-pump.js';
import { containerRef, timePointParam, toUnixSeconds } from './shared/params.js';
import { fileWrittenFields } from './shared/schemas/file-result.js';

/**
 * Whether a log body is raw (TTY) or framed. The Content-Type only says so
 * from API 1.42: older Engines label every such body `raw-stream`, framed or
 * not, so below 1.42 the container's TTY setting decides. (Exec output does
 * not use this: see exec_container.)
 */
function outputIsRaw(ctx: OperationContext, contentType: string | undefined, tty: boolean): boolean {
  return ctx.atLeast('1.42') ? isRawStream(contentType, tty) : tty;
}

const DEFAULT_LOG_BYTES = 4 * MiB;
const MAX_LOG_BYTES_IN_MEMORY = 64 * MiB;

const logsParams = z
  .object({
    container: containerRef,
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
  })
  .strict()
  .refine((p) => p.stdout || p.stderr, { message: 'stdout and stderr are both false: nothing to read', path: ['stdout'] })
  // The two rules checked beyond the fields, in the published JSON Schema too (a refinement does not export):
  // not both streams off, and the in-memory cap on max_bytes unless `path` is given (the stream form has no cap either).
  .meta({
    not: { properties: { stdout: { const: false }, stderr: { const: false } }, required: ['stdout', 'stderr'] },
    if: { properties: { path: false } },
    then: { properties: { max_bytes: { type: 'integer', maximum: MAX_LOG_BYTES_IN_MEMORY } } },
  });

type LogsParams = z.output<typeof logsParams>;

/** One line of a timestamped log. */
const logLine = z.strictObject({
  stream: z.enum(['stdout', 'stderr']).describe('The stream the line came from'),
  timestamp: z.string().describe("The Engine's RFC 3339 time of the line, with nanoseconds"),
  text: z.string().describe('The line without its timestamp and newline'),
});

/** The log in the result. The connector's own shapes: closed. */
const logsInResult = z
  .strictObject({
    stdout: z.string().describe('stdout (with a TTY: all output), UTF-8'),
    stderr: z.string().describe('stderr; "" when the container has a TTY'),
    truncated: z.boolean().describe('The log was cut at `max_bytes`'),
    lines: z.array(logLine).optional().describe('With `timestamps`: every line with its stream and time'),
  })
  .describe('Without `path`: the log itself');

/** The log written to a file (`path`). */
const logsToFile = z
  .strictObject({
    ...fileWrittenFields,
    truncated: z.boolean().describe('The log was cut at `max_bytes`'),
  })
  .describe('With `path`: the file written');

export type LogLine = z.output<typeof logLine>;
export type LogsResult = z.output<typeof logsInResult>;
export type LogsFileResult = z.output<typeof logsToFile>;

/** Opens the log body and says whether it is framed. */
async function openLogs(ctx: OperationContext, p: LogsParams): Promise<{ body: Readable; raw: boolean }> {
  let tty = false;
  if (!ctx.atLeast('1.42')) {
    // Older Engines do not say in the Content-Type whether the log is framed: the container's TTY does.
    const info = await ctx.json<{ Config?: { Tty?: boolean } }>({ method: 'GET', path: enginePath`/containers/${p.container}/json` });
    tty = Boolean(info.body.Config?.Tty);
  }
  const now = Date.now();
  const res = await ctx.stream({
    method: 'GET',
    path: enginePath`/containers/${p.container}/logs`,
    query: {
      stdout: p.stdout,
      stderr: p.stderr,
      timestamps: p.timestamps,
      follow: p.follow_for !== undefined,
      tail: p.tail === undefined ? undefined : String(p.tail),
      since: p.since === undefined ? undefined : toUnixSeconds(p.since, now)!.toFixed(9),
      until: p.until === undefined ? undefined : toUnixSeconds(p.until, now)!.toFixed(9),
    },
    // While following, silence is normal: the follow window ends the read, not the idle timer.
    idleTimeoutMs: ((p.follow_for ?? 0) + ctx.config.timeout) * 1000,
  });
  return { body: res.body, raw: outputIsRaw(ctx, res.headers['content-type'], tty) };
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
function logReadable(ctx: OperationContext, body: Readable, raw: boolean, maxBytes: number | undefined, followFor: number | undefined): { stream: Readable; state: { truncated: boolean } } {
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
  pump = new OutputPump(
    body,
    raw,
    (_stream, chunk) => {
      let piece = chunk;
      if (maxBytes !== undefined && sent + piece.length > maxBytes) {
        piece = piece.subarray(0, maxBytes - sent);
        state.truncated = true;
      }
      sent += piece.length;
      if (piece.length && !out.push(piece)) pump?.pause();
      if (state.truncated) pump?.stop();
    },
    ctx.operation,
  );
  const timer = followFor === undefined ? undefined : setTimeout(() => pump?.stop(), followFor * 1000);
  pump.done.then(
    () => {
      clearTimeout(timer);
      out.push(null);
    },
    (err: unknown) => {
      clearTimeout(timer);
      out.destroy(err as Error);
    },
  );
  return { stream: out, state };
}

export const containerLogs = defineOperation({
  name: 'container_logs',
  localPaths: ['path'],
  category: 'containers',
  title: 'Container logs',
  description:
    'Reads a container\'s stdout and stderr (GET /containers/{id}/logs), separated when the container has no TTY. Returns at most `max_bytes` (truncated: true when cut); ' +
    '`follow_for` keeps reading new output for that many seconds; `timestamps` adds `lines` with each line\'s time; `path` streams the whole log to a file instead.',
  params: logsParams,
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{stdout, stderr, truncated, lines?: [{stream, timestamp, text}]}; with `path`: {path, bytes, sha256, truncated}',
  resultSchema: z.union([logsInResult, logsToFile]),
  async run(ctx, p): Promise<LogsResult | LogsFileResult> {
    if (p.path !== undefined) {
      const dest = await checkDestination(p.path, 'path', p.overwrite);
      const { body, raw } = await openLogs(ctx, p);
      const { stream, state } = logReadable(ctx, body, raw, p.max_bytes, p.follow_for);
      const written = await writeStreamToFile(stream, dest, { operation: ctx.operation, overwrite: p.overwrite });
      return { ...written, truncated: state.truncated };
    }
    const cap = p.max_bytes ?? DEFAULT_LOG_BYTES;
    if (cap > MAX_LOG_BYTES_IN_MEMORY) {
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter max_bytes: at most ${MAX_LOG_BYTES_IN_MEMORY} when the log is returned in the result; use path to write a larger log to a file`, {
        operation: ctx.operation,
      });
    }
    const { body, raw } = await openLogs(ctx, p);
    const out = new CappedOutput(cap, true);
    const splitter = p.timestamps ? new LogLineSplitter() : undefined;
    // One decoder per stream, so a character split across frames stays whole in `lines`.
    const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
    const pump: OutputPump = new OutputPump(
      body,
      raw,
      (stream, chunk) => {
        const kept = out.add(stream, chunk);
        splitter?.push(stream, decoders[stream].decode(kept, { stream: true }));
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
    const result: LogsResult = { stdout: out.text('stdout'), stderr: out.text('stderr'), truncated: out.truncated };
    if (splitter) result.lines = splitter.flush();
    return result;
  },
  async openStream(ctx, p) {
    const { body, raw } = await openLogs(ctx, p);
    const { stream } = logReadable(ctx, body, raw, p.max_bytes, p.follow_for);
    return { stream, contentType: STREAM_TYPES.text };
  },
  streamContentType: STREAM_TYPES.text,
});

export const logsOperations = [containerLogs] as const;
