import { Pool } from 'undici';

/**
 * Fixtures (containers the workloads need), prepared and removed through a
 * connection pool of their own, so set-up traffic never shares a connection
 * with a measured client. Every object carries the run's label.
 */
export const BENCH_LABEL = 'docker-connector-bench';
export const IMAGE = 'dc-busybox:latest';
/** Label of the containers list_containers is measured on. */
export const LIST_KEY = `${BENCH_LABEL}.list`;

export class Fixtures {
  constructor(socketPath, apiVersion, runId) {
    this.pool = new Pool('http://docker', { connect: { socketPath }, connections: 8 });
    this.prefix = `/v${apiVersion}`;
    this.runId = runId;
    this.labels = { [BENCH_LABEL]: runId };
  }

  async call(method, path, body, { versioned = true, timeoutMs = 300_000 } = {}) {
    const res = await this.pool.request({
      method,
      path: (versioned ? this.prefix : '') + path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    if (res.statusCode >= 300 && res.statusCode !== 304) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Creates a container labelled for this run (plus `extraLabels`); returns its id. */
  async create(cmd, extraLabels = {}, name) {
    const q = name ? `?name=${encodeURIComponent(name)}` : '';
    const res = await this.call('POST', `/containers/create${q}`, { Image: IMAGE, Cmd: cmd, Labels: { ...this.labels, ...extraLabels } });
    return res.Id;
  }

  async start(id) {
    await this.call('POST', `/containers/${id}/start`);
  }

  /** Runs a command to completion in a new container; returns its id (kept, stopped). */
  async runToExit(cmd, extraLabels = {}) {
    const id = await this.create(cmd, extraLabels);
    await this.start(id);
    const res = await this.call('POST', `/containers/${id}/wait`);
    if (res.StatusCode !== 0) throw new Error(`fixture command ${JSON.stringify(cmd)} exited ${res.StatusCode}`);
    return id;
  }

  /** Creates `count` stopped containers carrying `extraLabels`, `parallel` at a time. */
  async createMany(count, extraLabels, parallel = 8) {
    const ids = [];
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        ids.push(await this.create(['true'], extraLabels));
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return ids;
  }

  async remove(id) {
    await this.call('DELETE', `/containers/${id}?force=true&v=true`).catch(() => {});
  }

  /** Removes every container of this run (or of any run with `allRuns`). */
  async removeAll({ allRuns = false } = {}) {
    const label = allRuns ? BENCH_LABEL : `${BENCH_LABEL}=${this.runId}`;
    const list = await this.call('GET', `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`);
    let next = 0;
    const worker = async () => {
      while (next < list.length) await this.remove(list[next++].Id);
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return list.length;
  }

  close() {
    return this.pool.close();
  }
}
