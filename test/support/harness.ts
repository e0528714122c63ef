import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What test/harness/up.sh writes to $DC_HARNESS_DIR/env.json. */
export interface HarnessEngine {
  name: 'old' | 'new';
  host: string;
  version: string;
  apiVersion: string;
  netns: string;
  pidfile: string;
  registry: string;
  searchRegistry: string;
}

export interface HarnessEnv {
  stateDir: string;
  image: string;
  engines: HarnessEngine[];
  registry: { username: string; password: string };
  tls: {
    host: string;
    engine: string;
    caCert: string;
    clientCert: string;
    clientKey: string;
    wrongCaCert: string;
    wrongClientCert: string;
    wrongClientKey: string;
    certDir: string;
  };
  proxy: { engine: string; basicHost: string; username: string; password: string; bearerHost: string; token: string };
  /** The private sshds (test/harness/lib.sh start_sshd_all): one per Engine. */
  ssh: HarnessSsh;
}

/** ssh:// access to the Engines: a private sshd per Engine on 127.0.0.1 whose sessions reach that Engine. */
export interface HarnessSsh {
  user: string;
  /** host: ssh://user@127.0.0.1:port; log: the sshd's log (LogLevel VERBOSE: one "Accepted publickey" line per login); hostKey: its public host key. */
  engines: { name: 'old' | 'new'; host: string; port: number; log: string; hostKey: string }[];
  /** Unencrypted key file (authorized). */
  key: string;
  /** Encrypted key file (authorized), and its passphrase. */
  encryptedKey: string;
  encryptedKeyPassphrase: string;
  /** Authorized key meant only to be loaded into an ssh-agent. */
  agentKey: string;
  /** known_hosts with both sshds' keys as [127.0.0.1]:port entries; the same hashed (ssh-keygen -H). */
  knownHosts: string;
  knownHostsHashed: string;
}

export const HARNESS_DIR = process.env.DC_HARNESS_DIR ?? '/tmp/dch';

/**
 * Where the integration run records each result it validated (one file per
 * process; test/support/result-check.ts), for the result-coverage project.
 * The integration project's global setup empties it at the start of a run.
 */
export const RESULT_CHECKS_DIR = process.env.DC_RESULT_CHECKS_DIR ?? fileURLToPath(new URL('../../.cache/result-checks', import.meta.url));

let cached: HarnessEnv | undefined;

export function harness(): HarnessEnv {
  cached ??= JSON.parse(readFileSync(join(HARNESS_DIR, 'env.json'), 'utf8')) as HarnessEnv;
  return cached;
}

/** The Engines this run tests against: all, or those named in DC_ENGINES (e.g. "new"). */
export function engines(): HarnessEngine[] {
  const wanted = process.env.DC_ENGINES?.split(',').map((s) => s.trim()).filter(Boolean);
  const all = harness().engines;
  return wanted?.length ? all.filter((e) => wanted.includes(e.name)) : all;
}

/** Local forwarders (fault proxies) in front of an Engine: their address → the Engine's, so results through them count for that Engine. */
export const ENGINE_ALIASES = new Map<string, string>();
