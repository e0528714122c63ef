import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The integration suite must exercise the built package (what users run):
 * the library through `docker-connector`, `docker-connector/catalogue` and
 * `docker-connector/service`, which vitest.config.ts resolves to dist/bundle/.
 * A run-time import of src/ there would test the sources instead and hide a
 * bundling mistake; type-only imports are erased and allowed.
 */
const ROOT = new URL('../..', import.meta.url).pathname;
const DIRS = ['test/integration', 'test/support'];

function runtimeSrcImports(text: string): string[] {
  const found: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue;
    if (/(^|\/)src\//.test(m[3]!)) found.push(m[3]!);
  }
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) if (/(^|\/)src\//.test(m[1]!)) found.push(m[1]!);
  return found;
}

describe('integration tests run the artifact', () => {
  it('imports no src/ module at run time', () => {
    const offenders: string[] = [];
    for (const dir of DIRS) {
      for (const f of readdirSync(join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) {
        for (const spec of runtimeSrcImports(readFileSync(join(ROOT, dir, f), 'utf8'))) offenders.push(`${dir}/${f}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the checker sees a run-time src import and ignores a type-only one', () => {
    expect(runtimeSrcImports("import { x } from '../../src/a.js';\nimport type { Y } from '../../src/b.js';")).toEqual(['../../src/a.js']);
  });

  it('the integration projects resolve the package names to the bundle', () => {
    const config = readFileSync(join(ROOT, 'vitest.config.ts'), 'utf8');
    for (const entry of ['index.js', 'catalogue.js', 'service.js']) expect(config).toContain(`bundle('${entry}')`);
    expect(config).toMatch(/external:\s*\[\/\\\/dist\\\/bundle\\\/\/\]/);
  });

  it('package.json "exports", the bundle\'s entries and the test aliases name the same entries', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    const config = readFileSync(join(ROOT, 'vitest.config.ts'), 'utf8');
    const bundler = readFileSync(join(ROOT, 'scripts/bundle.mjs'), 'utf8');
    const entries = Object.keys(pkg.exports).map((k) => (k === '.' ? 'index' : k.slice(2)));
    // The list of operations has one name, "catalogue": "registry" means a Docker image registry.
    expect(entries.sort()).toEqual(['catalogue', 'index', 'service']);
    for (const [key, target] of Object.entries(pkg.exports)) {
      const entry = key === '.' ? 'index' : key.slice(2);
      expect(target).toEqual({ types: `./dist/${entry}.d.ts`, import: `./dist/bundle/${entry}.js` });
      expect(bundler).toContain(`${entry}: \`\${dist}${entry}.js\``);
      const name = key === '.' ? 'docker-connector' : `docker-connector\\/${entry}`;
      expect(config).toContain(`{ find: /^${name}$/, replacement: bundle('${entry}.js') }`);
    }
  });
});
