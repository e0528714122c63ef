/**
 * Calls that reach a Docker registry through the Engine (pull, push, search,
 * build's base-image pulls): which registry a reference names, and how a
 * registry's refusal and per-call secrets are reported.
 */
import { ConnectorError } from '../../errors.js';
import { scrubText } from '../../config/redact.js';
import type { RegistryCredentials } from '../../engine/registry-auth.js';

/**
 * Runs a registry call with per-call secrets scrubbed from any error (the
 * configured ones are scrubbed by the client already), and reports a
 * registry's refusal of credentials as UNAUTHORIZED whatever status the
 * Engine wrapped it in.
 */
export async function registryCall<T>(creds: RegistryCredentials | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof ConnectorError)) throw err;
    const secrets = [creds?.password, creds?.identitytoken].filter((s): s is string => !!s);
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
