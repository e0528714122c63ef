import { createRequire } from 'node:module';
import { redact, REDACTED } from '../config/redact.js';
import { ConnectorError } from '../errors.js';
import { isOperationName } from '../operations/catalogue.js';
import type { OperationDefinition } from '../operations/define.js';

/**
 * The audit log shared by the network surfaces: one JSON line per call with
 * who (key id, never the key), from where, what (operation and parameters,
 * secrets redacted), the outcome and how long it took.
 */

export interface AuditEntry {
  /** "http", "mcp", … */
  surface: string;
  /** Id of the API key used; null when the caller did not authenticate. */
  key_id: string | null;
  /** Client address as the surface sees it. */
  client: string | null;
  /** Engine endpoint the call went to (null when refused before choosing one). */
  endpoint: string | null;
  operation: string | null;
  params: unknown;
  /** "ok" or the error code. */
  outcome: string;
  /** Status the surface answered with (HTTP status for the HTTP service). */
  status?: number;
  /** Fields of a successful result that tie the line to what the call produced (see auditResultFields). */
  result?: Record<string, unknown>;
  duration_ms: number;
}

export interface AuditLog {
  record(entry: AuditEntry): void;
  /** Flushes and closes the destination. */
  close(): Promise<void>;
  /** Where lines go: "stdout", "stderr", a path, or "off". */
  readonly destination: string;
}

/**
 * The parameters as the audit line shows them. For a known operation, through
 * the one redaction (`redact`). For an unknown one (or a body that is not an
 * object of named parameters) nothing says which values are secret, so only
 * the parameter names are kept.
 */
export function auditParams(operation: string | null, params: unknown): unknown {
  const plain = params !== null && typeof params === 'object' && !Array.isArray(params);
  if (operation !== null && isOperationName(operation) && (plain || params === undefined)) return redact(params);
  if (!plain) return params === undefined || params === null ? params : REDACTED;
  return Object.fromEntries(Object.keys(params as Record<string, unknown>).map((k) => [k, REDACTED]));
}

/**
 * The result fields an audit line carries: those the operation declares
 * (`auditResult`, e.g. collect_evidence's manifest_sha256) and `evidence`,
 * the bundles evidence_before_destroy collected before a destructive call.
 * Undefined when there are none, so other lines stay as they were.
 */
export function auditResultFields(op: Pick<OperationDefinition, 'auditResult'> | undefined, result: unknown): Record<string, unknown> | undefined {
  if (!op || result === null || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const r = result as Record<string, unknown>;
  const fields = [...(op.auditResult ?? []), 'evidence'].filter((f) => r[f] !== undefined);
  return fields.length === 0 ? undefined : (redact(Object.fromEntries(fields.map((f) => [f, r[f]]))) as Record<string, unknown>);
}

const requireCjs = createRequire(import.meta.url);

/**
 * Opens the audit log. `setting` is the config's `audit_log`: "stdout"
 * (default), "stderr", "off" (or false), or a file path (appended to,
 * created with mode 0600). Lines are written synchronously so a line is
 * on disk when the call's answer leaves.
 */
export function createAuditLog(setting: unknown): AuditLog {
  const value = setting === undefined || setting === null ? 'stdout' : setting === false ? 'off' : setting;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: audit_log must be "stdout", "stderr", "off" or a file path');
  }
  if (value === 'off') return { destination: 'off', record: () => {}, close: async () => {} };
  const pino = requireCjs('pino') as typeof import('pino');
  const dest = value === 'stdout' ? 1 : value === 'stderr' ? 2 : value;
  let stream: ReturnType<typeof pino.destination>;
  try {
    stream = pino.destination({ dest, sync: true, mkdir: typeof dest === 'string', ...(typeof dest === 'string' ? { mode: 0o600 } : {}) });
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: cannot open audit_log ${value}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const logger = pino.default(
    {
      base: undefined,
      messageKey: 'event',
      // Every line is an audit record: a fixed "log" field instead of pino's level; the time
      // goes in the record itself as ISO 8601.
      timestamp: false,
      formatters: { level: () => ({ log: 'audit' }) },
    },
    stream,
  );
  return {
    destination: value,
    record(entry) {
      logger.info({ time: new Date().toISOString(), ...entry, params: auditParams(entry.operation, entry.params) }, 'call');
    },
    close: () =>
      new Promise<void>((resolve) => {
        try {
          stream.flushSync();
        } catch {
          // nothing buffered, or the destination is gone: nothing more to do
        }
        // stdout and stderr belong to the process: leave them open.
        if (typeof dest === 'number') return resolve();
        stream.once('close', () => resolve());
        stream.end();
      }),
  };
}
