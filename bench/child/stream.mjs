/**
 * One stream transfer in a process of its own, so its peak RSS is that of
 * the transfer alone: `node bench/child/stream.mjs '<json job>'` with
 *   {kind: "logs"|"export", client: "connector"|"undici"|"dockerode",
 *    socketPath, apiVersion, container, out}
 * Writes the container's logs (demultiplexed) or its export (tar) to `out`
 * and prints {bytes, ms, cpuMs, rssBeforeMiB, maxRssMiB, how} as JSON on stdout.
 */
import { createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { pipeline, finished } from 'node:stream/promises';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';

const job = JSON.parse(process.argv[2]);
const ROOT = new URL('../..', import.meta.url).pathname;
const DIST = process.env.DC_BENCH_DIST ? `${process.env.DC_BENCH_DIST.replace(/\/$/, '')}/` : `${ROOT}dist/`;
const v = `/v${job.apiVersion}`;

/** Minimal demultiplexer for the raw undici client: strips the 8-byte frame headers, keeps the payloads. */
class Demux {
  constructor() {
    this.header = Buffer.alloc(8);
    this.fill = 0;
    this.left = 0;
  }
  /** The payload bytes in `chunk`, as one buffer (or subarrays of it). */
  take(chunk) {
    const out = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.left === 0) {
        const take = Math.min(8 - this.fill, chunk.length - off);
        chunk.copy(this.header, this.fill, off, off + take);
        this.fill += take;
        off += take;
        if (this.fill < 8) break;
        this.fill = 0;
        this.left = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.left, chunk.length - off);
      out.push(chunk.subarray(off, off + take));
      this.left -= take;
      off += take;
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }
}

async function connectorJob() {
  // The package's main entry as users import it (the bundle, see bench/lib/clients.mjs: not imported
  // here, it loads undici and dockerode). execute() loads the operation's family, as in a user's process.
  const { DockerConnector } = await import(pathToFileURL(`${DIST}bundle/index.js`).href);
  const c = new DockerConnector({ host: `unix://${job.socketPath}`, rate_limit: 0, env: {} });
  await c.execute('ping');
  const opName = job.kind === 'logs' ? 'container_logs' : 'container_export';
  const params = { container: job.container, path: job.out };
  return { how: `${opName} with path`, run: () => c.execute(opName, params), close: () => c.close() };
}

async function undiciJob() {
  const { Client } = await import('undici');
  const client = new Client('http://docker', { connect: { socketPath: job.socketPath }, bodyTimeout: 300_000 });
  await (await client.request({ method: 'GET', path: '/_ping' })).body.dump();
  const path = job.kind === 'logs' ? `${v}/containers/${job.container}/logs?stdout=1&stderr=1` : `${v}/containers/${job.container}/export`;
  return {
    // Not stream.pipeline / client.stream(): with dockerd as the source, undici 7.30 on Node 20 slows
    // to ~2 MiB/s and buffers the body in memory when its body is piped (measured: 100 MiB export,
    // pipeline 60 s / 380 MiB RSS, async iteration 1.2 s / 130 MiB). Async iteration is its fast path.
    how: 'Client.request + for await, write() with drain',
    run: async () => {
      const res = await client.request({ method: 'GET', path });
      if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${await res.body.text()}`);
      const out = createWriteStream(job.out);
      const demux = job.kind === 'logs' ? new Demux() : undefined;
      for await (const chunk of res.body) {
        if (!out.write(demux ? demux.take(chunk) : chunk)) await once(out, 'drain');
      }
      out.end();
      await finished(out);
    },
    close: () => client.close(),
  };
}

async function dockerodeJob() {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker({ socketPath: job.socketPath, version: `v${job.apiVersion}` });
  await docker.ping();
  const container = docker.getContainer(job.container);
  return {
    how: job.kind === 'logs' ? 'logs({follow: true}) + modem.demuxStream' : 'export() + stream.pipeline',
    run: async () => {
      const file = createWriteStream(job.out);
      if (job.kind === 'logs') {
        // follow:false would buffer the whole log in memory; follow:true on a stopped container streams and ends.
        const stream = await container.logs({ follow: true, stdout: true, stderr: true });
        docker.modem.demuxStream(stream, file, file);
        await finished(stream);
        file.end();
        await finished(file);
      } else {
        await pipeline(await container.export(), file);
      }
    },
    close: () => {},
  };
}

const make = { connector: connectorJob, undici: undiciJob, dockerode: dockerodeJob }[job.client];
const { how, run, close } = await make();
const rssBefore = process.memoryUsage().rss;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await run();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const { size } = await stat(job.out);
await unlink(job.out).catch(() => {});
await close();
process.stdout.write(
  `${JSON.stringify({ bytes: size, ms, cpuMs: (cpu.user + cpu.system) / 1000, rssBeforeMiB: rssBefore / 2 ** 20, maxRssMiB: process.resourceUsage().maxRSS / 1024, how })}\n`,
);
process.exit(0);
