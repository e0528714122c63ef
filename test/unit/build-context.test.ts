import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extract } from 'tar-stream';
import type { Readable } from 'node:stream';
import { IgnoreMatcher, packDirectory, packFiles, parseDockerignore, withKept } from '../../src/files/build-context.js';

function matcher(text: string): IgnoreMatcher {
  return IgnoreMatcher.fromText(text);
}

/** Reads a tar stream into {name → content} (directories map to null). */
async function untar(stream: Readable): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => void chunks.push(c as Buffer));
      body.on('end', () => {
        const name = header.name.replace(/\/$/, '');
        out.set(name, header.type === 'directory' ? null : header.type === 'symlink' ? `-> ${header.linkname}` : Buffer.concat(chunks).toString('utf8'));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    stream.on('error', reject);
  });
  stream.pipe(ex);
  await done;
  return out;
}

describe('.dockerignore parsing', () => {
  it('skips comments and blank lines, cleans paths, reads negations', () => {
    const p = parseDockerignore('# comment\n\n  ./logs/  \n/tmp\n!logs/keep.log\r\n');
    expect(p.map((x) => [x.negate, x.pattern])).toEqual([
      [false, 'logs'],
      [false, 'tmp'],
      [true, 'logs/keep.log'],
    ]);
  });
});

describe('.dockerignore matching', () => {
  it('"*" and "?" do not cross "/"', () => {
    const m = matcher('*.log\nfile?.txt');
    expect(m.excludes('a.log')).toBe(true);
    expect(m.excludes('sub/a.log')).toBe(false);
    expect(m.excludes('file1.txt')).toBe(true);
    expect(m.excludes('file12.txt')).toBe(false);
    expect(m.excludes('dir/file1.txt')).toBe(false);
  });

  it('"**" matches any number of directories, including none', () => {
    const m = matcher('**/*.tmp\ndocs/**/draft.md');
    expect(m.excludes('x.tmp')).toBe(true);
    expect(m.excludes('a/b/c/x.tmp')).toBe(true);
    expect(m.excludes('x.tmpl')).toBe(false);
    expect(m.excludes('docs/draft.md')).toBe(true);
    expect(m.excludes('docs/a/b/draft.md')).toBe(true);
    expect(m.excludes('other/draft.md')).toBe(false);
  });

  it('a pattern naming a directory excludes everything below it', () => {
    const m = matcher('node_modules\nbuild/');
    expect(m.excludes('node_modules')).toBe(true);
    expect(m.excludes('node_modules/x/index.js')).toBe(true);
    expect(m.excludes('build/out.bin')).toBe(true);
    expect(m.excludes('src/node_modules')).toBe(false);
    expect(m.excludes('builder.txt')).toBe(false);
  });

  it('the last matching pattern wins, so "!" re-includes and a later pattern re-excludes', () => {
    const m = matcher('logs\n!logs/keep.log\nlogs/keep.log.bak');
    expect(m.excludes('logs/a.log')).toBe(true);
    expect(m.excludes('logs/keep.log')).toBe(false);
    const m2 = matcher('*.md\n!README.md\nREADME.md');
    expect(m2.excludes('README.md')).toBe(true);
    expect(m2.excludes('CHANGES.md')).toBe(true);
    const m3 = matcher('*.md\n!README*.md');
    expect(m3.excludes('README-dev.md')).toBe(false);
  });

  it('character classes and escapes', () => {
    const m = matcher('file[0-9].txt\n[^a]x\n[!z]y\nstar\\*');
    expect(m.excludes('file5.txt')).toBe(true);
    expect(m.excludes('filea.txt')).toBe(false);
    expect(m.excludes('bx')).toBe(true);
    expect(m.excludes('ax')).toBe(false);
    expect(m.excludes('a/x')).toBe(false);
    // "!" inside a class is literal, as in Go's filepath.Match.
    expect(m.excludes('!y')).toBe(true);
    expect(m.excludes('zy')).toBe(true);
    expect(m.excludes('by')).toBe(false);
    expect(m.excludes('star*')).toBe(true);
    expect(m.excludes('starry')).toBe(false);
  });

  it('regex metacharacters in names are literal', () => {
    const m = matcher('a+b.(c)\n$HOME');
    expect(m.excludes('a+b.(c)')).toBe(true);
    expect(m.excludes('aab.(c)')).toBe(false);
    expect(m.excludes('$HOME')).toBe(true);
  });

  it('knows when an excluded directory must still be walked for a re-include', () => {
    const m = matcher('vendor\n!vendor/keep/**\nnode_modules');
    expect(m.mayReincludeBelow('vendor')).toBe(true);
    expect(m.mayReincludeBelow('vendor/keep')).toBe(true);
    expect(m.mayReincludeBelow('vendor/other')).toBe(false);
    expect(m.mayReincludeBelow('node_modules')).toBe(false);
    expect(matcher('*\n!**/*.go').mayReincludeBelow('deep')).toBe(true);
  });

  it('keeps the Dockerfile and .dockerignore even when the patterns exclude them', () => {
    const m = withKept(matcher('*\n!src'), ['.dockerignore', 'build/Dockerfile']);
    expect(m.excludes('.dockerignore')).toBe(false);
    expect(m.excludes('build/Dockerfile')).toBe(false);
    expect(m.excludes('build/other')).toBe(true);
    expect(m.mayReincludeBelow('build')).toBe(true);
  });
});

describe('build context tar', () => {
  const root = mkdtempSync(join(tmpdir(), 'dc-bctx-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('streams a directory, honouring .dockerignore, with the Dockerfile always in', async () => {
    const dir = join(root, 'ctx');
    mkdirSync(join(dir, 'src/deep'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/pkg'), { recursive: true });
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
    writeFileSync(join(dir, '.dockerignore'), 'node_modules\nlogs\n!logs/keep.log\n*.secret\nDockerfile\n');
    writeFileSync(join(dir, 'src/app.txt'), 'app');
    writeFileSync(join(dir, 'src/deep/x.txt'), 'x');
    writeFileSync(join(dir, 'node_modules/pkg/index.js'), 'nope');
    writeFileSync(join(dir, 'logs/a.log'), 'nope');
    writeFileSync(join(dir, 'logs/keep.log'), 'kept');
    writeFileSync(join(dir, 'top.secret'), 'nope');
    symlinkSync('src/app.txt', join(dir, 'link'));
    const entries = await untar(packDirectory(dir));
    expect([...entries.keys()].sort()).toEqual(['.dockerignore', 'Dockerfile', 'link', 'logs/keep.log', 'src', 'src/app.txt', 'src/deep', 'src/deep/x.txt']);
    expect(entries.get('src/app.txt')).toBe('app');
    expect(entries.get('logs/keep.log')).toBe('kept');
    expect(entries.get('link')).toBe('-> src/app.txt');
  });

  it('adds extra in-memory files to a directory context', async () => {
    const dir = join(root, 'ctx2');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.txt'), 'a');
    const entries = await untar(packDirectory(dir, { dockerfile: '.df', extra: { '.df': 'FROM scratch\n' } }));
    expect(Object.fromEntries(entries)).toEqual({ 'a.txt': 'a', '.df': 'FROM scratch\n' });
  });

  it('packs inline files', async () => {
    const entries = await untar(packFiles({ Dockerfile: 'FROM scratch\n', 'dir/f.txt': 'héllo' }));
    expect(Object.fromEntries(entries)).toEqual({ Dockerfile: 'FROM scratch\n', 'dir/f.txt': 'héllo' });
  });

  it('a directory that cannot be read fails the stream', async () => {
    await expect(untar(packDirectory(join(root, 'missing')))).rejects.toThrow(/ENOENT/);
  });
});
