import net from 'node:net';

/**
 * The floor: the least a client can do for a small Engine call over HTTP/1.1.
 * A `net` socket on the Engine's unix socket, kept alive, writes a request
 * built once (the same bytes every call) and reads back only what it must to
 * know where the answer ends: the status code, `Content-Length` or, when
 * the Engine streams the body, the chunk sizes. Headers are not parsed into
 * an object, the body is skipped, not decoded nor parsed. No code of the
 * connector (nor of any HTTP library) is involved, so what a real client
 * spends beyond this is its own work.
 *
 * dockerd (Go's net/http) answers with canonical header names, a
 * `Content-Length` when the whole body fits its 2 KiB write buffer (HEAD
 * /_ping, an empty list) and `Transfer-Encoding: chunked` otherwise (an
 * inspect, a long list): both are handled.
 */

const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = Buffer.from('\r\nContent-Length:');
const CHUNKED = Buffer.from('\r\nTransfer-Encoding: chunked');

const IDLE = 0;
const HEAD = 1;
const BODY = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_END = 5;
const TRAILER = 6;

/** The value of a hex digit, or -1. */
function hexValue(b) {
  if (b >= 48 && b <= 57) return b - 48;
  if (b >= 97 && b <= 102) return b - 87;
  if (b >= 65 && b <= 70) return b - 55;
  return -1;
}

/** One keep-alive connection doing one request at a time. */
export class RawConnection {
  constructor(socketPath) {
    this.alive = true;
    this.phase = IDLE;
    this.partial = null; // the start of a head split across reads
    this.socket = net.connect({ path: socketPath });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the Engine closed the connection')));
  }

  /**
   * Writes `request` (a prebuilt Buffer) and resolves with the status code
   * once the whole answer has gone by; with `keepBody`, with {status, body}.
   */
  request(request, isHead, keepBody = false) {
    if (!this.alive) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.isHead = isHead;
      this.body = keepBody ? [] : null;
      this.phase = HEAD;
      this.socket.write(request);
    });
  }

  onData(chunk) {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      switch (this.phase) {
        case IDLE:
          return this.fail(new Error(`${len - off} unexpected bytes between answers`));
        case HEAD: {
          if (this.partial) {
            chunk = Buffer.concat([this.partial, chunk.subarray(off)]);
            this.partial = null;
            return this.onData(chunk);
          }
          const end = chunk.indexOf(HEAD_END, off);
          if (end === -1) {
            this.partial = chunk.subarray(off);
            return;
          }
          // "HTTP/1.1 200 OK": the status code is bytes 9–11.
          this.status = (chunk[off + 9] - 48) * 100 + (chunk[off + 10] - 48) * 10 + (chunk[off + 11] - 48);
          const bodyStart = end + 4;
          if (this.isHead || this.status === 204 || this.status === 304) {
            off = bodyStart;
            this.done();
            break;
          }
          const cl = chunk.indexOf(CONTENT_LENGTH, off);
          if (cl !== -1 && cl < end) {
            let i = cl + CONTENT_LENGTH.length;
            while (chunk[i] === 32) i++;
            let n = 0;
            for (let b = chunk[i]; b >= 48 && b <= 57; b = chunk[++i]) n = n * 10 + (b - 48);
            this.remaining = n;
            this.phase = BODY;
          } else {
            const ch = chunk.indexOf(CHUNKED, off);
            if (ch === -1 || ch > end) return this.fail(new Error('an answer with neither Content-Length nor chunked encoding'));
            this.size = 0;
            this.phase = CHUNK_SIZE;
          }
          off = bodyStart;
          if (this.phase === BODY && this.remaining === 0) this.done();
          break;
        }
        case BODY:
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, len - off);
          if (this.body) this.body.push(chunk.subarray(off, off + take));
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            if (this.phase === BODY) this.done();
            else {
              this.phase = CHUNK_END;
              this.remaining = 2; // the CRLF after the chunk's data
            }
          }
          break;
        }
        case CHUNK_END: {
          const take = Math.min(this.remaining, len - off);
          off += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.size = 0;
            this.phase = CHUNK_SIZE;
          }
          break;
        }
        case CHUNK_SIZE: {
          // "<hex>[;ext]\r\n": hex digits count, the rest up to \n is skipped.
          for (; off < len; off++) {
            const b = chunk[off];
            if (b === 10) {
              off++;
              if (this.size === 0) {
                this.phase = TRAILER;
                this.lineLen = 0;
              } else {
                this.remaining = this.size;
                this.phase = CHUNK_DATA;
              }
              break;
            }
            if (this.sizeDone) continue;
            const v = hexValue(b);
            if (v === -1) this.sizeDone = true;
            else this.size = this.size * 16 + v;
          }
          if (this.phase !== CHUNK_SIZE) this.sizeDone = false;
          break;
        }
        case TRAILER: {
          // Trailer lines, if any, then an empty line ends the answer.
          for (; off < len; off++) {
            const b = chunk[off];
            if (b === 10) {
              if (this.lineLen === 0) {
                off++;
                this.done();
                break;
              }
              this.lineLen = 0;
            } else if (b !== 13) this.lineLen++;
          }
          break;
        }
      }
    }
  }

  done() {
    this.phase = IDLE;
    const { resolve, body, status } = this;
    this.resolve = this.reject = null;
    resolve(body ? { status, body: Buffer.concat(body) } : status);
  }

  fail(err) {
    this.alive = false;
    this.phase = IDLE;
    const reject = this.reject;
    this.resolve = this.reject = null;
    this.socket.destroy();
    if (reject) reject(err);
  }

  close() {
    this.alive = false;
    this.reject = null;
    this.socket.destroy();
  }
}

/** A request's bytes, built once by the caller and written as they are for every call. */
export function requestBytes(method, path) {
  return Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: docker\r\n\r\n`, 'latin1');
}

/**
 * A few RawConnections for calls from one caller: up to `connections` open
 * at once (1: one connection, calls queue; more: one per call in flight, as
 * an HTTP pool would).
 */
export class RawSocketPool {
  constructor(socketPath, { connections = 1 } = {}) {
    this.socketPath = socketPath;
    this.max = connections;
    this.idle = [];
    this.open = new Set();
    this.waiters = [];
  }

  acquire() {
    const conn = this.idle.pop();
    if (conn) return conn;
    if (this.open.size < this.max) {
      const c = new RawConnection(this.socketPath);
      this.open.add(c);
      return c;
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(conn) {
    if (!conn.alive) {
      this.open.delete(conn);
      const w = this.waiters.shift();
      if (w) w(this.acquire());
      return;
    }
    const w = this.waiters.shift();
    if (w) w(conn);
    else this.idle.push(conn);
  }

  /**
   * Sends `bytes` (from requestBytes) and resolves with the status code, or
   * with {status, body} when `keepBody`; throws on a status ≥ 300.
   */
  async request(bytes, head = false, keepBody = false) {
    let conn = this.acquire();
    if (conn instanceof Promise) conn = await conn;
    let res;
    try {
      res = await conn.request(bytes, head, keepBody);
    } finally {
      this.release(conn);
    }
    const status = keepBody ? res.status : res;
    if (status >= 300) throw new Error(`${bytes.toString('latin1').split('\r\n')[0]}: ${status}${keepBody ? ` ${res.body.toString().slice(0, 200)}` : ''}`);
    return res;
  }

  close() {
    for (const c of this.open) c.close();
    this.open.clear();
    this.idle.length = 0;
  }
}
