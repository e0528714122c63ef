import { SECRET_FIELDS } from './schema.js';

export const REDACTED = '[REDACTED]';

/** Key names whose values are treated as secrets wherever they appear (params, configs, headers). */
const SECRET_KEY_PATTERN = /(^|_|-)(password|passwd|secret|token|access_token|identity_?token|auth|authorization|api_?key|key_sha256|private_?key)$/i;

export function isSecretKey(key: string): boolean {
  return (SECRET_FIELDS as readonly string[]).includes(key) || SECRET_KEY_PATTERN.test(key) || key === 'key';
}

/** A deep copy with every secret-looking value replaced. */
export function redact<T>(value: T, depth = 0): T {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1);
  }
  return out as T;
}

/**
 * Scrubs known secret values out of free text (error messages, proxy bodies),
 * as a last line of defence for text we did not build ourselves.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  }
  return out;
}

/** The secret values held by a configuration, for scrubText. */
export function secretValues(config: Record<string, unknown>): string[] {
  const values: string[] = [];
  for (const f of SECRET_FIELDS) {
    const v = config[f];
    if (typeof v === 'string' && v) {
      values.push(v);
    }
  }
  const user = config.username;
  const pass = config.password;
  if (typeof user === 'string' && typeof pass === 'string') {
    values.push(Buffer.from(`${user}:${pass}`).toString('base64'));
  }
  return values;
}
