import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withOperationsTable } from '../../src/docs.js';
import { listOperations } from '../../src/catalogue.js';

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
});
