/**
 * Pure helpers that turn the friendly container parameters (the ones a
 * person types: "512m", 0.5 CPUs, "8080:80/tcp", "vol:/data:ro",
 * "on-failure:3") into the Engine's create/update shapes. Each parser
 * throws a ParamError whose message says what was expected; the operation
 * schemas turn that into INVALID_PARAMS naming the parameter, so nothing
 * reaches the Engine.
 */
import { isIP } from 'node:net';

export class ParamError extends Error {
  override name = 'ParamError';
}

function fail(message: string): never {
  throw new ParamError(message);
}

/* ---------------- sizes and CPUs ---------------- */

// Binary multiples, as `docker run --memory` reads them: "512m" = 512 MiB.
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i;

/**
 * Bytes from a number of bytes or a size like "512m", "1.5g", "64MiB", "100kb".
 * Fractions of a byte are dropped. `allowUnlimited` accepts -1 (memory_swap).
 */
export function parseSize(value: number | string, allowUnlimited = false): number {
  if (typeof value === 'number') {
    if (allowUnlimited && value === -1) return -1;
    if (!Number.isInteger(value) || value < 0) fail(`expected a whole number of bytes${allowUnlimited ? ' (or -1 for unlimited)' : ''} or a size like "512m"`);
    return value;
  }
  const s = value.trim();
  if (allowUnlimited && s === '-1') return -1;
  const m = SIZE_PATTERN.exec(s);
  if (!m) fail(`expected a size like "512m", "1.5g" or "64MiB" (units b, k, m, g, t), got "${value}"`);
  const unit = (m[2] ?? '').toLowerCase();
  // "k", "kb" and "kib" all mean KiB; a bare "b" is bytes.
  const bytes = Math.floor(Number(m[1]) * (SIZE_UNITS[unit] ?? 1));
  if (!Number.isSafeInteger(bytes)) fail(`size "${value}" is too large`);
  return bytes;
}

/** NanoCpus from a CPU count (0.5 = half a CPU). */
export function parseCpus(value: number | string): number {
  const n = typeof value === 'number' ? value : /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) fail(`expected a positive number of CPUs like 0.5 or 2, got ${JSON.stringify(value)}`);
  if (n > 4096) fail('expected at most 4096 CPUs');
  const nano = Math.round(n * 1e9);
  if (nano < 1e7) fail('expected at least 0.01 CPUs');
  return nano;
}

/* ---------------- command lines ---------------- */

/** Characters a shell would interpret; outside quotes they would silently mean something else here. */
const SHELL_SYNTAX = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '\n']);

/**
 * Splits a command string into argv the way a shell does for simple cases:
 * whitespace separates words, '…' and "…" group them, a backslash escapes
 * the next character (not inside '…'). Anything that needs a real shell
 * (pipes, redirections, variables, globs, `;`, `&&`) is refused rather than
 * passed on literally: the caller should pass ["sh", "-c", "…"] instead.
 */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  const shellHint = (c: string) =>
    fail(`contains shell syntax (${c === '\n' ? 'a newline' : c}) that is not run through a shell; pass an array such as ["sh", "-c", ${JSON.stringify(command)}] to use a shell`);
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '$' || c === '`') shellHint(c);
      else if (c === '\\' && i + 1 < command.length && '"\\$`'.includes(command[i + 1]!)) word += command[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= command.length) fail('ends with a lone backslash');
      word += command[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (SHELL_SYNTAX.has(c) || (c === '#' && !inWord)) {
      shellHint(c);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) fail(`has an unterminated ${quote} quote`);
  if (inWord) words.push(word);
  if (words.length === 0) fail('is empty');
  return words;
}

/** A command given as a string or an argv array → argv. */
export function toArgv(value: string | string[]): string[] {
  return typeof value === 'string' ? splitCommand(value) : value;
}

/* ---------------- environment and labels ---------------- */

const ENV_NAME = /^[^=\0]+$/;

/** {"KEY": "v"} or ["KEY=v"] → ["KEY=v"]. */
export function parseEnv(value: Record<string, string | number | boolean> | string[]): string[] {
  if (Array.isArray(value)) {
    return value.map((entry, i) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) fail(`entry ${i} ("${entry}") is not KEY=value`);
      return entry;
    });
  }
  return Object.entries(value).map(([k, v]) => {
    if (!ENV_NAME.test(k)) fail(`variable name "${k}" must be non-empty and contain no "="`);
    return `${k}=${String(v)}`;
  });
}

/** {"k": "v"} or ["k=v", "flag"] → {"k": "v", "flag": ""}. */
export function parseLabels(value: Record<string, string> | string[]): Record<string, string> {
  if (!Array.isArray(value)) {
    for (const k of Object.keys(value)) if (k === '') fail('label keys must not be empty');
    return { ...value };
  }
  const out: Record<string, string> = {};
  value.forEach((entry, i) => {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key === '') fail(`entry ${i} ("${entry}") has no label key`);
    out[key] = eq < 0 ? '' : entry.slice(eq + 1);
  });
  return out;
}

/* ---------------- ports ---------------- */

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface PortConfig {
  ExposedPorts: Record<string, Record<string, never>>;
  PortBindings: Record<string, PortBinding[]>;
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** "80" or "8000-8010" → [first, last]; throws on anything else. */
function portRange(text: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) fail(`${what} "${text}" is not a port number or range`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (a < 1 || b > 65535 || a > b) fail(`${what} "${text}" is out of range (1-65535, low-high)`);
  return [a, b];
}

/**
 * One publish spec, as `docker run -p` takes it:
 * [host_ip:][host_port:]container_port[/protocol], ranges allowed
 * ("8000-8001:80-81"), IPv6 host addresses in brackets ("[::1]:8080:80").
 * A container port alone publishes it on a random host port.
 */
export function parsePortSpec(spec: string): { port: string; binding: PortBinding }[] {
  let rest = spec.trim();
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = rest.slice(slash + 1).toLowerCase();
    if (!PROTOCOLS.has(protocol)) fail(`"${spec}": protocol must be tcp, udp or sctp`);
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') fail(`"${spec}": expected [ipv6]:host_port:container_port`);
    hostIp = rest.slice(1, close);
    if (isIP(hostIp) !== 6) fail(`"${spec}": "${hostIp}" is not an IPv6 address`);
    rest = rest.slice(close + 2);
    if (rest.split(':').length !== 2) fail(`"${spec}": expected [ipv6]:host_port:container_port`);
  }
  const parts = rest.split(':');
  let hostPort = '';
  let containerPort: string;
  if (parts.length === 1) {
    containerPort = parts[0]!;
  } else if (parts.length === 2) {
    [hostPort, containerPort] = parts as [string, string];
  } else if (parts.length === 3 && !hostIp) {
    [hostIp, hostPort, containerPort] = parts as [string, string, string];
    if (isIP(hostIp) !== 4) fail(`"${spec}": "${hostIp}" is not an IPv4 address (write IPv6 addresses in brackets)`);
  } else {
    fail(`"${spec}": expected [host_ip:][host_port:]container_port[/protocol] (IPv6 addresses in brackets)`);
  }
  const [c0, c1] = portRange(containerPort, `"${spec}": container port`);
  const count = c1 - c0 + 1;
  if (hostPort === '') {
    return range(c0, c1).map((p) => ({ port: `${p}/${protocol}`, binding: { HostIp: hostIp, HostPort: '' } }));
  }
  const [h0, h1] = portRange(hostPort, `"${spec}": host port`);
  if (count === 1) {
    // A host range for one container port lets the Engine pick a free one in it.
    return [{ port: `${c0}/${protocol}`, binding: { HostIp: hostIp, HostPort: h0 === h1 ? String(h0) : `${h0}-${h1}` } }];
  }
  if (h1 - h0 + 1 !== count) fail(`"${spec}": host and container port ranges differ in size`);
  return range(c0, c1).map((p, i) => ({ port: `${p}/${protocol}`, binding: { HostIp: hostIp, HostPort: String(h0 + i) } }));
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export type PortsInput = string[] | Record<string, number | string | null | (number | string)[]>;

/**
 * A list of publish specs (["8080:80", "127.0.0.1:5353:53/udp"]) or an
 * object keyed by container port ({"80/tcp": 8080, "53/udp": "127.0.0.1:5353",
 * "9000": null}: null = a random host port; an array publishes on several).
 */
export function parsePorts(value: PortsInput): PortConfig {
  const specs: string[] = [];
  if (Array.isArray(value)) {
    specs.push(...value);
  } else {
    for (const [containerPort, host] of Object.entries(value)) {
      if (containerPort.includes(':')) fail(`key "${containerPort}" must be a container port like "80" or "80/tcp"`);
      const hosts = Array.isArray(host) ? host : [host];
      for (const h of hosts) specs.push(h === null || h === '' ? containerPort : `${h}:${containerPort}`);
    }
  }
  const out: PortConfig = { ExposedPorts: {}, PortBindings: {} };
  for (const spec of specs) {
    for (const { port, binding } of parsePortSpec(spec)) {
      out.ExposedPorts[port] = {};
      (out.PortBindings[port] ??= []).push(binding);
    }
  }
  return out;
}

/* ---------------- volumes ---------------- */

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MOUNT_OPTIONS = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'consistent', 'cached', 'delegated']);

/**
 * Volume specs as `docker run -v` takes them: "name:/data", "/host/dir:/data:ro",
 * or "/data" alone for an anonymous volume. Returns the HostConfig.Binds
 * entries and the anonymous volumes (Config.Volumes).
 */
export function parseVolumes(value: string[], requireSource = false): { binds: string[]; anonymous: Record<string, Record<string, never>> } {
  const binds: string[] = [];
  const anonymous: Record<string, Record<string, never>> = {};
  for (const spec of value) {
    const parts = spec.split(':');
    if (parts.length === 1) {
      if (requireSource) fail(`"${spec}": expected source:/container/path[:options]`);
      if (!spec.startsWith('/')) fail(`"${spec}": an anonymous volume is an absolute container path like "/data"`);
      anonymous[spec] = {};
      continue;
    }
    if (parts.length > 3) fail(`"${spec}": expected source:/container/path[:options]`);
    const [source, target, options] = parts as [string, string, string | undefined];
    if (!source.startsWith('/') && !VOLUME_NAME.test(source)) fail(`"${spec}": source "${source}" is neither an absolute host path nor a volume name`);
    if (!target.startsWith('/')) fail(`"${spec}": container path "${target}" must be absolute`);
    if (target.split('/').includes('..')) fail(`"${spec}": container path must not contain ".."`);
    if (options !== undefined) {
      const opts = options.split(',');
      for (const o of opts) if (!MOUNT_OPTIONS.has(o)) fail(`"${spec}": unknown option "${o}" (ro, rw, z, Z, nocopy, [r]shared, [r]slave, [r]private)`);
      if (opts.includes('ro') && opts.includes('rw')) fail(`"${spec}": "ro" and "rw" together`);
    }
    binds.push(spec);
  }
  return { binds, anonymous };
}

/* ---------------- restart policy ---------------- */

export interface RestartPolicy {
  Name: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

export type RestartPolicyInput = string | { name: string; maximum_retry_count?: number | undefined };

const POLICIES = new Set(['no', 'always', 'unless-stopped', 'on-failure']);

/** "always", "on-failure:3" or {name: "on-failure", maximum_retry_count: 3}. */
export function parseRestartPolicy(value: RestartPolicyInput): RestartPolicy {
  let name: string;
  let retries: number | undefined;
  if (typeof value === 'string') {
    const [n, count, extra] = value.trim().split(':');
    if (extra !== undefined) fail(`"${value}": expected a policy like "on-failure:3"`);
    name = n ?? '';
    if (count !== undefined) {
      if (!/^\d+$/.test(count)) fail(`"${value}": the retry count must be a whole number`);
      retries = Number(count);
    }
  } else {
    name = value.name;
    retries = value.maximum_retry_count;
  }
  if (!POLICIES.has(name)) fail(`"${name}" is not a restart policy (no, always, unless-stopped, on-failure[:N])`);
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0)) fail('the retry count must be a whole number');
  if (retries && name !== 'on-failure') fail('a retry count is only valid with "on-failure"');
  return { Name: name as RestartPolicy['Name'], MaximumRetryCount: retries ?? 0 };
}

/* ---------------- the create and update bodies ---------------- */

/** The friendly create parameters, after their own parsing (see containers.ts). */
export interface FriendlyCreate {
  image: string;
  command?: string[] | undefined;
  entrypoint?: string[] | undefined;
  env?: string[] | undefined;
  labels?: Record<string, string> | undefined;
  ports?: PortConfig | undefined;
  volumes?: { binds: string[]; anonymous: Record<string, Record<string, never>> } | undefined;
  network?: string | undefined;
  restart_policy?: RestartPolicy | undefined;
  memory?: number | undefined;
  cpus?: number | undefined;
  user?: string | undefined;
  working_dir?: string | undefined;
  tty?: boolean | undefined;
  auto_remove?: boolean | undefined;
  hostname?: string | undefined;
}

type Json = Record<string, unknown>;

const BUILTIN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * The POST /containers/create body. `config` and `hostConfig` are the
 * caller's own Engine-shaped extras; friendly parameters win. Maps
 * (labels, ports, env by variable name) are merged key by key so an extra
 * label in `config` survives a friendly `labels`; lists and scalars are
 * replaced, except binds, which are added.
 */
export function buildCreateBody(friendly: FriendlyCreate, config: Json = {}, hostConfig: Json = {}): Json {
  const body: Json = { ...config, Image: friendly.image };
  const host: Json = { ...hostConfig };
  const set = (target: Json, key: string, value: unknown) => {
    if (value !== undefined) target[key] = value;
  };
  const merge = (target: Json, key: string, value: Json | undefined) => {
    if (value === undefined) return;
    target[key] = { ...(isObject(target[key]) ? target[key] : {}), ...value };
  };

  set(body, 'Cmd', friendly.command);
  set(body, 'Entrypoint', friendly.entrypoint);
  if (friendly.env) {
    const ours = new Set(friendly.env.map(envKey));
    const theirs = Array.isArray(body.Env) ? (body.Env as string[]).filter((e) => !ours.has(envKey(e))) : [];
    body.Env = [...theirs, ...friendly.env];
  }
  merge(body, 'Labels', friendly.labels);
  set(body, 'User', friendly.user);
  set(body, 'WorkingDir', friendly.working_dir);
  set(body, 'Hostname', friendly.hostname);
  if (friendly.tty !== undefined) body.Tty = friendly.tty;
  if (friendly.ports) {
    merge(body, 'ExposedPorts', friendly.ports.ExposedPorts);
    merge(host, 'PortBindings', friendly.ports.PortBindings);
  }
  if (friendly.volumes) {
    if (friendly.volumes.binds.length) host.Binds = [...(Array.isArray(host.Binds) ? (host.Binds as string[]) : []), ...friendly.volumes.binds];
    if (Object.keys(friendly.volumes.anonymous).length) merge(body, 'Volumes', friendly.volumes.anonymous);
  }
  if (friendly.network !== undefined) {
    host.NetworkMode = friendly.network;
    // A user-defined network also gets an endpoint entry, so the container is attached at create time.
    if (!BUILTIN_NETWORKS.has(friendly.network) && !friendly.network.startsWith('container:')) {
      const networking = isObject(body.NetworkingConfig) ? { ...body.NetworkingConfig } : {};
      const endpoints = isObject(networking.EndpointsConfig) ? { ...networking.EndpointsConfig } : {};
      endpoints[friendly.network] ??= {};
      body.NetworkingConfig = { ...networking, EndpointsConfig: endpoints };
    }
  }
  set(host, 'RestartPolicy', friendly.restart_policy);
  set(host, 'Memory', friendly.memory);
  set(host, 'NanoCpus', friendly.cpus);
  if (friendly.auto_remove !== undefined) host.AutoRemove = friendly.auto_remove;
  if (Object.keys(host).length) body.HostConfig = host;
  return body;
}

export interface FriendlyUpdate {
  memory?: number | undefined;
  memory_swap?: number | undefined;
  memory_reservation?: number | undefined;
  cpus?: number | undefined;
  cpu_shares?: number | undefined;
  cpu_period?: number | undefined;
  cpu_quota?: number | undefined;
  cpuset_cpus?: string | undefined;
  cpuset_mems?: string | undefined;
  blkio_weight?: number | undefined;
  pids_limit?: number | undefined;
  restart_policy?: RestartPolicy | undefined;
}

const UPDATE_FIELDS: Record<keyof FriendlyUpdate, string> = {
  memory: 'Memory',
  memory_swap: 'MemorySwap',
  memory_reservation: 'MemoryReservation',
  cpus: 'NanoCpus',
  cpu_shares: 'CpuShares',
  cpu_period: 'CpuPeriod',
  cpu_quota: 'CpuQuota',
  cpuset_cpus: 'CpusetCpus',
  cpuset_mems: 'CpusetMems',
  blkio_weight: 'BlkioWeight',
  pids_limit: 'PidsLimit',
  restart_policy: 'RestartPolicy',
};

/** The POST /containers/{id}/update body: only the fields given. */
export function buildUpdateBody(friendly: FriendlyUpdate): Json {
  const body: Json = {};
  for (const [key, field] of Object.entries(UPDATE_FIELDS)) {
    const value = friendly[key as keyof FriendlyUpdate];
    if (value !== undefined) body[field] = value;
  }
  return body;
}

/* ---------------- results ---------------- */

const CHANGE_KINDS = ['changed', 'added', 'deleted'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** The Engine's filesystem diff (Kind 0 = modified, 1 = added, 2 = deleted) → {path, kind}. */
export function mapChanges(changes: { Path: string; Kind: number }[] | null | undefined): { path: string; kind: ChangeKind }[] {
  return (changes ?? []).map((c) => ({ path: c.Path, kind: CHANGE_KINDS[c.Kind] ?? 'changed' }));
}
