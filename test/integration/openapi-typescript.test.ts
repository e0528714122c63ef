import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConnector } from 'docker-connector';
import { HttpService } from 'docker-connector/service';
import { connectorFor } from '../support/connector.js';
import { engines } from '../support/harness.js';

/*
 * A client generated from the service's /openapi.json by a standard
 * generator (openapi-typescript) types a call and its result: the request
 * body of inspect_container and `State.Running` of its 200 answer type-check,
 * a wrong field does not. With an empty 200 schema the same file fails.
 */

const KEY = 'openapi-ts-key-5c1e9a7b3d2f';

/** The file a client author writes against the generated `paths`. */
const CLIENT = `
import type { paths } from './api.js';

type Inspect = paths['/v1/operations/inspect_container']['post'];
type Body = NonNullable<Inspect['requestBody']>['content']['application/json'];
type Container = Inspect['responses'][200]['content']['application/json'];
type Versions = paths['/v1/operations/ping']['post']['responses'][200]['content']['application/json'];

export async function running(base: string, key: string, container: string): Promise<boolean> {
  const body: Body = { container, size: false };
  const res = await fetch(\`\${base}/v1/operations/inspect_container\`, { method: 'POST', headers: { authorization: \`Bearer \${key}\`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const c = (await res.json()) as Container;
  const state: boolean | undefined = c.State?.Running;
  const id: string = c.Id;
  void id;
  // @ts-expect-error no such field: a typo is a compile error
  void c.State?.Runing;
  return state === true;
}

export function api(v: Versions): string {
  // @ts-expect-error api_version is a string
  const n: number = v.api_version;
  void n;
  return v.api_version;
}

// @ts-expect-error container is required
export const missing: Body = { size: true };
`;

function typeCheck(dir: string): string[] {
  const program = ts.createProgram([join(dir, 'client.ts')], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
  });
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

async function generate(doc: unknown, dir: string): Promise<void> {
  const ast = await openapiTS(doc as Parameters<typeof openapiTS>[0]);
  writeFileSync(join(dir, 'api.ts'), astToString(ast));
  writeFileSync(join(dir, 'client.ts'), CLIENT);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
}

describe('a client generated from /openapi.json by openapi-typescript', () => {
  const engine = engines()[0]!;
  let base: DockerConnector;
  let service: HttpService;
  let doc: { paths: Record<string, any> };
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'dc-openapi-ts-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    base = connectorFor(engine);
    service = HttpService.create({ base, env: {}, surface: { api_keys: [{ id: 'ts', key: KEY, scopes: ['read'] }], audit_log: 'off', service: { listen: '127.0.0.1:0' } } });
    const url = await service.listen();
    const res = await fetch(`${url}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as typeof doc;
  });

  afterAll(async () => {
    await service.close();
    base.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('every operation\'s 200 JSON response in the served document has a non-empty schema (acceptance)', () => {
    const ops = Object.entries(doc.paths).filter(([p]) => p.startsWith('/v1/operations/') && p !== '/v1/operations/');
    expect(ops.length).toBeGreaterThan(50);
    const empty = ops.filter(([, item]) => Object.keys(item.post.responses['200'].content['application/json'].schema ?? {}).length === 0).map(([p]) => p);
    expect(empty).toEqual([]);
  });

  it('type-checks a call of inspect_container and reading State.Running from its 200 result; a wrong field is an error', async () => {
    const dir = tempDir();
    await generate(doc, dir);
    // Every @ts-expect-error in the file is used (else "Unused '@ts-expect-error' directive"), nothing else fails.
    expect(typeCheck(dir)).toEqual([]);
  });

  it('the same file fails when the 200 schema says nothing (the check above could fail)', async () => {
    const dir = tempDir();
    const empty = structuredClone(doc);
    empty.paths['/v1/operations/inspect_container'].post.responses['200'].content['application/json'].schema = {};
    await generate(empty, dir);
    const errors = typeCheck(dir);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/client\.ts:\d+: .*(State|unknown|Unused '@ts-expect-error')/);
  });
});
