import net from 'node:net';

/**
 * A fault-injecting TCP proxy in front of a real Engine's unix socket. It
 * forwards bytes untouched and, when a request line matches a rule, does the
 * rule's damage to that connection instead. It also records every request
 * line it forwarded (method, path, time), the "Engine side" view for tests.
 */
export type FaultAction =
  | 'reset-before-forward' // read the request, forward nothing, reset the connection
  | 'reset-after-forward' // forward the request, then reset before the answer comes back
  | 'reset-mid-response' // forward, pass `afterBytes` of the answer, then reset
  | 'stall' // forward nothing and answer nothing, keep the connection open
  | 'respond-503'; // answer 503 without forwarding

export interface FaultRule {
  match: (method: string, path: string) => boolean;
  action: FaultAction;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  afterBytes?: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  at: number;
  forwarded: boolean;
}

const REQUEST_LINE = /(?:^|\r\n)(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP\/1\.[01]\r\n/g;

export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  private rules: (FaultRule & { left: number })[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly socketPath: string) {
    this.server = net.createServer((client) => this.handle(client));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `tcp://127.0.0.1:${this.port}`;
  }

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
    this.seen.length = 0;
  }

  /** Requests the Engine actually received, filtered. */
  forwarded(method?: string, pathPattern?: RegExp): SeenRequest[] {
    return this.seen.filter((r) => r.forwarded && (!method || r.method === method) && (!pathPattern || pathPattern.test(r.path)));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(client: net.Socket): void {
    this.sockets.add(client);
    const upstream = net.connect(this.socketPath);
    this.sockets.add(upstream);
    let action: (FaultRule & { left: number }) | undefined;
    let passedBack = 0;
    const kill = () => {
      client.resetAndDestroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (action?.action === 'stall') return;
      const text = chunk.toString('latin1');
      for (const m of text.matchAll(REQUEST_LINE)) {
        const method = m[1]!;
        const path = m[2]!;
        const rule = this.rules.find((r) => r.left > 0 && r.match(method, path));
        if (rule) {
          rule.left--;
          action = rule;
        }
        const forwarded = !rule || rule.action === 'reset-after-forward' || rule.action === 'reset-mid-response';
        this.seen.push({ method, path, at: Date.now(), forwarded });
      }
      switch (action?.action) {
        case 'reset-before-forward':
          return kill();
        case 'stall':
          return;
        case 'respond-503':
          client.end('HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\nengine unavailable\n');
          upstream.destroy();
          return;
        case 'reset-after-forward':
          upstream.write(chunk);
          // Give the Engine the request, then cut the caller off before any answer.
          setTimeout(kill, 150);
          return;
        default:
          upstream.write(chunk);
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (action?.action === 'reset-after-forward' || action?.action === 'stall') return;
      if (action?.action === 'reset-mid-response') {
        const room = (action.afterBytes ?? 1024) - passedBack;
        if (chunk.length >= room) {
          client.write(chunk.subarray(0, Math.max(0, room)), () => kill());
          passedBack += room;
          return;
        }
      }
      passedBack += chunk.length;
      client.write(chunk);
    });
    const done = () => {
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      upstream.end();
      done();
    });
    upstream.on('close', () => {
      if (action?.action !== 'stall') client.end();
      done();
    });
  }
}
