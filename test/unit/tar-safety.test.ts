import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { pack, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError } from '../../src/errors.js';
import { archiveEntryPath, extractArchive, pathInside, symlinkTargetInside, UnsafeEntryError } from '../../src/files/tar-safety.js';

type Entry = { header: Partial<Header> & { name: string }; body?: string };

/** Builds a tar in memory with tar-stream's pack: crafted names and links are written as given. */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.body !== undefined) p.entry({ type: 'file', ...e.header }, e.body);
    else p.entry(e.header);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const file = (name: string, body = 'x', mode = 0o644): Entry => ({ header: { name, mode }, body });
const dir = (name: string): Entry => ({ header: { name, type: 'directory', mode: 0o755 } });
const symlink = (name: string, linkname: string): Entry => ({ header: { name, type: 'symlink', linkname } });
const hardlink = (name: string, linkname: string): Entry => ({ header: { name, type: 'link', linkname } });

describe('archiveEntryPath', () => {
  it('normalises harmless names', () => {
    expect(archiveEntryPath('a/b')).toBe('a/b');
    expect(archiveEntryPath('./a//b/')).toBe('a/b');
    expect(archiveEntryPath('./')).toBe('');
    expect(archiveEntryPath('dir/')).toBe('dir');
  });

  it.each([
    ['../evil', 'climbs out'],
    ['a/../../evil', 'climbs out'],
    ['a/../b', 'climbs out'],
    ['a\\..\\..\\evil', 'climbs out'],
    ['/etc/passwd', 'absolute'],
    ['\\\\server\\share', 'absolute'],
    ['C:/Windows/x', 'absolute'],
    ['a\0b', 'NUL'],
  ])('refuses %j', (name, reason) => {
    expect(() => archiveEntryPath(name)).toThrow(UnsafeEntryError);
    expect(() => archiveEntryPath(name)).toThrow(reason);
  });

  it('never yields a path outside the root, whatever the name (property)', () => {
    const root = '/tmp/root';
    const segment = fc.constantFrom('a', 'b', '..', '.', '', 'c.txt', '\\', '...');
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), fc.boolean(), (parts, absolute) => {
        const name = (absolute ? '/' : '') + parts.join('/');
        let rel: string;
        try {
          rel = archiveEntryPath(name);
        } catch (err) {
          return err instanceof UnsafeEntryError;
        }
        const full = pathInside(root, rel);
        return full === root || full.startsWith(`${root}/`);
      }),
    );
  });
});

describe('symlinkTargetInside', () => {
  it.each([
    ['a/l', 'b', true],
    ['a/l', '../b', true],
    ['a/b/l', '../../x', true],
    ['a/l', './b/../c', true],
    ['a/l', '../../b', false],
    ['l', '..', false],
    ['l', '/etc', false],
    ['l', 'C:\\x', false],
    ['l', '', false],
  ])('%s -> %s: %s', (entry, target, inside) => {
    expect(symlinkTargetInside(entry, target)).toBe(inside);
  });
});

describe('extractArchive', () => {
  let outside: string; // the folder around dest: nothing may appear here
  let dest: string;

  beforeEach(() => {
    outside = mkdtempSync(join(tmpdir(), 'dc-tar-'));
    dest = join(outside, 'dest');
    mkdirSync(dest);
  });

  afterEach(() => {
    rmSync(outside, { recursive: true, force: true });
  });

  async function refused(entries: Entry[], reason: RegExp): Promise<ConnectorError> {
    const tar = await tarOf(entries);
    const around = readdirSync(outside);
    const err = await extractArchive(Readable.from([tar]), dest).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectorError);
    const e = err as ConnectorError;
    expect(e.code).toBe('STREAM_ERROR');
    expect(e.message).toMatch(reason);
    // Nothing written: dest is as it was (no staging folder left), nothing beside it.
    expect(readdirSync(dest)).toEqual([]);
    expect(readdirSync(outside)).toEqual(around);
    return e;
  }

  it('extracts files, folders, links and modes, and lists them', async () => {
    const tar = await tarOf([
      dir('site/'),
      file('site/a.txt', 'hello', 0o4755),
      symlink('site/l', 'a.txt'),
      symlink('site/up', '../site/a.txt'),
      hardlink('site/h', 'site/a.txt'),
      file('site/deep/x/y.txt', 'nested'), // no folder entries: created on the way
      { header: { name: 'site/pipe', type: 'fifo' } },
      file('site/empty', ''),
    ]);
    const r = await extractArchive(Readable.from([tar]), dest);
    expect(r.files).toEqual([
      { path: 'site', size: 0, type: 'directory' },
      { path: 'site/a.txt', size: 5, type: 'file' },
      { path: 'site/l', size: 0, type: 'symlink' },
      { path: 'site/up', size: 0, type: 'symlink' },
      { path: 'site/h', size: 5, type: 'link' },
      { path: 'site/deep/x/y.txt', size: 6, type: 'file' },
      { path: 'site/empty', size: 0, type: 'file' },
    ]);
    expect(r).toMatchObject({ count: 7, bytes: 11, files_truncated: false, skipped: [{ path: 'site/pipe', type: 'fifo' }] });
    expect(readdirSync(dest)).toEqual(['site']);
    expect(readFileSync(join(dest, 'site/a.txt'), 'utf8')).toBe('hello');
    // setuid is never carried over from a container.
    expect(statSync(join(dest, 'site/a.txt')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(dest, 'site/l'))).toBe('a.txt');
    expect(readFileSync(join(dest, 'site/up'), 'utf8')).toBe('hello');
    expect(statSync(join(dest, 'site/h')).ino).toBe(statSync(join(dest, 'site/a.txt')).ino);
    expect(readFileSync(join(dest, 'site/deep/x/y.txt'), 'utf8')).toBe('nested');
  });

  it('refuses ".." names, even after good entries', async () => {
    await refused([file('good.txt'), file('../evil.txt')], /climbs out/);
    await refused([dir('a/'), file('a/../../evil.txt')], /climbs out/);
  });

  it('refuses absolute names', async () => {
    const e = await refused([file('/tmp/evil.txt')], /absolute/);
    expect(e.details).toMatchObject({ entry: '/tmp/evil.txt' });
  });

  it('refuses symlinks pointing out, absolute or relative', async () => {
    await refused([file('ok'), symlink('etc', '/etc')], /symlink pointing outside/);
    await refused([dir('a/'), symlink('a/up', '../../x')], /symlink pointing outside/);
  });

  it('never writes through a symlink, even one pointing inside', async () => {
    // "l" -> "." is inside, but "l/x" must not be written by following it.
    await refused([symlink('l', '.'), file('l/x')], /not a folder/);
  });

  it('refuses a chain of links that climbs out only when followed', async () => {
    // sub/d -> ".." is the root (inside); e -> "sub/d/.." looks like "sub" lexically, but is the root's parent.
    await refused([dir('sub/'), symlink('sub/d', '..'), symlink('e', 'sub/d/..')], /resolves outside/);
  });

  it('refuses hard links to anything but a file of the same archive', async () => {
    writeFileSync(join(outside, 'secret'), 'secret');
    await refused([file('a'), hardlink('h', '../secret')], /climbs out/);
    await refused([file('a'), hardlink('h', '/etc/passwd')], /absolute/);
    await refused([file('a'), hardlink('h', 'missing')], /hard link/);
    await refused([dir('d/'), hardlink('h', 'd')], /hard link/);
    expect(statSync(join(outside, 'secret')).nlink).toBe(1);
  });

  it('refuses an entry replacing a folder written earlier', async () => {
    await refused([dir('a/'), file('a/b'), file('a')], /replaces a folder/);
  });

  it('writes nothing when the archive is cut or the stream fails', async () => {
    const tar = await tarOf([file('a.txt', 'x'.repeat(5000)), file('b.txt', 'y'.repeat(5000))]);
    await expect(extractArchive(Readable.from([tar.subarray(0, 7000)]), dest)).rejects.toMatchObject({ code: 'STREAM_ERROR' });
    expect(readdirSync(dest)).toEqual([]);

    const failing = new PassThrough();
    const promise = extractArchive(failing, dest);
    failing.write(tar.subarray(0, 6000));
    setTimeout(() => failing.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 20);
    await expect(promise).rejects.toMatchObject({ code: 'STREAM_ERROR' });
    expect(readdirSync(dest)).toEqual([]);
  });

  it('refuses to replace existing entries in dest unless overwrite', async () => {
    writeFileSync(join(dest, 'a.txt'), 'old');
    const tar = await tarOf([file('a.txt', 'new'), file('b.txt', 'b')]);
    const err = await extractArchive(Readable.from([tar]), dest).catch((e: ConnectorError) => e);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS' });
    expect((err as ConnectorError).message).toContain('dest');
    expect(readdirSync(dest)).toEqual(['a.txt']);
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('old');

    await extractArchive(Readable.from([tar]), dest, { overwrite: true });
    expect(readdirSync(dest).sort()).toEqual(['a.txt', 'b.txt']);
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('new');
  });

  it('caps the listed entries but counts them all', async () => {
    const tar = await tarOf(Array.from({ length: 30 }, (_, i) => file(`f${i}`)));
    const r = await extractArchive(Readable.from([tar]), dest, { listLimit: 10 });
    expect(r).toMatchObject({ count: 30, files_truncated: true, bytes: 30 });
    expect(r.files).toHaveLength(10);
    expect(readdirSync(dest)).toHaveLength(30);
  });

  it('creates the content of a folder stored read-only, and gives its owner access', async () => {
    const tar = await tarOf([{ header: { name: 'ro/', type: 'directory', mode: 0o555 } }, file('ro/inner.txt', 'in')]);
    await extractArchive(Readable.from([tar]), dest);
    expect(readFileSync(join(dest, 'ro/inner.txt'), 'utf8')).toBe('in');
    expect(statSync(join(dest, 'ro')).mode & 0o777).toBe(0o755);
  });
});

describe('extractArchive destination', () => {
  it('names dest when it cannot be written', async () => {
    const tar = await tarOf([file('a')]);
    await expect(extractArchive(Readable.from([tar]), '/proc/no-such-place')).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringContaining('dest') });
  });
});
