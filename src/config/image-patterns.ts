/**
 * Image references as guardrails' `allowed_images` compares them: the
 * reference a caller gives and each pattern are brought to one form
 * (registry/repository, Docker Hub's "docker.io/library/" filled in), so
 * "nginx", "library/nginx" and "docker.io/library/nginx:1.27" are one
 * repository. Pure string logic: no Engine is asked what a tag points to.
 */

const HEX64 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface NormalizedReference {
  /** "registry/path" with Docker Hub's defaults filled in; undefined for an image id. */
  name?: string;
  /** sha256:… when the reference pins a digest (repo@sha256:…) or is a full image id. */
  digest?: string;
  /** The reference could be an image id or id prefix (hex only): only a digest entry can allow it. */
  idLike: boolean;
}

/** The registry part of a name, when its first component is one (has "." or ":", or is "localhost"). */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { domain: first.toLowerCase(), path: name.slice(slash + 1) };
  }
  return { domain: 'docker.io', path: name };
}

/** "nginx" → "docker.io/library/nginx"; "index.docker.io/x/y" → "docker.io/x/y". */
function canonicalName(name: string): string {
  let { domain, path } = splitDomain(name);
  if (domain === 'index.docker.io' || domain === 'registry-1.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${domain}/${path}`;
}

/**
 * Splits "host:5000/repo:tag@sha256:…" into its parts; the tag colon is the one after the last "/".
 * (Here, below the operations, because the guardrails' image patterns need it too.)
 */
export function splitReference(ref: string): { repo: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) return { repo: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { repo: rest, digest };
}

/** The form a reference given to create_container or pull_image is compared in. */
export function normalizeReference(reference: string): NormalizedReference {
  const ref = reference.trim();
  if (HEX64.test(ref)) return { digest: `sha256:${ref}`, idLike: true };
  if (/^sha256:[0-9a-f]*$/i.test(ref)) return { digest: DIGEST.test(ref.toLowerCase()) ? ref.toLowerCase() : undefined, idLike: true };
  const { repo: name, tag, digest } = splitReference(ref);
  // The Engine resolves a hex-only name it has no image for as an image id prefix: that could be any image.
  const idLike = tag === undefined && digest === undefined && /^[0-9a-f]+$/.test(name);
  return { name: canonicalName(name), digest: digest?.toLowerCase(), idLike };
}

export interface ImagePattern {
  /** The entry as configured (for messages). */
  source: string;
  /** Repository pattern, "*" matching any characters ("/" included); undefined for a bare digest. */
  name?: RegExp;
  digest?: string;
}

/**
 * Parses one allowed_images entry: "sha256:<64 hex>" (that content, under
 * any name), "repo@sha256:<64 hex>", or a repository pattern ("nginx",
 * "registry.example.com/team/*", "*"). Tags are refused: a tag moves, so it
 * cannot pin what runs; give the repository (any tag) or a digest.
 * Returns the problem as a string when the entry is not usable.
 */
export function parseImagePattern(entry: string): ImagePattern | string {
  const text = entry.trim();
  if (text === '') return 'an empty entry';
  if (DIGEST.test(text)) return { source: entry, digest: text };
  const { repo: name, tag, digest } = splitReference(text);
  if (digest !== undefined && !DIGEST.test(digest)) return `"${entry}": a digest must be sha256: and 64 lowercase hex digits`;
  if (tag !== undefined) return `"${entry}" names a tag; give a repository pattern (any tag) or a digest (tags move, digests do not)`;
  if (!/^[A-Za-z0-9._:/*-]+$/.test(name) || name.startsWith('/') || name.endsWith('/') || name.includes('//')) {
    return `"${entry}" is not a repository pattern like "nginx", "registry.example.com/team/*" or "*"`;
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  // A wildcard in the first component stands for any registry ("*", "*.example.com/app"): taken as written.
  const full = first.includes('*') ? name.toLowerCase() : canonicalName(name);
  const re = new RegExp(`^${full.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return { source: entry, name: re, digest };
}

/** True when one of the patterns allows the reference. */
export function imageAllowed(ref: NormalizedReference, patterns: readonly ImagePattern[]): boolean {
  return patterns.some((p) => {
    if (p.name === undefined) return ref.digest !== undefined && ref.digest === p.digest;
    if (ref.idLike || ref.name === undefined || !p.name.test(ref.name)) return false;
    return p.digest === undefined || p.digest === ref.digest;
  });
}
