import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConnectorError } from '../errors.js';

/**
 * The docker CLI's contexts, read the way the docker CLI stores them:
 * `$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json` holds the
 * Engine address (`Endpoints.docker.Host`, `SkipTLSVerify`), and
 * `contexts/tls/<same>/docker/{ca,cert,key}.pem` its certificates. The
 * current context is `currentContext` in `$DOCKER_CONFIG/config.json`.
 * Nothing here writes: contexts are managed with `docker context`.
 */

/** The name the docker CLI gives "no context": the address from DOCKER_HOST or the default socket. */
export const DEFAULT_CONTEXT = 'default';

export interface DockerContext {
  name: string;
  description?: string;
  /** Endpoints.docker.Host, as stored (unix://, tcp://, ssh:// …). */
  host: string;
  skipTlsVerify: boolean;
  /** Paths of the certificate files the context holds, those that exist. */
  tls: { ca?: string; cert?: string; key?: string };
}

/**
 * The user's home for what the docker CLI does on its own (currentContext,
 * socket discovery): HOME from the given environment, as the docker CLI reads
 * it. An environment handed in without HOME (a library caller's `env: {}`,
 * "ignore the environment") has none, so nothing ambient is picked up.
 */
export function homeOf(env: NodeJS.ProcessEnv): string | undefined {
  return env.HOME || (env === process.env ? homedir() : undefined);
}

/** $DOCKER_CONFIG, else ~/.docker: where a context the caller names is looked up. */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
}

/**
 * The same for ambient settings (currentContext, registry logins): undefined when the environment
 * given has neither DOCKER_CONFIG nor a home, as `env: {}` says "read none of the user's docker files".
 */
export function ambientDockerConfigDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  const home = homeOf(env);
  return home ? join(home, '.docker') : undefined;
}

const requireCjs = createRequire(import.meta.url);
/** node:crypto, loaded on the first context lookup only: most runs name no context. */
function sha256Hex(text: string): string {
  const { createHash } = requireCjs('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(text).digest('hex');
}

interface MetaFile {
  Name?: unknown;
  Metadata?: { Description?: unknown } | null;
  Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } | null } | null;
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not quoted: config.json holds registry credentials.
    throw new ConnectorError('INVALID_CONFIG', `${what} ${path} is not valid JSON`);
  }
}

function contextFromDir(configDir: string, dirName: string, expectedName?: string): DockerContext {
  const metaPath = join(configDir, 'contexts', 'meta', dirName, 'meta.json');
  const meta = readJson(metaPath, 'docker context file') as MetaFile | null;
  const name = typeof meta?.Name === 'string' ? meta.Name : expectedName ?? dirName;
  const docker = meta?.Endpoints?.docker;
  if (!docker || typeof docker.Host !== 'string' || docker.Host === '') {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: docker context "${name}" has no docker endpoint (Endpoints.docker.Host in ${metaPath})`);
  }
  const tlsDir = join(configDir, 'contexts', 'tls', dirName, 'docker');
  const tls: DockerContext['tls'] = {};
  for (const [k, file] of [['ca', 'ca.pem'], ['cert', 'cert.pem'], ['key', 'key.pem']] as const) {
    const p = join(tlsDir, file);
    if (existsSync(p)) tls[k] = p;
  }
  const description = typeof meta?.Metadata?.Description === 'string' && meta.Metadata.Description ? meta.Metadata.Description : undefined;
  return { name, ...(description ? { description } : {}), host: docker.Host, skipTlsVerify: docker.SkipTLSVerify === true, tls };
}

/** The named context; an unknown name is INVALID_CONFIG naming it. */
export function readDockerContext(name: string, env: NodeJS.ProcessEnv): DockerContext {
  const configDir = dockerConfigDir(env);
  const dirName = sha256Hex(name);
  if (!existsSync(join(configDir, 'contexts', 'meta', dirName, 'meta.json'))) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: unknown docker context "${name}" (none in ${join(configDir, 'contexts')}; "docker-connector contexts" lists them)`, {
      details: { context: name },
    });
  }
  return contextFromDir(configDir, dirName, name);
}

/** Every context in $DOCKER_CONFIG, by name ("default" is not stored: it is no context). */
export function listDockerContexts(env: NodeJS.ProcessEnv): DockerContext[] {
  const configDir = dockerConfigDir(env);
  const metaDir = join(configDir, 'contexts', 'meta');
  let dirs: string[];
  try {
    dirs = readdirSync(metaDir);
  } catch {
    return [];
  }
  return dirs
    .filter((d) => existsSync(join(metaDir, d, 'meta.json')))
    .map((d) => contextFromDir(configDir, d))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** `currentContext` of $DOCKER_CONFIG/config.json, if the file exists and sets one. */
export function currentContextName(env: NodeJS.ProcessEnv): string | undefined {
  const configDir = ambientDockerConfigDir(env);
  if (!configDir) return undefined;
  const path = join(configDir, 'config.json');
  if (!existsSync(path)) return undefined;
  const data = readJson(path, 'docker CLI config') as { currentContext?: unknown } | null;
  const name = data && typeof data === 'object' ? data.currentContext : undefined;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/**
 * The connection settings a context stands for. tcp:// keeps its meaning
 * (TLS when certificate files are set); a context that only skips
 * verification still speaks TLS, as the docker CLI does with it.
 */
export function contextSettings(ctx: DockerContext): Record<string, unknown> {
  const hasFiles = Boolean(ctx.tls.ca || ctx.tls.cert || ctx.tls.key);
  const host = ctx.skipTlsVerify && !hasFiles ? ctx.host.replace(/^tcp:\/\//, 'https://') : ctx.host;
  return { host, ca_cert: ctx.tls.ca, client_cert: ctx.tls.cert, client_key: ctx.tls.key, verify_ssl: !ctx.skipTlsVerify };
}
