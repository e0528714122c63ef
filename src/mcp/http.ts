import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ConnectorError, internalError } from '../errors.js';
import { parseListen } from '../access/listener.js';
import type { AuditLog } from '../access/audit.js';
import { createHostCheck, type HostCheck } from '../access/host-check.js';
import type { KeyStore, Principal } from '../access/policy.js';
import { AuthFailureLimiter, KeyRateLimiter, SharedLimiters } from '../access/throttle.js';
import { openStateStore } from '../state-store.js';
import type { ToolHost } from './server.js';

/**
 * The streamable HTTP transport: POST/GET/DELETE on /mcp. Every request has
 * its Host and Origin checked and is authenticated with the same API keys as
 * the HTTP service (Bearer), before anything else is read; the service's
 * limits apply too (requests per key, failed authentications per client
 * address). A session belongs to the key that opened it; each session has
 * its own SDK server (and so its own dry-run record).
 */

export const MCP_PATH = '/mcp';

export interface McpHttpOptions {
  host: ToolHost;
  /** null = authentication off (only on loopback; checked in McpHttpServer.create). */
  keys: KeyStore | null;
  audit: AuditLog;
  listen: string;
  bodyLimit: number;
  sessionIdleSeconds: number;
  maxSessions: number;
  /** Names besides loopback ones and the listen address that clients use (DNS-rebinding check). */
  allowedHosts: readonly string[];
  /** Requests per minute per API key (0: no limit), and how many at once. */
  rateLimit: number;
  rateLimitBurst: number;
  /** Failed authentications per minute per client address (0: no limit). */
  authFailuresPerMinute: number;
}

interface Session {
  id: string;
  keyId: string | null;
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
}

/** A JSON-RPC error answer outside any session (auth, routing, limits). */
function sendError(res: ServerResponse, status: number, err: ConnectorError, headers: Record<string, string> = {}): void {
  if (status === 429) headers = { ...headers, 'retry-after': String((err.details as { retry_after_seconds?: number } | undefined)?.retry_after_seconds ?? 1) };
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: err.message, data: { code: err.code } }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export class McpHttpServer {
  private readonly http: NodeHttpServer;
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly hostCheck: HostCheck;
  private readonly keyLimiter: KeyRateLimiter;
  private readonly authLimiter: AuthFailureLimiter;
  /** The limits shared by replicas through the state store (state_store), when one is set. */
  private readonly shared: Promise<SharedLimiters> | undefined;
  private closing: Promise<void> | undefined;
  url: string | undefined;

  constructor(private readonly opts: McpHttpOptions) {
    this.hostCheck = createHostCheck({ listenHost: parseListen(opts.listen).host, allowedHosts: opts.allowedHosts });
    this.keyLimiter = new KeyRateLimiter(opts.rateLimit, opts.rateLimitBurst);
    this.authLimiter = new AuthFailureLimiter(opts.authFailuresPerMinute);
    const store = opts.host.stateStore ? openStateStore(opts.host.stateStore) : undefined;
    this.shared = store?.then((s) => SharedLimiters.create(s, { prefix: 'mcp', perMinute: opts.rateLimit, burst: opts.rateLimitBurst, authFailuresPerMinute: opts.authFailuresPerMinute }));
    this.shared?.catch(() => {});
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 500, err instanceof ConnectorError ? err : internalError(err));
        else res.destroy();
      });
    });
    // Idle sessions hold an SDK server each: close them after a while.
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, opts.sessionIdleSeconds * 500)).unref();
  }

  get authRequired(): boolean {
    return this.opts.keys !== null;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async listen(): Promise<string> {
    const { host, port } = parseListen(this.opts.listen);
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${h}:${addr.port}${MCP_PATH}`;
    return this.url;
  }

  /** Closes every session (in-flight calls are cancelled and audited), then the listener. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweeper);
      const stopped = new Promise<void>((resolve) => this.http.close(() => resolve()));
      await Promise.allSettled([...this.sessions.values()].map((s) => s.transport.close()));
      this.sessions.clear();
      await this.opts.host.drain(5000);
      this.http.closeAllConnections();
      await stopped;
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const client = req.socket.remoteAddress ?? null;
    const refused = this.hostCheck(req.headers.host, req.headers.origin);
    if (refused) return sendError(res, 403, refused);

    const path = (req.url ?? '/').split('?')[0];
    if (path !== MCP_PATH) return sendError(res, 404, new ConnectorError('NOT_FOUND', `No route ${req.method} ${path}; the MCP endpoint is ${MCP_PATH}`));

    // Refused callers are audited too: who knocked, from where.
    const refuse = (err: unknown, keyId: string | null): void => {
      const e = err as ConnectorError;
      const status = e.code === 'RATE_LIMITED' ? 429 : 401;
      this.opts.audit.record({ surface: 'mcp', key_id: keyId, client, endpoint: null, operation: null, params: {}, outcome: e.code, status, duration_ms: Math.round((performance.now() - started) * 100) / 100 });
      sendError(res, status, e, status === 401 ? { 'www-authenticate': 'Bearer realm="docker-connector"' } : {});
    };
    const shared = this.shared ? await this.shared : undefined;
    let principal: Principal | undefined;
    if (this.opts.keys) {
      try {
        principal = shared ? await shared.authenticate(this.opts.keys, req.headers.authorization, client) : this.authLimiter.authenticate(this.opts.keys, req.headers.authorization, client);
      } catch (err) {
        return refuse(err, null);
      }
    }
    const keyId = principal?.id ?? null;
    try {
      if (shared) await shared.take(keyId ?? 'anonymous');
      else this.keyLimiter.take(keyId ?? 'anonymous');
    } catch (err) {
      return refuse(err, keyId);
    }

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const s = this.sessions.get(sessionId);
      // Another key's session answers as if it did not exist: ids are not shared capabilities.
      if (!s || s.keyId !== keyId) return sendError(res, 404, new ConnectorError('NOT_FOUND', 'Session not found; start a new one with an initialize request'));
      s.lastSeen = Date.now();
      return s.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return sendError(res, 400, new ConnectorError('INVALID_PARAMS', 'Send the Mcp-Session-Id header, or POST an initialize request to start a session'));
    if (this.sessions.size >= this.opts.maxSessions) {
      this.sweep();
      if (this.sessions.size >= this.opts.maxSessions) {
        return sendError(res, 503, new ConnectorError('UNAVAILABLE', `Too many MCP sessions open (${this.opts.maxSessions}); close one (DELETE ${MCP_PATH}) or retry later`, { retryable: true }));
      }
    }
    await this.open(req, res, keyId, principal, client);
  }

  /** A new session from an initialize request; anything else is answered 400 by the transport and dropped. */
  private async open(req: IncomingMessage, res: ServerResponse, keyId: string | null, principal: Principal | undefined, client: string | null): Promise<void> {
    const server = this.opts.host.createServer({ principal, client });
    let session: Session | undefined;
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      maxRequestBodySize: this.opts.bodyLimit,
      onsessioninitialized: (id) => {
        session = { id, keyId, transport, server, lastSeen: Date.now() };
        this.sessions.set(id, session);
      },
    });
    await server.connect(transport);
    server.onclose = () => {
      if (session) this.sessions.delete(session.id);
    };
    await transport.handleRequest(req, res);
    if (!session) await server.close();
  }

  private sweep(): void {
    const oldest = Date.now() - this.opts.sessionIdleSeconds * 1000;
    for (const s of this.sessions.values()) {
      if (s.lastSeen < oldest) {
        this.sessions.delete(s.id);
        void s.transport.close().catch(() => {});
      }
    }
  }
}
