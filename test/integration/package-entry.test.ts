import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { engines } from '../support/harness.js';

/**
 * The package as users get it: `import 'docker-connector'` resolves through
 * package.json "exports" to the bundle (dist/bundle/, built by `npm run
 * build`), run here in a plain Node process. A module hook records every
 * module file Node loads, to prove the main entry imports an operation's
 * family only when that operation is first run.
 */

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

const SCRIPT = `
import { register } from 'node:module';
const loaded = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.push(url));
port1.unref();
register('data:text/javascript,' + encodeURIComponent(
  'let port; export function initialize(d) { port = d.port; }' +
  'export async function load(url, ctx, next) { port.postMessage(url); return next(url, ctx); }'),
  { data: { port: port2 }, transferList: [port2] });
const settle = () => new Promise((r) => setTimeout(r, 50));
const families = () => loaded.map((u) => /\\/bundle\\/(system|system-info|system-prune|containers|container-state|exec|logs|stats|archive|images|registry|build|networks|volumes|containment|swarm|services|tasks|secrets|hunts|manifest|operations)-[A-Z0-9]+\\.js$/.exec(u)?.[1]).filter(Boolean);

const { DockerConnector, ConnectorError } = await import('docker-connector');
const c = new DockerConnector({ host: process.argv[1], rate_limit: 0, env: {} });
await settle();
const atImport = families();
const ping = await c.execute('ping');
await settle();
const afterPing = families();
const list = await c.execute('list_containers', { all: true, filters: { label: ['dc.package-entry=none'] } });
await settle();
const afterList = families();
const unknown = await c.executeDynamic('no_such_operation').catch((e) => e);
const catalogue = await import('docker-connector/catalogue');
// The list of operations has one name: "registry" is kept for Docker image registries.
const oldName = await import('docker-connector/registry').then(() => 'resolved', (e) => e.code);
const manifest = await c.manifest();
c.close();
console.log(JSON.stringify({
  atImport, afterPing, afterList, ping, list,
  unknownIsConnectorError: unknown instanceof ConnectorError, unknownCode: unknown.code,
  sameErrorClass: catalogue.getOperation('ping') !== undefined && (await import('docker-connector')).ConnectorError === ConnectorError,
  catalogueCount: catalogue.listOperations().length, manifestCount: manifest.operations.length, oldName,
}));
`;

describe.each(engines())('the package entry (the bundle) against Engine $name', (engine) => {
  it('runs operations, and loads an operation family only when one of its operations first runs', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', SCRIPT, engine.host], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });
    const r = JSON.parse(stdout) as Record<string, unknown> & { atImport: string[]; afterPing: string[]; afterList: string[] };
    expect(r.ping).toMatchObject({ ok: true, api_version: engine.apiVersion });
    expect(r.list).toEqual([]);
    expect(r.atImport).toEqual([]);
    expect(r.afterPing).toEqual(['system']);
    expect(r.afterList.sort()).toEqual(['containers', 'system']);
    expect(r.unknownIsConnectorError).toBe(true);
    expect(r.unknownCode).toBe('UNKNOWN_OPERATION');
    expect(r.sameErrorClass).toBe(true);
    expect(r.catalogueCount).toBe(r.manifestCount);
    expect(r.catalogueCount).toBeGreaterThanOrEqual(55);
    expect(r.oldName).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
