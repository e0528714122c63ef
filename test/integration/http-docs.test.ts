import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { listOperations } from 'docker-connector/catalogue';
import { HttpService } from 'docker-connector/service';
import { connectorFor } from '../support/connector.js';
import { engines } from '../support/harness.js';

/*
 * The generated documentation: /openapi.json validates as OpenAPI 3.1 and
 * lists every operation of the catalogue; /docs renders in headless Chromium with
 * nothing external, and its "Try it" button really calls the service.
 * Needs the Debian `chromium` package (.ci/run installs it).
 */

const KEY = 'docs-key-2b9e7c4a1f8d6035';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--window-size=1200,900'];

describe.each(engines())('HTTP service docs (Engine $name)', (engine) => {
  let base: DockerConnector;
  let service: HttpService;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dc-http-docs-'));
    base = connectorFor(engine);
    service = HttpService.create({ base, env: {}, surface: { api_keys: [{ id: 'docs', key: KEY, scopes: ['read'] }], audit_log: 'off', service: { listen: '127.0.0.1:0' } } });
    url = await service.listen();
  });

  afterAll(async () => {
    await service.close();
    base.close();
    // Chromium's helper processes (zygote, renderer, GPU) outlive the browser process and
    // keep writing its profile: kill each chromium's whole process group and wait for it
    // to be gone before removing the profiles (else: ENOTEMPTY now and then).
    await killChromiumGroups();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  it('GET /openapi.json validates as OpenAPI 3.1 and has one path per operation of the catalogue', async () => {
    const res = await fetch(`${url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, { post?: { operationId: string; requestBody: { content: Record<string, { schema: unknown }> } } }>; components: any };
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const ops = listOperations();
    for (const op of ops) {
      const path = doc.paths[`/v1/operations/${op.name}`];
      expect(path?.post?.operationId, op.name).toBe(op.name);
      expect(path!.post!.requestBody.content['application/json']!.schema).toBeTypeOf('object');
    }
    const opPaths = Object.keys(doc.paths).filter((p) => p.startsWith('/v1/operations/'));
    expect(opPaths).toHaveLength(ops.length);
    // A parameter schema carries its fields and descriptions.
    const inspect = doc.paths['/v1/operations/inspect_container']!.post!.requestBody.content['application/json']!.schema as { properties: Record<string, { description?: string }>; required: string[] };
    expect(inspect.required).toContain('container');
    expect(inspect.properties.container!.description).toBeTruthy();
  });

  it('/docs is self-contained: a CSP allowing nothing external, every operation listed', async () => {
    const res = await fetch(`${url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    for (const op of listOperations()) expect(html).toContain(`id="op-${op.name}"`);
  });

  it('renders /docs in headless Chromium: a screenshot, and a DOM with every operation and the script run', async () => {
    const shot = join(dir, 'docs.png');
    // Asynchronous: the service answering the browser runs in this process.
    const run = (extra: string[]) => chromium([...CHROMIUM_FLAGS, `--user-data-dir=${mkdtempSync(join(dir, 'profile-'))}`, ...extra, `${url}/docs`]);
    const screenshot = await run([`--screenshot=${shot}`]);
    expect(screenshot.code, screenshot.stderr).toBe(0);
    expect(statSync(shot).size).toBeGreaterThan(20_000);
    const dom = await run(['--dump-dom']);
    expect(dom.stdout).toContain('data-ready="1"');
    for (const op of listOperations()) expect(dom.stdout).toContain(`data-op="${op.name}"`);
  });

  it('"Try it" on /docs calls the service with the key typed into the page', async () => {
    const browser = await Chromium.launch(mkdtempSync(join(dir, 'profile-')));
    try {
      const page = await browser.open(`${url}/docs`);
      await page.waitFor("document.body.getAttribute('data-ready') === '1'");
      const tryOp = async (op: string, key: string) => {
        await page.eval(`(() => {
          document.getElementById('apikey').value = ${JSON.stringify(key)};
          const sec = document.getElementById('op-${op}');
          sec.querySelector('details').open = true;
          sec.querySelector('pre.out').textContent = '';
          sec.querySelector('button.send').click();
        })()`);
        await page.waitFor(`document.querySelector('#op-${op} .status').textContent.startsWith('HTTP')`);
        return (await page.eval(`({ status: document.querySelector('#op-${op} .status').textContent, out: document.querySelector('#op-${op} pre.out').textContent })`)) as { status: string; out: string };
      };
      const ok = await tryOp('get_version', KEY);
      expect(ok.status).toMatch(/^HTTP 200/);
      expect(JSON.parse(ok.out)).toMatchObject({ Version: engine.version });
      const refused = await tryOp('get_version', 'wrong-key-000000000000');
      expect(refused.status).toMatch(/^HTTP 401/);
    } finally {
      browser.close();
    }
  });
});

/** Process groups of the chromiums started here (each is spawned as a group leader). */
const chromiumGroups = new Set<number>();

function spawnChromium(args: string[], stdio: ('ignore' | 'pipe')[]) {
  const child = spawn('chromium', args, { stdio, detached: true });
  if (child.pid) chromiumGroups.add(child.pid);
  return child;
}

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

async function killChromiumGroups(): Promise<void> {
  for (const pgid of chromiumGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const until = Date.now() + 5000; Date.now() < until && [...chromiumGroups].some(groupAlive); ) await new Promise((r) => setTimeout(r, 50));
  chromiumGroups.clear();
}

/** Runs chromium to completion; fails clearly when it is not installed. */
function chromium(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnChromium(args, ['ignore', 'pipe', 'pipe']);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new Error(`cannot run chromium (install it: apt-get install -y --no-install-recommends chromium): ${err.message}`)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Just enough of the Chrome DevTools Protocol to load a page, run script in it and wait for conditions. */
class Chromium {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    private readonly ws: WebSocket,
  ) {
    ws.addEventListener('message', (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
    });
  }

  static async launch(profile: string): Promise<Chromium> {
    const child = spawnChromium([...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], ['ignore', 'ignore', 'pipe']);
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err}`)), 30_000);
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('error', reject);
    });
    const ws = new WebSocket(endpoint);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', () => reject(new Error('cannot connect to chromium')));
    });
    return new Chromium(child, ws);
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  async open(url: string) {
    const { targetId } = await this.send('Target.createTarget', { url });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const evaluate = async (expression: string) => {
      const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId);
      if (r.exceptionDetails) throw new Error(`page script failed: ${r.exceptionDetails.text} ${r.exceptionDetails.exception?.description ?? ''}`);
      return r.result.value as unknown;
    };
    return {
      eval: evaluate,
      waitFor: async (condition: string, timeoutMs = 20_000) => {
        const until = Date.now() + timeoutMs;
        while (Date.now() < until) {
          if ((await evaluate(`(() => { try { return Boolean(${condition}); } catch { return false; } })()`)) === true) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`timed out waiting for ${condition}`);
      },
    };
  }

  close(): void {
    this.ws.close();
    this.child.kill('SIGKILL');
  }
}
