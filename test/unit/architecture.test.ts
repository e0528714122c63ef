import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATION_FAMILIES } from '../../src/operations/catalogue.js';

/**
 * The import rules of DEVELOPING.md, checked on every file of src/:
 * - layers point one way: base → config → engine → files → operations →
 *   connector → access → surfaces → entries; a file imports its own layer
 *   or an earlier one (type-only imports count: they couple too);
 * - an operation family (a file OPERATION_FAMILIES names) never imports
 *   another family: what two share lives in a non-family module;
 * - the surfaces (cli, http, mcp) are peers: none imports another's
 *   internals. The CLI starts the others through their entry,
 *   `<surface>/service.ts`.
 */
const SRC = resolve(new URL('../../src', import.meta.url).pathname);

const LAYERS = ['base', 'config', 'engine', 'files', 'operations', 'connector', 'access', 'surfaces', 'entries'] as const;
type Layer = (typeof LAYERS)[number];

const BY_PATH: [RegExp, Layer][] = [
  [/^(errors|package-info)\.ts$/, 'base'],
  [/^(config\/|log\.ts$)/, 'config'],
  [/^engine\//, 'engine'],
  [/^files\//, 'files'],
  [/^operations\//, 'operations'],
  [/^(connector|manifest|docs|index|catalogue|plans|state-store|fleet)\.ts$/, 'connector'],
  [/^access\//, 'access'],
  [/^(cli|http|mcp)\//, 'surfaces'],
  [/^service\.ts$/, 'entries'],
];

export function layerOf(path: string): Layer | undefined {
  return BY_PATH.find(([re]) => re.test(path))?.[1];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** The project files a source file imports (static, dynamic, re-exports, type-only), as paths relative to src/. */
export function importsOf(from: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(dirname(join(SRC, from)), s.replace(/\.js$/, '.ts'))));
}

const FAMILY_FILES = new Set(Object.values(OPERATION_FAMILIES).map((f) => `operations/${f}.ts`));
const surfaceOf = (p: string) => /^(cli|http|mcp)\//.exec(p)?.[1];

export function violations(files: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const layer = layerOf(file);
    if (!layer) {
      out.push(`${file}: in no layer (add it to DEVELOPING.md's map and this test)`);
      continue;
    }
    for (const target of importsOf(file, text)) {
      const to = layerOf(target);
      if (!to) continue; // reported as a file of its own
      if (LAYERS.indexOf(to) > LAYERS.indexOf(layer)) out.push(`${file} (${layer}) imports ${target} (${to}): against the layers`);
      if (FAMILY_FILES.has(file) && FAMILY_FILES.has(target) && file !== target) out.push(`${file} imports ${target}: a family imports another family`);
      const [a, b] = [surfaceOf(file), surfaceOf(target)];
      if (a && b && a !== b && !(a === 'cli' && target === `${b}/service.ts`)) out.push(`${file} imports ${target}: a surface reaches into another`);
    }
  }
  return out;
}

describe('architecture', () => {
  const files = Object.fromEntries(sourceFiles(SRC).map((f) => [relative(SRC, f), readFileSync(f, 'utf8')]));

  it('every import follows the layers, families stay apart, surfaces are peers', () => {
    expect(Object.keys(files).length).toBeGreaterThan(50);
    expect(FAMILY_FILES.size).toBeGreaterThan(8);
    expect(violations(files)).toEqual([]);
  });

  it('the checker catches each kind of violation', () => {
    expect(violations({ 'engine/x.ts': "import { a } from '../operations/define.js';" })).toEqual([expect.stringMatching(/against the layers/)]);
    expect(violations({ 'config/x.ts': "import type { A } from '../connector.js';" })).toEqual([expect.stringMatching(/against the layers/)]);
    expect(violations({ 'operations/volumes.ts': "import { x } from './networks.js';" })).toEqual([expect.stringMatching(/family imports another family/)]);
    expect(violations({ 'operations/volumes.ts': "import { x } from './shared/prune.js';" })).toEqual([]);
    expect(violations({ 'mcp/x.ts': "import { y } from '../http/settings.js';" })).toEqual([expect.stringMatching(/surface reaches into another/)]);
    expect(violations({ 'cli/serve.ts': "const m = await import('../http/service.js');" })).toEqual([]);
    expect(violations({ 'http/x.ts': "export { z } from '../mcp/service.js';" })).toEqual([expect.stringMatching(/surface reaches into another/)]);
    expect(violations({ 'stray.ts': '' })).toEqual([expect.stringMatching(/in no layer/)]);
  });
});
