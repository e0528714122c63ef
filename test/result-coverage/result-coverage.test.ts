import { describe, expect, it } from 'vitest';
import { listOperations } from 'docker-connector/catalogue';
import { RESULT_CHECKS_DIR } from '../support/harness.js';
import type { ResultRecord } from '../support/result-check.js';
import { countsOf, missingPairs, readRecords, runEngines } from '../support/result-coverage.js';

/*
 * Issue #15's proof, completed: the integration run validated every result
 * it received against the published result schema (test/support/result-check.ts)
 * and recorded each one. Here, after that run (the "test" script runs this
 * project right after the integration project), every operation of the
 * catalogue must have had a result validated on each Engine, and no
 * mismatch may have been swallowed by a test (a cleanup's .catch()).
 */

const records = readRecords(RESULT_CHECKS_DIR);

describe('every operation\'s result was validated against its schema on both Engines', () => {
  it('the integration run left records', () => {
    expect(records.length, `no records in ${RESULT_CHECKS_DIR}: run the integration project first (vitest run --project integration)`).toBeGreaterThan(0);
  });

  it('every (operation, Engine) pair has at least one validated result', () => {
    const counts = countsOf(records);
    process.stdout.write(`[result-coverage] results validated: ${JSON.stringify(counts)}\n`);
    const missing = missingPairs(listOperations().map((o) => o.name), records, runEngines());
    const files = [...new Set(records.map((r) => r.file).filter(Boolean))].length;
    expect(missing, `never validated (the last integration run covered ${files} test files; a partial run proves less):\n  ${missing.join('\n  ')}`).toEqual([]);
  });

  it('no result failed its schema, not even where a test ignored the failure', () => {
    const refused = records.filter((r) => !r.ok).map((r) => `${r.operation} on ${r.engine} (${r.surface}, ${r.file ?? '?'}): ${r.error}`);
    expect([...new Set(refused)]).toEqual([]);
  });

  it('the check names an operation that no result proves', () => {
    const proven: ResultRecord[] = (['old', 'new'] as const).map((engine) => ({ operation: 'ping', engine, surface: 'cli', ok: true }));
    expect(missingPairs(['ping', 'brand_new_operation'], proven)).toEqual(['brand_new_operation on old', 'brand_new_operation on new']);
    expect(missingPairs(['ping'], [proven[0]!])).toEqual(['ping on new']);
    expect(missingPairs(['ping'], [{ ...proven[0]!, ok: false }, proven[1]!])).toEqual(['ping on old']);
  });
});
