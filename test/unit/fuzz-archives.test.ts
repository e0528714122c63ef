/**
 * Hostile archives, property-based, end to end through copy_from_container:
 * a local recording socket plays the part of a compromised container and
 * answers GET /containers/{id}/archive with crafted tars (".." and absolute
 * names, backslashes, symlinks and hard links pointing out, files written
 * through links). Whatever the archive, nothing outside `dest` is created,
 * changed or exposed; a refused archive leaves `dest` empty.
 *
 * (A real Engine only produces the link cases; those are checked against
 * the real Engines in test/integration/reliability-streams.test.ts.)
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import fc from 'fast-check';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, DockerConnector } from '../../src/index.js';

interface Entry {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  content?: string;
}

function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file') p.entry({ name: e.name, type: 'file', mode: 0o644 }, e.content ?? 'pwned');
    else if (e.type === 'directory') p.entry({ name: e.name, type: 'directory', mode: 0o755 });
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname ?? '' });
  }
  p.finalize();
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    p.on('end', () => ok(Buffer.concat(chunks)));
    p.on('error', fail);
  });
}

/** Every path under dir (relative), symlinks not followed. */
function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (lstatSync(join(dir, r)).isDirectory()) out.push(...walk(dir, r));
  }
  return out;
}

describe('copy_from_container with hostile archives', () => {
  const root = mkdtempSync(join(tmpdir(), 'dc-fuzz-archives-'));
  const outside = join(root, 'outside');
  const secret = join(outside, 'secret');
  const socketPath = join(root, 'engine.sock');
  let server: Server;
  let dc: DockerConnector;
  let current: Buffer = Buffer.alloc(0);
  let runs = 0;
  const outcomes = { ok: 0, refused: 0 };

  beforeAll(async () => {
    mkdirSync(outside);
    writeFileSync(secret, 'SECRET');
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/_ping') {
        res.writeHead(200, { 'api-version': '1.51', ostype: 'linux' });
        return res.end();
      }
      if (req.method === 'GET' && /^\/v1\.51\/containers\/[^/]+\/archive\?/.test(req.url ?? '')) {
        res.writeHead(200, { 'content-type': 'application/x-tar' });
        return res.end(current);
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"not here"}');
    });
    await new Promise<void>((ok) => server.listen(socketPath, ok));
    dc = new DockerConnector({ host: `unix://${socketPath}`, rate_limit: 0, retry_attempts: 0, timeout: 5, env: {} });
  });

  afterAll(async () => {
    dc.close();
    await new Promise<void>((ok) => server.close(() => ok()));
    rmSync(root, { recursive: true, force: true });
    process.stderr.write(`[fuzz-archives] ${runs} archives: ${outcomes.ok} extracted safely, ${outcomes.refused} refused with nothing written\n`);
  });

  const names = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('f.txt', 'a', 'a/b', 'a/b/c.txt', 'dir/', 'link', 'link2', './x') },
    fc.constantFrom(
      '../esc',
      '../../outside/pwned',
      'a/../../esc',
      './../esc',
      'dir/../../../esc',
      'a\\..\\..\\esc',
      'C:\\esc',
      'link/pwned',
      'link2/pwned',
      'link/../esc',
      '..',
      '/',
      'a/\0b',
    ),
    fc.constant(`${root}/outside/pwned-abs`),
  );
  const symlinkTargets = fc.constantFrom('/', outside, secret, '../outside', '../../..', '..', 'a/../..', 'f.txt', 'a', '.', 'link', 'link2', '../../../../../../..', 'a/b/../../../outside');
  const hardlinkTargets = fc.constantFrom(secret, '../outside/secret', 'f.txt', 'a/b/c.txt', '../../etc/passwd', 'link', '/etc/passwd');
  const entry: fc.Arbitrary<Entry> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ name: names, type: fc.constant('file' as const), content: fc.string({ maxLength: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ name: names, type: fc.constant('directory' as const) }) },
    { weight: 2, arbitrary: fc.record({ name: names, type: fc.constant('symlink' as const), linkname: symlinkTargets }) },
    { weight: 1, arbitrary: fc.record({ name: names, type: fc.constant('link' as const), linkname: hardlinkTargets }) },
  );

  const secretIno = () => statSync(secret).ino;

  async function run(entries: Entry[]): Promise<void> {
    runs++;
    current = await tarOf(entries);
    const dest = join(root, `dest-${runs}`);
    mkdirSync(dest);
    const rootBefore = readdirSync(root).sort();
    let refused = false;
    try {
      await dc.execute('copy_from_container', { container: 'evil', path: '/data', dest });
    } catch (err) {
      expect(err).toBeInstanceOf(ConnectorError);
      expect(['STREAM_ERROR', 'INVALID_PARAMS']).toContain((err as ConnectorError).code);
      refused = true;
    }
    // Nothing outside dest was created or changed.
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(secret, 'utf8')).toBe('SECRET');
    expect(readdirSync(root).sort()).toEqual(rootBefore);
    if (refused) {
      outcomes.refused++;
      expect(readdirSync(dest), JSON.stringify(entries)).toEqual([]);
      return;
    }
    outcomes.ok++;
    // Everything extracted stays inside dest, links included.
    const realDest = realpathSync(dest);
    for (const rel of walk(dest)) {
      const full = join(dest, rel);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(full);
        expect(target.startsWith('/'), `${rel} -> ${target}`).toBe(false);
        let real: string | undefined;
        try {
          real = realpathSync(full);
        } catch {
          real = undefined; // dangling: judged lexically
        }
        const where = real ?? resolve(join(dest, rel, '..'), target);
        expect(where === realDest || where.startsWith(realDest + sep), `${rel} -> ${target} resolves to ${where}`).toBe(true);
      } else if (st.isFile()) {
        expect(st.ino, `${rel} is a hard link to the secret outside`).not.toBe(secretIno());
      }
    }
  }

  it('never writes, changes or links outside dest (property over random hostile archives)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 6 }), (entries) => run(entries)),
      {
        numRuns: 400,
        examples: [
          [[{ name: 'link', type: 'symlink', linkname: outside }, { name: 'link/pwned', type: 'file' }]],
          [[{ name: 'a', type: 'symlink', linkname: '.' }, { name: 'b', type: 'symlink', linkname: 'a/../..' }]],
          [[{ name: 'f.txt', type: 'link', linkname: secret }]],
          [[{ name: '../../outside/pwned', type: 'file' }]],
          [[{ name: `${root}/outside/pwned-abs`, type: 'file' }]],
          [[{ name: 'f.txt', type: 'file' }, { name: 'a', type: 'symlink', linkname: 'f.txt' }]],
        ],
      },
    );
    // The generator reached both outcomes.
    expect(outcomes.ok).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(10);
  }, 60_000);
});
