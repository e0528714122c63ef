import { Duplex, type Readable } from 'node:stream';
import { ConnectorError } from '../errors.js';

/**
 * One Engine connection carried by one SSH channel, shaped like the
 * net.Socket node:http and undici expect: the dialer has to hand a socket
 * back at once, while the channel opens later (SSH login on first use, then
 * `docker system dial-stdio`). Writes wait for the channel; 'connect' is
 * emitted when it is open, so a request counts as sent only from then on.
 *
 * ref()/unref() are passed on to the SSH connection: node:http's agent and
 * undici unref an idle pooled socket, and when every channel of a
 * connection is idle the connection no longer keeps the process alive (a
 * CLI call exits as soon as its work is done).
 */

/** What the SSH side hands over: the channel (ssh2's ClientChannel) and the connection's reference count. */
export interface OpenedChannel {
  channel: Duplex & { stderr?: Readable };
  ref(): void;
  unref(): void;
  /** The channel was closed: the connection may close once it has none. */
  release(): void;
}

export type ChannelOpener = () => Promise<OpenedChannel>;

/** Text of a failing remote command kept for the error message. */
const STDERR_CAP = 1024;

export class SshSocket extends Duplex {
  connecting = true;
  /** As net.Socket: the idle timeout set with setTimeout (0: none). */
  timeout = 0;
  private opened: OpenedChannel | undefined;
  private ready: Promise<OpenedChannel>;
  private refd = true;
  private gotData = false;
  private channelClosed = false;
  private readableEndedByChannel = false;
  private stderrText = '';
  private exitCode: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    open: ChannelOpener,
    private readonly address: string,
    highWaterMark?: number,
  ) {
    // As net.Socket: the write side ends when the other side ended (no half-open connection left).
    super({ allowHalfOpen: false, ...(highWaterMark ? { readableHighWaterMark: highWaterMark } : {}) });
    this.ready = open();
    this.ready.then(
      (o) => this.attach(o),
      (err: Error) => this.destroy(err),
    );
    // Handled where the channel is used (_write, _final); this keeps an early failure from being unhandled.
    this.ready.catch(() => undefined);
  }

  private attach(o: OpenedChannel): void {
    if (this.destroyed) {
      o.channel.destroy();
      o.release();
      return;
    }
    this.opened = o;
    if (!this.refd) o.unref();
    const ch = o.channel;
    ch.on('data', (chunk: Buffer) => {
      this.gotData = true;
      this.touch();
      if (!this.push(chunk)) ch.pause();
    });
    ch.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderrText.length < STDERR_CAP) this.stderrText += chunk.toString('utf8');
    });
    ch.on('exit', (code: unknown) => {
      if (typeof code === 'number') this.exitCode = code;
    });
    // Without any data yet, the end may be a failed dial-stdio: 'close' (after 'exit') decides.
    ch.on('end', () => {
      if (this.gotData) this.endReadable();
    });
    ch.on('error', (err: Error) => this.destroy(err));
    ch.on('close', () => {
      this.channelClosed = true;
      if (!this.gotData && this.exitCode !== undefined && this.exitCode !== 0) {
        // The remote `docker system dial-stdio` failed (no docker CLI there, no Engine): say what it said.
        const said = this.stderrText.trim().split('\n').slice(-3).join(' ').slice(0, 300);
        this.destroy(
          new ConnectorError(
            'CONNECTION_FAILED',
            `Cannot connect to the Docker Engine at ${this.address}: "docker system dial-stdio" exited with ${this.exitCode} on the remote host${said ? `: ${said}` : ''}`,
          ),
        );
        return;
      }
      this.endReadable();
    });
    this.connecting = false;
    this.touch();
    this.emit('connect');
    this.emit('ready');
  }

  private endReadable(): void {
    if (this.readableEndedByChannel) return;
    this.readableEndedByChannel = true;
    this.push(null);
  }

  override _read(): void {
    this.opened?.channel.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.touch();
    if (this.opened) return this.writeTo(this.opened, chunk, encoding, callback);
    this.ready.then(
      (o) => this.writeTo(o, chunk, encoding, callback),
      (err: Error) => callback(err),
    );
  }

  private writeTo(o: OpenedChannel, chunk: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.channelClosed || this.destroyed) return callback(Object.assign(new Error('The SSH channel is closed'), { code: 'ECONNRESET' }));
    if (o.channel.write(chunk, encoding)) callback();
    else o.channel.once('drain', () => callback());
  }

  override _final(callback: (err?: Error | null) => void): void {
    // End of what we send (exec stdin closed): EOF on the channel; dial-stdio passes it on as a half-close.
    this.ready.then(
      (o) => {
        if (!this.channelClosed) o.channel.end();
        callback();
      },
      (err: Error) => callback(err),
    );
  }

  override _destroy(err: Error | null, callback: (err: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    const o = this.opened;
    if (o) {
      this.opened = undefined;
      if (!this.channelClosed) o.channel.destroy();
      if (this.refd) o.unref();
      o.release();
    }
    callback(err);
  }

  ref(): this {
    if (!this.refd) {
      this.refd = true;
      this.opened?.ref();
    }
    return this;
  }

  unref(): this {
    if (this.refd) {
      this.refd = false;
      this.opened?.unref();
    }
    return this;
  }

  setKeepAlive(): this {
    // The SSH connection's TCP socket has keep-alive; a channel has nothing to set.
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  /** As net.Socket#setTimeout: 'timeout' after `ms` without reads or writes; 0 turns it off. */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeout = ms;
    if (callback) this.once('timeout', callback);
    this.touch();
    return this;
  }

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.timeout > 0 && !this.destroyed) {
      this.timer = setTimeout(() => this.emit('timeout'), this.timeout);
      this.timer.unref();
    }
  }
}
