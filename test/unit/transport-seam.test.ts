import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { ConnectorConfigInput } from '../../src/config/schema.js';
import { dialerFor } from '../../src/engine/connect.js';
import { resolveEndpoint } from '../../src/engine/endpoint.js';

/** The transport seam (src/engine/connect.ts): one dialer per endpoint, used by every way of sending. */

function dialer(options: Partial<ConnectorConfigInput>) {
  const { config } = loadConfig({ options, env: {} });
  return dialerFor(resolveEndpoint(config), config);
}

/** An HTTP server answering with the request's path and Host header, and counting connections. */
function echoServer(): http.Server & { connections: number } {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, host: req.headers.host }));
  }) as http.Server & { connections: number };
  server.connections = 0;
  server.on('connection', () => server.connections++);
  return server;
}

function get(options: http.RequestOptions): Promise<{ path: string; host: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as { path: string; host: string }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dialerFor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dc-seam-'));
  const socketPath = join(dir, 'engine.sock');
  const unixServer = echoServer();
  const tcpServer = echoServer();
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((r) => unixServer.listen(socketPath, r));
    await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
    port = (tcpServer.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => unixServer.close(r));
    await new Promise((r) => tcpServer.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes each kind of endpoint: address, Host header, undici origin, TLS', () => {
    const unix = dialer({ host: `unix://${socketPath}` });
    expect(unix.description).toEqual({ address: `unix://${socketPath}`, kind: 'unix', tls: false });
    expect(unix.hostHeader).toBe('docker');
    expect(unix.origin).toBe('http://docker');
    expect(unix.tls).toBeUndefined();

    const plain = dialer({ host: 'tcp://engine.example:2375' });
    expect(plain.description).toEqual({ address: 'http://engine.example:2375', kind: 'tcp', tls: false });
    expect(plain.hostHeader).toBe('engine.example:2375');
    expect(plain.origin).toBe('http://engine.example:2375');

    const secure = dialer({ host: 'https://engine.example:2376', verify_ssl: false });
    expect(secure.description).toEqual({ address: 'https://engine.example:2376', kind: 'tcp', tls: true });
    expect(secure.origin).toBe('https://engine.example:2376');
    expect(secure.tls).toMatchObject({ servername: 'engine.example', rejectUnauthorized: false });
    // An IP address is never sent as a server name; a configured one wins.
    expect(dialer({ host: 'https://10.1.2.3:2376' }).tls?.servername).toBe('');
    expect(dialer({ host: 'https://10.1.2.3:2376', tls_server_name: 'engine.internal' }).tls?.servername).toBe('engine.internal');
    expect(dialer({ host: 'https://[::1]:2376' }).origin).toBe('https://[::1]:2376');
  });

  it.each([
    ['unix', () => `unix://${socketPath}`],
    ['tcp', () => `tcp://127.0.0.1:${port}`],
  ])('%s: the keep-alive agent reaches the endpoint whatever host the request names, and reuses its connection', async (_kind, host) => {
    const d = dialer({ host: host() });
    const server = host().startsWith('unix') ? unixServer : tcpServer;
    const before = server.connections;
    const agent = d.agent({ keepAlive: true, maxSockets: 4 });
    try {
      const first = await get({ agent, path: '/v1.51/_ping', headers: { host: d.hostHeader } });
      const second = await get({ agent, path: '/v1.51/info', headers: { host: d.hostHeader } });
      expect(first).toEqual({ path: '/v1.51/_ping', host: d.hostHeader });
      expect(second.path).toBe('/v1.51/info');
      expect(server.connections - before).toBe(1);
      // The request's own host and port only key the agent's pool: the dialer decides where to connect.
      const elsewhere = await get({ agent, path: '/v1.51/version', host: 'elsewhere.invalid', port: 9, headers: { host: d.hostHeader } });
      expect(elsewhere.path).toBe('/v1.51/version');
    } finally {
      agent.destroy();
    }
  });

  it('createConnection (a request outside any pool) ignores the request path node:http hands it', async () => {
    const d = dialer({ host: `unix://${socketPath}` });
    const answer = await get({ createConnection: d.createConnection as unknown as http.RequestOptions['createConnection'], path: '/v1.41/exec/x/start', headers: { host: d.hostHeader } });
    expect(answer).toEqual({ path: '/v1.41/exec/x/start', host: 'docker' });
  });

  it("undiciConnect calls back with a connected socket, or the connect error", async () => {
    const d = dialer({ host: `tcp://127.0.0.1:${port}` });
    const connect = d.undiciConnect({ timeoutMs: 5000 });
    const socket = await new Promise<net.Socket>((resolve, reject) => connect({}, (err, s) => (err ? reject(err) : resolve(s!))));
    expect(socket.connecting).toBe(false);
    expect(socket.remotePort).toBe(port);
    socket.destroy();

    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = dialer({ host: `tcp://127.0.0.1:${closedPort}` }).undiciConnect({ timeoutMs: 5000 });
    const err = await new Promise<Error | null>((resolve) => refused({}, (e) => resolve(e)));
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});

describe('the seam is the only place that knows endpoint kinds', () => {
  const src = join(__dirname, '../../src');
  const files = (function walk(d: string): string[] {
    return readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
    });
  })(src);
  const allowed = new Set(['engine/connect.ts', 'engine/endpoint.ts']);

  it('no other source file branches on an endpoint kind or reads its socket path or TLS flag', () => {
    const offenders: string[] = [];
    for (const file of files) {
      const rel = relative(src, file);
      if (allowed.has(rel)) continue;
      const text = readFileSync(file, 'utf8');
      if (/kind\s*[!=]==?\s*'(unix|tcp)'|'(unix|tcp)'\s*[!=]==?\s*\w*\.?kind|\.socketPath\b|\b(ep|endpoint)\.(tls|hostname|port)\b/.test(text)) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });
});
