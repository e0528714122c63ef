import net from 'node:net';
import fc from 'fast-check';
import { ENGINE_ALIASES } from './harness.js';

/**
 * A fault-injecting TCP proxy in front of a real Engine's unix socket. It
 * forwards bytes untouched and, when a request line matches a rule, does the
 * rule's damage to that connection instead. It also records every request
 * line it saw (method, path, times, what it did), the "Engine side" view for
 * tests.
 *
 * A rule, once it matched, stays with its connection: later requests on the
 * same keep-alive connection get the same treatment (every fault but
 * `trickle` ends the connection anyway).
 */
export type FaultAction =
  | 'reset-before-forward' // read the request, forward nothing, reset the connection
  | 'reset-after-forward' // forward the request, then reset before the answer comes back
  | 'reset-mid-response' // forward, pass `afterBytes` of the answer (or `afterBodyBytes` past its headers), then reset
  | 'stall' // forward nothing and answer nothing, keep the connection open
  | 'stall-mid-response' // forward, pass `afterBytes`/`afterBodyBytes` of the answer, then go silent with the connection open
  | 'trickle' // forward, pass the answer back `trickleBytes` at a time every `trickleMs`
  | 'respond-503'; // answer 503 without forwarding

export interface FaultRule {
  match: (method: string, path: string) => boolean;
  action: FaultAction;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Bytes of the answer (headers included) passed before a mid-response fault. Default 1024. */
  afterBytes?: number;
  /** Bytes of the answer's body passed before a mid-response fault (counted after the header block); wins over afterBytes. */
  afterBodyBytes?: number;
  /** For `trickle`: bytes per step (default 1024) and ms between steps (default 50). */
  trickleBytes?: number;
  trickleMs?: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  /** Wall clock (Date.now()) when the request line arrived. */
  at: number;
  /** High-resolution time (performance.now()) when the request line arrived: for rate measurements. */
  hr: number;
  /** Connection number (1, 2, …), to tell keep-alive reuse from new connections. */
  conn: number;
  forwarded: boolean;
  /** The fault applied to this request, if any. */
  fault?: FaultAction;
}

const REQUEST_LINE = /(?:^|\r\n)(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP\/1\.[01]\r\n/g;
const FORWARDING: ReadonlySet<FaultAction> = new Set(['reset-after-forward', 'reset-mid-response', 'stall-mid-response', 'trickle']);

export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  /** Connections accepted so far. */
  connections = 0;
  private rules: (FaultRule & { left: number })[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  private timers = new Set<NodeJS.Timeout>();
  private refusing = false;
  port = 0;

  constructor(private readonly socketPath: string) {
    this.server = net.createServer((client) => this.handle(client));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    ENGINE_ALIASES.set(this.host, `unix://${this.socketPath}`);
    return this.host;
  }

  get host(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  /** Drops the rules and the record of requests seen (open connections are left alone). */
  clear(): void {
    this.rules = [];
    this.seen.length = 0;
  }

  /** Requests the Engine actually received, filtered. */
  forwarded(method?: string, pathPattern?: RegExp): SeenRequest[] {
    return this.seen.filter((r) => r.forwarded && (!method || r.method === method) && (!pathPattern || pathPattern.test(r.path)));
  }

  /**
   * Refuse connections (true): the port stops listening, so a connect gets
   * ECONNREFUSED as from a stopped Engine; false listens again on the same port.
   */
  async refuse(on: boolean): Promise<void> {
    if (on === this.refusing) return;
    this.refusing = on;
    if (on) {
      // close() stops listening at once; its callback would wait for open connections.
      this.server.close();
      return;
    }
    this.server = net.createServer((client) => this.handle(client));
    await this.start();
  }

  /** Resets every open connection (as an Engine crash would). */
  resetAll(): void {
    // Only TCP sockets can be reset; the Engine side is a unix socket.
    for (const s of this.sockets) {
      if (s.destroyed) continue;
      if (s.remotePort !== undefined) s.resetAndDestroy();
      else s.destroy();
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    if (!this.refusing) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.refusing = true;
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(client: net.Socket): void {
    const conn = ++this.connections;
    this.sockets.add(client);
    const upstream = net.connect(this.socketPath);
    this.sockets.add(upstream);
    let action: (FaultRule & { left: number }) | undefined;
    let passedBack = 0;
    // Where the answer's body starts, once the header block went by (for afterBodyBytes).
    let headerSeen = '';
    let bodyStart: number | undefined;
    let silenced = false;
    const kill = () => {
      if (!client.destroyed) client.resetAndDestroy();
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
        const forwarded = !action || FORWARDING.has(action.action);
        this.seen.push({ method, path, at: Date.now(), hr: performance.now(), conn, forwarded, ...(action ? { fault: action.action } : {}) });
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
          this.later(kill, 150);
          return;
        default:
          upstream.write(chunk);
      }
    });

    /** How many more answer bytes may pass before a mid-response fault (Infinity: no limit yet known). */
    const room = (chunk: Buffer): number => {
      if (!action) return Infinity;
      if (action.afterBodyBytes === undefined) return (action.afterBytes ?? 1024) - passedBack;
      if (bodyStart === undefined) {
        const before = headerSeen.length;
        headerSeen += chunk.toString('latin1');
        const end = headerSeen.indexOf('\r\n\r\n');
        if (end < 0) return Infinity;
        bodyStart = end + 4;
        return bodyStart - before + action.afterBodyBytes;
      }
      return bodyStart + action.afterBodyBytes - passedBack;
    };

    const trickle = (data: Buffer) => {
      const step = action?.trickleBytes ?? 1024;
      const every = action?.trickleMs ?? 50;
      upstream.pause();
      const next = (rest: Buffer) => {
        if (client.destroyed) return;
        client.write(rest.subarray(0, step));
        passedBack += Math.min(step, rest.length);
        // Wait after every step, the last one of a chunk too: the next chunk may be small.
        this.later(() => (rest.length > step ? next(rest.subarray(step)) : upstream.resume()), every);
      };
      next(data);
    };

    upstream.on('data', (chunk: Buffer) => {
      if (silenced || action?.action === 'reset-after-forward' || action?.action === 'stall') return;
      if (action?.action === 'trickle') return trickle(chunk);
      if (action?.action === 'reset-mid-response' || action?.action === 'stall-mid-response') {
        const left = room(chunk);
        if (chunk.length >= left) {
          const part = chunk.subarray(0, Math.max(0, left));
          passedBack += part.length;
          if (action.action === 'reset-mid-response') client.write(part, () => kill());
          else {
            client.write(part);
            silenced = true;
          }
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
      if (action?.action === 'stall' || silenced) return done();
      if (action?.action === 'trickle') {
        // Let the queued steps finish first.
        const wait = () => (upstream.isPaused() ? this.later(wait, 20) : client.end());
        wait();
      } else client.end();
      done();
    });
  }
}

/* ---------------------------------------------------------------------------
 * Engine-side checks: which Engine endpoint a request path reaches.
 * Used by the fuzz tests on what the proxy (or a recording socket) saw.
 * ------------------------------------------------------------------------- */

/** The Engine API routes the connector may call, by method, on the path after /v1.xx (raw, still encoded). */
const ROUTES: [method: string, pattern: RegExp, family: string][] = [
  ['GET', /^\/version$/, 'system'],
  ['GET', /^\/info$/, 'system'],
  ['GET', /^\/system\/df$/, 'system'],
  ['GET', /^\/events$/, 'system'],
  ['GET', /^\/containers\/json$/, 'containers'],
  ['POST', /^\/containers\/(create|prune)$/, 'containers'],
  ['GET', /^\/containers\/[^/]+\/(json|top|changes|logs|stats|export|archive)$/, 'containers'],
  ['HEAD', /^\/containers\/[^/]+\/archive$/, 'containers'],
  ['PUT', /^\/containers\/[^/]+\/archive$/, 'containers'],
  ['POST', /^\/containers\/[^/]+\/(exec|kill|start|stop|restart|pause|unpause|rename|wait|update|resize|attach)$/, 'containers'],
  ['DELETE', /^\/containers\/[^/]+$/, 'containers'],
  ['POST', /^\/exec\/[^/]+\/(start|resize)$/, 'exec'],
  ['GET', /^\/exec\/[^/]+\/json$/, 'exec'],
  ['POST', /^\/commit$/, 'commit'],
  ['GET', /^\/images\/(json|search|get)$/, 'images'],
  ['POST', /^\/images\/(create|load|prune)$/, 'images'],
  ['GET', /^\/images\/[^/]+\/(json|history|get)$/, 'images'],
  ['POST', /^\/images\/[^/]+\/(tag|push)$/, 'images'],
  ['DELETE', /^\/images\/[^/]+$/, 'images'],
  ['POST', /^\/build(\/prune)?$/, 'build'],
  ['GET', /^\/networks$/, 'networks'],
  ['POST', /^\/networks\/(create|prune)$/, 'networks'],
  ['GET', /^\/networks\/[^/]+$/, 'networks'],
  ['DELETE', /^\/networks\/[^/]+$/, 'networks'],
  ['POST', /^\/networks\/[^/]+\/(connect|disconnect)$/, 'networks'],
  ['GET', /^\/volumes$/, 'volumes'],
  ['POST', /^\/volumes\/(create|prune)$/, 'volumes'],
  ['GET', /^\/volumes\/[^/]+$/, 'volumes'],
  ['DELETE', /^\/volumes\/[^/]+$/, 'volumes'],
  ['PUT', /^\/volumes\/[^/]+$/, 'volumes'],
  ['POST', /^\/auth$/, 'registry'],
  ['GET', /^\/swarm$/, 'swarm'],
  ['GET', /^\/(nodes|services|tasks|secrets|configs)$/, 'swarm'],
  ['GET', /^\/(nodes|services|tasks|secrets|configs)\/[^/]+$/, 'swarm'],
  ['GET', /^\/services\/[^/]+\/logs$/, 'swarm'],
  ['POST', /^\/(services|secrets|configs)\/create$/, 'swarm'],
  ['POST', /^\/(nodes|services|secrets|configs)\/[^/]+\/update$/, 'swarm'],
  ['DELETE', /^\/(nodes|services|secrets|configs)\/[^/]+$/, 'swarm'],
  ['GET', /^\/distribution\/[^/]+\/json$/, 'registry'],
];

/** Characters a path may carry unencoded: encodeURIComponent's output plus "/" and "%XX". */
const SAFE_PATH = /^(?:[A-Za-z0-9\-_.!~*'()/]|%[0-9A-F]{2})*$/;

export interface RouteCheck {
  /** "GET /containers/{id}/json"-style name of the route, when the path is one the Engine serves. */
  route?: string;
  family?: string;
  /** What is wrong with the request line, if anything. */
  problems: string[];
}

/**
 * Checks one request line the way the Engine will read it: the path must be
 * versioned (or /_ping), made only of encoded characters, free of "." and
 * ".." segments once decoded (what the Engine's router sees), and name a
 * known route.
 */
export function checkRoute(method: string, url: string): RouteCheck {
  const problems: string[] = [];
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  if (raw === '/_ping') return { route: `${method} /_ping`, family: 'ping', problems: method === 'GET' || method === 'HEAD' ? [] : [`${method} /_ping`] };
  const m = /^\/v1\.\d{2}(\/.*)$/.exec(raw);
  if (!m) return { problems: [`unversioned path ${raw}`] };
  const path = m[1]!;
  if (!SAFE_PATH.test(path)) problems.push(`unencoded characters in the path ${JSON.stringify(path)}`);
  if (/#/.test(url)) problems.push('a "#" in the request target');
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    problems.push(`the path does not decode: ${path}`);
  }
  if (decoded.split('/').some((s) => s === '.' || s === '..')) problems.push(`"." or ".." segment once decoded: ${JSON.stringify(decoded)}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) problems.push(`control characters once decoded: ${JSON.stringify(decoded)}`);
  const hit = ROUTES.find(([meth, re]) => meth === method && re.test(path));
  if (!hit) return { problems: [...problems, `no Engine route ${method} ${path}`] };
  // Name the route by its pattern: literal segments kept, the object reference as {id}.
  const template = hit[1].source.includes('[^/]+') ? path.replace(/^(\/[a-z]+\/)[^/]+/, '$1{id}') : path;
  return { route: `${method} ${template}`, family: hit[2], problems };
}

/** The route families an operation may reach: its own resource, plus what it reads to do its job. */
export function familiesOf(op: { name: string; category: string }): Set<string> {
  const byCategory: Record<string, string[]> = {
    system: ['system'],
    containers: ['containers', 'exec', 'commit'],
    images: ['images', 'build', 'containers', 'registry'],
    networks: ['networks', 'containers'],
    volumes: ['volumes', 'containers'],
    swarm: ['swarm'],
  };
  const extra: Record<string, string[]> = {
    // Containment moves containers between networks and prunes across families.
    isolate_container: ['networks'],
    restore_container: ['networks'],
    system_prune: ['containers', 'images', 'build', 'networks', 'volumes', 'system'],
    // A bundle holds the container's image and networks too, and the Engine's identity.
    collect_evidence: ['images', 'networks', 'system'],
    // A hunt by image resolves the reference (or lists images for a bare digest) first.
    find_containers: ['images'],
    // resolve_image pins the image's digest as the docker CLI does: GET /distribution.
    create_service: ['registry'],
    update_service: ['registry'],
  };
  return new Set(['ping', ...(byCategory[op.category] ?? []), ...(extra[op.name] ?? [])]);
}

/* ---------------------------------------------------------------------------
 * Parameter values for fuzzing, generated from an operation's JSON Schema
 * (src/manifest.ts parameterSchema), plus hostile variants of them.
 * ------------------------------------------------------------------------- */

type Schema = Record<string, unknown> | boolean;

/** Known-good values for common parameter names, so generated inputs also reach deep code paths. */
const GOOD_VALUES: Record<string, unknown[]> = {
  container: ['web', 'a1b2c3d4e5f6'],
  image: ['busybox:latest', 'registry.local:5000/team/app:1.0', 'sha256:' + 'a'.repeat(64)],
  images: [['busybox:latest']],
  network: ['net1', 'bridge'],
  volume: ['vol1'],
  command: [['true'], 'echo hi'],
  repo: ['app', 'registry.local:5000/team/app'],
  tag: ['v1', 'latest'],
  name: ['thing-1'],
  exec_id: ['e'.repeat(64)],
  since: ['10m'],
  until: ['1m'],
  path: ['/etc', 'out.tar', 'file.tar'],
  dest: ['out', '.'],
  src: ['ctx', 'file.tar'],
  context: ['ctx'],
  context_tar: ['file.tar'],
  dockerfile: ['FROM busybox\n'],
  memory: ['512m', 1_048_576],
  cpus: [0.5, '1'],
  restart_policy: ['always', 'on-failure:3'],
  ports: [['8080:80'], { '80/tcp': 8080 }],
  env: [{ MODE: 'prod' }, ['A=1']],
  labels: [{ team: 'a' }, ['x=y']],
  tags: [['app:1.0']],
  driver: ['bridge', 'local'],
  filters: [{ label: ['a=b'] }, { dangling: ['true'] }],
  // Planted secrets: they may go in headers, never in a URL.
  password: ['PLANTED-param-password-1f2e'],
  identitytoken: ['PLANTED-param-idtoken-3d4c'],
};

/** Marks the planted secrets above (and any a test plants with the same prefix). */
export const PLANTED = 'PLANTED-';

/** Strings that try to change the endpoint, break the request line or exhaust memory. */
export const HOSTILE_STRINGS: string[] = [
  '',
  '.',
  '..',
  '/',
  '../../../../etc/passwd',
  'a/../../containers/create',
  '..%2F..%2Fcontainers%2Fcreate',
  '%2e%2e',
  'x?force=true',
  'x#frag',
  'x%00y',
  'a\nb',
  'a\r\nHost: evil\r\n\r\n',
  'x\u0000y',
  'x y',
  '/containers/create',
  '/v1.41/containers/json',
  'name/../json',
  '☃.☃',
  '\\..\\..\\windows',
  '-rf',
  'a'.repeat(100_000),
  '/'.repeat(5000),
  '../'.repeat(2000),
  '%'.repeat(1000),
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom('..', '.', '/', '%2e', '%2F', '?', '#', '&', '=', '\n', '\0', '%', 'a', 'x y', '\\'), { maxLength: 12 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

const anyJson = (depth: number): fc.Arbitrary<unknown> =>
  depth > 2
    ? fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null))
    : fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(anyJson(depth + 1), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 6 }), anyJson(depth + 1), { maxKeys: 3 }));

function patternArbitrary(pattern: string, min: number, max: number): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(new RegExp(pattern)).filter((s) => s.length >= min && s.length <= max);
  } catch {
    return fc.string({ minLength: min, maxLength: Math.min(max, 40) });
  }
}

/** An arbitrary of values that follow `schema` as far as JSON Schema says (refinements are not in it). */
export function arbitraryFromSchema(schema: Schema, depth = 0, key?: string): fc.Arbitrary<unknown> {
  if (schema === true || schema === false) return anyJson(depth);
  const s = schema;
  const good = key !== undefined ? GOOD_VALUES[key] : undefined;
  const derived = derive(s, depth);
  return good ? fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...good) }, { weight: 2, arbitrary: derived }) : derived;
}

function derive(s: Record<string, unknown>, depth: number): fc.Arbitrary<unknown> {
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alternatives?.length) return fc.oneof(...alternatives.map((a) => arbitraryFromSchema(a, depth)));
  if (Array.isArray(s.allOf) && s.allOf.length) return arbitraryFromSchema(s.allOf[0] as Schema, depth);
  if (Array.isArray(s.type)) return fc.oneof(...(s.type as string[]).map((t) => derive({ ...s, type: t }, depth)));
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  switch (s.type) {
    case 'string': {
      const min = num(s.minLength) ?? 0;
      const max = Math.min(num(s.maxLength) ?? 64, 64);
      if (typeof s.pattern === 'string') return patternArbitrary(s.pattern, min, num(s.maxLength) ?? 10_000);
      return fc.string({ minLength: Math.min(min, max), maxLength: Math.max(max, min) });
    }
    case 'integer':
    case 'number': {
      const lo = num(s.minimum) ?? (num(s.exclusiveMinimum) !== undefined ? num(s.exclusiveMinimum)! + 1 : -1_000_000);
      const hi = Math.min(num(s.maximum) ?? 1_000_000, Math.max(lo, 0) + 1_000_000);
      if (s.type === 'integer') return fc.integer({ min: Math.ceil(Math.max(lo, -(2 ** 31))), max: Math.floor(Math.max(hi, lo)) });
      return fc.double({ min: lo, max: Math.max(hi, lo), noNaN: true, noDefaultInfinity: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const min = num(s.minItems) ?? 0;
      const max = Math.max(min, Math.min(num(s.maxItems) ?? 3, 3));
      return fc.array(s.items ? arbitraryFromSchema(s.items as Schema, depth + 1) : anyJson(depth + 1), { minLength: min, maxLength: max });
    }
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const required = (s.required ?? []) as string[];
      if (Object.keys(props).length || s.additionalProperties === false) {
        const model = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, arbitraryFromSchema(v, depth + 1, k)]));
        const optional = Object.keys(props).filter((k) => !required.includes(k));
        // Required keys plus a few optional ones: all of them at once rarely make a valid combination.
        return fc
          .tuple(fc.record(model), fc.subarray(optional, { maxLength: Math.min(optional.length, depth === 0 ? 3 : 2) }))
          .map(([all, keep]) => Object.fromEntries(Object.entries(all).filter(([k]) => required.includes(k) || keep.includes(k))));
      }
      if (depth > 3) return fc.constant({});
      const keys = s.propertyNames ? (arbitraryFromSchema(s.propertyNames as Schema, depth + 1) as fc.Arbitrary<string>) : fc.string({ minLength: 1, maxLength: 8 });
      const values = s.additionalProperties && typeof s.additionalProperties === 'object' ? arbitraryFromSchema(s.additionalProperties as Schema, depth + 1) : anyJson(depth + 1);
      return fc.dictionary(keys.filter((k) => typeof k === 'string'), values, { maxKeys: 3 });
    }
    default:
      return anyJson(depth);
  }
}

/** Every string leaf of a value, with the path to it. */
function stringLeaves(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value === 'string') return [path];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, [...path, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
  return [];
}

function setAt(value: unknown, path: (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? setAt(v, rest, leaf) : v));
  return { ...(value as Record<string, unknown>), [head!]: setAt((value as Record<string, unknown>)[head!], rest, leaf) };
}

const wrongTypes: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 2 }),
  fc.constant({ $gt: '' }),
  fc.constant('1e309'),
);

/**
 * Malformed parameters for an operation: valid ones with one thing broken
 * (a hostile string anywhere, a wrong type, an unknown key, a required key
 * missing), or no object at all.
 */
export function hostileParams(schema: Schema): fc.Arbitrary<unknown> {
  const valid = arbitraryFromSchema(schema) as fc.Arbitrary<Record<string, unknown>>;
  const required = typeof schema === 'object' ? ((schema.required ?? []) as string[]) : [];
  const props = typeof schema === 'object' ? Object.keys((schema.properties ?? {}) as object) : [];
  return fc.oneof(
    { weight: 5, arbitrary: fc.tuple(valid, fc.nat(), hostileString).map(([v, i, h]) => {
      const leaves = stringLeaves(v);
      if (leaves.length === 0) return props.length ? { ...v, [props[i % props.length]!]: h } : v;
      return setAt(v, leaves[i % leaves.length]!, h);
    }) },
    { weight: 2, arbitrary: fc.tuple(valid, fc.nat(), wrongTypes).map(([v, i, w]) => (props.length ? { ...v, [props[i % props.length]!]: w } : { ...v, x: w })) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.constantFrom('__proto__', 'constructor', 'unknown_param', 'Image', 'path', 'x'), anyJson(1)).map(([v, k, w]) => JSON.parse(JSON.stringify({ ...v, [k]: w })) as unknown) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.nat()).map(([v, i]) => {
      if (!required.length) return v;
      const copy = { ...v };
      delete copy[required[i % required.length]!];
      return copy;
    }) },
    { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.constant([]), fc.string({ maxLength: 8 }), fc.integer(), fc.constant(JSON.parse('{"__proto__": {"polluted": true}}') as unknown)) },
  );
}
