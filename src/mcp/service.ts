import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { DockerConnector } from '../connector.js';
import { ConnectorError } from '../errors.js';
import { listenerKeys, parseListen } from '../access/listener.js';
import { createAuditLog, type AuditLog } from '../access/audit.js';
import { Policy } from '../access/policy.js';
import { McpHttpServer } from './http.js';
import { ToolHost } from './server.js';
import { parseMcpSettings, type McpFlagOverrides, type McpSettings } from './settings.js';
import { listTools } from './tools.js';

/** Settings given on the command line, over the config file's sections. */
export interface McpOverrides extends McpFlagOverrides {
  /** host:port: serve streamable HTTP there instead of stdio. */
  listen?: string;
  /** HTTP without API keys; refused unless listening on loopback. */
  no_auth?: boolean;
  audit_log?: string;
}

export interface CreateMcpOptions {
  /** The connector built from flags, environment and config file; its surfaceConfig supplies mcp, api_keys, read_only/allow/deny, audit_log. */
  base: DockerConnector;
  /** Overrides base.surfaceConfig (tests). */
  surface?: Record<string, unknown>;
  /** Where DOCKER_CONNECTOR_API_KEYS is read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  overrides?: McpOverrides;
}

/** How long a stopping server waits for calls still running before it closes the audit log. */
const DRAIN_MS = 5000;

/**
 * The MCP server assembled from configuration: stdio (default) or
 * streamable HTTP (with `listen`), the safety level from the flags, the
 * shared policy, API keys (HTTP) and the audit log.
 */
export class McpService {
  readonly transport: 'stdio' | 'http';
  readonly settings: McpSettings;
  readonly host: ToolHost;
  readonly audit: AuditLog;
  readonly http: McpHttpServer | undefined;
  private stdioServer: import('@modelcontextprotocol/sdk/server/index.js').Server | undefined;
  private closing: Promise<void> | undefined;

  private constructor(init: { transport: 'stdio' | 'http'; settings: McpSettings; host: ToolHost; audit: AuditLog; http?: McpHttpServer }) {
    this.transport = init.transport;
    this.settings = init.settings;
    this.host = init.host;
    this.audit = init.audit;
    this.http = init.http;
  }

  static create(opts: CreateMcpOptions): McpService {
    const surface = opts.surface ?? opts.base.surfaceConfig;
    const o = opts.overrides ?? {};
    const transport = o.listen !== undefined ? 'http' : 'stdio';
    const settings = parseMcpSettings(surface.mcp, {
      allow_write: o.allow_write,
      allow_destructive: o.allow_destructive,
      confirm_destructive: o.confirm_destructive,
      max_output_bytes: o.max_output_bytes,
      local_files: o.local_files,
      allowed_hosts: o.allowed_hosts,
    });
    if (o.no_auth && transport === 'stdio') {
      throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: --no-auth applies to the HTTP transport only (with --listen); the stdio transport has no API keys');
    }

    const keys =
      transport === 'http'
        ? listenerKeys({ noAuth: o.no_auth, host: parseListen(o.listen!).host, apiKeys: surface.api_keys, env: opts.env ?? process.env, who: 'the MCP server over HTTP' })
        : null;

    // A local stdio server acts for the user who started it; over HTTP, files on this host are off unless asked for.
    const localFiles = settings.local_files ?? transport === 'stdio';
    const policy = Policy.fromSurface(surface, {}, { localFiles, guardrails: opts.base.config.guardrails });

    const auditSetting = o.audit_log ?? surface.audit_log ?? (transport === 'stdio' ? 'stderr' : 'stdout');
    if (transport === 'stdio' && auditSetting === 'stdout') {
      throw new ConnectorError('INVALID_CONFIG', 'Invalid configuration: audit_log "stdout" cannot be used with the stdio transport, whose stdout carries the MCP protocol; use stderr, off or a file path (--audit-log)');
    }
    const audit = createAuditLog(auditSetting);
    try {
      const host = new ToolHost({ connector: opts.base, policy, audit, settings });
      const http =
        transport === 'http'
          ? new McpHttpServer({
              host,
              keys,
              audit,
              listen: o.listen!,
              bodyLimit: settings.body_limit,
              sessionIdleSeconds: settings.session_idle_timeout,
              maxSessions: settings.max_sessions,
              allowedHosts: settings.allowed_hosts,
              rateLimit: settings.rate_limit,
              rateLimitBurst: settings.rate_limit_burst,
              authFailuresPerMinute: settings.auth_failures_per_minute,
            })
          : undefined;
      return new McpService({ transport, settings, host, audit, http });
    } catch (err) {
      void audit.close();
      throw err;
    }
  }

  /** Names of the tools a caller with every scope would see (status lines, tests). */
  toolNames(): string[] {
    return listTools(this.host.gate, undefined).map((t) => t.name);
  }

  /** HTTP: starts listening; resolves with the endpoint URL (…/mcp). */
  async listen(): Promise<string> {
    if (!this.http) throw new ConnectorError('INVALID_CONFIG', 'This MCP server uses stdio; give --listen for HTTP');
    return this.http.listen();
  }

  /**
   * stdio: serves one session on the given streams. Resolves when the
   * client closes its end (stdin ends) or `stop` resolves.
   */
  async serveStdio(stdin: NodeJS.ReadableStream = process.stdin, stdout: NodeJS.WritableStream = process.stdout, stop?: Promise<unknown>): Promise<void> {
    const server = this.host.createServer({ client: 'stdio' });
    this.stdioServer = server;
    const closed = new Promise<void>((resolve) => {
      server.onclose = () => resolve();
    });
    await server.connect(new StdioServerTransport(stdin as NodeJS.ReadStream, stdout as NodeJS.WriteStream));
    // The SDK transport does not watch for the end of input: a client that exits must end the server.
    const ended = new Promise<void>((resolve) => {
      stdin.once('end', resolve);
      stdin.once('close', resolve);
    });
    const stopped = stop?.then(() => 'stop' as const);
    const why = await Promise.race([closed.then(() => 'closed' as const), ended.then(() => 'ended' as const), ...(stopped ? [stopped] : [])]);
    // Input ended (e.g. requests piped in): answer what was asked before stopping, unless told to stop now.
    if (why === 'ended') await Promise.race([this.host.drain(), ...(stopped ? [stopped] : [])]);
  }

  /** Stops: closes sessions (calls still running are cancelled), waits for their audit lines, closes the log. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (this.http) await this.http.close();
        if (this.stdioServer) {
          await this.stdioServer.close();
          await this.host.drain(DRAIN_MS);
        }
      } finally {
        await this.audit.close();
      }
    })();
    return this.closing;
  }
}
