/**
 * Retries are safe: reads that lost their connection are sent again and
 * succeed; writes that are not safe to repeat are never sent twice, and a
 * write whose fate is unknown says so. Faults come from a TCP proxy in front
 * of the real Engine; the Engine side is checked two ways: the requests the
 * proxy forwarded, and the objects the Engine holds afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DockerConnector } from 'docker-connector';
import { getOperation } from 'docker-connector/catalogue';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { FaultProxy, type FaultAction } from '../support/fault-proxy.js';
import { engines, harness } from '../support/harness.js';
import { failure } from '../support/expect-error.js';

const LABEL_VALUE = uniqueName('reliability-retries');
const LABELS = { [TEST_LABEL]: LABEL_VALUE };


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `fn` returns the same value twice in a row 300 ms apart (the Engine finished what it was doing). */
async function settled<T>(fn: () => Promise<T>, limitMs = 15_000): Promise<T> {
  const until = Date.now() + limitMs;
  let last = JSON.stringify(await fn());
  for (;;) {
    await sleep(300);
    const value = await fn();
    const now = JSON.stringify(value);
    if (now === last || Date.now() > until) return value;
    last = now;
  }
}

describe.each(engines())('retries on Engine $name (through a fault proxy)', (engine) => {
  let proxy: FaultProxy;
  let dc: DockerConnector; // through the proxy
  let direct: DockerConnector; // straight to the Engine: the second view
  const images = new Set<string>();
  const containers = new Set<string>();

  beforeAll(async () => {
    proxy = new FaultProxy(engine.host.replace('unix://', ''));
    const host = await proxy.start();
    dc = connectorFor(engine, { host, retry_attempts: 3, retry_delay: 0.02 });
    direct = connectorFor(engine);
  });

  afterAll(async () => {
    for (const c of containers) await direct.execute('remove_container', { container: c, force: true }).catch(() => undefined);
    for (const i of images) await direct.execute('remove_image', { image: i, force: true }).catch(() => undefined);
    dc.close();
    direct.close();
    await proxy.close();
  });

  /** Images whose reference matches, as the Engine lists them. */
  const imageCount = async (reference: string) => (await direct.execute('list_images', { filters: { reference: [reference] } })).length;

  describe('repeatable reads', () => {
    const reads: [string, Record<string, unknown>, RegExp][] = [
      ['get_version', {}, /\/version$/],
      ['list_containers', { all: true }, /\/containers\/json/],
      ['inspect_image', { image: harness().image }, /\/images\/.*\/json/],
      ['list_images', {}, /\/images\/json/],
    ];

    it.each(reads)('%s: two resets before forwarding, then success on the third attempt', async (name, params, path) => {
      proxy.clear();
      proxy.add({ match: (m, p) => m === 'GET' && path.test(p), action: 'reset-before-forward', times: 2 });
      const result = await dc.executeDynamic(name, params);
      expect(result).toBeTruthy();
      expect(proxy.seen.filter((r) => path.test(r.path)).map((r) => r.forwarded)).toEqual([false, false, true]);
    });

    it('a read reset after the Engine got it is sent again (a read is harmless twice)', async () => {
      proxy.clear();
      proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/info'), action: 'reset-after-forward' });
      const info = (await dc.execute('get_info')) as { ServerVersion: string };
      expect(info.ServerVersion).toBe(engine.version);
      expect(proxy.forwarded('GET', /\/info$/)).toHaveLength(2);
    });

    it('a read cut in the middle of its answer is sent again and the whole answer arrives', async () => {
      proxy.clear();
      proxy.add({ match: (m, p) => m === 'GET' && /\/images\/json/.test(p), action: 'reset-mid-response', afterBodyBytes: 20 });
      const list = await dc.execute('list_images', {});
      const want = await direct.execute('list_images', {});
      expect(list.map((i) => i.Id).sort()).toEqual(want.map((i) => i.Id).sort());
      expect(list.length).toBeGreaterThan(0);
      expect(proxy.forwarded('GET', /\/images\/json/)).toHaveLength(2);
    });

    it('retries stop after retry_attempts: the last failure is reported, not a hang', async () => {
      proxy.clear();
      proxy.add({ match: (m, p) => m === 'GET' && p.endsWith('/version'), action: 'reset-before-forward', times: 10 });
      const started = Date.now();
      const e = await failure(dc.execute('get_version'));
      expect(e.code).toBe('CONNECTION_FAILED');
      expect(proxy.seen.filter((r) => r.path.endsWith('/version'))).toHaveLength(4); // 1 + retry_attempts
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });

  /**
   * Writes that must never be sent twice. Each case prepares what the write
   * needs, then counts the objects the write makes, on the Engine itself.
   */
  interface WriteCase {
    op: string;
    /** The Engine completes the write though the caller is gone (a build is cancelled instead). */
    finishesWithoutCaller: boolean;
    match: RegExp;
    prepare: () => Promise<{ params: Record<string, unknown>; count: () => Promise<number> }>;
  }

  const writeCases: WriteCase[] = [
    {
      op: 'container_commit',
      finishesWithoutCaller: true,
      match: /\/commit\?/,
      prepare: async () => {
        const name = uniqueName('dct-rel-commit');
        await direct.execute('create_container', { image: harness().image, name, command: ['true'], labels: LABELS });
        containers.add(name);
        const repo = uniqueName('dct-rel-commit');
        images.add(`${repo}:v1`);
        return { params: { container: name, repo, tag: 'v1', pause: false }, count: () => imageCount(`${repo}:v1`) };
      },
    },
    {
      op: 'build_image',
      finishesWithoutCaller: false,
      match: /\/build\?/,
      prepare: async () => {
        const repo = uniqueName('dct-rel-build');
        images.add(`${repo}:v1`);
        return {
          params: { dockerfile: `FROM ${harness().image}\nLABEL run=${repo}\n`, tags: [`${repo}:v1`], labels: LABELS },
          count: () => imageCount(`${repo}:v1`),
        };
      },
    },
    {
      op: 'exec_container',
      finishesWithoutCaller: true,
      match: /\/containers\/.*\/exec$/,
      prepare: async () => {
        const name = uniqueName('dct-rel-exec');
        await direct.execute('create_container', { image: harness().image, name, command: ['sleep', '300'], labels: LABELS });
        containers.add(name);
        await direct.execute('start_container', { container: name });
        const count = async () => {
          const c = (await direct.execute('inspect_container', { container: name })) as { ExecIDs?: string[] | null };
          return c.ExecIDs?.length ?? 0;
        };
        return { params: { container: name, command: ['true'] }, count };
      },
    },
  ].filter((c) => getOperation(c.op) !== undefined);

  const faults: FaultAction[] = ['reset-before-forward', 'reset-after-forward'];
  const matrix = writeCases.flatMap((c) => faults.map((f) => [c.op, f, c] as const));

  it.each(matrix)('%s under %s: sent once, outcome unknown, never retried', async (op, fault, c) => {
    expect(getOperation(op)!.idempotent).toBe(false);
    const { params, count } = await c.prepare();
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'POST' && c.match.test(p), action: fault });
    const e = await failure(dc.executeDynamic(op, params));
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.outcomeUnknown).toBe(true);
    expect(e.message).toMatch(/outcome is unknown/);
    expect(e.toJSON()).toMatchObject({ outcome_unknown: true, retryable: false });
    // The connector sent it once; the Engine got it once (after-forward) or never (before-forward)…
    expect(proxy.seen.filter((r) => c.match.test(r.path))).toHaveLength(1);
    expect(proxy.forwarded('POST', c.match)).toHaveLength(fault === 'reset-after-forward' ? 1 : 0);
    // …and the Engine holds at most one result of it.
    const n = await settled(count);
    if (fault === 'reset-before-forward') expect(n).toBe(0);
    else if (c.finishesWithoutCaller) expect(n).toBe(1);
    else expect(n).toBeLessThanOrEqual(1);
  });

  it.each(writeCases.map((c) => [c.op, c] as const))('%s answered 503 by a proxy: reported, not retried', async (op, c) => {
    const { params, count } = await c.prepare();
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'POST' && c.match.test(p), action: 'respond-503', times: 5 });
    const e = await failure(dc.executeDynamic(op, params));
    expect(e.status).toBe(503);
    expect(proxy.seen.filter((r) => c.match.test(r.path))).toHaveLength(1);
    expect(await count()).toBe(0);
  });

  it('create_container with a 503 in front of it is not retried either', async () => {
    const name = uniqueName('dct-rel-create');
    containers.add(name);
    proxy.clear();
    proxy.add({ match: (m, p) => m === 'POST' && p.includes('/containers/create'), action: 'respond-503', times: 5 });
    const e = await failure(dc.execute('create_container', { image: harness().image, name, labels: LABELS }));
    expect(e.status).toBe(503);
    expect(proxy.seen.filter((r) => r.path.includes('/containers/create'))).toHaveLength(1);
  });

  /**
   * pull_image is declared repeat-safe (pulling again only re-checks the
   * registry): a pull whose connection dropped is sent again, and the Engine
   * ends with the one image.
   */
  it('pull_image (declared repeat-safe) is retried after a reset and ends with exactly one image', async () => {
    expect(getOperation('pull_image')!.idempotent).toBe(true);
    const auth = { username: harness().registry.username, password: harness().registry.password, serveraddress: engine.registry };
    const repo = `${engine.registry}/dct/${uniqueName('rel-pull')}`;
    await direct.execute('tag_image', { image: harness().image, repo, tag: 'v1' });
    images.add(`${repo}:v1`);
    await direct.execute('push_image', { image: repo, tag: 'v1', auth });
    await direct.execute('remove_image', { image: `${repo}:v1` });
    expect(await imageCount(`${repo}:v1`)).toBe(0);

    proxy.clear();
    proxy.add({ match: (m, p) => m === 'POST' && p.includes('/images/create'), action: 'reset-after-forward' });
    const pulled = await dc.execute('pull_image', { image: repo, tag: 'v1', auth });
    expect(pulled.image).toBe(`${repo}:v1`);
    expect(proxy.forwarded('POST', /\/images\/create/)).toHaveLength(2);
    expect(await settled(() => imageCount(`${repo}:v1`))).toBe(1);
  });
});
