import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/http/openapi.js';
import { buildManifest } from '../../src/manifest.js';
import { toolFor } from '../../src/mcp/tools.js';
import { listOperations } from '../../src/operations/index.js';

/**
 * Third-party clients validate the published schemas with a stock JSON
 * Schema implementation: Ajv 2020 in strict mode with ajv-formats is the
 * common one (MCP clients, OpenAPI tooling). Every parameter schema we
 * publish must compile there, with no vendor keywords or formats.
 */
function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  return ajv;
}

function compileErrors(schema: unknown): string | undefined {
  try {
    strictAjv().compile(schema as object);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('published parameter schemas compile in Ajv 2020 strict mode', () => {
  it('manifest: every operation', () => {
    const failures = buildManifest().operations.flatMap((op) => {
      const e = compileErrors(op.parameters);
      return e ? [`${op.name}: ${e}`] : [];
    });
    expect(failures).toEqual([]);
  });

  it('MCP: every tool input schema', () => {
    const failures = listOperations().flatMap((op) => {
      const e = compileErrors(toolFor(op).inputSchema);
      return e ? [`${op.name}: ${e}`] : [];
    });
    expect(failures).toEqual([]);
  });

  it('OpenAPI: every request body schema, with the document\'s components', () => {
    const doc = buildOpenApi() as { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown> } };
    const failures: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const schema = op.requestBody?.content?.['application/json']?.schema;
        const params = (op.parameters ?? []) as { $ref?: string; schema?: unknown }[];
        const schemas = [schema, ...params.map((p) => (p.$ref ? (doc.components as any).parameters[p.$ref.split('/').pop()!].schema : p.schema))].filter(Boolean);
        for (const s of schemas) {
          // Component references resolve against a wrapper that holds the document's components.
          const ajv = strictAjv();
          try {
            ajv.addSchema({ $id: 'doc', components: doc.components }, undefined, undefined, false);
            ajv.compile({ ...(JSON.parse(JSON.stringify(s).replaceAll('"#/components/', '"doc#/components/')) as object) });
          } catch (err) {
            failures.push(`${method.toUpperCase()} ${path}: ${(err as Error).message}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
