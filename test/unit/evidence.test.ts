import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditResultFields } from '../../src/access/audit.js';
import { configSchema } from '../../src/config/schema.js';
import { checkBundleFolder } from '../../src/operations/shared/evidence-bundle.js';
import { verifyEvidenceBundle } from '../../src/operations/shared/evidence-verify.js';

const tmp = mkdtempSync(join(tmpdir(), 'dc-evidence-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

function bundle(name: string, artifacts: object[], files: Record<string, string>): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ artifacts }));
  return dir;
}

describe('verify_evidence (local files only)', () => {
  it('checks hashed artifacts, skips those recorded with an error, and reports mismatches and missing files', async () => {
    const dir = bundle(
      'b1',
      [
        { name: 'a', file: 'a.txt', sha256: sha('alpha') },
        { name: 'b', file: 'b.txt', sha256: sha('bravo') },
        { name: 'c', file: 'c.txt', sha256: sha('charlie') },
        { name: 'top', error: { code: 'CONFLICT', message: 'not running' } },
      ],
      { 'a.txt': 'alpha', 'b.txt': 'bravo!' },
    );
    const r = await verifyEvidenceBundle(dir);
    expect(r).toEqual({ ok: false, checked: 3, mismatches: [{ file: 'b.txt', expected: sha('bravo'), actual: sha('bravo!') }], missing: ['c.txt'], manifest_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it('never reads outside the bundle: a forged manifest naming ../ or absolute paths is a mismatch', async () => {
    writeFileSync(join(tmp, 'outside.txt'), 'outside');
    const dir = bundle(
      'b2',
      [
        { name: 'x', file: '../outside.txt', sha256: sha('outside') },
        { name: 'y', file: join(tmp, 'outside.txt'), sha256: sha('outside') },
      ],
      {},
    );
    const r = await verifyEvidenceBundle(dir);
    expect(r.ok).toBe(false);
    expect(r.mismatches).toEqual([
      { file: '../outside.txt', expected: sha('outside'), actual: null },
      { file: join(tmp, 'outside.txt'), expected: sha('outside'), actual: null },
    ]);
  });

  it('an expected manifest hash catches a rewritten manifest, even an unreadable one', async () => {
    const dir = bundle('b3', [], {});
    writeFileSync(join(dir, 'manifest.json'), 'not json');
    const expected = sha('something else');
    expect(await verifyEvidenceBundle(dir, expected.toUpperCase())).toEqual({ ok: false, checked: 0, mismatches: [{ file: 'manifest.json', expected, actual: sha('not json') }], missing: [], manifest_sha256: sha('not json') });
    await expect(verifyEvidenceBundle(dir)).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/^Invalid parameter path: manifest\.json in .* is not an evidence manifest/) });
  });

  it('refuses a folder without a manifest, naming path', async () => {
    mkdirSync(join(tmp, 'empty'));
    await expect(verifyEvidenceBundle(join(tmp, 'empty'))).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/^Invalid parameter path: .* holds no manifest\.json/) });
  });
});

describe('collect_evidence: the bundle folder', () => {
  it('takes a new folder or an empty one, refuses anything else naming the parameter', async () => {
    mkdirSync(join(tmp, 'ok-empty'));
    await expect(checkBundleFolder(join(tmp, 'ok-empty'), 'path')).resolves.toBe(join(tmp, 'ok-empty'));
    await expect(checkBundleFolder(join(tmp, 'new-one'), 'path')).resolves.toBe(join(tmp, 'new-one'));
    writeFileSync(join(tmp, 'ok-empty', 'x'), '');
    await expect(checkBundleFolder(join(tmp, 'ok-empty'), 'path')).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/^Invalid parameter path: .*exists and is not empty/) });
    await expect(checkBundleFolder(join(tmp, 'ok-empty', 'x'), 'path')).rejects.toMatchObject({ message: expect.stringMatching(/is not a folder/) });
    await expect(checkBundleFolder(join(tmp, 'no', 'such', 'parent'), 'path')).rejects.toMatchObject({ message: expect.stringMatching(/folder .*no\/such does not exist/) });
    await expect(checkBundleFolder(join(tmp, 'no', 'such', 'parent'), 'evidence_before_destroy', true)).resolves.toBe(join(tmp, 'no', 'such', 'parent'));
  });
});

describe('evidence settings and audit', () => {
  it('evidence_before_destroy takes {dir} or the folder alone (as an env variable or flag gives it)', () => {
    expect(configSchema.parse({ evidence_before_destroy: '/ev' }).evidence_before_destroy).toEqual({ dir: '/ev' });
    expect(configSchema.parse({ evidence_before_destroy: { dir: '/ev' } }).evidence_before_destroy).toEqual({ dir: '/ev' });
    expect(configSchema.safeParse({ evidence_before_destroy: { dir: '/ev', other: 1 } }).success).toBe(false);
    expect(configSchema.safeParse({ evidence_before_destroy: '' }).success).toBe(false);
  });

  it('an audit line carries the result fields an operation declares, and evidence, nothing else', () => {
    const result = { path: '/b', manifest_sha256: 'ab', artifacts: [{ name: 'x' }], bytes: 3 };
    expect(auditResultFields({ auditResult: ['manifest_sha256', 'path'] }, result)).toEqual({ manifest_sha256: 'ab', path: '/b' });
    expect(auditResultFields({}, { deleted: [], evidence: [{ container: 'c', path: '/e', manifest_sha256: 'cd' }] })).toEqual({ evidence: [{ container: 'c', path: '/e', manifest_sha256: 'cd' }] });
    expect(auditResultFields({}, { deleted: [] })).toBeUndefined();
    expect(auditResultFields({ auditResult: ['x'] }, [1, 2])).toBeUndefined();
  });
});
