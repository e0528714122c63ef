// Regenerates the operations table in README.md from the built catalogue (npm run docs).
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { withOperationsTable } from '../dist/docs.js';

const path = new URL('../README.md', import.meta.url);
const next = withOperationsTable(readFileSync(path, 'utf8'));
writeFileSync(new URL('../README.md.tmp', import.meta.url), next);
renameSync(new URL('../README.md.tmp', import.meta.url), path);
console.log('README.md operations table updated');
