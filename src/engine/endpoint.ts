import { readFileSync } from 'node:fs';
import { ConnectorError } from '../errors.js';
import { isPemText, type ConnectorConfig } from '../config/schema.js';

export type Endpoint =
  | { kind: 'unix'; socketPath: string; address: string }
  | { kind: 'tcp'; hostname: string; port: number; tls: boolean; address: string }
  /** An Engine reached through `docker system dial-stdio` over SSH; `user` unset means the local user's name. */
  | { kind: 'ssh'; user: string | undefined; hostname: string; port: number; address: string };

/** Where to connect, from `host` or the split server/port/protocol form. */
export function resolveEndpoint(config: ConnectorConfig): Endpoint {
  const hasTlsFiles = Boolean(config.ca_cert || config.client_cert || config.client_key);
  let host = config.host;
  if (!host && config.server) {
    const protocol = config.protocol ?? 'https';
    host = `${protocol}://${config.server.includes(':') && !config.server.startsWith('[') ? `[${config.server}]` : config.server}:${config.port}`;
  }
  host ??= 'unix:///var/run/docker.sock';

  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath.startsWith('/')) {
      throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host ${host} must name an absolute socket path, e.g. unix:///var/run/docker.sock`);
    }
    return { kind: 'unix', socketPath, address: host };
  }
  if (host.startsWith('ssh://')) return sshEndpoint(host);
  if (host.startsWith('npipe://')) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host npipe:// is not supported; use unix://, tcp://, http://, https:// or ssh://`);
  }
  let url: URL;
  try {
    url = new URL(host.replace(/^tcp:\/\//, 'http://'));
  } catch {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host "${host}" is not a valid URL`);
  }
  if (url.username || url.password) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: host must not carry credentials; use username/password or access_token');
  }
  // tcp:// follows the docker CLI: plain unless TLS files are configured.
  const tls = host.startsWith('https://') || (host.startsWith('tcp://') && hasTlsFiles);
  const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', hostname, port, tls, address: `${tls ? 'https' : 'http'}://${url.host.includes(':') ? url.host : `${url.host}:${port}`}` };
}

/** `ssh://[user@]host[:port]`, as the docker CLI takes it: no password, no path (the remote Engine is the remote user's default). */
function sshEndpoint(host: string): Endpoint {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host "${host}" is not a valid ssh://[user@]host[:port] address`);
  }
  if (url.password) {
    throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: an ssh:// host must not carry a password; use ssh_key, the SSH agent or your default keys');
  }
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host ${url.protocol}//${url.host} must not have a path or query: ssh://[user@]host[:port]`);
  }
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!hostname) throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: an ssh:// host must name the host: ssh://[user@]host[:port]');
  const port = url.port ? Number(url.port) : 22;
  const user = url.username ? decodeURIComponent(url.username) : undefined;
  return { kind: 'ssh', user, hostname, port, address: `ssh://${url.username ? `${url.username}@` : ''}${url.host}` };
}

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The PEM bytes of a field: the text itself when it is given (config/schema.ts checked it), else the file's. */
function readPem(field: string, value: string): Buffer {
  if (isPemText(value)) return Buffer.from(value.trimStart(), 'utf8');
  try {
    return readFileSync(value);
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${field} file ${value} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Reads the configured certificates (files, or PEM text given inline) once, at connector start. */
export function loadTlsMaterial(config: ConnectorConfig): TlsMaterial {
  const out: TlsMaterial = {};
  if (config.ca_cert) out.ca = readPem('ca_cert', config.ca_cert);
  if (config.client_cert) out.cert = readPem('client_cert', config.client_cert);
  if (config.client_key) out.key = readPem('client_key', config.client_key);
  return out;
}
