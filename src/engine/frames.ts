/**
 * Demultiplexes the Engine's framed stream (logs, attach, non-TTY exec):
 * an 8-byte header [stream, 0, 0, 0, size uint32 BE] then `size` bytes.
 * Frames split across network chunks anywhere, header included, so partial
 * headers and payloads are carried over between `push` calls.
 */
export type FrameStream = 'stdout' | 'stderr' | 'error';

const STREAMS: Record<number, FrameStream> = {
  0: 'stdout', // stdin echoed back: treat as stdout, as the docker CLI does
  1: 'stdout',
  2: 'stderr',
  3: 'error', // an error from the daemon itself, never user output
};

export class FrameParser {
  private header = Buffer.alloc(8);
  private headerFill = 0;
  private remaining = 0;
  private current: FrameStream = 'stdout';

  constructor(private readonly onFrame: (stream: FrameStream, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < 8) return;
        this.headerFill = 0;
        const kind = this.header[0]!;
        const stream = STREAMS[kind];
        if (!stream) throw new Error(`Malformed multiplexed stream: unknown stream type ${kind}`);
        this.current = stream;
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      this.onFrame(this.current, chunk.subarray(offset, offset + take));
      this.remaining -= take;
      offset += take;
    }
  }

  /** True when the stream ended in the middle of a frame. */
  get partial(): boolean {
    return this.remaining > 0 || this.headerFill > 0;
  }
}

/**
 * True when the Engine said the body is a raw (TTY) stream rather than framed.
 * Only meaningful from API 1.42, and never for a non-upgraded
 * POST /exec/{id}/start (Engine 28 labels that framed body raw-stream):
 * decide those from Tty.
 */
export function isRawStream(contentType: string | undefined, tty: boolean | undefined): boolean {
  if (contentType?.includes('vnd.docker.raw-stream')) return true;
  if (contentType?.includes('vnd.docker.multiplexed-stream')) return false;
  return Boolean(tty);
}
