/**
 * Calls that reach a Docker registry through the Engine (pull, push, search,
 * inspect_distribution, login, build's base-image pulls): which registry a
 * reference names, which credentials go with a call, and how a registry's
 * refusal and per-call secrets are reported.
 */
import { ConnectorError } from '../../errors.js';
import { scrubText } from '../../config/redact.js';
import { encodeRegistryAuth, type RegistryCredentials } from '../../engine/registry-auth.js';
import { allDockerCredentials, CredentialHelperFailure, dockerConfigFile, helperFailureError, lookupDockerCredentials } from '../../engine/docker-credentials.js';
import type { OperationContext } from '../define.js';
import { invalidParam } from './params.js';

export interface RegistryAuthOptions {
  /**
   * Per-call credentials for another registry: refused as a mistake (pull,
   * push, inspect_distribution) or left out (search: a search changes nothing
   * and an anonymous one is still an answer; a rule relating two parameters
   * cannot be stated in the published schema, so a read does not refuse over it).
   */
  onMismatch?: 'refuse' | 'omit';
  /**
   * A docker credential helper that cannot be run or fails: the call fails
   * (as `docker pull`/`push` fail) or goes on without credentials (as
   * `docker search` does). "Credentials not found" is never a failure.
   */
  onHelperFailure?: 'fail' | 'anonymous';
}

/** The X-Registry-Auth header for a call, and the credentials in it that no configuration scrubs (for registryCall). */
export interface RegistryAuth {
  header: string | undefined;
  secrets: RegistryCredentials | undefined;
}

/**
 * X-Registry-Auth for a call to `registry` ("docker.io" or host[:port]), in
 * this order: the call's `auth`; the connector's registry_* settings when they
 * apply to that registry (no registry_server, or that one); else what the
 * docker CLI would use from `$DOCKER_CONFIG/config.json` (auths, credHelpers,
 * credsStore), read only now, when nothing else applies. The Engine hands the
 * header to whatever registry the image names, so credentials scoped to
 * another registry are never sent. Credentials without an address go anywhere.
 */
export async function resolveRegistryAuth(ctx: OperationContext, registry: string, perCall: RegistryCredentials | undefined, opts: RegistryAuthOptions = {}): Promise<RegistryAuth> {
  const given = perCall && Object.values(perCall).some((v) => v !== undefined) ? perCall : undefined;
  if (given) {
    if (given.serveraddress && normalizeRegistry(given.serveraddress) !== registry) {
      if (opts.onMismatch === 'omit') return { header: undefined, secrets: undefined };
      throw invalidParam(ctx, 'auth.serveraddress', `the credentials are for ${normalizeRegistry(given.serveraddress)}, the image is on ${registry}`);
    }
    return { header: ctx.registryAuth(given), secrets: given };
  }
  const c = ctx.config;
  const configured = !!(c.registry_identity_token || c.registry_username);
  if (configured && (!c.registry_server || normalizeRegistry(c.registry_server) === registry)) return { header: ctx.registryAuth(undefined), secrets: undefined };
  const found = await dockerConfigCredentials(ctx, registry, opts.onHelperFailure ?? 'fail');
  return { header: found ? encodeRegistryAuth(found) : undefined, secrets: found };
}

async function dockerConfigCredentials(ctx: OperationContext, registry: string, onHelperFailure: 'fail' | 'anonymous'): Promise<RegistryCredentials | undefined> {
  const onWarning = (message: string) => ctx.log.warn({ operation: ctx.operation, registry }, message);
  try {
    const found = await lookupDockerCredentials(registry, { onWarning, env: ctx.env });
    // Where they came from, never what they are.
    ctx.log.debug({ operation: ctx.operation, registry, source: found.source, helper: found.helper, docker_config: found.file, found: !!found.credentials }, 'registry credentials from the docker CLI configuration');
    return found.credentials;
  } catch (err) {
    if (!(err instanceof CredentialHelperFailure)) throw err;
    if (onHelperFailure === 'anonymous') {
      onWarning(`the credential helper ${err.program} failed (${err.message}); going on without registry credentials`);
      return undefined;
    }
    throw helperFailureError(err, registry, dockerConfigFile(ctx.env) ?? '(no docker configuration)', ctx.operation);
  }
}

/**
 * Every credential of `$DOCKER_CONFIG/config.json`, keyed by registry, for a
 * build's X-Registry-Config (its base images may come from any registry), as
 * `docker build` sends them; empty when there are none. Helpers that fail are
 * left out with a warning.
 */
export async function dockerConfigRegistryMap(ctx: OperationContext): Promise<Record<string, RegistryCredentials>> {
  return allDockerCredentials({ env: ctx.env, onWarning: (message) => ctx.log.warn({ operation: ctx.operation }, message) });
}

/**
 * Runs a registry call with per-call secrets and those read from the docker
 * configuration scrubbed from any error (the configured ones are scrubbed by
 * the client already), and reports a
 * registry's refusal of credentials as UNAUTHORIZED whatever status the
 * Engine wrapped it in.
 */
export async function registryCall<T>(creds: RegistryCredentials | readonly (RegistryCredentials | undefined)[] | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ConnectorError)) throw err;
    const all = Array.isArray(creds) ? creds : [creds as RegistryCredentials | undefined];
    const secrets = all.flatMap((c) => [c?.password, c?.identitytoken]).filter((s): s is string => !!s);
    const message = scrubText(err.message, secrets);
    const details = err.details ? (JSON.parse(scrubText(JSON.stringify(err.details), secrets)) as Record<string, unknown>) : undefined;
    const denied = (err.code === 'ENGINE_ERROR' || err.code === 'STREAM_ERROR') && /unauthorized|authentication required|no basic auth credentials|incorrect username or password/i.test(message);
    if (!denied && message === err.message) throw err;
    throw new ConnectorError(denied ? 'UNAUTHORIZED' : err.code, message, { status: err.status, operation: err.operation, retryable: err.retryable, outcomeUnknown: err.outcomeUnknown, details });
  }
}

/** The registry a repository lives on: its first segment when that looks like a host, else Docker Hub. */
export function registryOf(repo: string): string {
  const first = repo.split('/')[0]!;
  const isHost = repo.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? normalizeRegistry(first) : 'docker.io';
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://reg:5000/" → "reg:5000". */
export function normalizeRegistry(address: string): string {
  const host = address.replace(/^[a-z]+:\/\//i, '').split('/')[0]!.toLowerCase();
  return ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host) ? 'docker.io' : host;
}
