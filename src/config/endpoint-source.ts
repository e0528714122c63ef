import { join } from 'node:path';
import { contextSettings, currentContextName, DEFAULT_CONTEXT, dockerConfigDir, readDockerContext } from './docker-contexts.js';
import { DEFAULT_SOCKET, discoverSocket, type DiscoveryPaths } from './socket-discovery.js';

/**
 * Which setting chooses the Engine, across the layers of loadConfig. Each
 * layer (options/flags > DOCKER_CONNECTOR_* > config file > the docker CLI's
 * variables) may name the Engine by `host` (or `server`) or by `context`;
 * the highest layer that names it wins, and within one layer `host` beats
 * `context` (as the docker CLI's --host beats --context). The docker CLI's
 * ambient settings come last, in its own order: DOCKER_HOST, DOCKER_CONTEXT,
 * then currentContext in config.json. With nothing named, a socket is
 * discovered (socket-discovery.ts), else the default socket stands.
 */

/** A layer of settings, lowest precedence first in the lists below. */
export type SettingsOrigin = 'docker_env' | 'file' | 'connector_env' | 'options';

export interface SettingsLayer {
  origin: SettingsOrigin;
  settings: Record<string, unknown>;
}

export interface EndpointSource {
  /** What chose the address. */
  by: 'host' | 'server' | 'context' | 'discovered' | 'default';
  /** Where that choice was made (absent for discovered and default). */
  from?: SettingsOrigin | 'config_json';
  /** The docker context in use, when by is "context". */
  context?: string;
  /** The discovered socket's path, when by is "discovered". */
  socket?: string;
  /** For people: what `config` and `health` print. */
  description: string;
}

/** The fields a context stands for: a context replaces what lower layers set for them. */
const ENDPOINT_FIELDS = ['host', 'server', 'ca_cert', 'client_cert', 'client_key', 'verify_ssl', 'tls_server_name'] as const;

function where(origin: SettingsOrigin | 'config_json', field: 'host' | 'server' | 'context', env: NodeJS.ProcessEnv, filePath: string | undefined): string {
  switch (origin) {
    case 'options':
      return `--${field} flag or ${field} option`;
    case 'connector_env':
      return `DOCKER_CONNECTOR_${field.toUpperCase()}`;
    case 'file':
      return `${field} in the config file ${filePath ?? ''}`.trim();
    case 'docker_env':
      return field === 'context' ? 'DOCKER_CONTEXT' : 'DOCKER_HOST';
    case 'config_json':
      return `currentContext in ${join(dockerConfigDir(env), 'config.json')}`;
  }
}

function withoutEndpoint(settings: Record<string, unknown>): Record<string, unknown> {
  const out = { ...settings };
  for (const f of ENDPOINT_FIELDS) delete out[f];
  return out;
}

function defined(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}

/** The context's settings at layer i, under that layer's own; lower layers lose their endpoint fields. */
function applyContext(layers: SettingsLayer[], i: number, name: string, env: NodeJS.ProcessEnv): SettingsLayer[] {
  const ctx = defined(contextSettings(readDockerContext(name, env)));
  return layers.map((layer, j) => {
    if (j < i) return { ...layer, settings: withoutEndpoint(layer.settings) };
    if (j > i) return layer;
    // The ambient layer's own endpoint fields (DOCKER_CERT_PATH …) belong to DOCKER_HOST, which this context replaces.
    const own = layer.origin === 'docker_env' ? withoutEndpoint(layer.settings) : layer.settings;
    return { ...layer, settings: { ...ctx, ...own, context: name } };
  });
}

export interface SelectOptions {
  env: NodeJS.ProcessEnv;
  filePath?: string;
  discovery?: DiscoveryPaths;
}

/** The layers with the chosen context expanded (or a discovered socket added), and what chose the address. */
export function selectEndpoint(layers: SettingsLayer[], opts: SelectOptions): { layers: SettingsLayer[]; source: EndpointSource } {
  const { env, filePath } = opts;
  let contextsOff = false;
  for (let i = layers.length - 1; i >= 0; i--) {
    const { origin, settings } = layers[i]!;
    for (const field of ['host', 'server'] as const) {
      if (settings[field] !== undefined) return { layers, source: { by: field, from: origin, description: where(origin, field, env, filePath) } };
    }
    const name = settings.context;
    if (typeof name === 'string' && !contextsOff) {
      // "default" is the docker CLI's name for no context: what lower layers say stands, ambient contexts do not.
      if (name === DEFAULT_CONTEXT) {
        contextsOff = true;
        continue;
      }
      const description = `docker context "${name}" (${where(origin, 'context', env, filePath)})`;
      return { layers: applyContext(layers, i, name, env), source: { by: 'context', from: origin, context: name, description } };
    }
  }
  if (!contextsOff) {
    const fromEnv = env.DOCKER_CONTEXT;
    const name = fromEnv || currentContextName(env);
    if (name && name !== DEFAULT_CONTEXT) {
      const origin = fromEnv ? 'docker_env' : 'config_json';
      const i = layers.findIndex((l) => l.origin === 'docker_env');
      const base = i === -1 ? [{ origin: 'docker_env' as const, settings: {} }, ...layers] : layers;
      const description = `docker context "${name}" (${where(origin, 'context', env, filePath)})`;
      return { layers: applyContext(base, Math.max(i, 0), name, env), source: { by: 'context', from: origin, context: name, description } };
    }
  }
  const found = discoverSocket(env, opts.discovery);
  if (found) {
    const description = `discovered ${found.path} (${found.rule}, ${found.what}): ${opts.discovery?.defaultSocket ?? DEFAULT_SOCKET} does not exist`;
    return {
      layers: [{ origin: 'docker_env', settings: { host: `unix://${found.path}` } }, ...layers],
      source: { by: 'discovered', socket: found.path, description },
    };
  }
  return { layers, source: { by: 'default', description: `default (${opts.discovery?.defaultSocket ?? DEFAULT_SOCKET}): nothing names an Engine` } };
}
