import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { Policy } from '../../src/access/policy.js';
import type { AuditLog } from '../../src/access/audit.js';
import { closeNames, describePage, exampleCall } from '../../src/cli/describe.js';
import { DockerConnector } from '../../src/connector.js';
import { ConnectorError } from '../../src/errors.js';
import { buildOpenApi, hoistDefs } from '../../src/http/openapi.js';
import { buildManifest } from '../../src/manifest.js';
import { capOutput } from '../../src/mcp/output.js';
import { cutPolicy, structuredFor, toolOutput } from '../../src/mcp/output-schema.js';
import { ToolHost } from '../../src/mcp/server.js';
import { toolFor } from '../../src/mcp/tools.js';
import type { OperationDefinition } from '../../src/operations/define.js';
import { getOperation, listOperations } from '../../src/operations/index.js';
import { resultSchema } from '../../src/operations/parameter-schema.js';

/*
 * Every surface publishes the one result schema an operation declares:
 * the manifest's result_schema, OpenAPI's 200 response, MCP's outputSchema
 * (with structured content that matches it, cut or not) and the describe page.
 */

type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> } };

function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv;
}

/** Compiles a schema of the OpenAPI document, its component references resolved against the document. */
function compileInDoc(doc: Doc, schema: unknown) {
  const ajv = strictAjv();
  // Held as $defs of a wrapper (a keyword Ajv knows, unlike `components`), references rewritten to match.
  const inDoc = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', '"doc#/$defs/')) as object;
  ajv.addSchema({ $id: 'doc', $defs: inDoc(doc.components.schemas) });
  return ajv.compile(inDoc(schema));
}

const declared = listOperations().filter((op) => op.resultSchema);
const nonEmpty = (s: unknown) => s !== null && typeof s === 'object' && Object.keys(s).length > 0;

/** A stand-in declaration: only the fields the schema functions read. */
const fake = (name: string, schema: z.ZodType) => ({ name, resultSchema: schema }) as unknown as OperationDefinition;

describe('acceptance: every operation publishes its result schema on every surface', () => {
  it('manifest: 100 % of operations have a non-empty result_schema', () => {
    const missing = buildManifest().operations.filter((op) => !nonEmpty(op.result_schema)).map((op) => op.name);
    expect(missing).toEqual([]);
  });

  it('/openapi.json: every operation\'s 200 response has a non-empty schema', () => {
    const doc = buildOpenApi() as unknown as Doc;
    const missing = listOperations().filter((op) => !nonEmpty(doc.paths[`/v1/operations/${op.name}`]!.post.responses['200'].content['application/json'].schema));
    expect(missing.map((op) => op.name)).toEqual([]);
  });

  it('MCP tools/list: every tool has an outputSchema', () => {
    expect(listOperations().filter((op) => !toolFor(op).outputSchema).map((op) => op.name)).toEqual([]);
  });
});

describe('manifest', () => {
  it('carries result_schema beside parameters (the schema the declaration makes), and keeps the one-line result', () => {
    expect(declared.map((op) => op.name)).toContain('ping');
    const byName = new Map(buildManifest().operations.map((o) => [o.name, o]));
    for (const op of declared) {
      const entry = byName.get(op.name)!;
      expect(entry.result_schema, op.name).toEqual(resultSchema(op));
      expect(entry.result).toBe(op.result);
      expect(() => strictAjv().compile(entry.result_schema), op.name).not.toThrow();
    }
    const ping = byName.get('ping')!.result_schema as { properties: Record<string, unknown>; additionalProperties: unknown; required: string[] };
    expect(Object.keys(ping.properties)).toEqual(['ok', 'api_version', 'engine_api_version', 'os_type', 'experimental', 'builder_version']);
    expect(ping.additionalProperties).toBe(false);
  });
});

describe('OpenAPI', () => {
  const doc = buildOpenApi() as unknown as Doc;
  const ok = (name: string) => doc.paths[`/v1/operations/${name}`]!.post.responses['200'].content;

  it('the 200 JSON response of every declaring operation is its result schema, compiling in Ajv 2020 strict mode', () => {
    const failures: string[] = [];
    for (const op of declared) {
      const schema = ok(op.name)['application/json'].schema;
      expect(nonEmpty(schema), op.name).toBe(true);
      try {
        compileInDoc(doc, schema);
      } catch (err) {
        failures.push(`${op.name}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    expect(ok('ping')['application/json'].schema).toEqual(resultSchema(getOperation('ping')!));
  });

  it('a real ping result validates against the 200 schema, a wrong one does not', () => {
    const validate = compileInDoc(doc, ok('ping')['application/json'].schema);
    expect(validate({ ok: true, api_version: '1.51', engine_api_version: '1.51', os_type: 'linux', experimental: false, builder_version: '2' })).toBe(true);
    expect(validate({ ok: true, api_version: 1.51, engine_api_version: null, os_type: null, experimental: false, builder_version: null })).toBe(false);
  });

  it('hoists $defs of results to components under their own names, apart from the parameters\', and handles a recursive root', () => {
    // A recursive result: zod emits a reference to the root ("#") and, for the shared part, $defs.
    const leaf = z.object({ name: z.string() }).meta({ id: 'Leaf' });
    type Tree = { name: string; children: Tree[]; leaves: z.output<typeof leaf>[] };
    const tree: z.ZodType<Tree> = z.object({ name: z.string(), get children() { return z.array(tree); }, leaves: z.array(leaf) });
    const schema = resultSchema(fake('tree_op', tree));
    expect(JSON.stringify(schema)).toContain('"$ref":"#"');
    const components: Record<string, unknown> = {};
    const params = hoistDefs('tree_op', { type: 'object', properties: { leaf: { $ref: '#/$defs/Leaf' } }, $defs: { Leaf: { type: 'string' } } }, components);
    const result = hoistDefs('tree_op.result', schema, components);
    expect(params).toEqual({ type: 'object', properties: { leaf: { $ref: '#/components/schemas/tree_op.Leaf' } } });
    expect(result).toEqual({ $ref: '#/components/schemas/tree_op.result' });
    expect(Object.keys(components).sort()).toEqual(['tree_op.Leaf', 'tree_op.result', 'tree_op.result.Leaf']);
    expect(JSON.stringify(components)).not.toContain('#/$defs/');
    const validate = compileInDoc({ paths: {}, components: { schemas: components } }, result);
    expect(validate({ name: 'a', children: [{ name: 'b', children: [], leaves: [{ name: 'l' }] }], leaves: [] })).toBe(true);
    expect(validate({ name: 'a', children: [{ name: 'b', children: [], leaves: [{ name: 1 }] }], leaves: [] })).toBe(false);
  });
});

describe('MCP outputSchema and structured content', () => {
  const list = fake('fake_list', z.array(z.object({ Id: z.string().describe('id') })));
  const maybe = fake('fake_maybe', z.object({ a: z.string() }).nullable());
  const union = fake('fake_union', z.union([z.strictObject({ kind: z.literal('a') }), z.strictObject({ kind: z.literal('b'), n: z.number() })]));

  it('an object result is its own outputSchema; anything else is wrapped as {result}, as the structured content is', () => {
    const ping = getOperation('ping')!;
    expect(toolFor(ping).outputSchema).toEqual({ ...resultSchema(ping), type: 'object' });
    expect(toolOutput(list)).toEqual({
      wrapped: true,
      schema: { type: 'object', properties: { result: resultSchema(list) }, required: ['result'], additionalProperties: false },
    });
    // An object-or-null result is wrapped whatever the value: the structured content's shape follows the schema.
    expect(toolOutput(maybe)!.wrapped).toBe(true);
    expect(structuredFor(maybe, { a: 'x' })).toEqual({ result: { a: 'x' } });
    expect(structuredFor(maybe, null)).toEqual({ result: null });
    // A union of objects is an object: sent as it is, with type: object at the root as MCP requires.
    expect(toolOutput(union)).toMatchObject({ wrapped: false, schema: { type: 'object' } });
    expect(structuredFor(union, { kind: 'a' })).toEqual({ kind: 'a' });
    expect(structuredFor(list, [])).toEqual({ result: [] });
    // Without a declaration (the transition form), by value as before.
    expect(structuredFor(undefined, [1])).toEqual({ result: [1] });
    expect(structuredFor(undefined, { a: 1 })).toEqual({ a: 1 });
  });

  it('$defs stay at the root of a wrapped schema, so its references resolve', () => {
    const leaf = z.object({ name: z.string() }).meta({ id: 'Leaf' });
    const op = fake('fake_defs', z.array(z.object({ one: leaf, two: leaf })));
    const out = toolOutput(op)!;
    expect(out.wrapped).toBe(true);
    expect(Object.keys(out.schema.$defs as object)).toEqual(['Leaf']);
    const validate = strictAjv().compile(out.schema);
    expect(validate({ result: [{ one: { name: 'a' }, two: { name: 'b' } }] })).toBe(true);
    expect(validate({ result: [{ one: { name: 1 }, two: { name: 'b' } }] })).toBe(false);
  });

  it('every declaring tool\'s outputSchema compiles in Ajv 2020 strict mode with an object root', () => {
    const failures: string[] = [];
    for (const op of declared) {
      const schema = toolFor(op).outputSchema!;
      expect(schema.type, op.name).toBe('object');
      try {
        strictAjv().compile(schema);
      } catch (err) {
        failures.push(`${op.name}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('the output cap cuts only what the schema lets it cut: capped output still validates', () => {
    const hex64 = /^[0-9a-f]{64}$/;
    const op = fake(
      'fake_capped',
      z.array(
        z.strictObject({
          Id: z.string().regex(hex64),
          Created: z.iso.datetime(),
          Log: z.string(),
          Pair: z.tuple([z.string(), z.string()]),
          Mounts: z.array(z.string()).min(1),
          State: z.enum(['running-with-a-really-quite-long-state-name-for-this-test-only', 'exited']),
        }),
      ),
    );
    const long = 'x'.repeat(200);
    const item = (i: number) => ({
      Id: i.toString(16).padStart(64, '0'),
      Created: '2024-01-02T03:04:05Z',
      Log: long,
      Pair: [long, long],
      Mounts: [long, long],
      State: 'running-with-a-really-quite-long-state-name-for-this-test-only',
    });
    const value = Array.from({ length: 40 }, (_, i) => item(i));
    const validate = strictAjv().compile(toolOutput(op)!.schema);
    const capped = capOutput(value, 4096, cutPolicy(op));
    expect(capped.cuts.length).toBeGreaterThan(0);
    expect(capped.bytes).toBeLessThanOrEqual(4096);
    expect(validate(structuredFor(op, capped.value)), JSON.stringify(validate.errors)).toBe(true);
    // Without the schema's say, a cap shortens the tuple and the list with a minimum (the check above could fail).
    const blind = capOutput([item(1)], 700);
    expect(blind.cuts.map((c) => c.at)).toEqual(expect.arrayContaining(['[0].Pair']));
    expect(validate(structuredFor(op, blind.value))).toBe(false);
    const kept = capOutput([item(1)], 700, cutPolicy(op));
    // Free-form strings only (in the tuple too): never the id, the date, the enum value or a list's length.
    expect(kept.cuts.length).toBeGreaterThan(2);
    for (const c of kept.cuts) expect(c.at).toMatch(/^\[0\]\.(Log|Pair\[[01]\]|Mounts\[[01]\])$/);
    expect(validate(structuredFor(op, kept.value))).toBe(true);
  });
});

describe('MCP results through the SDK client, which validates structured content against outputSchema', () => {
  const opened: { client: Client; connector: DockerConnector }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.client.close();
      o.connector.close();
    }
  });

  async function connect(answer: () => Promise<unknown>, max_output_bytes = 102400) {
    const connector = new DockerConnector({ host: 'unix:///nonexistent/dc-result-schemas.sock', retry_attempts: 0, env: {} });
    connector.executeDynamic = answer;
    const audit: AuditLog = { destination: 'memory', record: () => {}, close: async () => {} };
    const host = new ToolHost({ connector, policy: new Policy(), audit, settings: { allow_write: false, allow_destructive: false, confirm_destructive: false, max_output_bytes } });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await host.createServer({ client: 'test' }).connect(a);
    const client = new Client({ name: 'unit', version: '1' });
    await client.connect(b);
    opened.push({ client, connector });
    // The client compiles each tool's outputSchema when it lists the tools.
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'ping')!.outputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    return client;
  }

  const pingResult = { ok: true, api_version: '1.51', engine_api_version: '1.51', os_type: 'linux', experimental: false, builder_version: '2' };

  it('a conforming result passes; a non-conforming one is refused by the client (so passing proves conformance)', async () => {
    const good = await connect(async () => pingResult);
    expect((await good.callTool({ name: 'ping', arguments: {} })).structuredContent).toEqual(pingResult);
    const bad = await connect(async () => ({ ...pingResult, ok: 'yes' }));
    await expect(bad.callTool({ name: 'ping', arguments: {} })).rejects.toThrow(/output schema/);
  });

  it('a cut result still conforms', async () => {
    const client = await connect(async () => ({ ...pingResult, api_version: 'v'.repeat(5000) }), 1024);
    const r = await client.callTool({ name: 'ping', arguments: {} });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { api_version: string }).api_version).toMatch(/…\[cut: \d+ more characters\]$/);
    expect(r._meta).toHaveProperty('docker-connector/truncated');
  });

  it('a result no allowed cut brings under the limit is a tool error saying the operation succeeded, not a size note that breaks the schema', async () => {
    // Thousands of short labels: nothing long to cut, and a map's entries are not a list.
    const labels = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, `v${i}`]));
    const client = await connect(async () => ({ Name: 'v', Driver: 'local', Mountpoint: '/var/lib/docker/volumes/v/_data', Scope: 'local', Labels: labels, Options: null }), 1024);
    const r = await client.callTool({ name: 'inspect_volume', arguments: { volume: 'v' } });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    expect((r.content as { text: string }[])[0]!.text).toMatch(/^inspect_volume succeeded, but its result is \d+ bytes of JSON and cannot be cut to this server's limit of 1024 bytes/);
    expect(JSON.parse((r.content as { text: string }[])[1]!.text)).toMatchObject({ output_too_large: true, limit: 1024 });
  });

  it('a failed call is a tool error the client accepts: the error as text, no structured content to clash with outputSchema', async () => {
    // Before: structuredContent {error: …} on a tool with an outputSchema made the SDK client throw.
    const client = await connect(async () => {
      throw new ConnectorError('NOT_FOUND', 'no such thing', { operation: 'ping', status: 404 });
    });
    const r = await client.callTool({ name: 'ping', arguments: {} });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    const [line, json] = r.content as { text: string }[];
    expect(line!.text).toBe('NOT_FOUND: no such thing');
    expect(JSON.parse(json!.text)).toMatchObject({ error: { code: 'NOT_FOUND', message: 'no such thing', operation: 'ping' } });
  });
});

describe('describe page', () => {
  const manifest = buildManifest();

  it('fits 80 columns for every operation and has every section', () => {
    for (const op of manifest.operations) {
      const page = describePage(op);
      const wide = page.split('\n').filter((l) => l.length > 80);
      expect(wide, op.name).toEqual([]);
      expect(page.startsWith(`${op.name} — ${op.title}\n`)).toBe(true);
      for (const section of ['PARAMETERS', 'RESULT', 'EXAMPLE']) expect(page, op.name).toContain(`\n${section}\n`);
      expect(page).toContain(`Safety: ${op.safety}`);
      // A long example continues on the next line with a backslash, as a shell reads it.
      expect(page.replace(/ \\\n +/g, ' ')).toContain(`\n  ${exampleCall(op)}\n`);
    }
  });

  it('lists parameters with type, required/default and description, and the result\'s fields with theirs', () => {
    const logs = describePage(manifest.operations.find((o) => o.name === 'container_logs')!);
    expect(logs).toMatch(/\n {2}container +string, required\n +Container/);
    expect(logs).toMatch(/\n {2}timestamps +boolean, default false\n/);
    const ping = describePage(manifest.operations.find((o) => o.name === 'ping')!);
    expect(ping).toMatch(/\n {2}engine_api_version +string \| null\n +The Engine's newest API version/);
    expect(ping).toMatch(/\n {2}ok +true\n +The Engine answered/);
    const prune = describePage(manifest.operations.find((o) => o.name === 'prune_images')!);
    expect(prune).toContain('Dry run: dry_run=true');
    expect(prune).toContain('destructive (removes things)');
  });

  it('gives an example call with the required parameters, quoted for a shell', () => {
    const byName = (n: string) => manifest.operations.find((o) => o.name === n)!;
    expect(exampleCall(byName('ping'))).toBe('docker-connector run ping');
    expect(exampleCall(byName('inspect_container'))).toBe("docker-connector run inspect_container -p 'container=<container>'");
  });

  it('suggests close names for a mistyped operation', () => {
    const names = manifest.operations.map((o) => o.name);
    expect(closeNames('inspect_contaner', names)[0]).toBe('inspect_container');
    expect(closeNames('list_container', names)[0]).toBe('list_containers');
    expect(closeNames('zzzz', names)).toEqual([]);
  });
});
