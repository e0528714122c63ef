import { Client, Pool } from 'undici';
import Docker from 'dockerode';
import { finished } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { ROOT } from './harness.mjs';
import { IMAGE } from './fixtures.mjs';
import { RawSocketPool, requestBytes } from './raw-socket.mjs';

/**
 * The clients compared, each doing the same Engine calls its own idiomatic
 * way: the connector (the BUILT library in dist/, as users get it), raw
 * undici on the same unix socket, and dockerode. Every method resolves only
 * after the whole answer is read (and parsed where the client parses). Beside
 * them, for the small calls, the floor: a raw socket that reads no more of the
 * answer than it must (lib/raw-socket.mjs).
 */

/** The built library: dist/, or another build named by DC_BENCH_DIST (to measure a proposed change side by side). */
export const DIST_DIR = process.env.DC_BENCH_DIST ? `${process.env.DC_BENCH_DIST.replace(/\/$/, '')}/` : `${ROOT}dist/`;
/** The package's main entry as users import it (package.json "exports"): the bundle. */
export const DIST_ENTRY = `${DIST_DIR}bundle/index.js`;

export async function loadDist() {
  return import(pathToFileURL(DIST_ENTRY).href);
}

/** Demultiplexes a whole framed body (8-byte headers) into one buffer of payloads. */
export function demuxAll(buf) {
  const parts = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, off + 8 + size));
    off += 8 + size;
  }
  return Buffer.concat(parts);
}

/* ------------------------------------------------------------ connector */

export function connectorClient(dist, socketPath, { name = 'connector', rateLimit = 0, burst } = {}) {
  const c = new dist.DockerConnector({
    host: `unix://${socketPath}`,
    rate_limit: rateLimit,
    ...(burst ? { rate_limit_burst: burst } : {}),
    env: {},
  });
  return {
    name,
    connector: c,
    notes: [],
    ping: () => c.execute('ping'),
    version: () => c.execute('get_version'),
    list: (filters) => c.execute('list_containers', { all: true, filters }),
    inspect: (id) => c.execute('inspect_container', { container: id }),
    async create(labels) {
      return (await c.execute('create_container', { image: IMAGE, command: ['sleep', '3600'], labels })).id;
    },
    start: (id) => c.execute('start_container', { container: id }),
    stop: (id) => c.execute('stop_container', { container: id, timeout: 0 }),
    remove: (id) => c.execute('remove_container', { container: id }),
    async exec(id, cmd) {
      const r = await c.execute('exec_container', { container: id, command: cmd });
      return { output: r.stdout ?? r.output ?? '', exitCode: r.exit_code };
    },
    close: () => c.close(),
  };
}

/* ------------------------------------------------------------ raw undici */

export function undiciClient(socketPath, apiVersion, { concurrent = false } = {}) {
  // Client for sequential calls, Pool for concurrent ones: what a user of raw undici would pick.
  const d = concurrent ? new Pool('http://docker', { connect: { socketPath } }) : new Client('http://docker', { connect: { socketPath } });
  const v = `/v${apiVersion}`;
  const JSON_HEADERS = { 'content-type': 'application/json' };
  async function send(method, path, body) {
    const res = await d.request({ method, path, headers: body === undefined ? undefined : JSON_HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
    return res;
  }
  const json = async (method, path, body) => (await send(method, path, body)).body.json();
  const empty = async (method, path, body) => (await send(method, path, body)).body.dump();
  return {
    name: 'undici',
    notes: [],
    // undici closes the connection after every HEAD unless told otherwise (reset: false).
    async ping() {
      const res = await d.request({ method: 'HEAD', path: '/_ping', reset: false });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`ping: ${res.statusCode}`);
      return res.headers['api-version'];
    },
    version: () => json('GET', `${v}/version`),
    list: (filters) => json('GET', `${v}/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify(filters))}`),
    inspect: (id) => json('GET', `${v}/containers/${encodeURIComponent(id)}/json`),
    async create(labels) {
      return (await json('POST', `${v}/containers/create`, { Image: IMAGE, Cmd: ['sleep', '3600'], Labels: labels })).Id;
    },
    start: (id) => empty('POST', `${v}/containers/${id}/start`),
    stop: (id) => empty('POST', `${v}/containers/${id}/stop?t=0`),
    remove: (id) => empty('DELETE', `${v}/containers/${id}`),
    async exec(id, cmd) {
      const { Id } = await json('POST', `${v}/containers/${id}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: cmd });
      const res = await send('POST', `${v}/exec/${Id}/start`, { Detach: false, Tty: false });
      const body = Buffer.from(await res.body.arrayBuffer());
      const info = await json('GET', `${v}/exec/${Id}/json`);
      return { output: demuxAll(body).toString(), exitCode: info.ExitCode };
    },
    close: () => d.close(),
  };
}

/* ------------------------------------------------------------ raw socket (the floor) */

/**
 * The same small calls as a fixed request on a kept-alive `net` socket,
 * reading only the status and the body's length (see lib/raw-socket.mjs):
 * no client can do less per call. Calls resolve with the status code, not
 * the answer; `checked()` runs one call keeping and parsing the body, to
 * check once that the floor asks the Engine for the same thing as the others.
 * `connections`: 1 for sequential calls, one per call in flight for concurrent ones.
 */
export function rawSocketClient(socketPath, apiVersion, { connections = 1 } = {}) {
  const pool = new RawSocketPool(socketPath, { connections });
  const v = `/v${apiVersion}`;
  // Requests built once: per filters object for lists (the workload passes the same object every call), per id for inspects.
  const PING = requestBytes('HEAD', '/_ping');
  const VERSION = requestBytes('GET', `${v}/version`);
  const lists = new WeakMap();
  const inspects = new Map();
  let keepBody = false;
  async function get(bytes) {
    if (!keepBody) return pool.request(bytes);
    const { body } = await pool.request(bytes, false, true);
    return JSON.parse(body.toString('utf8'));
  }
  return {
    name: 'raw socket',
    notes: [],
    ping: () => pool.request(PING, true),
    version: () => get(VERSION),
    list(filters) {
      let bytes = lists.get(filters);
      if (!bytes) lists.set(filters, (bytes = requestBytes('GET', `${v}/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify(filters))}`)));
      return get(bytes);
    },
    inspect(id) {
      let bytes = inspects.get(id);
      if (!bytes) inspects.set(id, (bytes = requestBytes('GET', `${v}/containers/${encodeURIComponent(id)}/json`)));
      return get(bytes);
    },
    async checked(fn) {
      keepBody = true;
      try {
        return await fn();
      } finally {
        keepBody = false;
      }
    },
    close: () => pool.close(),
  };
}

/* ------------------------------------------------------------ dockerode */

export function dockerodeClient(socketPath, apiVersion) {
  // Pinned to the same API version, so the Engine does the same work for every client.
  const docker = new Docker({ socketPath, version: `v${apiVersion}` });
  return {
    name: 'dockerode',
    notes: [],
    docker,
    ping: () => docker.ping(),
    version: () => docker.version(),
    list: (filters) => docker.listContainers({ all: true, filters }),
    inspect: (id) => docker.getContainer(id).inspect(),
    async create(labels) {
      return (await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '3600'], Labels: labels })).id;
    },
    start: (id) => docker.getContainer(id).start(),
    stop: (id) => docker.getContainer(id).stop({ t: 0 }),
    remove: (id) => docker.getContainer(id).remove(),
    async exec(id, cmd) {
      const exec = await docker.getContainer(id).exec({ AttachStdout: true, AttachStderr: true, Cmd: cmd });
      const stream = await exec.start({});
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      await finished(stream);
      const info = await exec.inspect();
      return { output: demuxAll(Buffer.concat(chunks)).toString(), exitCode: info.ExitCode };
    },
    close: () => {},
  };
}
