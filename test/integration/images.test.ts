import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, harness, type HarnessEngine } from '../support/harness.js';
import { failure } from '../support/expect-error.js';
import { docker } from '../support/docker-cli.js';

/** This file's label value: prunes here only ever see images this file built. */
const LABEL_VALUE = uniqueName('images-test');
const BASE = 'FROM dc-busybox:latest\n';

/** Runs a command in a throwaway container of `image` and returns its stdout. */
function runIn(engine: HarnessEngine, image: string, cmd: string[]): string {
  return docker(engine, ['run', '--rm', '--network', 'none', image, ...cmd]);
}


describe.each(engines())('image operations on Engine $name', (engine) => {
  let dc: DockerConnector;
  const created = new Set<string>();
  const tmp = mkdtempSync(join(tmpdir(), 'dc-images-'));
  const creds = () => ({ username: harness().registry.username, password: harness().registry.password, serveraddress: engine.registry });
  const labels = (extra: Record<string, string> = {}) => ({ [TEST_LABEL]: LABEL_VALUE, ...extra });

  /** Builds an inline image with this file's label and remembers it for cleanup. */
  async function build(dockerfile: string, params: Record<string, unknown> = {}) {
    const res = await dc.execute('build_image', { dockerfile, labels: labels(), ...params });
    created.add(res.id);
    return res;
  }

  beforeAll(() => {
    dc = connectorFor(engine);
  });

  afterAll(async () => {
    for (const id of created) {
      await dc.execute('remove_image', { image: id, force: true }).catch(() => undefined);
    }
    dc.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses bad parameters before calling the Engine, naming them', async () => {
    const e1 = await failure(dc.execute('build_image', { context: tmp, remote: 'https://example.com/x.git' }));
    expect(e1.code).toBe('INVALID_PARAMS');
    expect(e1.message).toMatch(/remote/);
    const e2 = await failure(dc.execute('build_image', { tags: ['x'] }));
    expect(e2.message).toMatch(/dockerfile/);
    const e3 = await failure(dc.execute('build_image', { dockerfile: BASE, files: { '../escape': 'x' } }));
    expect(e3.message).toMatch(/files/);
    const e4 = await failure(dc.execute('pull_image', { image: 'busybox:1', tag: '2' }));
    expect(e4.message).toMatch(/tag/);
    const e5 = await failure(dc.execute('build_image', { context: join(tmp, 'nope') }));
    expect(e5).toMatchObject({ code: 'INVALID_PARAMS' });
    expect(e5.message).toMatch(/context: .* does not exist/);
    const e6 = await failure(dc.execute('list_images', { filters: { color: 'red' } } as never));
    expect(e6.message).toMatch(/filters/);
    // Credentials for one registry are never handed to another.
    const e7 = await failure(dc.execute('pull_image', { image: 'busybox', auth: { ...creds() } }));
    expect(e7).toMatchObject({ code: 'INVALID_PARAMS' });
    expect(e7.message).toMatch(/auth\.serveraddress/);
    expect(JSON.stringify(e7)).not.toContain(creds().password);
  });

  it('builds from an inline Dockerfile plus files; tags, labels and contents are right', async () => {
    const name = uniqueName('dci-inline');
    const progress: unknown[] = [];
    const res = await dc.execute(
      'build_image',
      {
        dockerfile: `${BASE}ARG GREETING\nCOPY hello.txt /hello.txt\nCOPY sub/nested.txt /sub/nested.txt\nRUN echo "$GREETING" > /greeting\n`,
        files: { 'hello.txt': 'hello from inline\n', 'sub/nested.txt': 'nested\n' },
        tags: [`${name}:v1`, `${name}:latest`],
        labels: labels({ extra: 'yes' }),
        build_args: { GREETING: 'bonjour' },
      },
      { onProgress: (e) => progress.push(e) },
    );
    created.add(res.id);
    expect(res.id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(res.tags).toEqual([`${name}:v1`, `${name}:latest`]);
    expect(res.log).toMatch(/Step 1\/\d+ : FROM dc-busybox:latest/);
    expect(progress.length).toBeGreaterThan(3);
    const img = await dc.execute('inspect_image', { image: `${name}:v1` });
    expect(img.Id).toBe(res.id);
    expect((img.RepoTags as string[]).sort()).toEqual([`${name}:latest`, `${name}:v1`]);
    expect((img.Config as { Labels: Record<string, string> }).Labels).toMatchObject({ [TEST_LABEL]: LABEL_VALUE, extra: 'yes' });
    expect(runIn(engine, `${name}:v1`, ['cat', '/hello.txt', '/sub/nested.txt', '/greeting'])).toBe('hello from inline\nnested\nbonjour\n');

    const history = await dc.execute('image_history', { image: res.id });
    expect(history.length).toBeGreaterThan(2);
    const listed = await dc.execute('list_images', { filters: { label: [`${TEST_LABEL}=${LABEL_VALUE}`], reference: [`${name}:v1`] } });
    expect(listed.map((i) => (i as { Id: string }).Id)).toEqual([res.id]);
  });

  it('builds from a directory honouring .dockerignore (and with an inline Dockerfile over it)', async () => {
    const dir = join(tmp, 'ctx');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/pkg'), { recursive: true });
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'Dockerfile'), `${BASE}COPY . /ctx/\n`);
    writeFileSync(join(dir, '.dockerignore'), '# test\nnode_modules\nlogs\n!logs/keep.log\n**/*.secret\n');
    writeFileSync(join(dir, 'src/app.txt'), 'app\n');
    writeFileSync(join(dir, 'src/creds.secret'), 'no\n');
    writeFileSync(join(dir, 'logs/a.log'), 'no\n');
    writeFileSync(join(dir, 'logs/keep.log'), 'kept\n');
    writeFileSync(join(dir, 'node_modules/pkg/index.js'), 'no\n');
    const res = await dc.execute('build_image', { context: dir, labels: labels(), tags: [`${uniqueName('dci-dir')}:v1`] });
    created.add(res.id);
    const files = runIn(engine, res.id, ['find', '/ctx', '-type', 'f']).trim().split('\n').sort();
    expect(files).toEqual(['/ctx/.dockerignore', '/ctx/Dockerfile', '/ctx/logs/keep.log', '/ctx/src/app.txt']);
    expect(runIn(engine, res.id, ['cat', '/ctx/logs/keep.log'])).toBe('kept\n');

    // The same directory as a tar file, with the Dockerfile under another name.
    writeFileSync(join(dir, 'Other.dockerfile'), `${BASE}COPY src/app.txt /from-tar.txt\nRUN echo ${uniqueName()} > /marker\n`);
    const tarPath = join(tmp, 'ctx.tar');
    execFileSync('tar', ['-cf', tarPath, '-C', dir, '.']);
    const fromTar = await dc.execute('build_image', { context_tar: tarPath, dockerfile_path: 'Other.dockerfile', labels: labels() });
    created.add(fromTar.id);
    expect(runIn(engine, fromTar.id, ['cat', '/from-tar.txt'])).toBe('app\n');

    const inline = await build(`${BASE}COPY src/app.txt /only.txt\nRUN echo ${uniqueName()} > /marker\n`, { context: dir });
    expect(runIn(engine, inline.id, ['cat', '/only.txt'])).toBe('app\n');
  });

  it('a failing RUN fails the build with that step and its output', async () => {
    const marker = uniqueName('boom');
    const err = await failure(dc.execute('build_image', { dockerfile: `${BASE}RUN echo ${marker}-output && exit 3\n`, labels: labels() }));
    expect(err.code).toBe('STREAM_ERROR');
    expect(err.message).toMatch(/Step 2\/\d+ : RUN echo/);
    expect(err.message).toMatch(/returned a non-zero code: 3/);
    expect(err.message).toContain(`${marker}-output`);
    expect(err.details).toMatchObject({ output: expect.stringContaining(`${marker}-output`) });
  });

  it('a Dockerfile the Engine cannot parse fails with its message', async () => {
    const err = await failure(dc.execute('build_image', { dockerfile: `${BASE}NOTANINSTRUCTION x\n`, labels: labels() }));
    expect(err.message).toMatch(/unknown instruction/i);
  });

  it('push → remove → pull round trip through the authenticated registry, digests match', async () => {
    const repo = `${engine.registry}/${uniqueName('dci')}/app`;
    const built = await build(`${BASE}RUN echo ${uniqueName()} > /id\n`, { tags: [`${repo}:v1`] });
    const pushed = await dc.execute('push_image', { image: repo, tag: 'v1', auth: creds() });
    expect(pushed).toMatchObject({ image: `${repo}:v1`, tag: 'v1' });
    expect(pushed.digest).toMatch(/^sha256:[a-f0-9]{64}$/);

    const removed = await dc.execute('remove_image', { image: `${repo}:v1` });
    expect(removed.untagged).toContain(`${repo}:v1`);
    expect(removed.deleted).toContain(built.id);
    expect((await failure(dc.execute('inspect_image', { image: `${repo}:v1` }))).code).toBe('NOT_FOUND');

    const pulled = await dc.execute('pull_image', { image: repo, tag: 'v1', auth: creds() });
    created.add(pulled.id);
    expect(pulled).toMatchObject({ image: `${repo}:v1`, digest: pushed.digest, id: built.id, changed: true });
    expect(pulled.status).toMatch(/v1|Downloaded|up to date/i);

    // By digest, with the configured credentials this time: nothing changes locally.
    const configured = connectorFor(engine, { registry_username: creds().username, registry_password: creds().password, registry_server: engine.registry });
    try {
      const again = await configured.execute('pull_image', { image: `${repo}@${pushed.digest}` });
      expect(again).toMatchObject({ digest: pushed.digest, id: built.id, changed: false });
    } finally {
      configured.close();
    }
  });

  it('wrong credentials and missing tags fail with the registry\'s message, never success', async () => {
    const repo = `${engine.registry}/${uniqueName('dci')}/denied`;
    const built = await build(`${BASE}RUN echo ${uniqueName()} > /id\n`, { tags: [`${repo}:v1`] });
    created.add(built.id);
    const wrong = { ...creds(), password: 'not-the-password-9f8e7d' };
    const pushErr = await failure(dc.execute('push_image', { image: `${repo}:v1`, auth: wrong }));
    expect(['UNAUTHORIZED', 'STREAM_ERROR']).toContain(pushErr.code);
    expect(pushErr.message).toMatch(/unauthorized|authentication required|no basic auth/i);
    expect(JSON.stringify(pushErr)).not.toContain(wrong.password);

    const pullErr = await failure(dc.execute('pull_image', { image: (harness().registry as { image?: string }).image ?? `${engine.registry}/dc/busybox:latest`, auth: wrong }));
    expect(['UNAUTHORIZED', 'STREAM_ERROR']).toContain(pullErr.code);
    expect(pullErr.message).toMatch(/unauthorized|authentication required/i);
    expect(JSON.stringify(pullErr)).not.toContain(wrong.password);

    const missing = await failure(dc.execute('pull_image', { image: `${engine.registry}/dc/busybox`, tag: 'no-such-tag', auth: creds() }));
    expect(['NOT_FOUND', 'STREAM_ERROR']).toContain(missing.code);
    expect(missing.message).toMatch(/not found|manifest unknown/i);
  });

  it('tag_image adds a reference; remove_image dry run changes nothing', async () => {
    const built = await build(`${BASE}RUN echo ${uniqueName()} > /id\n`);
    const repo = uniqueName('dci-tag');
    expect(await dc.execute('tag_image', { image: built.id, repo, tag: 'one' })).toEqual({ image: built.id, reference: `${repo}:one` });
    await dc.execute('tag_image', { image: built.id, repo, tag: 'two' });
    expect(docker(engine, ['image', 'inspect', '--format', '{{json .RepoTags}}', built.id]).trim()).toMatch(new RegExp(`${repo}:one.*${repo}:two|${repo}:two.*${repo}:one`));

    const dry = await dc.execute('remove_image', { image: `${repo}:one`, dry_run: true });
    expect(dry).toMatchObject({ dry_run: true, id: built.id, untagged: [`${repo}:one`], deleted: [] });
    const dryAll = await dc.execute('remove_image', { image: built.id, force: true, dry_run: true });
    expect(dryAll).toMatchObject({ deleted: [built.id] });
    expect((await dc.execute('inspect_image', { image: `${repo}:one` })).Id).toBe(built.id);

    const real = await dc.execute('remove_image', { image: `${repo}:one` });
    expect(real).toEqual({ dry_run: false, untagged: [`${repo}:one`], deleted: [] });
  });

  it('search returns the stub registry\'s results and applies limit and filters', async () => {
    const term = `${engine.searchRegistry}/foo`;
    const all = await dc.execute('search_images', { term });
    expect(all.count).toBe(3);
    expect(all.results.map((r) => r.name)).toEqual(['foo/alpha', 'foo/beta', 'foo/gamma']);
    expect(all.results[0]).toMatchObject({ star_count: 10, is_official: true });
    const limited = await dc.execute('search_images', { term, limit: 2 });
    expect(limited.results).toHaveLength(2);
    const official = await dc.execute('search_images', { term, filters: { 'is-official': true } });
    expect(official.results.map((r) => r.name)).toEqual(['foo/alpha']);
    const starred = await dc.execute('search_images', { term, filters: { stars: 3 } });
    expect(starred.results.map((r) => r.name)).toEqual(['foo/alpha', 'foo/beta']);
  });

  it('save → remove → load restores the same image id', async () => {
    const name = `${uniqueName('dci-save')}:v1`;
    const built = await build(`${BASE}RUN echo ${uniqueName()} > /id\n`, { tags: [name] });
    const path = join(tmp, 'saved.tar');
    const saved = await dc.execute('save_images', { images: [name], path });
    expect(saved.path).toBe(path);
    expect(saved.bytes).toBe(statSync(path).size);
    expect(saved.sha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
    expect((await failure(dc.execute('save_images', { images: [name], path }))).message).toMatch(/path: .*exists/);

    await dc.execute('remove_image', { image: name });
    expect((await failure(dc.execute('inspect_image', { image: name }))).code).toBe('NOT_FOUND');
    const loaded = await dc.execute('load_images', { path });
    expect(loaded.loaded).toContain(name);
    expect(loaded.images).toContainEqual({ reference: name, id: built.id });
    expect((await dc.execute('inspect_image', { image: name })).Id).toBe(built.id);

    writeFileSync(join(tmp, 'garbage.tar'), 'this is not a tar file');
    const bad = await failure(dc.execute('load_images', { path: join(tmp, 'garbage.tar') }));
    expect(['STREAM_ERROR', 'ENGINE_ERROR', 'INVALID_PARAMS']).toContain(bad.code);
  });

  it('prune dry run lists exactly what the real prune removes', async () => {
    // Its own label value, so no other test's images are in scope.
    const scope = uniqueName('prune');
    const pl = { [TEST_LABEL]: LABEL_VALUE, scope };
    const dangling1 = await dc.execute('build_image', { dockerfile: `${BASE}RUN echo ${uniqueName()} > /a\n`, labels: pl });
    const dangling2 = await dc.execute('build_image', { dockerfile: `${BASE}RUN echo ${uniqueName()} > /b\n`, labels: pl });
    const tagged = await dc.execute('build_image', { dockerfile: `${BASE}RUN echo ${uniqueName()} > /c\n`, labels: pl, tags: [`${uniqueName('dci-prune')}:keep`] });
    for (const r of [dangling1, dangling2, tagged]) created.add(r.id);
    const filters = { label: [`scope=${scope}`] };

    const dry = await dc.execute('prune_images', { filters, dry_run: true });
    expect(dry.dry_run).toBe(true);
    const dryIds = dry.deleted.map((d) => d.id);
    expect(dryIds).toEqual(expect.arrayContaining([dangling1.id, dangling2.id]));
    expect(dryIds).not.toContain(tagged.id);
    // Still there after the dry run.
    expect((await dc.execute('inspect_image', { image: dangling1.id })).Id).toBe(dangling1.id);

    const real = await dc.execute('prune_images', { filters });
    expect(real.dry_run).toBe(false);
    expect(real.deleted.map((d) => d.id)).toEqual(dryIds);
    expect(real.space_reclaimed).toBeGreaterThan(0);
    expect((await failure(dc.execute('inspect_image', { image: dangling1.id }))).code).toBe('NOT_FOUND');

    // dangling_only: false takes the tagged one too, and the dry run says so first.
    const dryAll = await dc.execute('prune_images', { filters, dangling_only: false, dry_run: true });
    expect(dryAll.deleted).toContainEqual({ id: tagged.id, tags: tagged.tags });
    const realAll = await dc.execute('prune_images', { filters, dangling_only: false });
    expect(realAll.deleted).toEqual(dryAll.deleted);
  });
});
