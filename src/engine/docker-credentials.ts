/**
 * Registry credentials the docker CLI keeps: `$DOCKER_CONFIG/config.json`
 * (default `~/.docker/config.json`): `auths` entries, `credHelpers` per
 * registry and the `credsStore`, whose `docker-credential-<name> get` program
 * is asked as the docker CLI asks it (the server on stdin, a JSON answer).
 *
 * Read only when an image operation has no credentials of its own, and read
 * again each time: a login or a rotated token is seen without a restart.
 * Nothing found here is ever logged; every value is registered with the
 * redaction so that an error quoting it is scrubbed too.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConnectorError } from '../errors.js';
import { registerSecrets } from '../config/redact.js';
import { ambientDockerConfigDir } from '../config/docker-contexts.js';
import type { RegistryCredentials } from './registry-auth.js';

/** The key the docker CLI files Docker Hub's credentials under (and asks helpers for). */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** What a credential helper prints when it holds nothing for the server (docker-credential-helpers). */
const NOT_FOUND_MESSAGE = 'credentials not found in native keychain';

/** A helper that answers in neither time is treated as failed (a desktop helper may wait on a locked keychain). */
const HELPER_TIMEOUT_MS = 20_000;
/** More than a credentials answer ever holds. */
const HELPER_OUTPUT_CAP = 1024 * 1024;

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

export interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export interface DockerCredentialOptions {
  /** Environment for DOCKER_CONFIG and the helper's PATH (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Notes that are not failures (an unreadable file, a helper that failed where the call goes on); never hold a secret. */
  onWarning?: (message: string) => void;
  timeoutMs?: number;
}

/** Where the credentials came from, for a log line (never the credentials). */
export type CredentialSource = 'auths' | 'credHelpers' | 'credsStore' | 'none';

export interface CredentialLookup {
  credentials: RegistryCredentials | undefined;
  source: CredentialSource;
  /** The helper program asked, when one was. */
  helper?: string;
  file: string;
}

/** `$DOCKER_CONFIG`, else `~/.docker`, as the docker CLI resolves it. */
/**
 * `$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`, of the connector's environment;
 * undefined when that environment names neither (a connector given `env: {}`, as the HTTP service's
 * and the MCP server's are: they never lend the host user's registry logins to their callers).
 */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = ambientDockerConfigDir(env);
  return dir === undefined ? undefined : join(dir, 'config.json');
}

/** "https://reg:5000/v1/" → "reg:5000"; "reg:5000" stays (the docker CLI's ConvertToHostname). */
export function convertToHostname(key: string): string {
  let rest = key;
  if (rest.includes('://')) rest = rest.slice(rest.indexOf('://') + 3);
  return rest.split('/')[0]!;
}

const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** The registry a config key names, as the connector names registries ("docker.io" or host[:port], lower case). */
function registryOfKey(key: string): string {
  const host = convertToHostname(key).toLowerCase();
  return HUB_HOSTS.has(host) ? 'docker.io' : host;
}

/** The key the docker CLI looks a registry up by: Docker Hub's URL, else host[:port]. */
export function configKeyFor(registry: string): string {
  return registry === 'docker.io' ? DOCKER_HUB_KEY : registry;
}

/**
 * A key of `map` for `registry`: the exact key first (as the docker CLI
 * does), then any key naming the same host (a "https://reg:5000" entry, or
 * "docker.io" for Docker Hub, as older CLIs and other tools wrote them).
 */
function findKey(map: Record<string, unknown> | undefined, registry: string): string | undefined {
  if (!map) return undefined;
  const exact = configKeyFor(registry);
  if (Object.hasOwn(map, exact)) return exact;
  return Object.keys(map).find((k) => registryOfKey(k) === registry);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads config.json; a missing file is an empty one. A file that is not JSON
 * is ignored with a warning, as the docker CLI does, and the parser's message
 * is not repeated: it quotes the text around the error, which may be a secret.
 */
export async function readDockerConfig(opts: DockerCredentialOptions = {}): Promise<{ file: string; config: DockerConfigFile }> {
  const file = dockerConfigFile(opts.env);
  if (file === undefined) return { file: '(no docker configuration)', config: {} };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') opts.onWarning?.(`cannot read ${file} (${code ?? 'error'}); going on without its registry credentials`);
    return { file, config: {} };
  }
  let parsed: unknown;
  try {
    parsed = text.trim() ? JSON.parse(text) : {};
  } catch {
    opts.onWarning?.(`${file} is not valid JSON; going on without its registry credentials`);
    return { file, config: {} };
  }
  if (!isRecord(parsed)) {
    opts.onWarning?.(`${file} does not hold a JSON object; going on without its registry credentials`);
    return { file, config: {} };
  }
  const config: DockerConfigFile = {};
  if (isRecord(parsed.auths)) config.auths = Object.fromEntries(Object.entries(parsed.auths).filter(([, v]) => isRecord(v))) as Record<string, AuthEntry>;
  if (isRecord(parsed.credHelpers)) config.credHelpers = Object.fromEntries(Object.entries(parsed.credHelpers).filter(([, v]) => typeof v === 'string' && v)) as Record<string, string>;
  if (typeof parsed.credsStore === 'string' && parsed.credsStore) config.credsStore = parsed.credsStore;
  return { file, config };
}

/** An `auths` entry as credentials: `auth` (base64 "user:password"), else username/password, and an identity token. */
export function credentialsFromAuthEntry(key: string, entry: AuthEntry, file: string, onWarning?: (m: string) => void): RegistryCredentials | undefined {
  const out: RegistryCredentials = { serveraddress: key };
  if (typeof entry.auth === 'string' && entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      // Not "user:password": the docker CLI refuses the file; here only this entry is skipped, unquoted.
      onWarning?.(`the "auth" of ${key} in ${file} is not base64 of "user:password"; it is ignored`);
    } else {
      out.username = decoded.slice(0, colon);
      out.password = decoded.slice(colon + 1).replace(/\0+$/, '');
    }
  } else {
    if (typeof entry.username === 'string' && entry.username) out.username = entry.username;
    if (typeof entry.password === 'string') out.password = entry.password;
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) out.identitytoken = entry.identitytoken;
  if (!out.username && !out.identitytoken) return undefined;
  remember(out, typeof entry.auth === 'string' ? entry.auth : undefined);
  return out;
}

/** Registers the values with the redaction, so a message quoting one is scrubbed wherever it is written. */
function remember(creds: RegistryCredentials, extra?: string): void {
  registerSecrets([creds.password, creds.identitytoken, extra].filter((s): s is string => !!s));
}

/** A helper failure; `missing` when the program could not be started at all. */
export class CredentialHelperFailure extends Error {
  constructor(
    readonly program: string,
    readonly missing: boolean,
    detail: string,
  ) {
    super(detail);
    this.name = 'CredentialHelperFailure';
  }
}

/**
 * Runs `docker-credential-<helper> <action>` with `input` on stdin and
 * returns its stdout; "credentials not found" → undefined. The program is
 * looked up on PATH, as the docker CLI looks it up.
 */
export function runCredentialHelper(helper: string, action: 'get' | 'list', input: string, opts: DockerCredentialOptions = {}): Promise<string | undefined> {
  const program = `docker-credential-${helper}`;
  // A helper name is a suffix, never a path: "../x" would run a program outside PATH.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(helper)) {
    return Promise.reject(new CredentialHelperFailure(program, true, `"${helper}" is not a credential helper name (letters, digits, ".", "_", "-")`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new CredentialHelperFailure(program, false, `did not answer within ${Math.round((opts.timeoutMs ?? HELPER_TIMEOUT_MS) / 1000)} s`)));
    }, opts.timeoutMs ?? HELPER_TIMEOUT_MS);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > HELPER_OUTPUT_CAP) {
        child.kill('SIGKILL');
        finish(() => reject(new CredentialHelperFailure(program, false, 'answered more than 1 MiB')));
      } else into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const missing = e.code === 'ENOENT' || e.code === 'EACCES';
      finish(() => reject(new CredentialHelperFailure(program, missing, missing ? `${program} is not installed or not executable on PATH` : `could not be started (${e.code ?? e.message})`)));
    });
    // A helper that exits without reading stdin closes the pipe: not a failure of its own.
    child.stdin.on('error', () => {});
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      finish(() => {
        if (code === 0) return resolve(stdout);
        const said = (stdout.trim() || stderr.trim()).split('\n')[0]!.slice(0, 200);
        if (said === NOT_FOUND_MESSAGE || stdout.trim() === NOT_FOUND_MESSAGE) return resolve(undefined);
        // A failing helper prints its own error text (first line, capped), never credentials: that answer only comes with status 0.
        reject(new CredentialHelperFailure(program, false, `exited with ${signal ?? `status ${code}`}${said ? `: ${said}` : ''}`));
      });
    });
    child.stdin.end(input);
  });
}

/** A helper's `get` answer ({ServerURL, Username, Secret}) as credentials; "<token>" as user means an identity token. */
export function parseHelperAnswer(program: string, key: string, text: string): RegistryCredentials | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    // Never quoted: whatever it printed may be the secret.
    throw new CredentialHelperFailure(program, false, 'answered something that is not the JSON {"ServerURL","Username","Secret"}');
  }
  if (!isRecord(answer)) throw new CredentialHelperFailure(program, false, 'answered something that is not the JSON {"ServerURL","Username","Secret"}');
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  const secret = typeof answer.Secret === 'string' ? answer.Secret : '';
  if (!username && !secret) return undefined;
  const creds: RegistryCredentials = username === '<token>' ? { identitytoken: secret, serveraddress: key } : { username, password: secret, serveraddress: key };
  remember(creds);
  return creds;
}

/**
 * The credentials the docker CLI would use for `registry` ("docker.io" or
 * host[:port]): the registry's credHelper, else the credsStore, else its
 * `auths` entry. A helper that holds nothing for it means no credentials (as
 * with the docker CLI, the `auths` entry is then not used). A helper that
 * cannot be run or fails throws CredentialHelperFailure: the caller decides
 * whether the call goes on without credentials.
 */
export async function lookupDockerCredentials(registry: string, opts: DockerCredentialOptions = {}): Promise<CredentialLookup> {
  const { file, config } = await readDockerConfig(opts);
  const key = configKeyFor(registry);
  const helperKey = findKey(config.credHelpers, registry);
  const helper = helperKey !== undefined ? config.credHelpers![helperKey] : config.credsStore;
  if (helper) {
    const source: CredentialSource = helperKey !== undefined ? 'credHelpers' : 'credsStore';
    const program = `docker-credential-${helper}`;
    const text = await runCredentialHelper(helper, 'get', key, opts);
    const credentials = text === undefined ? undefined : parseHelperAnswer(program, key, text);
    return { credentials, source, helper: program, file };
  }
  const authKey = findKey(config.auths, registry);
  if (authKey === undefined) return { credentials: undefined, source: 'none', file };
  const credentials = credentialsFromAuthEntry(authKey, config.auths![authKey]!, file, opts.onWarning);
  return { credentials, source: credentials ? 'auths' : 'none', file };
}

/**
 * Every credential config.json holds, keyed by registry address, for a build's
 * X-Registry-Config (its base images may come from any registry), as the
 * docker CLI gathers them: the `auths` entries (or, with a credsStore, what
 * its `list` names), then each credHelpers registry. A helper that fails is
 * left out with a warning: a build whose base images are public still works.
 */
export async function allDockerCredentials(opts: DockerCredentialOptions = {}): Promise<Record<string, RegistryCredentials>> {
  const { file, config } = await readDockerConfig(opts);
  const out: Record<string, RegistryCredentials> = {};
  const warn = (e: unknown, what: string) => opts.onWarning?.(`${what}: ${e instanceof CredentialHelperFailure ? `${e.program} ${e.message}` : 'failed'}; left out`);
  if (config.credsStore) {
    const program = `docker-credential-${config.credsStore}`;
    try {
      const listed = await runCredentialHelper(config.credsStore, 'list', '', opts);
      const servers = listed === undefined ? {} : (JSON.parse(listed) as unknown);
      for (const server of isRecord(servers) ? Object.keys(servers) : []) {
        try {
          const text = await runCredentialHelper(config.credsStore, 'get', server, opts);
          const creds = text === undefined ? undefined : parseHelperAnswer(program, server, text);
          if (creds) out[server] = creds;
        } catch (e) {
          warn(e, `credentials for ${server}`);
        }
      }
    } catch (e) {
      warn(e, `the credentials of the credsStore in ${file}`);
    }
  } else {
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      const creds = credentialsFromAuthEntry(key, entry, file, opts.onWarning);
      if (creds) out[key] = creds;
    }
  }
  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    try {
      const text = await runCredentialHelper(helper, 'get', key, opts);
      const creds = text === undefined ? undefined : parseHelperAnswer(`docker-credential-${helper}`, key, text);
      if (creds) out[key] = creds;
    } catch (e) {
      warn(e, `credentials for ${key}`);
    }
  }
  return out;
}

/** A helper failure as the connector reports it: which program, which registry, which file; never a secret. */
export function helperFailureError(e: CredentialHelperFailure, registry: string, file: string, operation?: string): ConnectorError {
  return new ConnectorError(
    e.missing ? 'INVALID_CONFIG' : 'UNAVAILABLE',
    `Registry credentials for ${registry}: the credential helper ${e.program} named in ${file} ${e.missing ? `cannot be run: ${e.message}` : e.message}`,
    { operation, details: { helper: e.program, registry, docker_config: file } },
  );
}
