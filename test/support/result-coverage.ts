import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultRecord } from './result-check.js';

/** The Engines every operation's result must be proven on. */
export const ENGINES = ['old', 'new'] as const;

/** Every record the last integration run wrote (one JSON line per validated result). */
export function readRecords(dir: string): ResultRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as ResultRecord),
    );
}

/** The Engines this run tests: both, or those DC_ENGINES names (.ci/run's Node 24 run tests the new one only). */
export function runEngines(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const wanted = env.DC_ENGINES?.split(',').map((s) => s.trim()).filter(Boolean);
  return wanted?.length ? ENGINES.filter((e) => wanted.includes(e)) : ENGINES;
}

/** The (operation, Engine) pairs no record proves, in catalogue order. */
export function missingPairs(operations: readonly string[], records: readonly ResultRecord[], engines: readonly string[] = ENGINES): string[] {
  const proven = new Set(records.filter((r) => r.ok).map((r) => `${r.operation} on ${r.engine}`));
  return operations.flatMap((op) => engines.map((e) => `${op} on ${e}`)).filter((pair) => !proven.has(pair));
}

/** Results validated per Engine (and per surface), for the report. */
export function countsOf(records: readonly ResultRecord[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const r of records.filter((x) => x.ok)) {
    const e = (out[r.engine] ??= { total: 0 });
    e.total = (e.total ?? 0) + 1;
    e[r.surface] = (e[r.surface] ?? 0) + 1;
  }
  return out;
}
