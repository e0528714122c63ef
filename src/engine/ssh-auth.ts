import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { AgentAuthMethod, ParsedKey, PublicKeyAuthMethod } from 'ssh2';

type AuthMethod = PublicKeyAuthMethod | AgentAuthMethod;
import { ConnectorError } from '../errors.js';
import type { ConnectorConfig } from '../config/schema.js';

/**
 * The ways an ssh:// endpoint logs in, in the order: `ssh_key` (a
 * file or its PEM text, with `ssh_key_passphrase`) alone when set; else the
 * SSH agent (SSH_AUTH_SOCK), then the user's default keys, as `ssh` tries
 * them. Key files are read and checked here, before any connection, so a
 * bad key is a configuration error that names the field, never a login
 * failure; no message quotes a key.
 */

export interface SshAuth {
  user: string;
  methods: AuthMethod[];
  /** What was tried, for the message of a refused login (paths and "SSH agent", nothing secret). */
  tried: string[];
  /** Default keys left out (encrypted, unreadable as a key), for the same message. */
  skipped: string[];
}

type ParseKey = (data: Buffer | string, passphrase?: string) => ParsedKey | ParsedKey[] | Error;

/** The default key files `ssh` tries, in its order (without the hardware-backed kinds). */
const DEFAULT_KEYS = ['id_rsa', 'id_ecdsa', 'id_ed25519'];

export function localUser(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'root';
  }
}

function firstKey(parsed: ParsedKey | ParsedKey[] | Error): ParsedKey | Error {
  return Array.isArray(parsed) ? (parsed[0] ?? new Error('no key')) : parsed;
}

/** The configured ssh_key, parsed; INVALID_CONFIG naming the field when it cannot be used. */
function configuredKey(config: ConnectorConfig, parseKey: ParseKey): { key: ParsedKey; label: string } {
  const value = config.ssh_key!;
  const isText = value.includes('-----BEGIN') || value.includes('PuTTY-User-Key-File');
  const label = isText ? 'ssh_key (key text)' : `ssh_key ${value}`;
  let data: Buffer | string = value;
  if (!isText) {
    try {
      data = readFileSync(value);
    } catch (err) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ssh_key file ${value} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const passphrase = config.ssh_key_passphrase;
  const parsed = firstKey(parseKey(data, passphrase));
  if (parsed instanceof Error) {
    const encrypted = /encrypt|passphrase|bad decrypt/i.test(parsed.message);
    const why =
      encrypted && passphrase === undefined
        ? 'the key is encrypted: set ssh_key_passphrase'
        : encrypted || passphrase !== undefined
          ? 'ssh_key_passphrase does not decrypt it'
          : 'it is not an SSH private key (OpenSSH, PEM or PuTTY format)';
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${label} cannot be used: ${why}`);
  }
  if (!parsed.isPrivateKey()) throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${label} is a public key; ssh_key takes the private key`);
  return { key: parsed, label };
}

export function sshAuth(config: ConnectorConfig, endpointUser: string | undefined, parseKey: ParseKey, env: NodeJS.ProcessEnv = process.env): SshAuth {
  const username = endpointUser ?? localUser(env);
  if (config.ssh_key) {
    const { key, label } = configuredKey(config, parseKey);
    return { user: username, methods: [{ type: 'publickey', username, key }], tried: [label], skipped: [] };
  }
  const methods: AuthMethod[] = [];
  const tried: string[] = [];
  const skipped: string[] = [];
  if (env.SSH_AUTH_SOCK) {
    methods.push({ type: 'agent', username, agent: env.SSH_AUTH_SOCK });
    tried.push('the SSH agent (SSH_AUTH_SOCK)');
  }
  const home = env.HOME || homedir();
  for (const name of DEFAULT_KEYS) {
    const path = join(home, '.ssh', name);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      continue;
    }
    const parsed = firstKey(parseKey(data));
    if (parsed instanceof Error || !parsed.isPrivateKey()) {
      // An encrypted default key needs its passphrase: ssh asks for it, a connector cannot.
      skipped.push(`${path} (${parsed instanceof Error && /encrypt|passphrase/i.test(parsed.message) ? 'encrypted: use the agent or ssh_key + ssh_key_passphrase' : 'not usable'})`);
      continue;
    }
    methods.push({ type: 'publickey', username, key: parsed });
    tried.push(path);
  }
  return { user: username, methods, tried, skipped };
}
