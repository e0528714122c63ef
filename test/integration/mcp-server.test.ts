import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { listOperations } from 'docker-connector/catalogue';
import { parameterSchema } from 'docker-connector/catalogue';
import { connectorFor, TEST_LABEL, uniqueName } from '../support/connector.js';
import { engines, type HarnessEngine } from '../support/harness.js';
import { errorOf, ok } from '../support/mcp-results.js';

/*
 * The MCP server end to end: the real `mcp` command as a child process,
 * driven by the SDK's own Client over stdio and over streamable HTTP, in
 * front of each harness Engine.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
/** The command under test: the real CLI (built by `npm test`). */
const ENTRY = [join(ROOT, 'bin/docker-connector.js')];
/** Child environment, isolated from ours. */
const CHILD_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DOCKER_CONNECTOR_RATE_LIMIT: '0' };

const IMAGE = 'dc-busybox:latest';
const RUN = uniqueName('mcp');
const LABEL = `${TEST_LABEL}=${RUN}`;
const KEYS = { reader: 'mcp-reader-key-6d2f9a4c1e', admin: 'mcp-admin-key-0b7c3e8f5a' };
const API_KEYS = JSON.stringify([
  { id: 'mcp-reader', key: KEYS.reader, scopes: ['read'] },
  { id: 'mcp-admin', key: KEYS.admin, scopes: ['admin'] },
]);

const opsOf = (...safeties: string[]) =>
  listOperations()
    .filter((o) => safeties.includes(o.safety))
    .map((o) => o.name)
    .sort();

interface StdioServer {
  client: Client;
  /** Lines the server wrote to stderr so far (status lines, audit lines). */
  stderr: () => string[];
  close: () => Promise<void>;
}

async function stdioServer(engine: HarnessEngine, flags: string[]): Promise<StdioServer> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [...ENTRY, 'mcp', '--host', engine.host, ...flags], env: CHILD_ENV, stderr: 'pipe', cwd: ROOT });
  let err = '';
  (transport.stderr as Readable).on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, stderr: () => err.split('\n').filter(Boolean), close: () => client.close() };
}

function auditLines(lines: string[]): Record<string, unknown>[] {
  return lines.filter((l) => l.includes('"log":"audit"')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Runs the command to completion (for refusals to start). */
function runToExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...ENTRY, ...args], { env: { ...CHILD_ENV, ...env }, stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe.each(engines())('MCP server in front of Engine $version (API $apiVersion)', (engine) => {
  let dc: DockerConnector;
  let dir: string;

  beforeAll(() => {
    dc = connectorFor(engine);
    dir = mkdtempSync(join(tmpdir(), 'dc-mcp-'));
  });

  afterAll(async () => {
    const left = (await dc.execute('list_containers', { all: true, filters: { label: [LABEL] } })) as { Id: string }[];
    for (const c of left) await dc.execute('remove_container', { container: c.Id, force: true }).catch(() => undefined);
    dc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const createParams = (name: string) => ({ image: IMAGE, name, command: ['sleep', '300'], labels: { [TEST_LABEL]: RUN } });

  describe('stdio, read-only (the default), with a deny rule from the config file', () => {
    let s: StdioServer;
    beforeAll(async () => {
      const config = join(dir, 'deny.json');
      writeFileSync(config, JSON.stringify({ deny: ['container_top'] }));
      s = await stdioServer(engine, ['--config', config]);
    });
    afterAll(() => s.close());

    it('tools/list is exactly the read operations the policy allows, with the catalogue schemas and annotations', async () => {
      const { tools } = await s.client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(opsOf('read').filter((n) => n !== 'container_top'));
      for (const t of tools) {
        const op = listOperations().find((o) => o.name === t.name)!;
        expect(t.title).toBe(op.title);
        expect(t.inputSchema).toEqual({ ...parameterSchema(op), type: 'object' });
        expect(t.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: op.idempotent, openWorldHint: false });
      }
    });

    it('a read call returns the CLI JSON as structured content plus a text summary', async () => {
      const r = await s.client.callTool({ name: 'get_version', arguments: {} });
      expect(ok(r)).toMatchObject({ Version: engine.version, ApiVersion: engine.apiVersion });
      const [summary, json] = r.content as { type: string; text: string }[];
      expect(summary!.text).toMatch(/^get_version: ok \(.*ApiVersion="/);
      expect(JSON.parse(json!.text)).toEqual(r.structuredContent);
    });

    it('structured content of real results matches each tool\'s outputSchema (the SDK client checks it; Ajv checks again)', async () => {
      const { tools } = await s.client.listTools(); // the client compiles every outputSchema here
      const schemas = new Map(tools.map((t) => [t.name, t.outputSchema]));
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      (addFormats as unknown as (a: Ajv2020) => void)(ajv);
      const calls: [string, Record<string, unknown>][] = [
        ['ping', {}],
        ['get_version', {}],
        ['get_info', {}],
        ['list_containers', { all: true, limit: 5 }],
        ['list_images', {}],
        ['list_networks', {}],
        ['inspect_network', { network: 'bridge' }],
        ['list_volumes', {}],
        ['inspect_image', { image: IMAGE }],
      ];
      for (const [name, args] of calls) {
        const schema = schemas.get(name);
        expect(schema, `${name} has an outputSchema`).toMatchObject({ type: 'object' });
        // callTool rejects structured content that does not match (unit-tested in result-schemas-surfaces).
        const r = await s.client.callTool({ name, arguments: args });
        const validate = ajv.compile(schema!);
        expect(validate(r.structuredContent), `${name}: ${ajv.errorsText(validate.errors)}`).toBe(true);
        // A result that is not an object comes wrapped, as the schema says.
        if ((schema!.required as string[] | undefined)?.includes('result') && Object.keys(schema!.properties ?? {}).length === 1) expect(Object.keys(r.structuredContent!)).toEqual(['result']);
      }
    });

    it('refuses remove_container and create_container with tool errors; nothing reaches the Engine', async () => {
      const name = uniqueName('mcpro');
      const removal = errorOf(await s.client.callTool({ name: 'remove_container', arguments: { container: name } }));
      expect(removal).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'mcp_safety', needed_flag: '--allow-destructive' } });
      const creation = errorOf(await s.client.callTool({ name: 'create_container', arguments: createParams(name) }));
      expect(creation).toMatchObject({ code: 'FORBIDDEN', details: { needed_flag: '--allow-write' } });
      const seen = (await dc.execute('list_containers', { all: true, filters: { name: [name] } })) as unknown[];
      expect(seen).toEqual([]);
    });

    it('the policy deny rule refuses container_top even though it is a read operation', async () => {
      expect(errorOf(await s.client.callTool({ name: 'container_top', arguments: { container: 'x' } }))).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'deny' } });
    });

    it('Engine errors carry their code: NOT_FOUND on inspect of a missing container', async () => {
      const missing = uniqueName('mcpmissing');
      const r = await s.client.callTool({ name: 'inspect_container', arguments: { container: missing } });
      const err = errorOf(r);
      expect(err).toMatchObject({ code: 'NOT_FOUND', status: 404, operation: 'inspect_container' });
      expect((r.content as { text: string }[])[0]!.text).toMatch(new RegExp(`^NOT_FOUND: .*${missing}`));
    });

    it('every call is in the audit log (stderr on stdio), with outcome and no key', async () => {
      await s.client.callTool({ name: 'ping', arguments: {} });
      // Audit lines are written before the answer leaves.
      const lines = auditLines(s.stderr());
      const ops = lines.map((l) => `${l.operation}:${l.outcome}`);
      expect(ops).toEqual(expect.arrayContaining(['get_version:ok', 'remove_container:FORBIDDEN', 'inspect_container:NOT_FOUND', 'container_top:FORBIDDEN', 'ping:ok']));
      expect(lines.every((l) => l.surface === 'mcp' && l.key_id === null && l.client === 'stdio' && typeof l.duration_ms === 'number')).toBe(true);
    });
  });

  describe('stdio with --allow-write and a small output limit', () => {
    let s: StdioServer;
    beforeAll(async () => {
      s = await stdioServer(engine, ['--allow-write', '--max-output', '2048']);
    });
    afterAll(() => s.close());

    it('tools/list is read + write operations, write ones not read-only and not destructive', async () => {
      const { tools } = await s.client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(opsOf('read', 'write'));
      const create = tools.find((t) => t.name === 'create_container')!;
      expect(create.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false });
      expect(tools.find((t) => t.name === 'start_container')!.annotations).toMatchObject({ idempotentHint: true });
    });

    it('a result over the limit is cut to fit, with a truncation note', async () => {
      // An exec printing ~30 KB: its stdout is a string the cut may shorten, on any harness (a fresh one
      // has too few objects for a listing to pass 2 KiB).
      const name = uniqueName('mcpcut');
      await dc.execute('create_container', createParams(name));
      await dc.execute('start_container', { container: name });
      try {
        const r = await s.client.callTool({ name: 'exec_container', arguments: { container: name, command: 'head -c 30000 /dev/zero | tr "\\0" x' } });
        expect(r.isError, JSON.stringify(r.content).slice(0, 400)).toBeFalsy();
        const [summary, json] = r.content as { text: string }[];
        expect(summary!.text).toMatch(/Output truncated: the result is \d+ bytes of JSON, over this server's limit of 2048 bytes/);
        expect(Buffer.byteLength(json!.text)).toBeLessThanOrEqual(2048);
        expect((r._meta as Record<string, { limit: number }>)['docker-connector/truncated']!.limit).toBe(2048);
        expect((r.structuredContent as { stdout: string; exit_code: number })).toMatchObject({ stdout: expect.stringMatching(/^x{100}/), exit_code: 0 });
        // Cut to fit, and still what the tool's outputSchema describes.
        const schema = (await s.client.listTools()).tools.find((t) => t.name === 'exec_container')!.outputSchema!;
        const ajv = new Ajv2020({ strict: false, allErrors: true });
        (addFormats as unknown as (a: Ajv2020) => void)(ajv);
        const validate = ajv.compile(schema);
        expect(validate(r.structuredContent), ajv.errorsText(validate.errors)).toBe(true);
      } finally {
        await dc.execute('remove_container', { container: name, force: true });
      }
    });
  });

  describe('stdio with --allow-destructive', () => {
    let s: StdioServer;
    beforeAll(async () => {
      s = await stdioServer(engine, ['--allow-destructive']);
    });
    afterAll(() => s.close());

    it('tools/list is every operation; destructive ones say so', async () => {
      const { tools } = await s.client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(opsOf('read', 'write', 'destructive'));
      expect(tools.find((t) => t.name === 'remove_container')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: false });
    });

    it('runs a container lifecycle through tools/call: create, start, inspect, stop, remove', async () => {
      const name = uniqueName('mcplc');
      const created = ok<{ id: string }>(await s.client.callTool({ name: 'create_container', arguments: createParams(name) }));
      expect(created.id).toMatch(/^[0-9a-f]{64}$/);
      expect(ok(await s.client.callTool({ name: 'start_container', arguments: { container: name } }))).toMatchObject({ changed: true });
      const running = ok<{ Id: string; State: { Running: boolean } }>(await s.client.callTool({ name: 'inspect_container', arguments: { container: name } }));
      expect(running).toMatchObject({ Id: created.id, State: { Running: true } });
      expect(ok(await s.client.callTool({ name: 'stop_container', arguments: { container: name, timeout: 1 } }))).toMatchObject({ changed: true });
      expect(ok(await s.client.callTool({ name: 'stop_container', arguments: { container: name } }))).toMatchObject({ changed: false });
      // Second view: the Engine through the library, not the MCP server.
      expect(((await dc.execute('inspect_container', { container: name })) as { State: { Running: boolean } }).State.Running).toBe(false);
      const listed = await s.client.callTool({ name: 'list_containers', arguments: { all: true, filters: { label: [LABEL] } } });
      expect((ok<{ result: { Id: string }[] }>(listed)).result.map((c) => c.Id)).toContain(created.id);
      // An export goes to a file (the operation's own path parameter), not into the conversation; progress is reported.
      const file = join(dir, `${name}.tar`);
      const progress: number[] = [];
      const exported = await s.client.callTool({ name: 'container_export', arguments: { container: name, path: file } }, undefined, { onprogress: (p) => progress.push(p.progress) });
      expect(ok(exported)).toMatchObject({ path: file, bytes: statSync(file).size, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(statSync(file).size).toBeGreaterThan(100_000);
      expect(JSON.stringify(exported).length).toBeLessThan(2000);
      expect(progress.length).toBeGreaterThan(0);
      expect(ok(await s.client.callTool({ name: 'remove_container', arguments: { container: name } }))).toMatchObject({ changed: true, dry_run: false });
      expect(errorOf(await s.client.callTool({ name: 'inspect_container', arguments: { container: name } })).code).toBe('NOT_FOUND');
    });
  });

  describe('stdio with --allow-destructive --confirm-destructive', () => {
    let s: StdioServer;
    beforeAll(async () => {
      s = await stdioServer(engine, ['--allow-destructive', '--confirm-destructive']);
    });
    afterAll(() => s.close());

    it('refuses remove_container without a prior dry run of the same call, accepts it after one', async () => {
      const name = uniqueName('mcpcf');
      ok(await s.client.callTool({ name: 'create_container', arguments: createParams(name) }));

      const refused = errorOf(await s.client.callTool({ name: 'remove_container', arguments: { container: name } }));
      expect(refused).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'confirm_destructive' } });
      expect(refused.message).toMatch(/dry_run: true/);
      expect(((await dc.execute('inspect_container', { container: name })) as { Name: string }).Name).toBe(`/${name}`);

      // A dry run of a different call (force) does not confirm this one.
      ok(await s.client.callTool({ name: 'remove_container', arguments: { container: name, force: true, dry_run: true } }));
      expect(errorOf(await s.client.callTool({ name: 'remove_container', arguments: { container: name } })).details).toMatchObject({ rule: 'confirm_destructive' });

      const dry = ok(await s.client.callTool({ name: 'remove_container', arguments: { container: name, dry_run: true } }));
      expect(dry).toMatchObject({ dry_run: true, would_remove: true, changed: false });
      expect(ok(await s.client.callTool({ name: 'remove_container', arguments: { dry_run: false, container: name } }))).toMatchObject({ changed: true });
      await expect(dc.execute('inspect_container', { container: name })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const audit = auditLines(s.stderr()).filter((l) => l.operation === 'remove_container');
      expect(audit.map((l) => l.outcome)).toEqual(['FORBIDDEN', 'ok', 'FORBIDDEN', 'ok', 'ok']);
    });
  });

  describe('streamable HTTP with API keys', () => {
    let child: ReturnType<typeof spawn>;
    let url: string;
    let auditFile: string;
    const clients: Client[] = [];

    async function httpClient(key: string): Promise<Client> {
      const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
      const client = new Client({ name: 'mcp-http-test', version: '1.0.0' });
      await client.connect(transport);
      clients.push(client);
      return client;
    }

    beforeAll(async () => {
      auditFile = join(dir, 'audit.log');
      child = spawn(process.execPath, [...ENTRY, 'mcp', '--host', engine.host, '--listen', '127.0.0.1:0', '--allow-destructive', '--audit-log', auditFile], {
        env: { ...CHILD_ENV, DOCKER_CONNECTOR_API_KEYS: API_KEYS },
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: ROOT,
      });
      url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /"event":"listening","url":"([^"]+)"/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`mcp --listen exited with ${code}: ${err}`)));
      });
    });

    afterAll(async () => {
      for (const c of clients) await c.close();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    });

    it('refuses a missing or wrong key with 401 before reading the request', async () => {
      const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
      const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      const none = await fetch(url, { method: 'POST', headers, body: JSON.stringify(init) });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await none.json()) as unknown).toMatchObject({ error: { data: { code: 'UNAUTHORIZED' } } });
      const wrong = await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer not-a-key-at-all-123456' }, body: JSON.stringify(init) });
      expect(wrong.status).toBe(401);
      // The SDK client reports the HTTP status of the refusal.
      await expect(httpClient('wrong-key-0000000000000')).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/Unknown API key/) });
    });

    it('an admin key sees every tool and runs create/remove; a read key sees read tools only', async () => {
      const admin = await httpClient(KEYS.admin);
      expect((await admin.listTools()).tools.map((t) => t.name).sort()).toEqual(opsOf('read', 'write', 'destructive'));
      const reader = await httpClient(KEYS.reader);
      expect((await reader.listTools()).tools.map((t) => t.name).sort()).toEqual(opsOf('read'));

      const name = uniqueName('mcphttp');
      ok(await admin.callTool({ name: 'create_container', arguments: createParams(name) }));
      const denied = errorOf(await reader.callTool({ name: 'remove_container', arguments: { container: name } }));
      expect(denied).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'scope', needed_scope: 'admin' } });
      expect(ok(await reader.callTool({ name: 'inspect_container', arguments: { container: name } }))).toMatchObject({ Name: `/${name}` });
      expect(ok(await admin.callTool({ name: 'remove_container', arguments: { container: name } }))).toMatchObject({ changed: true });
      expect(errorOf(await reader.callTool({ name: 'inspect_container', arguments: { container: name } })).code).toBe('NOT_FOUND');
    });

    it('a session belongs to the key that opened it', async () => {
      const admin = await httpClient(KEYS.admin);
      const sessionId = (admin.transport as StreamableHTTPClientTransport).sessionId!;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${KEYS.reader}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'remove_container', arguments: { container: 'x' } } }),
      });
      expect(res.status).toBe(404);
    });

    it('the audit log records key ids, outcomes and refused requests, never a key', async () => {
      const reader = await httpClient(KEYS.reader);
      await reader.callTool({ name: 'ping', arguments: {} });
      const text = readFileSync(auditFile, 'utf8');
      expect(text).not.toContain(KEYS.admin);
      expect(text).not.toContain(KEYS.reader);
      const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ surface: 'mcp', key_id: 'mcp-admin', operation: 'create_container', outcome: 'ok', client: '127.0.0.1' }),
          expect.objectContaining({ key_id: 'mcp-reader', operation: 'remove_container', outcome: 'FORBIDDEN' }),
          expect.objectContaining({ key_id: 'mcp-reader', operation: 'ping', outcome: 'ok' }),
          expect.objectContaining({ key_id: null, operation: null, outcome: 'UNAUTHORIZED', status: 401 }),
        ]),
      );
    });
  });
});

describe('MCP server start-up refusals', () => {
  it('HTTP without API keys refuses to start (unless --no-auth on loopback)', async () => {
    const noKeys = await runToExit(['mcp', '--host', 'unix:///nonexistent.sock', '--listen', '127.0.0.1:0']);
    expect(noKeys.code).toBe(2);
    expect(JSON.parse(noKeys.stderr.trim().split('\n').pop()!)).toMatchObject({ error: { code: 'INVALID_CONFIG', message: expect.stringMatching(/needs API keys/) } });
    const wide = await runToExit(['mcp', '--host', 'unix:///nonexistent.sock', '--listen', '0.0.0.0:0', '--no-auth']);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toMatch(/--no-auth is only allowed when listening on a loopback address/);
  });

  it('stdio refuses an audit log on stdout, which carries the protocol', async () => {
    const r = await runToExit(['mcp', '--host', 'unix:///nonexistent.sock', '--audit-log', 'stdout']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!)).toMatchObject({ error: { code: 'INVALID_CONFIG', message: expect.stringMatching(/audit_log "stdout" cannot be used with the stdio transport/) } });
  });
});
