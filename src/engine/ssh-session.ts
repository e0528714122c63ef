import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Client, ClientChannel } from 'ssh2';
import { ConnectorError } from '../errors.js';
import type { ConnectorConfig } from '../config/schema.js';
import type { OpenedChannel } from './ssh-socket.js';
import { sshAuth, type SshAuth } from './ssh-auth.js';
import { checkHostKey, fingerprint, keyTypeOf, knownHostName, knownHostsLine, knownKeyTypes } from './ssh-known-hosts.js';

/**
 * SSH connections of one ssh:// endpoint (loaded only when such an endpoint
 * is first used, and ssh2 with it). One login carries many Engine
 * connections: each is a channel running `docker system dial-stdio`, as the
 * docker CLI runs it. A connection takes at most MAX_CHANNELS channels at
 * once (sshd's MaxSessions default); past that another login opens.
 */

/** Where to log in, as the seam (connect.ts) hands it over from an ssh:// endpoint. */
export interface SshTarget {
  /** Unset: the local user's name. */
  user: string | undefined;
  host: string;
  port: number;
  /** ssh://user@host:port, for messages. */
  address: string;
}
type Ssh2 = typeof import('ssh2');

/** sshd's default MaxSessions: more channels on one connection would be refused. */
const MAX_CHANNELS = 10;
/** A connection without channels closes after this long (a later call logs in again). */
const IDLE_CLOSE_MS = 30_000;
const DIAL_COMMAND = 'docker system dial-stdio';
/** ssh2's key-type names for what known_hosts records as `ssh-rsa`. */
const RSA_ALGORITHMS = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** A variable, so bundlers leave the import to run time: ssh2 is loaded by ssh:// endpoints only. */
const SSH2 = 'ssh2';
let ssh2: Promise<Ssh2> | undefined;
function loadSsh2(): Promise<Ssh2> {
  ssh2 ??= import(SSH2).then((m: Ssh2 & { default?: Ssh2 }) => m.default ?? m);
  ssh2.catch(() => (ssh2 = undefined));
  return ssh2;
}

/** Where host keys are checked; `acceptNew`: an unknown host's key is recorded there (trust on first use). */
function knownHostsFile(config: ConnectorConfig, env: NodeJS.ProcessEnv): { path: string; acceptNew: boolean } {
  const value = config.ssh_known_hosts;
  const fallback = join(env.HOME || homedir(), '.ssh', 'known_hosts');
  if (value === undefined) return { path: fallback, acceptNew: false };
  if (value === 'accept-new') return { path: fallback, acceptNew: true };
  return { path: value, acceptNew: false };
}

function readKnownHosts(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ssh_known_hosts file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

class Connection {
  channels = 0;
  closed = false;
  /** Refused a channel (MaxSessions lower than ours): takes no more. */
  full = false;
  readonly ready: Promise<void>;
  private refs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly client: Client;
  private readonly tcp: net.Socket;
  /** Why the login failed, when we know better than ssh2's message. */
  private failure: Error | undefined;

  constructor(
    lib: Ssh2,
    private readonly target: SshTarget,
    auth: SshAuth,
    knownHosts: { path: string; acceptNew: boolean },
    timeoutMs: number,
    onClose: () => void,
  ) {
    const text = readKnownHosts(knownHosts.path);
    const prefer = knownKeyTypes(text, target.host, target.port).flatMap((t) => (t === 'ssh-rsa' ? RSA_ALGORITHMS : [t]));
    this.tcp = net.connect({ host: target.host, port: target.port });
    this.tcp.setKeepAlive(true, 60_000);
    this.tcp.setNoDelay(true);
    // Held by `ref` only: while a channel opens or is in use, not while all are idle.
    this.tcp.unref();
    this.client = new lib.Client();
    this.ready = new Promise<void>((resolve, reject) => {
      this.client.once('ready', resolve);
      this.client.on('error', (err: Error & { level?: string; code?: string }) => reject(this.failure ?? this.mapError(err, auth)));
      this.client.once('close', () => {
        this.closed = true;
        if (this.idleTimer) clearTimeout(this.idleTimer);
        onClose();
        reject(this.failure ?? Object.assign(new Error(`SSH connection to ${target.address} closed`), { code: 'ECONNRESET' }));
      });
    });
    this.ready.catch(() => undefined);
    this.client.connect({
      sock: this.tcp,
      username: auth.user,
      authHandler: auth.methods,
      hostVerifier: (key: Buffer) => this.verifyHostKey(key, knownHosts),
      readyTimeout: timeoutMs,
      ...(prefer.length ? { algorithms: { serverHostKey: { prepend: prefer } as never } } : {}),
    });
  }

  /** The host key against known_hosts; refusing it ends the handshake before anything is sent. */
  private verifyHostKey(key: Buffer, knownHosts: { path: string; acceptNew: boolean }): boolean {
    const { host: hostname, port } = this.target;
    const name = knownHostName(hostname, port);
    const shown = `${keyTypeOf(key)} key ${fingerprint(key)}`;
    let text: string;
    try {
      text = readKnownHosts(knownHosts.path);
    } catch (err) {
      this.failure = err as Error;
      return false;
    }
    const verdict = checkHostKey(text, hostname, port, key);
    if (verdict.status === 'known') return true;
    const keyscan = `ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${hostname} >> ${knownHosts.path}`;
    if (verdict.status === 'unknown' && knownHosts.acceptNew) {
      try {
        mkdirSync(dirname(knownHosts.path), { recursive: true, mode: 0o700 });
        appendFileSync(knownHosts.path, `${text && !text.endsWith('\n') ? '\n' : ''}${knownHostsLine(hostname, port, key)}\n`, { mode: 0o600 });
      } catch (err) {
        this.failure = new ConnectorError('CONNECTION_FAILED', `The host key of ${name} (${shown}) could not be recorded in ${knownHosts.path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was sent`);
        return false;
      }
      process.emitWarning(`ssh_known_hosts=accept-new: the host key of ${name} (${shown}) was not known and has been added to ${knownHosts.path}`, { code: 'DC_SSH_HOST_KEY_ADDED' });
      return true;
    }
    const message =
      verdict.status === 'unknown'
        ? `The SSH host key of ${name} is not known: the server offered ${shown}, and ${knownHosts.path} has no key for ${name}. Nothing was sent. If that fingerprint is the host's, add it (e.g. ${keyscan}) or set ssh_known_hosts`
        : verdict.status === 'changed'
          ? `The SSH host key of ${name} has CHANGED: the server offered ${shown}, but ${knownHosts.path} (line ${verdict.lines.join(', ')}) records another key. Nothing was sent: this may be an impostor. If the host's key was really replaced, remove the old line and add the new key`
          : `The SSH host key of ${name} (${shown}) is marked @revoked in ${knownHosts.path} (line ${verdict.line}). Nothing was sent`;
    this.failure = new ConnectorError('CONNECTION_FAILED', message, { details: { host: name, fingerprint: fingerprint(key), known_hosts: knownHosts.path } });
    return false;
  }

  private mapError(err: Error & { level?: string; code?: string }, auth: SshAuth): Error {
    const who = `${auth.user}@${this.target.host}${this.target.port === 22 ? '' : ` (port ${this.target.port})`}`;
    if (err.level === 'client-authentication') {
      const skipped = auth.skipped.length ? `; skipped: ${auth.skipped.join(', ')}` : '';
      const tried = auth.tried.length ? `the server accepted none of: ${auth.tried.join(', ')}` : 'no key to offer: set ssh_key, start an SSH agent (SSH_AUTH_SOCK) or create ~/.ssh/id_ed25519';
      return new ConnectorError('UNAUTHORIZED', `SSH login as ${who} failed: ${tried}${skipped}`);
    }
    if (err.level === 'client-timeout') {
      return Object.assign(new Error(`SSH login to ${who} timed out`), { code: 'ETIMEDOUT' });
    }
    // Socket errors (ECONNREFUSED, ENOTFOUND, ...) keep their code: they are mapped like a TCP endpoint's.
    if (err.code) return err;
    return new ConnectorError('CONNECTION_FAILED', `SSH connection to ${who} failed: ${err.message}`);
  }

  ref(): void {
    if (this.refs++ === 0) this.tcp.ref();
  }

  unref(): void {
    if (--this.refs === 0) this.tcp.unref();
  }

  /** One more channel running dial-stdio (the caller counted it in `channels`). */
  async exec(): Promise<ClientChannel> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    await this.ready;
    return new Promise<ClientChannel>((resolve, reject) => {
      this.client.exec(DIAL_COMMAND, (err, channel) => (err ? reject(err) : resolve(channel)));
    });
  }

  /** A channel closed; with none left the connection closes after a while (unless one opens meanwhile). */
  released(): void {
    if (--this.channels > 0 || this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.end(), IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  end(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.client.end();
  }
}

export class SshConnections {
  private readonly connections: Connection[] = [];

  constructor(
    private readonly target: SshTarget,
    private readonly config: ConnectorConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** A new channel to the Engine, on a connection that has room (logging in if none has). */
  async open(): Promise<OpenedChannel> {
    const lib = await loadSsh2();
    for (let attempt = 0; ; attempt++) {
      let conn = this.connections.find((c) => !c.closed && !c.full && c.channels < MAX_CHANNELS);
      if (!conn) {
        const auth = sshAuth(this.config, this.target.user, lib.utils.parseKey as never, this.env);
        const created: Connection = new Connection(lib, this.target, auth, knownHostsFile(this.config, this.env), this.config.timeout * 1000, () => {
          const i = this.connections.indexOf(created);
          if (i >= 0) this.connections.splice(i, 1);
        });
        conn = created;
        this.connections.push(conn);
      }
      conn.channels++;
      conn.ref();
      let channel: ClientChannel;
      try {
        channel = await conn.exec();
      } catch (err) {
        conn.unref();
        conn.released();
        // The server refused one more channel (its MaxSessions is lower): use another connection.
        if ((err as { reason?: unknown }).reason === 1 && attempt < 2) {
          conn.full = true;
          continue;
        }
        throw err;
      }
      const c = conn;
      let done = false;
      return {
        channel,
        ref: () => c.ref(),
        unref: () => c.unref(),
        release: () => {
          if (done) return;
          done = true;
          c.released();
        },
      };
    }
  }
}
