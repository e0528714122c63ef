import { StringDecoder } from 'node:string_decoder';
import { Transform } from 'node:stream';

/** Media types in an Accept header that select an operation's raw-stream form. */
export const STREAM_MEDIA_TYPES = ['application/x-tar', 'application/x-ndjson', 'text/plain', 'application/octet-stream'] as const;

interface Accepted {
  type: string;
  q: number;
}

function parseAccept(header: string | undefined): Accepted[] {
  if (!header) return [];
  return header.split(',').flatMap((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    if (!type) return [];
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    return Number.isFinite(value) && value > 0 ? [{ type: type.trim(), q: value }] : [];
  });
}

/** True when the caller asked for a raw-stream media type by name (a bare "*\/*" keeps the JSON result). */
export function wantsStream(accept: string | undefined): boolean {
  return parseAccept(accept).some((a) => (STREAM_MEDIA_TYPES as readonly string[]).includes(a.type));
}

/**
 * How to answer with a stream of `contentType` for this Accept header:
 * as it is, as newline-delimited JSON (a text stream for a caller asking for
 * application/x-ndjson), or not at all (406).
 */
export function negotiateStream(accept: string | undefined, contentType: string): 'as-is' | 'ndjson' | undefined {
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  const major = base.split('/')[0];
  const accepted = parseAccept(accept);
  if (accepted.some((a) => a.type === base || a.type === `${major}/*` || a.type === '*/*')) return 'as-is';
  if (major === 'text' && accepted.some((a) => a.type === 'application/x-ndjson')) return 'ndjson';
  return undefined;
}

/** Longest line held while waiting for its end; longer ones go out in pieces marked partial. */
const MAX_LINE = 64 * 1024;

/**
 * Text → newline-delimited JSON: one `{"text": "<line>"}` per line, as the
 * lines arrive (a followed log shows up line by line). Memory stays bounded:
 * a line longer than 64 KiB is sent in pieces with `"partial": true`.
 */
export function textToNdjson(): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const line = (text: string, partial = false) => `${JSON.stringify(partial ? { text, partial: true } : { text })}\n`;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      pending += decoder.write(chunk);
      let out = '';
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        out += line(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
      while (pending.length > MAX_LINE) {
        out += line(pending.slice(0, MAX_LINE), true);
        pending = pending.slice(MAX_LINE);
      }
      cb(null, out || undefined);
    },
    flush(cb) {
      pending += decoder.end();
      cb(null, pending ? line(pending) : undefined);
    },
  });
}

/**
 * The media types in STREAM_MEDIA_TYPES that `negotiateStream` accepts for a
 * stream of `contentType`: what an operation streaming that type really
 * produces, so the OpenAPI document declares exactly these.
 */
export function streamMediaTypes(contentType: string): string[] {
  return STREAM_MEDIA_TYPES.filter((t) => negotiateStream(t, contentType) !== undefined);
}
