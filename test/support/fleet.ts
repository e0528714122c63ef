import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from './harness.js';

/**
 * A fleet of named endpoints over the private Engines (issue 17's
 * acceptance): `old` (Engine 20.10, its socket), `new` (Engine 28.5, its
 * socket), `new-mtls` (the same Engine 28.5 reached over TLS with a client
 * certificate) and `unreachable` (a closed local port, no retries, so it
 * fails fast). `new` is the default.
 */
export const FLEET = { old: 'old', new: 'new', mtls: 'new-mtls', unreachable: 'unreachable' } as const;
export const FLEET_NAMES = [FLEET.old, FLEET.new, FLEET.mtls, FLEET.unreachable] as const;
/** The endpoints that answer, and which Engine each one reaches. */
export const FLEET_ENGINE: Record<string, 'old' | 'new'> = { [FLEET.old]: 'old', [FLEET.new]: 'new', [FLEET.mtls]: 'new' };

/** The config file's `endpoints` map of the fleet (extra top-level settings may be merged in by the caller). */
export function fleetEndpoints(): Record<string, Record<string, unknown>> {
  const h = harness();
  const engine = (name: 'old' | 'new') => h.engines.find((e) => e.name === name)!;
  return {
    [FLEET.old]: { host: engine('old').host, rate_limit: 0 },
    [FLEET.new]: { host: engine('new').host, rate_limit: 0 },
    [FLEET.mtls]: { host: h.tls.host.replace('tcp://', 'https://'), ca_cert: h.tls.caCert, client_cert: h.tls.clientCert, client_key: h.tls.clientKey, rate_limit: 0 },
    // Port 9 (discard) has no listener here: connection refused at once.
    [FLEET.unreachable]: { host: 'tcp://127.0.0.1:9', rate_limit: 0, retry_attempts: 0, timeout: 5 },
  };
}

/** Writes a config file holding the fleet (plus `extra` top-level settings and sections); returns its path. */
export function fleetConfigFile(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'dc-fleet-'));
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify({ default_endpoint: FLEET.new, endpoints: fleetEndpoints(), ...extra }, null, 2));
  return path;
}
