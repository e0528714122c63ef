import type { ConnectorConfigInput } from '../config/schema.js';
import { contextSettings, DEFAULT_CONTEXT, listDockerContexts } from '../config/docker-contexts.js';
import { loadConfig } from '../config/load.js';
import { resolveEndpoint } from '../engine/endpoint.js';
import type { EndpointSource } from '../config/endpoint-source.js';

/** One row of `docker-connector contexts`. */
export interface ContextRow {
  name: string;
  description: string | null;
  /** The Engine address the context stands for. */
  endpoint: string;
  /** Connections speak TLS (certificate files, or skip-tls-verify on tcp://). */
  tls: boolean;
  current: boolean;
  /** On the current row: what made it current. */
  current_because?: string;
}

/** The reason as a CLI user sees it: the library's "option" is a flag here. */
function because(source: EndpointSource): string {
  if (source.by !== 'context') return `no context selected; the address comes from ${source.description}`;
  const text = source.description.replace(/^docker context "[^"]*" \((.*)\)$/, '$1');
  return source.from === 'options' ? 'the --context flag' : text;
}

/**
 * The docker CLI's contexts, with the one the connector would use marked, as
 * the same flags, config file and environment choose it. "default" (no
 * context) is listed first, as `docker context ls` does, with the address the
 * connector uses without a context.
 */
export function listContexts(options: Partial<ConnectorConfigInput>, configFile: string | undefined, env: NodeJS.ProcessEnv): ContextRow[] {
  const { config, endpointSource } = loadConfig({ options, configFile, env, onWarning: () => {} });
  const current = endpointSource.by === 'context' ? endpointSource.context : DEFAULT_CONTEXT;
  // Without a context the connector uses its own settings (a discovered socket included); else, as docker context ls shows it, DOCKER_HOST.
  const own = current === DEFAULT_CONTEXT ? resolveEndpoint(config) : undefined;
  const rows: ContextRow[] = [
    {
      name: DEFAULT_CONTEXT,
      description: "no context: DOCKER_HOST or the connector's own settings",
      endpoint: own?.address ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
      tls: own?.address.startsWith('https://') ?? false,
      current: false,
    },
  ];
  for (const ctx of listDockerContexts(env)) {
    const settings = contextSettings(ctx);
    const host = String(settings.host);
    rows.push({
      name: ctx.name,
      description: ctx.description ?? null,
      endpoint: ctx.host,
      tls: host.startsWith('https://') || (host.startsWith('tcp://') && Boolean(ctx.tls.ca || ctx.tls.cert || ctx.tls.key)),
      current: false,
    });
  }
  const row = rows.find((r) => r.name === current);
  if (row) {
    row.current = true;
    row.current_because = because(endpointSource);
  }
  return rows;
}

/** The table printed on a terminal: `*` marks the current context. */
export function contextsTable(rows: ContextRow[]): string {
  const width = Math.max(4, ...rows.map((r) => r.name.length + (r.current ? 2 : 0)));
  const endpointWidth = Math.max(8, ...rows.map((r) => r.endpoint.length));
  const lines = [`${'NAME'.padEnd(width)}  ${'ENDPOINT'.padEnd(endpointWidth)}  TLS`];
  for (const r of rows) lines.push(`${`${r.name}${r.current ? ' *' : ''}`.padEnd(width)}  ${r.endpoint.padEnd(endpointWidth)}  ${r.tls ? 'yes' : 'no'}`);
  const cur = rows.find((r) => r.current);
  if (cur) lines.push('', `current: ${cur.name} (${cur.current_because})`);
  return `${lines.join('\n')}\n`;
}
