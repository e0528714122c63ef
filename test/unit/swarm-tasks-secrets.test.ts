import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src/index.js';
import { getOperation } from '../../src/catalogue.js';
import { isSecretKey, redact, REDACTED } from '../../src/config/redact.js';
import { ConnectorError } from '../../src/errors.js';
import { rfc3339Nanos, UntilFilter } from '../../src/operations/tasks.js';

function validate(op: string, params: unknown): unknown {
  const def = getOperation(op);
  if (!def) throw new Error(`no operation ${op}`);
  return validateParams(def, params);
}

function invalid(op: string, params: unknown): ConnectorError {
  try {
    validate(op, params);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('INVALID_PARAMS');
    return err as ConnectorError;
  }
  throw new Error(`expected ${op} to reject ${JSON.stringify(params)}`);
}

const UNTIL = '2026-01-01T00:00:10.000000000Z';
const untilNanos = rfc3339Nanos(UNTIL)!;

/** Feeds the filter chunk by chunk (each string split at every given offset) and returns what it kept. */
function run(filter: UntilFilter, pieces: [('stdout' | 'stderr'), string][]): Record<'stdout' | 'stderr', string> {
  const out = { stdout: '', stderr: '' };
  for (const [stream, text] of pieces) out[stream] += filter.push(stream, Buffer.from(text)).toString();
  for (const [stream, buf] of filter.flush()) out[stream] += buf.toString();
  return out;
}

describe('service_logs until filter', () => {
  it('reads RFC 3339 times to the nanosecond', () => {
    expect(rfc3339Nanos('1970-01-01T00:00:01.000000002Z')).toBe(1_000_000_002n);
    expect(rfc3339Nanos('1970-01-01T01:00:01+01:00')).toBe(1_000_000_000n);
    expect(rfc3339Nanos('1970-01-01T00:00:01.5Z')).toBe(1_500_000_000n);
    expect(rfc3339Nanos('hello')).toBeUndefined();
  });

  it('keeps lines at or before until, drops later ones, and strips the times it asked for', () => {
    const log = `2026-01-01T00:00:09.999999999Z early\n${UNTIL} exact\n2026-01-01T00:00:10.000000001Z late\n2026-01-01T00:00:11Z later\n`;
    expect(run(new UntilFilter(untilNanos, false), [['stdout', log]]).stdout).toBe('early\nexact\n');
    expect(run(new UntilFilter(untilNanos, true), [['stdout', log]]).stdout).toBe(`2026-01-01T00:00:09.999999999Z early\n${UNTIL} exact\n`);
  });

  it('carries a line across chunks byte by byte, per stream', () => {
    const out = `2026-01-01T00:00:01Z one two\n2026-01-01T00:00:12Z gone\n2026-01-01T00:00:02Z three`;
    const err = `2026-01-01T00:00:20Z late err\n2026-01-01T00:00:03Z err ok\n`;
    const pieces: ['stdout' | 'stderr', string][] = [];
    for (let i = 0; i < Math.max(out.length, err.length); i++) {
      if (i < out.length) pieces.push(['stdout', out[i]!]);
      if (i < err.length) pieces.push(['stderr', err[i]!]);
    }
    // The last stdout line has no newline: flush delivers it.
    expect(run(new UntilFilter(untilNanos, false), pieces)).toEqual({ stdout: 'one two\nthree', stderr: 'err ok\n' });
  });

  it('keeps a line without a readable time whole, and holds at most a timestamp of a long line', () => {
    const filter = new UntilFilter(untilNanos, false);
    expect(filter.push('stdout', Buffer.from('no time here\n')).toString()).toBe('no time here\n');
    const long = 'x'.repeat(200_000);
    // A long line without a space: passed on as it comes, not held until its end.
    expect(filter.push('stdout', Buffer.from(long)).length).toBe(200_000);
    expect(filter.push('stdout', Buffer.from('\n')).toString()).toBe('\n');
  });
});

describe('secrets and configs: parameters', () => {
  it('create_secret takes exactly one of data and data_base64, naming the parameter', () => {
    expect(validate('create_secret', { name: 'db-pass', data: 's3cr3t' })).toMatchObject({ name: 'db-pass', data: 's3cr3t' });
    expect(validate('create_config', { name: 'app.conf', data_base64: 'aGVsbG8=' })).toMatchObject({ data_base64: 'aGVsbG8=' });
    expect(invalid('create_secret', { name: 'db-pass' }).message).toMatch(/data/);
    expect(invalid('create_secret', { name: 'db-pass', data: 'a', data_base64: 'YQ==' }).message).toMatch(/exactly one of data/);
    expect(invalid('create_config', { name: 'c', data_base64: 'not base64!' }).message).toMatch(/data_base64/);
    expect(invalid('create_secret', { name: '-bad', data: 'x' }).message).toMatch(/name/);
  });

  it('list_tasks takes the Engine filters and refuses others', () => {
    expect(validate('list_tasks', { filters: { service: ['web'], node: 'n1', 'desired-state': ['running'] } })).toEqual({ filters: { service: ['web'], node: 'n1', 'desired-state': ['running'] } });
    expect(invalid('list_tasks', { filters: { 'desired-state': ['sleeping'] } }).message).toMatch(/desired-state/);
    expect(invalid('list_tasks', { filters: { colour: ['red'] } }).message).toMatch(/colour/);
  });
});

describe('redaction of a secret\'s content', () => {
  it('hides data and data_base64 (and the Engine body\'s Data) wherever they are logged or audited', () => {
    expect(isSecretKey('data')).toBe(true);
    expect(isSecretKey('data_base64')).toBe(true);
    expect(isSecretKey('Data')).toBe(true);
    expect(redact({ name: 'db-pass', data: 'hunter2-value', labels: { a: 'b' } })).toEqual({ name: 'db-pass', data: REDACTED, labels: { a: 'b' } });
    expect(redact({ name: 'x', data_base64: 'aHVudGVyMg==' })).toEqual({ name: 'x', data_base64: REDACTED });
    // Keys that merely contain "data" are not secret by this rule.
    expect(isSecretKey('metadata')).toBe(false);
  });
});
