import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerConnector } from '../../src/connector.js';
import { ConnectorError } from '../../src/errors.js';
import { parameterSchema } from '../../src/manifest.js';
import { resultSchema } from '../../src/operations/parameter-schema.js';
import { DryRunLedger, confirmationKey } from '../../src/mcp/confirm.js';
import { capOutput, summarize, truncationNote } from '../../src/mcp/output.js';
import { ToolHost } from '../../src/mcp/server.js';
import { parseMcpSettings } from '../../src/mcp/settings.js';
import { listTools, refusal, safetyLevel, toolFor } from '../../src/mcp/tools.js';
import { getOperation, listOperations } from '../../src/operations/index.js';
import type { AuditEntry, AuditLog } from '../../src/access/audit.js';
import { Policy } from '../../src/access/policy.js';

const op = (name: string) => {
  const found = getOperation(name);
  if (!found) throw new Error(`no operation ${name}`);
  return found;
};
const names = (safeties: string[]) =>
  listOperations()
    .filter((o) => safeties.includes(o.safety))
    .map((o) => o.name);

describe('MCP tools from the catalogue', () => {
  it('one tool per operation with its name, title, schema and safety annotations', () => {
    for (const o of listOperations()) {
      const t = toolFor(o);
      expect(t.name).toBe(o.name);
      expect(t.title).toBe(o.title);
      expect(t.description.startsWith(o.description)).toBe(true);
      expect(t.inputSchema).toEqual({ ...parameterSchema(o), type: 'object' });
      // The result schema as it is, or wrapped as {result} when the result is not always an object.
      if (o.resultSchema) {
        const result = resultSchema(o);
        const { $defs, ...rest } = result;
        const wrapped = { type: 'object', properties: { result: rest }, required: ['result'], additionalProperties: false, ...($defs ? { $defs } : {}) };
        expect([{ ...result, type: 'object' }, wrapped], o.name).toContainEqual(t.outputSchema);
      }
      expect(t.annotations).toEqual({
        title: o.title,
        readOnlyHint: o.safety === 'read',
        destructiveHint: o.safety === 'destructive',
        idempotentHint: o.idempotent,
        openWorldHint: false,
      });
    }
  });

  it('the safety level follows the flags; --allow-destructive implies write', () => {
    expect(safetyLevel({})).toBe('read');
    expect(safetyLevel({ allowWrite: true })).toBe('write');
    expect(safetyLevel({ allowDestructive: true })).toBe('destructive');
  });

  it('lists read tools only by default, read+write with write, all with destructive', () => {
    const policy = new Policy();
    expect(listTools({ level: 'read', policy }, undefined).map((t) => t.name)).toEqual(names(['read']));
    expect(listTools({ level: 'write', policy }, undefined).map((t) => t.name)).toEqual(names(['read', 'write']));
    expect(listTools({ level: 'destructive', policy }, undefined).map((t) => t.name)).toEqual(names(['read', 'write', 'destructive']));
  });

  it('the shared policy and the key scopes narrow the list further', () => {
    const policy = new Policy({ deny: ['container_*'], read_only: false });
    const listed = listTools({ level: 'destructive', policy }, { id: 'reader', scopes: ['read'] }).map((t) => t.name);
    expect(listed).toEqual(names(['read']).filter((n) => !n.startsWith('container_')));
    const readOnly = listTools({ level: 'destructive', policy: new Policy({ read_only: true }) }, undefined).map((t) => t.name);
    expect(readOnly).toEqual(names(['read']));
  });

  it('a refusal names the rule and the flag that would allow it', () => {
    const policy = new Policy({ deny: ['get_info'] });
    const write = refusal({ level: 'read', policy }, op('create_container'), undefined);
    expect(write).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'mcp_safety', needed_flag: '--allow-write' } });
    expect(write!.message).toMatch(/--allow-write/);
    const destructive = refusal({ level: 'write', policy }, op('remove_container'), undefined);
    expect(destructive).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'mcp_safety', needed_flag: '--allow-destructive' } });
    expect(refusal({ level: 'read', policy }, op('get_info'), undefined)).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'deny' } });
    expect(refusal({ level: 'destructive', policy }, op('remove_container'), { id: 'w', scopes: ['write'] })).toMatchObject({ details: { rule: 'scope', needed_scope: 'admin' } });
    expect(refusal({ level: 'read', policy }, op('list_containers'), undefined)).toBeUndefined();
  });
});

describe('output cap', () => {
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

  it('leaves a result under the limit untouched', () => {
    const value = { a: 'x'.repeat(100), list: [1, 2, 3] };
    const c = capOutput(value, 1024);
    expect(c.value).toBe(value);
    expect(c.cuts).toEqual([]);
    expect(truncationNote(c, 1024)).toBeUndefined();
  });

  it('cuts the long string of a log result with a visible marker, keeping the other fields', () => {
    const value = { stdout: 'a'.repeat(300_000), stderr: 'short', exit_code: 0, truncated: false };
    const c = capOutput(value, 100 * 1024);
    expect(c.bytes).toBeLessThanOrEqual(100 * 1024);
    expect(c.bytes).toBeGreaterThan(90 * 1024); // as much as fits, not far less
    const v = c.value as typeof value;
    expect(v.stderr).toBe('short');
    expect(v.exit_code).toBe(0);
    expect(v.stdout).toMatch(/…\[cut: \d+ more characters\]$/);
    expect(c.cuts).toEqual([{ at: 'stdout', kind: 'string', total: 300_000, kept: expect.any(Number) }]);
    expect(value.stdout).toHaveLength(300_000); // the input is not modified
    expect(truncationNote(c, 100 * 1024)).toMatch(/Output truncated.*stdout: kept \d+ of 300000 characters/);
  });

  it('shortens a long list of small items instead of cutting one of them', () => {
    const list = Array.from({ length: 5000 }, (_, i) => ({ id: `c${i}`, name: `container-${i}`, state: 'running' }));
    const c = capOutput(list, 10_000);
    expect(c.bytes).toBeLessThanOrEqual(10_000);
    const kept = c.value as typeof list;
    expect(kept.length).toBeGreaterThan(50);
    expect(kept[0]).toEqual(list[0]);
    expect(c.cuts[0]).toMatchObject({ at: '(result)', kind: 'list', total: 5000, kept: kept.length });
  });

  it('fits non-ASCII text by bytes without splitting a character', () => {
    const c = capOutput({ text: '日本語😀'.repeat(20_000) }, 4096);
    expect(c.bytes).toBeLessThanOrEqual(4096);
    expect((c.value as { text: string }).text).not.toMatch(/[\uD800-\uDBFF]…/);
    expect(size(c.value)).toBe(c.bytes);
  });

  it('replaces a result that cannot be cut with a size note', () => {
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]));
    const c = capOutput(many, 1024);
    expect(c.value).toEqual({ output_too_large: true, bytes: size(many), limit: 1024 });
  });

  it('summarizes lists by count and objects by their scalar fields', () => {
    expect(summarize('list_containers', [1, 2])).toBe('list_containers: 2 items');
    expect(summarize('stop_container', { container: 'web', changed: false })).toBe('stop_container: ok (container="web", changed=false)');
    expect(summarize('prune_volumes', { deleted: ['a'], dry_run: true })).toBe('prune_volumes: ok (dry_run=true, deleted: 1 item)');
    expect(summarize('ping', 'OK')).toBe('ping: "OK"');
  });
});

describe('--confirm-destructive ledger', () => {
  const remove = op('remove_container');

  it('refuses without a dry run, accepts after one with the same parameters, once', () => {
    const ledger = new DryRunLedger();
    const params = { container: 'web', force: false, volumes: false, link: false, dry_run: false };
    expect(() => ledger.check(remove, params)).toThrow(/dry_run: true/);
    ledger.record('remove_container', { ...params, dry_run: true });
    expect(() => ledger.check(remove, params)).not.toThrow();
    ledger.consume('remove_container', params);
    expect(() => ledger.check(remove, params)).toThrow(expect.objectContaining({ code: 'FORBIDDEN', details: { rule: 'confirm_destructive' } }));
  });

  it('other parameters, another tool or an expired dry run do not confirm', () => {
    let now = 1_000_000;
    const ledger = new DryRunLedger(60_000, () => now);
    ledger.record('remove_container', { container: 'web', force: true, dry_run: true });
    expect(() => ledger.check(remove, { container: 'web', force: false, dry_run: false })).toThrow();
    expect(() => ledger.check(op('remove_volume'), { volume: 'web', force: true, dry_run: false })).toThrow();
    expect(() => ledger.check(remove, { force: true, container: 'web', dry_run: false })).not.toThrow();
    now += 60_001;
    expect(() => ledger.check(remove, { container: 'web', force: true, dry_run: false })).toThrow(/within 1 minute\b/);
  });

  it('the key ignores dry_run and key order', () => {
    expect(confirmationKey('x', { b: 1, a: { d: 2, c: [1, 2] }, dry_run: true })).toBe(confirmationKey('x', { a: { c: [1, 2], d: 2 }, b: 1 }));
    expect(confirmationKey('x', { a: 1, dry_run: true })).toBe(confirmationKey('x', { a: 1, plan_id: 'p-from-the-dry-run' }));
  });
});

describe('mcp settings', () => {
  it('defaults, overrides, and clear errors', () => {
    expect(parseMcpSettings(undefined)).toMatchObject({ allow_write: false, allow_destructive: false, confirm_destructive: false, max_output_bytes: 102400 });
    expect(parseMcpSettings({ allow_write: true }, { allow_destructive: true, allow_write: undefined })).toMatchObject({ allow_write: true, allow_destructive: true });
    expect(() => parseMcpSettings({ allow_writes: true })).toThrow(/mcp: unknown setting allow_writes/);
    expect(() => parseMcpSettings({ max_output_bytes: 10 })).toThrow(/mcp\.max_output_bytes/);
    expect(() => parseMcpSettings('yes')).toThrow(/mcp must be an object/);
  });
});

/* ---------- the server over an in-memory transport: checks that run before any Engine call ---------- */

describe('MCP server checks (no Engine reached)', () => {
  const opened: { client: Client; connector: DockerConnector }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.client.close();
      o.connector.close();
    }
  });

  async function connect(settings: Partial<{ allow_write: boolean; allow_destructive: boolean; confirm_destructive: boolean }>, policy = new Policy({}, { localFiles: false })) {
    // Nothing listens here: a call that reached the Engine would fail with CONNECTION_FAILED, not the codes asserted.
    const connector = new DockerConnector({ host: 'unix:///nonexistent/dc-mcp-unit.sock', retry_attempts: 0, env: {} });
    const entries: AuditEntry[] = [];
    const audit: AuditLog = { destination: 'memory', record: (e) => entries.push(e), close: async () => {} };
    const host = new ToolHost({ connector, policy, audit, settings: { allow_write: false, allow_destructive: false, confirm_destructive: false, max_output_bytes: 102400, ...settings } });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await host.createServer({ client: 'test' }).connect(a);
    const client = new Client({ name: 'unit', version: '1' });
    await client.connect(b);
    opened.push({ client, connector });
    return { client, entries };
  }

  // A tool error carries its error as text: "CODE: message", then the JSON {"error": …} (no structured content).
  const errorOf = (r: Awaited<ReturnType<Client['callTool']>>) => {
    expect(r.structuredContent).toBeUndefined();
    return (JSON.parse((r.content as { text: string }[])[1]!.text) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;
  };

  it('refuses write tools on a read-only server, with a tool error and an audit line', async () => {
    const { client, entries } = await connect({});
    const r = await client.callTool({ name: 'create_container', arguments: { image: 'dc-busybox:latest' } });
    expect(r.isError).toBe(true);
    expect(errorOf(r)).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'mcp_safety' } });
    expect((r.content as { text: string }[])[0]!.text).toMatch(/^FORBIDDEN: .*--allow-write/);
    expect(entries).toEqual([expect.objectContaining({ surface: 'mcp', operation: 'create_container', outcome: 'FORBIDDEN', key_id: null, client: 'test' })]);
  });

  it('redacts secret-named values in a tool error\'s details, as the HTTP service does', async () => {
    const { client } = await connect({});
    const connector = opened.at(-1)!.connector;
    // The Engine is not needed: the error an operation failed with is what is under test.
    connector.executeDynamic = async () => {
      throw new ConnectorError('ENGINE_ERROR', 'failed', { details: { registry_password: 'pw-planted-1', env: ['DB_PASSWORD=pw-planted-2', 'MODE=x'] } });
    };
    const r = await client.callTool({ name: 'list_containers', arguments: {} });
    expect(r.isError).toBe(true);
    expect(JSON.stringify(r)).not.toMatch(/pw-planted/);
    expect(errorOf(r).details).toEqual({ registry_password: '[REDACTED]', env: ['DB_PASSWORD=[REDACTED]', 'MODE=x'] });
  });

  it('invalid parameters and unknown tools are tool errors naming the problem', async () => {
    const { client, entries } = await connect({});
    const bad = await client.callTool({ name: 'list_containers', arguments: { limit: 'many', bogus: 1 } });
    expect(errorOf(bad).code).toBe('INVALID_PARAMS');
    expect(errorOf(bad).message).toMatch(/limit/);
    expect(errorOf(bad).message).toMatch(/"bogus"/);
    const unknown = await client.callTool({ name: 'format_disk', arguments: {} });
    expect(errorOf(unknown).code).toBe('UNKNOWN_OPERATION');
    expect(entries.map((e) => e.outcome)).toEqual(['INVALID_PARAMS', 'UNKNOWN_OPERATION']);
  });

  it('--confirm-destructive refuses a destructive call without a prior dry run, before the Engine', async () => {
    const { client } = await connect({ allow_destructive: true, confirm_destructive: true });
    const r = await client.callTool({ name: 'remove_volume', arguments: { volume: 'v1' } });
    expect(errorOf(r)).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'confirm_destructive' } });
    expect(errorOf(r).message).toMatch(/dry_run: true/);
    // The dry run itself is let through (and fails only because no Engine answers here).
    const dry = await client.callTool({ name: 'remove_volume', arguments: { volume: 'v1', dry_run: true } });
    expect(errorOf(dry).code).toBe('CONNECTION_FAILED');
  });

  it('parameters naming local files are refused when local files are off, with advice for MCP', async () => {
    const { client } = await connect({});
    const r = await client.callTool({ name: 'container_logs', arguments: { container: 'web', path: '/tmp/x.log' } });
    expect(errorOf(r)).toMatchObject({ code: 'FORBIDDEN', details: { rule: 'local_files' } });
    expect(errorOf(r).message).toMatch(/--local-files/);
  });

  it('tools/list carries the instructions level and the allowed tools', async () => {
    const { client } = await connect({ allow_write: true });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(names(['read', 'write']));
    expect(client.getInstructions()).toMatch(/read and write operations/);
  });
});
