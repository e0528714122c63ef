import { readFileSync } from 'node:fs';
import { ConnectorError } from '../errors.js';
import type { ConnectorConfig } from '../config/schema.js';

export type Endpoint =
  | { kind: 'unix'; socketPath: string; address: string }
  | { kind: 'tcp'; hostname: string; port: number; tls: boolean; address: string };

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
  if (host.startsWith('npipe://') || host.startsWith('ssh://')) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: host ${host.split('://')[0]}:// is not supported; use unix://, tcp://, http:// or https://`);
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

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function readPem(field: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConnectorError('INVALID_CONFIG', `Invalid configuration: ${field} file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Reads the configured certificate files once, at connector start. */
export function loadTlsMaterial(config: ConnectorConfig): TlsMaterial {
  const out: TlsMaterial = {};
  if (config.ca_cert) out.ca = readPem('ca_cert', config.ca_cert);
  if (config.client_cert) out.cert = readPem('client_cert', config.client_cert);
  if (config.client_key) out.key = readPem('client_key', config.client_key);
  return out;
}
