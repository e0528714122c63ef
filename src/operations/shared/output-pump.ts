/**
 * Reading the Engine's output streams (exec, logs): frames or raw bytes,
 * with back-pressure, a cap, and an early stop on purpose.
 */
import type { Readable } from 'node:stream';
import { ConnectorError } from '../../errors.js';
import { FrameParser, type FrameStream } from '../../engine/frames.js';
import { toStreamError } from '../../engine/json-stream.js';

export const MiB = 1024 * 1024;

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
