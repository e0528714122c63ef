import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The known_hosts file as OpenSSH reads it, for the host-key check of ssh://
 * endpoints: plain host patterns (wildcards, negation), `[host]:port` entries
 * for ports other than 22, hashed entries (`|1|salt|hash`, HMAC-SHA1 of the
 * name keyed with the salt) and `@revoked` lines. `@cert-authority` lines are
 * not used (host certificates are not checked): such a host is unknown.
 */

export type HostKeyVerdict =
  /** A line for this host carries this very key. */
  | { status: 'known' }
  /** No line names this host. */
  | { status: 'unknown' }
  /** Lines name this host, with other keys: the key changed (or it is an impostor). */
  | { status: 'changed'; lines: number[] }
  /** The key is listed as @revoked. */
  | { status: 'revoked'; line: number };

/** The name a host is recorded under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key's SHA256 fingerprint as `ssh-keygen -lf` prints it: `SHA256:` and unpadded base64. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`). */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return len > 0 && len < 64 && keyBlob.length >= 4 + len ? keyBlob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

/** The line that records a host's key (unhashed, as `ssh -o StrictHostKeyChecking=accept-new` writes it). */
export function knownHostsLine(host: string, port: number, keyBlob: Buffer): string {
  return `${knownHostName(host, port)} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}`;
}

interface Entry {
  line: number;
  marker: '' | '@revoked' | '@cert-authority';
  hosts: string;
  type: string;
  key: Buffer;
}

function parse(text: string): Entry[] {
  const out: Entry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: Entry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as Entry['marker'];
    const [hosts, type, key] = fields;
    if (!hosts || !type || !key || !/^[A-Za-z0-9+/]+=*$/.test(key)) continue;
    out.push({ line: i + 1, marker, hosts, type, key: Buffer.from(key, 'base64') });
  }
  return out;
}

/** `*` and `?` wildcards, as OpenSSH's match_pattern (case-insensitive host names). */
function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = pattern.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const want = Buffer.from(parts[3]!, 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Whether a line's host field (comma-separated patterns, `!` negates) names `name`. */
function hostsMatch(field: string, name: string): boolean {
  if (field.startsWith('|')) return hashedMatch(field, name);
  let matched = false;
  for (const p of field.split(',')) {
    if (!p) continue;
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) matched = true;
  }
  return matched;
}

/** Checks a host's key against the text of a known_hosts file. */
export function checkHostKey(text: string, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  const mine = parse(text).filter((e) => e.marker !== '@cert-authority' && hostsMatch(e.hosts, name));
  const revoked = parse(text).find((e) => e.marker === '@revoked' && e.key.equals(keyBlob));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const plain = mine.filter((e) => e.marker === '');
  if (plain.some((e) => e.key.equals(keyBlob))) return { status: 'known' };
  if (plain.length === 0) return { status: 'unknown' };
  return { status: 'changed', lines: plain.map((e) => e.line) };
}

/** The key types known for a host, so the handshake asks for one of those first (as OpenSSH does). */
export function knownKeyTypes(text: string, host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const types = parse(text)
    .filter((e) => e.marker === '' && hostsMatch(e.hosts, name))
    .map((e) => e.type);
  return [...new Set(types)];
}
