import { SECRET_FIELDS, SECRET_PATH_FIELDS, SECRET_TEXT_FIELDS } from './schema.js';

export const REDACTED = '[REDACTED]';

/**
 * The one rule for what is secret, by name: an object key (parameter, config
 * field, header such as X-Registry-Auth) or the NAME of a `NAME=value` entry
 * (container env, build args) that contains one of these words, in any case.
 * Deliberately broad: hiding a harmless value (detach_keys, author) costs a
 * log reader little, a narrower list let PGPASSWORD and AWS_SECRET_ACCESS_KEY
 * through.
 */
const SECRET_NAME = /password|passwd|secret|token|key|credential|auth/i;

/** `NAME=value` (env, build args) or `--name=value` (a command's argument). */
const NAMED_ENTRY = /^\s*-{0,2}([A-Za-z_][A-Za-z0-9_.-]*)=/;

/**
 * Whole key names that hold a secret without saying so: a Swarm secret's
 * content (create_secret's `data` / `data_base64`, the Engine body's `Data`).
 * Hiding a config's content too (create_config takes the same names) costs
 * nothing that matters.
 */
const SECRET_KEYS = new Set(['data', 'data_base64']);

export function isSecretKey(key: string): boolean {
  return SECRET_NAME.test(key) || SECRET_KEYS.has(key.toLowerCase());
}

/**
 * Secret values of every configuration loaded in this process. Logs and audit
 * lines are written by code that does not hold the configuration (pino's
 * formatter, the audit log), so the values are registered here once, when a
 * configuration is validated; scrubbing a value from output that is never
 * meant to show it costs nothing.
 */
const registeredSecrets = new Set<string>();

/** Values shorter than this are not scrubbed from text: they would match ordinary words. */
const MIN_SECRET_LENGTH = 4;

export function registerSecrets(values: Iterable<string>): void {
  for (const v of values) if (v.length >= MIN_SECRET_LENGTH) registeredSecrets.add(v);
}

/** `scheme://user:password@…`: the password part of a URL's userinfo (a state_store's Redis URL). */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)([^\s@/?#]+)@/gi;

/** A URL with its userinfo password replaced; the user name and address stay readable. */
export function redactUrlPassword(text: string): string {
  return text.includes('://') ? text.replace(URL_PASSWORD, `$1${REDACTED}@`) : text;
}

function redactString(raw: string): string {
  const text = redactUrlPassword(raw);
  const m = NAMED_ENTRY.exec(text);
  if (m && isSecretKey(m[1]!) && text.length > m[0].length) return `${m[0]}${REDACTED}`;
  return registeredSecrets.size === 0 ? text : scrubText(text, registeredSecrets);
}

/**
 * A key field (client_key, ssh_key) holding a path: the path is not the
 * secret, and seeing it in printed configuration says which file is used.
 * The same field holding the key's text is redacted like any secret.
 */
function isKeyFilePath(key: string, value: unknown): boolean {
  return (SECRET_PATH_FIELDS as readonly string[]).includes(key) && typeof value === 'string' && !value.includes('-----BEGIN') && !/[\r\n]/.test(value);
}

/** Deeper than this is cut off (redacted whole) rather than walked: it also ends reference cycles. */
const MAX_DEPTH = 20;

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' && !isKeyFilePath(k, v) ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * THE redaction, for every log line, audit line and error detail: a deep copy
 * in which
 * - the value of every key whose name looks secret (see SECRET_NAME) is
 *   replaced, whatever it holds (an `auth` object, an `X-Registry-Auth` header),
 * - every `NAME=value` string whose NAME looks secret keeps
 *   its NAME and loses its value (`DB_PASSWORD=[REDACTED]`),
 * - the secret values of any loaded configuration are scrubbed out of every
 *   other string (an error message quoting a password).
 */
export function redact<T>(value: T): T {
  return redactValue(value, 0) as T;
}

/**
 * Scrubs known secret values out of free text (error messages, proxy bodies),
 * as a last line of defence for text we did not build ourselves.
 */
export function scrubText(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= MIN_SECRET_LENGTH && out.includes(s)) out = out.split(s).join(REDACTED);
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
  // A key given as its PEM text is a secret value; given as a path it is not.
  for (const f of SECRET_TEXT_FIELDS) {
    const v = config[f];
    if (typeof v === 'string' && v.includes('-----BEGIN')) values.push(v);
  }
  // The password inside a state_store URL, as written and decoded.
  const store = config.state_store;
  if (typeof store === 'string') {
    const m = /^[a-z]+:\/\/[^\s:@/?#]*:([^\s@/?#]+)@/i.exec(store);
    if (m) {
      values.push(m[1]!);
      try {
        values.push(decodeURIComponent(m[1]!));
      } catch {
        // not percent-encoded text: the raw value is already listed
      }
    }
  }
  const user = config.username;
  const pass = config.password;
  if (typeof user === 'string' && typeof pass === 'string') {
    values.push(Buffer.from(`${user}:${pass}`).toString('base64'));
  }
  return values;
}
