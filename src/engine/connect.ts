import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { ConnectorConfig } from '../config/schema.js';
import { loadTlsMaterial, type Endpoint } from './endpoint.js';
import { SshSocket, type OpenedChannel } from './ssh-socket.js';

/**
 * The transport seam: how to open a connection to an endpoint, whatever its
 * kind. The node:http pool, the undici pool and upgraded connections all dial
 * through the `Dialer` made here, and this is the only module that looks at
 * an endpoint's kind: a new way to reach an Engine (an SSH channel, say) is
 * one more endpoint kind in endpoint.ts and one more dialer below.
 */

/** Options of one socket. Each transport keeps its own (buffer size, keep-alive, no-delay). */
export interface SocketOptions {
  highWaterMark?: number;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  /** Application protocols offered in a TLS handshake; ignored by connections without TLS. */
  ALPNProtocols?: string[];
}

/** The endpoint as results and logs may show it: nothing secret in it. */
export interface EndpointDescription {
  /** unix:///var/run/docker.sock, http://host:2375, https://host:2376, ssh://user@host:22 (never credentials). */
  address: string;
  kind: Endpoint['kind'];
  /** Connections speak TLS. */
  tls: boolean;
  /** How the address was chosen (a setting, a docker context, a discovered socket), when the connector knows. */
  source?: string;
}

/** undici's `connect` option: opens a connection and calls back once it is usable (TLS handshake done). */
export type UndiciConnect = (opts: object, callback: (err: Error | null, socket: net.Socket | null) => void) => void;

export interface UndiciConnectOptions {
  /** Longest wait for the connection; past it the attempt fails with UND_ERR_CONNECT_TIMEOUT (never sent). */
  timeoutMs: number;
  /**
   * Errors of TLS connections (none for connections without TLS). A server refusing the client
   * certificate says so with an alert after a TLS 1.3 handshake, which undici reports as a
   * closed socket: the transport uses these to name the TLS error instead.
   */
  onTlsError?: (err: Error) => void;
}

export interface Dialer {
  readonly endpoint: Endpoint;
  readonly description: EndpointDescription;
  /** The Host header requests carry. */
  readonly hostHeader: string;
  /** The origin undici's pool is keyed by; for a unix socket it only names the Host. */
  readonly origin: string;
  /** TLS settings of the connections (certificate files read once), when they speak TLS. */
  readonly tls: tls.ConnectionOptions | undefined;
  /**
   * Opens one connection (a net.Socket or a tls.TLSSocket; for ssh:// a channel shaped like a net.Socket);
   * throws what the socket layer throws (ERR_OSSL_* for bad PEM files).
   */
  dial(options?: SocketOptions): net.Socket;
  /** node:http's `createConnection` (request option or Agent method): the socket options it is handed are kept, the target is the dialer's. */
  createConnection(options?: object): net.Socket;
  /** A node:http agent (keep-alive pool) whose connections this dialer opens. */
  agent(options: http.AgentOptions): http.Agent;
  /** undici's `connect` option. */
  undiciConnect(options: UndiciConnectOptions): UndiciConnect;
}

/** What opens a raw connection for one endpoint kind; everything else is shared. */
interface KindDialer {
  dial(options: SocketOptions): net.Socket;
  hostHeader: string;
  origin: string;
  tls: tls.ConnectionOptions | undefined;
}

/** The dialer for an endpoint. TLS certificate files are read here, once. */
export function dialerFor(endpoint: Endpoint, config: ConnectorConfig): Dialer {
  const kind = kindDialer(endpoint, config);
  const description: EndpointDescription = { address: endpoint.address, kind: endpoint.kind, tls: kind.tls !== undefined };
  const secure = kind.tls !== undefined;
  const createConnection = (options?: object) => kind.dial(socketOptions(options));
  return {
    endpoint,
    description,
    hostHeader: kind.hostHeader,
    origin: kind.origin,
    tls: kind.tls,
    dial: (options = {}) => kind.dial(options),
    createConnection,
    agent(options) {
      const agent = new http.Agent(options);
      // The agent hands createConnection its own options (keepAlive, noDelay, highWaterMark) merged with
      // the request's (host, port, path): socketOptions keeps the former only.
      agent.createConnection = createConnection as unknown as http.Agent['createConnection'];
      return agent;
    },
    undiciConnect: ({ timeoutMs, onTlsError }) => undiciConnect(kind, secure, timeoutMs, onTlsError),
  };
}

function kindDialer(ep: Endpoint, config: ConnectorConfig): KindDialer {
  if (ep.kind === 'unix') {
    const path = ep.socketPath;
    return { hostHeader: 'docker', origin: 'http://docker', tls: undefined, dial: (o) => net.connect({ ...o, path }) };
  }
  if (ep.kind === 'ssh') return sshDialer(ep, config);
  const { hostname: host, port } = ep;
  const hostHeader = `${host}:${port}`;
  const origin = `${ep.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!ep.tls) return { hostHeader, origin, tls: undefined, dial: (o) => net.connect({ ...o, host, port }) };
  const material = loadTlsMaterial(config);
  const options: tls.ConnectionOptions = {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    rejectUnauthorized: config.verify_ssl,
    // The configured name, else the host; an IP address is never sent as a server name (the certificate is checked against it).
    servername: config.tls_server_name ?? (net.isIP(host) ? '' : host),
  };
  return { hostHeader, origin, tls: options, dial: tlsDial(host, port, options) };
}

/**
 * ssh://: each connection is a channel of a shared SSH login running
 * `docker system dial-stdio` (ssh-session.ts, loaded with ssh2 on first use:
 * other endpoints never load either). The socket is handed back at once and
 * connects when its channel is open.
 */
function sshDialer(ep: Extract<Endpoint, { kind: 'ssh' }>, config: ConnectorConfig): KindDialer {
  let pool: Promise<{ open(): Promise<OpenedChannel> }> | undefined;
  const open = (): Promise<OpenedChannel> => {
    pool ??= import('./ssh-session.js').then((m) => new m.SshConnections({ user: ep.user, host: ep.hostname, port: ep.port, address: ep.address }, config));
    pool.catch(() => (pool = undefined));
    return pool.then((p) => p.open());
  };
  // node:http and undici use a socket's stream interface plus ref/unref, setKeepAlive, setNoDelay, setTimeout, which SshSocket has.
  return { hostHeader: 'docker', origin: 'http://docker', tls: undefined, dial: (o) => new SshSocket(open, ep.address, o.highWaterMark) as unknown as net.Socket };
}

/**
 * A TLS dialer that resumes the last session, as node's https agent does: a
 * new connection skips the full handshake; a session whose connection failed
 * is dropped.
 */
function tlsDial(host: string, port: number, options: tls.ConnectionOptions): (o: SocketOptions) => net.Socket {
  let session: Buffer | undefined;
  return (o) => {
    const socket = tls.connect({ ...o, ...options, host, port, session });
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('close', (hadError: boolean) => {
      if (hadError) session = undefined;
    });
    return socket;
  };
}

/** The socket options among what node:http hands createConnection; its host, port and path are not the dialer's business. */
function socketOptions(options: object | undefined): SocketOptions {
  if (!options) return {};
  const o = options as SocketOptions;
  const out: SocketOptions = {};
  if (o.highWaterMark !== undefined) out.highWaterMark = o.highWaterMark;
  if (o.noDelay !== undefined) out.noDelay = o.noDelay;
  if (o.keepAlive !== undefined) out.keepAlive = o.keepAlive;
  if (o.keepAliveInitialDelay !== undefined) out.keepAliveInitialDelay = o.keepAliveInitialDelay;
  return out;
}

/**
 * undici's connect option over a dialer, with what undici's own connector does:
 * its buffer sizes, TCP keep-alive after 60 s, no-delay, HTTP/1.1 only, a
 * connect timeout, and the callback once connected (TLS: after the handshake).
 */
function undiciConnect(kind: KindDialer, secure: boolean, timeoutMs: number, onTlsError: ((err: Error) => void) | undefined): UndiciConnect {
  return (_opts, callback) => {
    let pending: typeof callback | undefined = callback;
    const settle = (err: Error | null, socket: net.Socket | null) => {
      clearTimeout(timer);
      const cb = pending;
      pending = undefined;
      cb?.(err, socket);
    };
    let socket: net.Socket;
    try {
      socket = kind.dial(secure ? { highWaterMark: 16 * 1024, ALPNProtocols: ['http/1.1'] } : { highWaterMark: 64 * 1024 });
    } catch (err) {
      // Synchronous failures (certificate files OpenSSL refuses) reach the request like any connect error.
      return callback(err as Error, null);
    }
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`Connect timeout (${timeoutMs} ms)`), { name: 'ConnectTimeoutError', code: 'UND_ERR_CONNECT_TIMEOUT' });
      socket.destroy(err);
      settle(err, null);
    }, timeoutMs);
    timer.unref?.();
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    if (secure && onTlsError) {
      socket.prependListener('error', (e: Error) => {
        if ((e as { code?: string }).code !== 'UND_ERR_SOCKET') onTlsError(e);
      });
    }
    socket.once(secure ? 'secureConnect' : 'connect', () => settle(null, socket));
    socket.on('error', (err) => settle(err, null));
  };
}
