import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { AuditEntry, AuditLog } from '../../src/access/audit.js';
import { Policy } from '../../src/access/policy.js';
import { DockerConnector } from '../../src/connector.js';
import { confirmationKey } from '../../src/mcp/confirm.js';
import { chooseEndpoint } from '../../src/mcp/endpoint-choice.js';
import { capFanOut, summarizeFanOut } from '../../src/mcp/output.js';
import { fanOutCutPolicy, fanOutToolOutput } from '../../src/mcp/output-schema.js';
import { ToolHost } from '../../src/mcp/server.js';
import { listTools, toolFor } from '../../src/mcp/tools.js';
import type { OperationDefinition } from '../../src/operations/define.js';
import { getOperation, listOperations } from '../../src/operations/index.js';

/* The MCP surface over several named endpoints (issue 17), without an Engine. */

function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv;
}
const op = (name: string) => getOperation(name)!;
const fake = (name: string, schema: z.ZodType) => ({ name, safety: 'read', resultSchema: schema }) as unknown as OperationDefinition;
const NAMES = ['a', 'b', 'c'];
// Nothing listens on these sockets: a call that reached an Engine fails with CONNECTION_FAILED.
const nowhere = (n: string) => ({ host: `unix:///nonexistent/dc-mcp-fleet-${n}.sock`, retry_attempts: 0 });
const fleetConnector = () => new DockerConnector({ env: {}, endpoints: { a: nowhere('a'), b: nowhere('b'), c: nowhere('c') }, default_endpoint: 'b' });

describe('MCP tools with one endpoint: nothing changes', () => {
  it('every tool is byte-identical to the tool without endpoints', () => {
    for (const o of listOperations()) expect(JSON.stringify(toolFor(o, ['default'])), o.name).toBe(JSON.stringify(toolFor(o)));
    const gate = { level: 'destructive' as const, policy: new Policy({}) };
    expect(JSON.stringify(listTools(gate, undefined, ['prod']))).toBe(JSON.stringify(listTools(gate, undefined)));
  });
});

describe('MCP tools with several endpoints', () => {
  it('read tools take a name, "all" or a list; write and destructive tools one name; hunts their own endpoints', () => {
    const props = (name: string) => toolFor(op(name), NAMES).inputSchema.properties as Record<string, Record<string, unknown>>;
    expect(props('list_containers').endpoint).toMatchObject({
      anyOf: [
        { type: 'string', enum: ['a', 'b', 'c', 'all'] },
        { type: 'array', items: { type: 'string', enum: NAMES }, minItems: 1 },
      ],
    });
    expect(props('create_container').endpoint).toMatchObject({ type: 'string', enum: NAMES });
    expect(props('remove_volume').endpoint).toMatchObject({ type: 'string', enum: NAMES });
    expect(props('find_images').endpoint).toBeUndefined();
    expect(props('find_images').endpoints).toMatchObject({ anyOf: [{ enum: [...NAMES, 'all'] }, { items: { enum: [...NAMES, 'all'] } }] });
    // Only read tools that fan out get the fan-out branch in their outputSchema.
    expect(JSON.stringify(toolFor(op('create_volume'), NAMES).outputSchema)).toBe(JSON.stringify(toolFor(op('create_volume')).outputSchema));
    expect(JSON.stringify(toolFor(op('find_images'), NAMES).outputSchema)).toBe(JSON.stringify(toolFor(op('find_images')).outputSchema));
  });

  it('every tool\'s input and output schemas compile in Ajv 2020 strict mode with an object root', () => {
    const failures: string[] = [];
    for (const o of listOperations()) {
      const t = toolFor(o, NAMES);
      expect(t.outputSchema?.type, o.name).toBe('object');
      for (const [what, schema] of [['input', t.inputSchema], ['output', t.outputSchema]] as const) {
        try {
          strictAjv().compile(schema!);
        } catch (err) {
          failures.push(`${o.name} ${what}: ${(err as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('a fan-out outputSchema admits the usual answer and {results, errors}, results unwrapped, and nothing else', () => {
    const leaf = z.strictObject({ id: z.string().regex(/^[0-9a-f]{4}$/) }).meta({ id: 'FleetLeaf' });
    const list = fake('fake_fleet_list', z.array(leaf));
    const validate = strictAjv().compile(fanOutToolOutput(list)!.schema);
    expect(validate({ result: [{ id: 'abcd' }] })).toBe(true);
    expect(validate({ results: { a: [{ id: 'abcd' }], b: [] }, errors: { c: { code: 'TIMEOUT', message: 'Endpoint "c": slow' } } })).toBe(true);
    expect(validate({ results: { a: [{ id: 'nope' }] }, errors: {} })).toBe(false);
    expect(validate({ results: { a: { result: [] } }, errors: {} })).toBe(false);
    expect(validate({ results: {}, errors: { c: { code: 'TIMEOUT' } } })).toBe(false);
    expect(validate({ results: {} })).toBe(false);

    const obj = fake('fake_fleet_obj', z.strictObject({ n: z.number() }));
    const v2 = strictAjv().compile(fanOutToolOutput(obj)!.schema);
    expect(v2({ n: 1 })).toBe(true);
    expect(v2({ results: { a: { n: 2 } }, errors: {} })).toBe(true);
    expect(v2({ results: { a: { n: 'x' } }, errors: {} })).toBe(false);
  });
});

describe('fan-out answers past the output limit', () => {
  const item = (i: number) => ({ id: i.toString(16).padStart(4, '0'), log: 'x'.repeat(100) });
  const list = fake('fake_fleet_cap', z.array(z.strictObject({ id: z.string().regex(/^[0-9a-f]{4}$/), log: z.string() })));

  it('each endpoint keeps a fair share: a small result whole, large ones cut alike, errors whole; still valid', () => {
    const value = {
      results: { a: Array.from({ length: 200 }, (_, i) => item(i)), b: Array.from({ length: 200 }, (_, i) => item(i)), c: [item(1)] },
      errors: { d: { code: 'CONNECTION_FAILED', message: 'Endpoint "d": refused' } },
    };
    const capped = capFanOut(value, 8192, fanOutCutPolicy(list));
    expect(capped.replaced).toBeUndefined();
    expect(capped.bytes).toBeLessThanOrEqual(8192);
    const v = capped.value as typeof value;
    expect(v.results.c).toEqual([item(1)]);
    expect(v.errors).toEqual(value.errors);
    // Neither large result is emptied to keep the other whole.
    expect(v.results.a.length).toBeGreaterThan(20);
    expect(Math.abs(v.results.a.length - v.results.b.length)).toBeLessThanOrEqual(1);
    expect(capped.cuts.map((c) => c.at).sort()).toEqual(['results.a', 'results.b']);
    expect(strictAjv().compile(fanOutToolOutput(list)!.schema)(v)).toBe(true);
  });

  it('what cannot be cut within an endpoint\'s share replaces the answer by a note', () => {
    const ids = fake('fake_fleet_ids', z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(50));
    const hex = Array.from({ length: 60 }, (_, i) => i.toString(16).padStart(64, '0'));
    const capped = capFanOut({ results: { a: hex, b: hex }, errors: {} }, 4096, fanOutCutPolicy(ids));
    expect(capped.replaced).toBe(true);
    expect(capped.value).toMatchObject({ output_too_large: true, limit: 4096 });
  });

  it('the summary names each endpoint\'s count or error', () => {
    expect(summarizeFanOut('list_images', { results: { a: [1, 2], b: { x: 1 } }, errors: { c: { code: 'TIMEOUT', message: 'm' } } })).toBe(
      'list_images on 3 endpoints: 2 answered (a: 2 items, b: ok); 1 failed (c: TIMEOUT)',
    );
  });
});

describe('the endpoint argument of a call', () => {
  const opened: DockerConnector[] = [];
  afterEach(() => {
    for (const c of opened.splice(0)) c.close();
  });

  it('is taken out of the arguments and checked; the ledger keys on the endpoint chosen', () => {
    const dc = fleetConnector();
    opened.push(dc);
    const remove = op('remove_volume');
    const on = (endpoint?: string) => chooseEndpoint(dc, remove, endpoint === undefined ? { volume: 'v' } : { volume: 'v', endpoint });
    expect(on('a').params).toEqual({ volume: 'v' });
    const key = (endpoint?: string) => confirmationKey('remove_volume', on(endpoint).forLedger({ volume: 'v', dry_run: true }));
    expect(key('a')).not.toBe(key('b'));
    // The default endpoint (b), named or not, is the same call.
    expect(key()).toBe(key('b'));
    expect(on().audit).toBe('b');
    expect(() => on('zz')).toThrow(/Unknown endpoint "zz"/);
    expect(() => chooseEndpoint(dc, remove, { volume: 'v', endpoint: ['a'] })).toThrow(/remove_volume is a destructive operation/);
    expect(() => chooseEndpoint(dc, op('list_images'), { endpoint: 42 })).toThrow(/Invalid parameter endpoint: expected an endpoint name \(a, b, c\), "all", or a list of names/);
    expect(chooseEndpoint(dc, op('list_images'), { endpoint: 'a,c' })).toMatchObject({ across: 'a,c', audit: 'a,c', params: {} });
    expect(chooseEndpoint(dc, op('find_images'), { reference: 'x', endpoints: ['a', 'c'] })).toMatchObject({ params: { reference: 'x', endpoints: ['a', 'c'] }, audit: 'a,c' });
  });

  it('with one endpoint it stays a parameter, which the operation refuses as unknown (as before)', () => {
    const dc = new DockerConnector({ ...nowhere('one'), env: {} });
    opened.push(dc);
    const choice = chooseEndpoint(dc, op('list_images'), { endpoint: 'a' });
    expect(choice.params).toEqual({ endpoint: 'a' });
    expect(choice.audit).toBe('default');
    expect(choice.forLedger({ dry_run: true })).toEqual({ dry_run: true });
  });
});

describe('MCP server over several endpoints (no Engine reached)', () => {
  const opened: { client: Client; connector: DockerConnector }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.client.close();
      o.connector.close();
    }
  });

  async function connect(settings: Partial<{ allow_write: boolean; allow_destructive: boolean; confirm_destructive: boolean }> = {}) {
    const connector = fleetConnector();
    const entries: AuditEntry[] = [];
    const audit: AuditLog = { destination: 'memory', record: (e) => entries.push(e), close: async () => {} };
    const host = new ToolHost({ connector, policy: new Policy({}, { localFiles: false }), audit, settings: { allow_write: false, allow_destructive: false, confirm_destructive: false, max_output_bytes: 102400, ...settings } });
    const [x, y] = InMemoryTransport.createLinkedPair();
    await host.createServer({ client: 'test' }).connect(x);
    const client = new Client({ name: 'unit', version: '1' });
    await client.connect(y);
    opened.push({ client, connector });
    // The SDK client validates structured content against the outputSchema of tools it has listed.
    await client.listTools();
    return { client, entries };
  }
  const errorOf = (r: Awaited<ReturnType<Client['callTool']>>) => {
    expect(r.isError).toBe(true);
    return (JSON.parse((r.content as { text: string }[])[1]!.text) as { error: { code: string; message: string } }).error;
  };

  it('a fan-out whose endpoints all fail is still an answer: every failure in errors, valid against the outputSchema', async () => {
    const { client, entries } = await connect();
    const r = await client.callTool({ name: 'list_images', arguments: { endpoint: ['a', 'c'] } });
    expect(r.isError).toBeFalsy();
    const fan = r.structuredContent as { results: object; errors: Record<string, { code: string; message: string }> };
    expect(fan.results).toEqual({});
    expect(Object.keys(fan.errors)).toEqual(['a', 'c']);
    expect(fan.errors.a).toMatchObject({ code: 'CONNECTION_FAILED', message: expect.stringMatching(/^Endpoint "a": /) });
    expect(entries.map((e) => [e.endpoint, e.outcome, e.params])).toEqual([['a,c', 'ok', {}]]);
  });

  it('one endpoint named: its error names it; unknown names and write fan-outs are INVALID_PARAMS', async () => {
    const { client, entries } = await connect({ allow_write: true });
    const one = errorOf(await client.callTool({ name: 'get_version', arguments: { endpoint: 'c' } }));
    expect(one).toMatchObject({ code: 'CONNECTION_FAILED', message: expect.stringMatching(/^Endpoint "c": /) });
    expect(errorOf(await client.callTool({ name: 'get_version', arguments: { endpoint: 'zz' } }))).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/"zz"/) });
    expect(errorOf(await client.callTool({ name: 'create_volume', arguments: { endpoint: 'all' } }))).toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/write operation/) });
    expect(entries.map((e) => `${e.endpoint} ${e.outcome}`)).toEqual(['c CONNECTION_FAILED', 'zz INVALID_PARAMS', 'all INVALID_PARAMS']);
  });

  it('--confirm-destructive: a destructive fan-out is refused as such, not as unconfirmed', async () => {
    const { client } = await connect({ allow_destructive: true, confirm_destructive: true });
    expect(errorOf(await client.callTool({ name: 'remove_volume', arguments: { volume: 'v', endpoint: 'all' } }))).toMatchObject({ code: 'INVALID_PARAMS' });
  });
});
