/**
 * Checking an evidence bundle against its manifest: every file it lists is
 * hashed again (streamed) and compared. Local files only: no Engine.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ConnectorError } from '../../errors.js';
import { MANIFEST_FILE } from './evidence-bundle.js';
import type { VerifyEvidenceResult } from './evidence-schemas.js';

const invalidPath = (why: string) => new ConnectorError('INVALID_PARAMS', `Invalid parameter path: ${why}`, { details: { parameters: ['path'] } });

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A manifest's file name resolved inside the bundle; undefined when it would point outside (a forged manifest). */
function inside(dir: string, file: string): string | undefined {
  if (isAbsolute(file) || file.includes('\0')) return undefined;
  const full = resolve(dir, file);
  const rel = relative(dir, full);
  return rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel) ? undefined : full;
}

/**
 * Verifies the bundle in `path`. A changed or missing file is a result
 * (ok: false), not an error; a folder without a readable manifest is
 * INVALID_PARAMS. `expectedManifest` (the hash the collection reported)
 * also catches a manifest rewritten to match altered files.
 */
export async function verifyEvidenceBundle(path: string, expectedManifest?: string): Promise<VerifyEvidenceResult> {
  const dir = resolve(path);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw invalidPath(`${dir} is not an existing folder`);
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(dir, MANIFEST_FILE));
  } catch {
    throw invalidPath(`${dir} holds no ${MANIFEST_FILE}: not an evidence bundle, or an incomplete one (the manifest is written last)`);
  }
  const manifestSha = createHash('sha256').update(bytes).digest('hex');
  const mismatches: VerifyEvidenceResult['mismatches'] = [];
  if (expectedManifest !== undefined && expectedManifest.toLowerCase() !== manifestSha) {
    mismatches.push({ file: MANIFEST_FILE, expected: expectedManifest.toLowerCase(), actual: manifestSha });
  }
  let listed: unknown;
  try {
    listed = (JSON.parse(bytes.toString('utf8')) as { artifacts?: unknown }).artifacts;
  } catch {
    listed = undefined;
  }
  if (!Array.isArray(listed)) {
    // Unreadable: with the expected hash that is a tampered manifest; without it, not a bundle this can check.
    if (mismatches.length > 0) return { ok: false, checked: 0, mismatches, missing: [], manifest_sha256: manifestSha };
    throw invalidPath(`${MANIFEST_FILE} in ${dir} is not an evidence manifest (no artifacts list)`);
  }
  const missing: string[] = [];
  let checked = 0;
  for (const entry of listed as { file?: unknown; sha256?: unknown }[]) {
    if (typeof entry?.file !== 'string' || typeof entry.sha256 !== 'string') continue; // an artifact recorded with its error
    checked++;
    const full = inside(dir, entry.file);
    if (!full) {
      mismatches.push({ file: entry.file, expected: entry.sha256, actual: null });
      continue;
    }
    const actual = await sha256File(full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EISDIR') return undefined;
      throw new ConnectorError('INVALID_PARAMS', `Invalid parameter path: cannot read ${full}: ${err.code ?? err.message}`, { details: { parameters: ['path'] } });
    });
    if (actual === undefined) missing.push(entry.file);
    else if (actual !== entry.sha256) mismatches.push({ file: entry.file, expected: entry.sha256, actual });
  }
  return { ok: mismatches.length === 0 && missing.length === 0, checked, mismatches, missing, manifest_sha256: manifestSha };
}
