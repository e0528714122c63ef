import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withOperationsTable } from '../../src/docs.js';
import { listOperations } from '../../src/catalogue.js';
import { MAX_API_VERSION, MIN_API_VERSION } from '../../src/engine/version.js';

describe('README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

  it('has the operations table in sync with the catalogue (run `npm run docs` to update)', () => {
    expect(withOperationsTable(readme)).toBe(readme);
  });

  it('names every operation', () => {
    for (const op of listOperations()) expect(readme).toContain(`\`${op.name}\``);
  });

  it('gives the two commands a new user needs', () => {
    expect(readme).toContain('npm install && npx docker-connector run get_version');
    expect(readme).toContain('npm test');
  });

  it('states the API versions the code accepts and tests (issue 13: it said 1.41 while 1.40 is accepted)', () => {
    const top = readme.slice(0, readme.indexOf('## Two commands'));
    expect(top).toContain(`Engine API ${MIN_API_VERSION} and later`);
    expect(top).toContain(`spoken to at ${MAX_API_VERSION}`);
  });

  it('describes the transport of buffered calls as the code chooses it (auto: node:http, then undici)', () => {
    const dev = readme.slice(readme.indexOf('## Development'));
    expect(dev).not.toMatch(/node:http with a keep-alive agent per endpoint \(for every surface\)/);
    expect(dev).toMatch(/`'auto'` by default/);
    expect(dev).toMatch(/then moves buffered calls to undici/);
  });
});
