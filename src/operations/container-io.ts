import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import type { Pack } from 'tar-stream';
import * as z from 'zod';
import { ConnectorError } from '../errors.js';
import { checkDestination, writeStreamToFile } from '../engine/file-sink.js';
import { FrameParser, isRawStream, type FrameStream } from '../engine/frames.js';
import { upgradeRequest } from '../engine/hijack.js';
import { toStreamError } from '../engine/json-stream.js';
import { enginePath } from '../engine/path.js';
import { extractArchive } from '../engine/tar-safety.js';
import { loadTarStream } from '../engine/tar-module.js';
import { byteProgress, containerRef, defineOperation, requireParam, STREAM_TYPES, timePointParam, toUnixSeconds, type OperationContext } from './define.js';

/*
 * Container I/O: exec, logs, stats, export and copies in both directions.
 * Large bodies (logs to a file, export, archives) are streamed, never held
 * in memory; in-memory results are capped by `max_bytes`.
 */

const MiB = 1024 * 1024;

/* ---------------------------------------------------------------------------
 * Reading the Engine's output streams (exec, logs)
 * ------------------------------------------------------------------------- */

/**
 * Whether a log body is raw (TTY) or framed. The Content-Type only says so
 * from API 1.42: older Engines label every such body `raw-stream`, framed or
 * not, so below 1.42 the container's TTY setting decides. (Exec output does
 * not use this: see exec_container.)
 */
function outputIsRaw(ctx: OperationContext, contentType: string | undefined, tty: boolean): boolean {
  return ctx.atLeast('1.42') ? isRawStream(contentType, tty) : tty;
}

export type OutStream = 'stdout' | 'stderr';

/**
 * Pumps an output body (framed or raw) to `onData`, with pause/resume for
 * back-pressure and `stop()` to end it early on purpose (a cap reached, a
 * follow window over). `done` resolves on a clean end or a stop; it rejects
 * on a cut stream, a stream ending inside a frame, or a daemon error frame.
 */
export class OutputPump {
  readonly done: Promise<'end' | 'stopped'>;
  private stopped = false;
  private settled = false;
  private daemonError = '';
  private resolveDone!: (how: 'end' | 'stopped') => void;
  private rejectDone!: (err: unknown) => void;

  constructor(
    private readonly body: Readable,
    raw: boolean,
    onData: (stream: OutStream, chunk: Buffer) => void,
    operation: string,
    head?: Buffer,
  ) {
    this.done = new Promise((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    const onFrame = (stream: FrameStream, payload: Buffer) => {
      if (this.stopped) return;
      // Stream 3 is the daemon talking, never the process: collect it and fail at the end.
      if (stream === 'error') this.daemonError = (this.daemonError + payload.toString('utf8')).slice(0, 64 * 1024);
      else onData(stream, payload);
    };
    const parser = raw ? undefined : new FrameParser(onFrame);
    const feed = (chunk: Buffer) => {
      if (this.stopped) return;
      try {
        if (parser) parser.push(chunk);
        else onFrame('stdout', chunk);
      } catch (err) {
        this.fail(new ConnectorError('STREAM_ERROR', `The Engine sent a malformed output stream: ${(err as Error).message}`, { operation }));
      }
    };
    if (head?.length) feed(head);
    body.on('data', feed);
    body.once('end', () => {
      if (parser?.partial) this.fail(new ConnectorError('STREAM_ERROR', 'The Engine output stream ended in the middle of a frame', { operation }));
      else if (this.daemonError) this.fail(new ConnectorError('ENGINE_ERROR', `The Engine reported an error in the stream: ${this.daemonError.trim()}`, { operation }));
      else this.finish('end');
    });
    body.once('error', (err) => this.fail(this.stopped ? undefined : toStreamError(err, operation)));
    body.once('close', () => {
      // A socket closed without 'end' (peer reset) is a cut stream.
      if (!this.settled && !this.stopped) this.fail(new ConnectorError('STREAM_ERROR', 'The Engine output stream was cut before its end', { operation }));
    });
  }

  pause(): void {
    this.body.pause();
  }

  resume(): void {
    this.body.resume();
  }

  /** Ends the pump on purpose: nothing more is delivered, `done` resolves 'stopped'. */
  stop(): void {
    if (this.settled) return;
    this.stopped = true;
    this.finish('stopped');
    this.body.destroy();
  }

  /** Ends the pump with an error (a timeout decided by the caller). */
  fail(err: unknown): void {
    if (this.settled) return;
    if (err === undefined) return this.finish('stopped');
    this.settled = true;
    this.stopped = true;
    this.body.destroy();
    this.rejectDone(err);
  }

  private finish(how: 'end' | 'stopped'): void {
    if (this.settled) return;
    this.settled = true;
    this.resolveDone(how);
  }
}

/** Keeps up to `cap` bytes of each stream (or of both together) and counts the rest. */
export class CappedOutput {
  readonly chunks: Record<OutStream, Buffer[]> = { stdout: [], stderr: [] };
  readonly kept: Record<OutStream, number> = { stdout: 0, stderr: 0 };
  truncated = false;

  constructor(
    private readonly cap: number,
    private readonly shared: boolean,
  ) {}

  /** Adds a chunk; returns what was kept of it (possibly cut, possibly empty). */
  add(stream: OutStream, chunk: Buffer): Buffer {
    const used = this.shared ? this.kept.stdout + this.kept.stderr : this.kept[stream];
    const room = Math.max(0, this.cap - used);
    const keep = chunk.length <= room ? chunk : chunk.subarray(0, room);
    if (keep.length < chunk.length) this.truncated = true;
    if (keep.length) {
      this.chunks[stream].push(keep);
      this.kept[stream] += keep.length;
    }
    return keep;
  }

  text(stream: OutStream): string {
    return Buffer.concat(this.chunks[stream]).toString('utf8');
  }
}

/* ---------------------------------------------------------------------------
 * exec_container
 * ------------------------------------------------------------------------- */

const envName = z.string().regex(/^[^=\0]+$/, 'environment variable names contain no "=" or NUL');

const execParams = z
  .object({
    container: containerRef,
    command: z
      .union([z.string().min(1), z.array(z.string()).min(1)])
      .describe('The command. A string runs through `sh -c` (the image needs a shell); an array runs as is, without a shell, e.g. ["ls", "-l", "/"]'),
    env: z
      .union([z.record(envName, z.string()), z.array(z.string().regex(/^[^=\0]+=/, 'expected "NAME=value"'))])
      .optional()
      .describe('Extra environment: {"NAME": "value"} or ["NAME=value"]'),
    user: z.string().min(1).max(256).optional().describe('User to run as: "name", "uid", "uid:gid" or "name:group" (default: the container\'s user)'),
    working_dir: z.string().regex(/^\//, 'expected an absolute path in the container').optional().describe('Working directory in the container (absolute path)'),
    tty: z.boolean().default(false).describe('Allocate a terminal: output comes back raw, stdout and stderr mixed in `stdout`'),
    privileged: z.boolean().default(false).describe('Run with extended privileges'),
    stdin: z
      .string()
      .max(16 * MiB)
      .optional()
      .describe(
        'Text fed to the command\'s stdin, then stdin is closed (the command sees end of input). With `tty` it is typed into the terminal and the terminal stays open: end it with "\\u0004" (Ctrl-D) if the command reads to end of input. Through a proxy that does not keep half-closed connections (nginx), closing stdin closes the output too: use `tty` there.',
      ),
    timeout: z.number().positive().max(86_400).default(300).describe('Seconds the command may run; past that the call fails with TIMEOUT (the process may keep running in the container)'),
    max_bytes: z.number().int().min(0).max(256 * MiB).default(MiB).describe('Bytes of stdout and of stderr kept (each); the rest is read and dropped, and `truncated` is true'),
    fail_on_error: z.boolean().default(false).describe('Fail (ENGINE_ERROR with exit_code, stdout, stderr in details) when the command exits non-zero; by default a non-zero exit code is a result'),
  })
  .strict();

export interface ExecResult {
  exit_code: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  exec_id: string;
}

interface ExecInspect {
  Running?: boolean;
  ExitCode?: number | null;
}

export const execContainer = defineOperation({
  name: 'exec_container',
  category: 'containers',
  title: 'Run a command in a container',
  description:
    'Runs a command in a running container and returns its exit code and output (POST /containers/{id}/exec, POST /exec/{id}/start, GET /exec/{id}/json). ' +
    'A string command runs through `sh -c`; an array runs without a shell. Without a TTY stdout and stderr come back separately; with `tty` everything arrives in stdout. ' +
    'A non-zero exit code is a result unless `fail_on_error`. Never retried: a command may not be safe to run twice.',
  params: execParams,
  safety: 'write',
  idempotent: false,
  streaming: true,
  result: '{exit_code, stdout, stderr, truncated, exec_id}',
  async run(ctx, p): Promise<ExecResult> {
    const cmd = typeof p.command === 'string' ? ['sh', '-c', p.command] : p.command;
    const env = p.env === undefined ? undefined : Array.isArray(p.env) ? p.env : Object.entries(p.env).map(([k, v]) => `${k}=${v}`);
    const feedStdin = p.stdin !== undefined;
    const created = await ctx.json<{ Id: string }>({
      method: 'POST',
      path: enginePath`/containers/${p.container}/exec`,
      body: {
        AttachStdin: feedStdin,
        AttachStdout: true,
        AttachStderr: true,
        Tty: p.tty,
        Privileged: p.privileged,
        Cmd: cmd,
        ...(env ? { Env: env } : {}),
        ...(p.user ? { User: p.user } : {}),
        ...(p.working_dir ? { WorkingDir: p.working_dir } : {}),
      },
    });
    const execId = created.body.Id;
    const startBody = { Detach: false, Tty: p.tty };
    const timeoutMs = p.timeout * 1000;
    const started = Date.now();
    const out = new CappedOutput(p.max_bytes, false);
    // Past the cap the output is still read (and dropped): the command must run to its end for its exit code.
    const onData = (stream: OutStream, chunk: Buffer) => void out.add(stream, chunk);

    // The output is framed unless TTY. Decided from our own Tty, not the Content-Type: without
    // the upgrade even Engine 28 labels a framed exec stream "raw-stream" (only a 101 says it right).
    let pump: OutputPump;
    if (feedStdin) {
      const conn = await upgradeRequest(ctx.engine, {
        path: `/v${ctx.apiVersion}${enginePath`/exec/${execId}/start`}`,
        body: startBody,
        timeoutMs: Math.min(timeoutMs, ctx.config.timeout * 1000),
        signal: ctx.signal,
        operation: ctx.operation,
        apiVersion: ctx.apiVersion,
      });
      pump = new OutputPump(conn.socket, p.tty, onData, ctx.operation, conn.head);
      // Without a TTY, half-close after the input: the command reads end-of-file while its
      // output still flows back. With a TTY the Engine answers end-of-input by closing the
      // output too, so the input side stays open until the command ends.
      const input = Buffer.from(p.stdin!, 'utf8');
      if (p.tty) conn.socket.write(input);
      else conn.socket.end(input);
    } else {
      const res = await ctx.stream({
        method: 'POST',
        path: enginePath`/exec/${execId}/start`,
        body: startBody,
        idempotent: false,
        // Our own total timer below decides; the idle timer must not fire first on a quiet command.
        idleTimeoutMs: timeoutMs + 5000,
      });
      pump = new OutputPump(res.body, p.tty, onData, ctx.operation);
    }

    const timer = setTimeout(
      () =>
        pump.fail(
          new ConnectorError('TIMEOUT', `The command did not finish within ${p.timeout}s; it may still be running in the container (exec ${execId})`, {
            operation: ctx.operation,
            details: { exec_id: execId },
          }),
        ),
      Math.max(0, timeoutMs - (Date.now() - started)),
    );
    const onAbort = () => pump.fail(new ConnectorError('TIMEOUT', 'The call was cancelled; the command may still be running in the container', { operation: ctx.operation }));
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await pump.done;
    } finally {
      clearTimeout(timer);
      ctx.signal?.removeEventListener('abort', onAbort);
    }

    const exitCode = await execExitCode(ctx, execId);
    const result: ExecResult = { exit_code: exitCode, stdout: out.text('stdout'), stderr: out.text('stderr'), truncated: out.truncated, exec_id: execId };
    if (p.fail_on_error && exitCode !== 0) {
      throw new ConnectorError('ENGINE_ERROR', `The command exited with code ${exitCode ?? 'unknown'}`, {
        operation: ctx.operation,
        details: { exit_code: exitCode, stdout: result.stdout.slice(-64 * 1024), stderr: result.stderr.slice(-64 * 1024), truncated: result.truncated, exec_id: execId },
      });
    }
    return result;
  },
});

/**
 * The exit code from GET /exec/{id}/json. The output stream can end a moment
 * before the Engine records the exit, so a still-running exec is asked again
 * briefly; null when it keeps running (a background child holds the output).
 */
async function execExitCode(ctx: OperationContext, execId: string): Promise<number | null> {
  for (let i = 0; ; i++) {
    const res = await ctx.json<ExecInspect>({ method: 'GET', path: enginePath`/exec/${execId}/json` });
    if (!res.body.Running) return res.body.ExitCode ?? null;
    if (i >= 50) return null;
    await new Promise((r) => setTimeout(r, Math.min(20 * (i + 1), 200)));
  }
}

/* ---------------------------------------------------------------------------
 * container_logs
 * ------------------------------------------------------------------------- */

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

export interface LogLine {
  stream: OutStream;
  timestamp: string;
  text: string;
}

export interface LogsResult {
  stdout: string;
  stderr: string;
  truncated: boolean;
  lines?: LogLine[];
}

export interface LogsFileResult {
  path: string;
  bytes: number;
  sha256: string;
  truncated: boolean;
}

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

/* ---------------------------------------------------------------------------
 * container_stats
 * ------------------------------------------------------------------------- */

/** The parts of the Engine's stats object the computed fields come from (Linux). */
export interface EngineStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
  blkio_stats?: { io_service_bytes_recursive?: { op?: string; value?: number }[] | null };
  pids_stats?: { current?: number };
  [key: string]: unknown;
}

export interface ComputedStats {
  cpu_percent: number | null;
  memory_usage: number | null;
  memory_limit: number | null;
  memory_percent: number | null;
  network_rx_bytes: number;
  network_tx_bytes: number;
  block_read_bytes: number;
  block_write_bytes: number;
  pids: number | null;
}

/** Four decimals: enough for a tiny container on a big host (0.0013 %), without float noise. */
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * The figures `docker stats` shows, computed the way the docker CLI does:
 * - CPU %: (container CPU delta / system CPU delta) × online CPUs × 100,
 *   between `precpu_stats` and `cpu_stats`; null when there is no earlier
 *   sample (one-shot stats), 0 when nothing moved.
 * - Memory usage excludes the page cache the kernel can reclaim: usage minus
 *   `total_inactive_file` (cgroup v1) or `inactive_file` (cgroup v2).
 * - Network: rx/tx summed over interfaces. Block I/O: the "read"/"write"
 *   entries of io_service_bytes_recursive (v1 spells them "Read"/"Write").
 * Unknown figures (a stopped container reports empty memory stats) are null.
 */
export function computeStats(s: EngineStats): ComputedStats {
  let cpuPercent: number | null = null;
  const cpu = s.cpu_stats;
  const pre = s.precpu_stats;
  if (cpu?.cpu_usage?.total_usage !== undefined && pre?.system_cpu_usage) {
    const cpuDelta = cpu.cpu_usage.total_usage - (pre.cpu_usage?.total_usage ?? 0);
    const systemDelta = (cpu.system_cpu_usage ?? 0) - pre.system_cpu_usage;
    const online = cpu.online_cpus || cpu.cpu_usage.percpu_usage?.length || 0;
    cpuPercent = systemDelta > 0 && cpuDelta > 0 ? round4((cpuDelta / systemDelta) * online * 100) : 0;
  }

  const mem = s.memory_stats;
  let memoryUsage: number | null = null;
  if (mem?.usage !== undefined) {
    const st = mem.stats ?? {};
    const v1 = st['total_inactive_file'];
    const v2 = st['inactive_file'];
    if (v1 !== undefined && v1 < mem.usage) memoryUsage = mem.usage - v1;
    else if (v2 !== undefined && v2 < mem.usage) memoryUsage = mem.usage - v2;
    else memoryUsage = mem.usage;
  }
  const memoryLimit = mem?.limit ?? null;
  const memoryPercent = memoryUsage !== null && memoryLimit ? round4((memoryUsage / memoryLimit) * 100) : null;

  let rx = 0;
  let tx = 0;
  for (const net of Object.values(s.networks ?? {})) {
    rx += net.rx_bytes ?? 0;
    tx += net.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const entry of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = entry.op?.[0]?.toLowerCase();
    if (op === 'r') read += entry.value ?? 0;
    else if (op === 'w') write += entry.value ?? 0;
  }
  return {
    cpu_percent: cpuPercent,
    memory_usage: memoryUsage,
    memory_limit: memoryLimit,
    memory_percent: memoryPercent,
    network_rx_bytes: rx,
    network_tx_bytes: tx,
    block_read_bytes: read,
    block_write_bytes: write,
    pids: s.pids_stats?.current ?? null,
  };
}

export const containerStats = defineOperation({
  name: 'container_stats',
  category: 'containers',
  title: 'Container resource usage',
  description:
    'One sample of a container\'s resource usage (GET /containers/{id}/stats?stream=false) with the figures `docker stats` shows computed the same way. ' +
    'By default the Engine takes two samples about a second apart, so cpu_percent is meaningful; `one_shot` answers at once but without an earlier CPU sample (cpu_percent null).',
  params: z
    .object({
      container: containerRef,
      one_shot: z.boolean().default(false).describe('Answer at once without the second CPU sample (API 1.41+): faster, but cpu_percent is null'),
    })
    .strict(),
  safety: 'read',
  idempotent: true,
  result: "The Engine's stats object plus cpu_percent, memory_usage, memory_limit, memory_percent, network_rx_bytes, network_tx_bytes, block_read_bytes, block_write_bytes, pids",
  async run(ctx, p) {
    const oneShot = p.one_shot && ctx.atLeast('1.41');
    const res = await ctx.json<EngineStats>({
      method: 'GET',
      path: enginePath`/containers/${p.container}/stats`,
      query: { stream: false, ...(oneShot ? { 'one-shot': true } : {}) },
      // The two-sample answer takes a second or two on top of the usual.
      timeoutMs: (ctx.config.timeout + 5) * 1000,
    });
    const stats = res.body ?? {};
    // Computed fields come last: they are the connector's contract, whatever the Engine adds.
    return { ...stats, ...computeStats(stats) };
  },
});

/* ---------------------------------------------------------------------------
 * container_export
 * ------------------------------------------------------------------------- */

/**
 * Passes a body through a meter that reports bytes to the progress sink (at
 * most every 100 ms). A Transform, not a 'data' listener on the body: that
 * would start the flow before the consumer is attached and lose the first
 * chunks. Errors of the body reach the returned stream.
 */
function withByteProgress(ctx: OperationContext, body: Readable, label: string): Readable {
  let bytes = 0;
  let last = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        ctx.progress({ kind: 'bytes', bytes, label });
      }
      cb(null, chunk);
    },
    flush(cb) {
      ctx.progress({ kind: 'bytes', bytes, label });
      cb();
    },
  });
  return pipeline(body, meter, () => {});
}

const exportParams = z
  .object({
    container: containerRef,
    path: z.string().min(1).optional().describe('Local file to write the tar archive of the container\'s file system to (required, except for the stream form)'),
    overwrite: z.boolean().default(false).describe('Replace an existing file'),
  })
  .strict();

/** A parameter the stream form does without but the file form needs. */
async function openExport(ctx: OperationContext, container: string): Promise<Readable> {
  const res = await ctx.stream({ method: 'GET', path: enginePath`/containers/${container}/export` });
  return res.body;
}

export const containerExport = defineOperation({
  name: 'container_export',
  localPaths: ['path'],
  category: 'containers',
  title: 'Export a container\'s file system',
  description:
    'Streams the container\'s file system as a tar archive to a local file (GET /containers/{id}/export), never held in memory. The file appears only when the archive is complete; a failed or cut stream leaves no file.',
  params: exportParams,
  safety: 'read',
  idempotent: true,
  streaming: true,
  result: '{path, bytes, sha256}',
  async run(ctx, p) {
    const dest = await checkDestination(requireParam(ctx, p.path, 'path'), 'path', p.overwrite);
    // Progress counted by the sink itself: a Transform piped in between would cut the body
    // into one small piece per socket read again.
    const result = await writeStreamToFile(await openExport(ctx, p.container), dest, { operation: ctx.operation, overwrite: p.overwrite, onBytes: byteProgress(ctx, 'export') });
    ctx.progress({ kind: 'bytes', bytes: result.bytes, label: 'export' });
    return result;
  },
  async openStream(ctx, p) {
    return { stream: await openExport(ctx, p.container), contentType: STREAM_TYPES.tar };
  },
  streamContentType: STREAM_TYPES.tar,
  resultRequires: ['path'],
});

/* ---------------------------------------------------------------------------
 * copy_from_container / copy_to_container
 * ------------------------------------------------------------------------- */

const containerPath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, 'expected an absolute path in the container')
  .refine((s) => !s.includes('\0'), 'must not contain a NUL byte');

async function openArchive(ctx: OperationContext, container: string, path: string): Promise<Readable> {
  const res = await ctx.stream({ method: 'GET', path: enginePath`/containers/${container}/archive`, query: { path } });
  return res.body;
}

async function requireLocalDir(path: string, parameter: string): Promise<string> {
  const full = resolve(path);
  const st = await stat(full).catch(() => undefined);
  if (!st?.isDirectory()) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter ${parameter}: ${full} is not an existing folder`);
  return full;
}

export const copyFromContainer = defineOperation({
  name: 'copy_from_container',
  localPaths: ['dest'],
  category: 'containers',
  title: 'Copy files out of a container',
  description:
    'Copies a file or folder from a container into a local folder (GET /containers/{id}/archive), streamed and extracted as it arrives. ' +
    'The archive is checked entry by entry: an entry that would land outside `dest` (a ".." or absolute name, a symlink or hard link pointing out) refuses the whole copy with STREAM_ERROR and nothing is written. ' +
    'Devices and fifos are skipped and listed in `skipped`.',
  params: z
    .object({
      container: containerRef,
      path: containerPath.describe('File or folder in the container (absolute path); a folder is copied with its name, "/dir/." copies its content'),
      dest: z.string().min(1).optional().describe('Existing local folder to copy into (required, except for the stream form)'),
      overwrite: z.boolean().default(false).describe('Replace files or folders of the same name already in `dest` (default: refuse)'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{files: [{path, size, type}] (at most 10 000; files_truncated when more), count, bytes, skipped: [{path, type}]}',
  async run(ctx, p) {
    const dest = await requireLocalDir(requireParam(ctx, p.dest, 'dest'), 'dest');
    const body = withByteProgress(ctx, await openArchive(ctx, p.container, p.path), 'copy');
    return extractArchive(body, dest, { overwrite: p.overwrite, operation: ctx.operation });
  },
  async openStream(ctx, p) {
    return { stream: await openArchive(ctx, p.container, p.path), contentType: STREAM_TYPES.tar };
  },
  streamContentType: STREAM_TYPES.tar,
  resultRequires: ['dest'],
});

interface PackStats {
  files: number;
  bytes: number;
}

/**
 * Streams a tar of a local file or folder, walking the tree as the archive
 * is read (one file open at a time, nothing buffered beyond the stream's
 * high-water mark). Entries are named from the source's own name, as
 * `docker cp` does: copying "/x/site" creates "site/…" in the container.
 * Symlinks are stored as links, never followed; sockets, fifos and devices
 * are left out. Owners are stored as 0:0: the Engine gives copied files to
 * the container's root anyway, and host ids are not its business.
 */
function packLocal(pack: Pack, src: string, stats: PackStats): Readable {
  const writeEntry = async (full: string, name: string) => {
    const st = await lstat(full);
    const base = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
    if (st.isDirectory()) {
      await addEntry(pack, { ...base, name: `${name}/`, type: 'directory' });
      stats.files++;
      for (const child of (await readdir(full)).sort()) await writeEntry(join(full, child), `${name}/${child}`);
    } else if (st.isSymbolicLink()) {
      await addEntry(pack, { ...base, type: 'symlink', linkname: await readlink(full) });
      stats.files++;
    } else if (st.isFile()) {
      let sink!: ReturnType<typeof pack.entry>;
      const done = new Promise<void>((ok, fail) => {
        sink = pack.entry({ ...base, type: 'file', size: st.size }, (err) => (err ? fail(err) : ok()));
      });
      // Read exactly the size announced in the header: a file growing meanwhile must not corrupt the archive.
      if (st.size > 0) {
        for await (const chunk of createReadStream(full, { end: st.size - 1 })) {
          if (!sink.write(chunk as Buffer)) await new Promise<void>((ok) => sink.once('drain', () => ok()));
        }
      }
      sink.end(undefined); // streamx's typing wants an argument; undefined ends without data
      await done;
      stats.files++;
      stats.bytes += st.size;
    }
  };
  const root = resolve(src);
  writeEntry(root, basename(root)).then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return Readable.from(pack, { objectMode: false });
}

function addEntry(pack: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((ok, fail) => pack.entry(header, (err) => (err ? fail(err) : ok())));
}

interface PathStat {
  name?: string;
  mode?: number;
  linkTarget?: string;
}

/** Go's os.FileMode bits of interest: the top bits mark folders and symlinks. */
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

export const copyToContainer = defineOperation({
  name: 'copy_to_container',
  localPaths: ['src'],
  category: 'containers',
  title: 'Copy files into a container',
  description:
    'Copies a local file or folder into a folder of a container (PUT /containers/{id}/archive); the tar archive is built as it is sent, never held in memory. ' +
    'A folder arrives under its own name ("./site" into "/srv" gives "/srv/site"). Files are owned by the container\'s root.',
  params: z
    .object({
      container: containerRef,
      src: z.string().min(1).describe('Local file or folder to copy'),
      path: containerPath.describe('Existing folder in the container to copy into (absolute path)'),
      no_overwrite_dir_non_dir: z.boolean().default(false).describe('Fail rather than replace a folder with a non-folder or the reverse'),
    })
    .strict(),
  safety: 'write',
  idempotent: true,
  streaming: true,
  result: '{files, bytes}: entries sent (files, folders, links) and bytes of file content',
  async run(ctx, p) {
    const src = resolve(p.src);
    const st = await lstat(src).catch(() => undefined);
    if (!st) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter src: ${src} does not exist`, { operation: ctx.operation });
    if (src === dirname(src)) throw new ConnectorError('INVALID_PARAMS', 'Invalid parameter src: copying the root folder "/" is refused', { operation: ctx.operation });
    await requireContainerDir(ctx, p.container, p.path);
    const stats: PackStats = { files: 0, bytes: 0 };
    // Imported on first use, not at the top: loading this family for another operation (an export,
    // logs) then takes ~10 ms instead of ~20 (see packStream in engine/build-context.ts).
    const { pack: tarPack } = await loadTarStream();
    const body = withByteProgress(ctx, packLocal(tarPack(), src, stats), 'copy');
    await ctx.json({
      method: 'PUT',
      path: enginePath`/containers/${p.container}/archive`,
      query: { path: p.path, noOverwriteDirNonDir: p.no_overwrite_dir_non_dir || undefined },
      body,
      // A plain call with a total timeout: allow a large upload time to pass.
      timeoutMs: Math.max(ctx.config.timeout, 3600) * 1000,
    });
    return { files: stats.files, bytes: stats.bytes };
  },
});

/** The destination must be a folder: asked first (HEAD …/archive) so a wrong path fails before any upload. */
async function requireContainerDir(ctx: OperationContext, container: string, path: string): Promise<void> {
  let header: string | string[] | undefined;
  try {
    const res = await ctx.json({ method: 'HEAD', path: enginePath`/containers/${container}/archive`, query: { path } });
    header = res.headers['x-docker-container-path-stat'];
  } catch (err) {
    if (err instanceof ConnectorError && err.code === 'NOT_FOUND') {
      // HEAD answers carry no message: tell a missing container from a missing path.
      await ctx.json({ method: 'GET', path: enginePath`/containers/${container}/json` });
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter path: ${path} does not exist in container ${container}`, { operation: ctx.operation, status: 404 });
    }
    throw err;
  }
  if (typeof header !== 'string') return;
  let info: PathStat;
  try {
    info = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as PathStat;
  } catch {
    return; // an unreadable stat header: let the Engine judge the upload
  }
  const mode = info.mode ?? 0;
  const isDir = Math.floor(mode / GO_MODE_DIR) % 2 === 1;
  const isLink = Math.floor(mode / GO_MODE_SYMLINK) % 2 === 1;
  if (!isDir && !isLink) throw new ConnectorError('INVALID_PARAMS', `Invalid parameter path: ${path} in container ${container} is not a folder`, { operation: ctx.operation });
}

export const containerIoOperations = [execContainer, containerLogs, containerStats, containerExport, copyFromContainer, copyToContainer] as const;
