import { describe, expect, it } from 'vitest';
import { buildManifest } from 'docker-connector/catalogue';
import { runCli } from '../support/cli.js';
import { engines } from '../support/harness.js';

/*
 * `docker-connector describe <operation>` as users run it: a page for a
 * terminal, the manifest entry with --json, exit 2 with suggestions for an
 * unknown name, and an example call that really runs.
 */

const entry = (name: string) => buildManifest().operations.find((o) => o.name === name)!;

describe('docker-connector describe', () => {
  it('prints a page with title, safety, parameters, result fields and an example, within 80 columns', async () => {
    const r = await runCli(['describe', 'inspect_container']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const page = r.stdout;
    expect(page.startsWith('inspect_container — Inspect a container\n')).toBe(true);
    expect(page).toContain('Category: containers');
    expect(page).toMatch(/Safety: read \(changes nothing\); repeat-safe/);
    expect(page).toMatch(/\nPARAMETERS\n {2}container +string, required\n/);
    expect(page).toMatch(/\n {2}size +boolean, default false\n/);
    // The result's fields, one level deep, with the names nested below them.
    const result = page.slice(page.indexOf('\nRESULT\n'), page.indexOf('\nEXAMPLE\n'));
    for (const field of Object.keys((entry('inspect_container').result_schema as { properties: object }).properties)) expect(result).toMatch(new RegExp(`\\n {2}${field}\\b`));
    expect(result).toMatch(/\n {2}State +object[^\n]*\n(?: {22}[^\n]*\n)*? {22}fields: [^\n]*Running/);
    expect(page).toContain("\nEXAMPLE\n  docker-connector run inspect_container -p 'container=<container>'\n");
    expect(page.split('\n').filter((l) => l.length > 80)).toEqual([]);
  });

  it('says what a destructive operation does to a repeat and that it takes a dry run', async () => {
    const r = await runCli(['describe', 'remove_container']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Safety: destructive \(removes things\)/);
    expect(r.stdout).toContain('Dry run: dry_run=true reports what would be removed');
    expect(r.stdout).toMatch(/\n {2}dry_run +boolean, default false\n/);
  });

  it('--json prints the manifest entry of the operation, result_schema included', async () => {
    const r = await runCli(['describe', 'list_containers', '--json']);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(printed).toEqual(JSON.parse(JSON.stringify(entry('list_containers'))));
    expect(printed.result_schema).toMatchObject({ type: 'array' });
  });

  it('an unknown operation exits 2 naming it and suggesting close names', async () => {
    const r = await runCli(['describe', 'inspect_contaner']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const error = (JSON.parse(r.stderr.trim()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('UNKNOWN_OPERATION');
    expect(error.message).toMatch(/^Unknown operation "inspect_contaner"; did you mean inspect_container\b/);
    const none = await runCli(['describe', 'qqqq']);
    expect(none.code).toBe(2);
    expect(none.stderr).not.toContain('did you mean');
    expect((await runCli(['describe'])).code).toBe(2);
  });

  it.each(engines())('the example call of ping runs as printed (Engine $version)', async (engine) => {
    const page = (await runCli(['describe', 'ping'])).stdout;
    const example = /\nEXAMPLE\n {2}(docker-connector run [^\n]+)\n/.exec(page)![1]!;
    const args = example.split(' ').slice(1);
    const r = await runCli([...args, '--host', engine.host]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, api_version: engine.apiVersion });
  });
});
