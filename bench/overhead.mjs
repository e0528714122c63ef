#!/usr/bin/env node
/**
 * Client-side overhead per call, without the Engine's own time and noise:
 * a stub Engine (a child process on a unix socket, canned answers) serves
 * raw undici, plain node:http, the connector's EngineClient and the whole
 * connector (`execute`). Reports p50 latency and CPU time per call of each,
 * interleaved call by call. A development tool for src/engine/client.ts;
 * `npm run bench` measures against the real Engine.
 *
 *   node bench/overhead.mjs [calls=20000] [ping|list|inspect]
 *   DC_OVERHEAD_SOCKET=/tmp/dch/new/docker.sock DC_OVERHEAD_ID=<container> …  (a real Engine instead)
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { loadDist } from './lib/clients.mjs';
import { percentile, settle, shuffle } from './lib/stats.mjs';

if (process.argv[2] === '--stub') {
  // The stub Engine: a small container-inspect-sized JSON for everything but /_ping.
  const sock = process.argv[3];
  try {
    unlinkSync(sock); // left by an earlier stub that was killed
  } catch {
    // none
  }
  const ENGINE_HEADERS = { 'api-version': '1.51', 'content-type': 'application/json', 'docker-experimental': 'false', ostype: 'linux', server: 'Docker/28.5.2 (linux)' };
  const inspect = JSON.stringify({ Id: 'a'.repeat(64), Name: '/stub', State: { Status: 'exited', Running: false }, Config: { Image: 'dc-busybox:latest', Cmd: ['true'], Labels: {} }, HostConfig: {}, Mounts: [] });
  http
    .createServer((req, res) => {
      if (req.url === '/_ping') {
        res.writeHead(200, { 'api-version': '1.51', 'content-type': 'text/plain; charset=utf-8', 'content-length': 2 });
        return res.end(req.method === 'HEAD' ? undefined : 'OK');
      }
      // Answered as dockerd does: its headers, chunked.
      const body = req.url.startsWith('/v1.51/containers/json') ? '[]' : process.env.DC_OVERHEAD_BODY ? readFileSync(process.env.DC_OVERHEAD_BODY, 'utf8') : inspect;
      res.writeHead(200, ENGINE_HEADERS);
      res.end(body);
    })
    .listen(sock, () => process.send('up'));
} else {
  const calls = Number(process.argv[2] ?? 20000);
  const kind = process.argv[3] ?? 'inspect';
  const real = process.env.DC_OVERHEAD_SOCKET;
  const sock = real ?? join(tmpdir(), `dc-bench-stub-${process.pid}.sock`);
  const stub = real ? undefined : fork(new URL(import.meta.url).pathname, ['--stub', sock]);
  if (stub) await new Promise((r) => stub.once('message', r));
  const dist = await loadDist();
  const connector = new dist.DockerConnector({ host: `unix://${sock}`, rate_limit: 0, env: {} });
  const u = new Client('http://docker', { connect: { socketPath: sock } });
  const agent = new http.Agent({ keepAlive: true });
  const id = process.env.DC_OVERHEAD_ID ?? 'a'.repeat(64);
  const target = {
    ping: { method: 'HEAD', path: '/_ping', op: ['ping', {}], engine: () => connector.engine.ping() },
    list: {
      method: 'GET',
      path: `/v1.51/containers/json?all=true&filters=${encodeURIComponent('{"label":["x=1"]}')}`,
      op: ['list_containers', { all: true, filters: { label: ['x=1'] } }],
      engine: () => connector.engine.json({ method: 'GET', path: '/containers/json', query: { all: true, filters: { label: ['x=1'] } } }),
    },
    inspect: { method: 'GET', path: `/v1.51/containers/${id}/json`, op: ['inspect_container', { container: id }], engine: () => connector.engine.json({ method: 'GET', path: `/containers/${id}/json`, query: { size: false } }) },
  }[kind];
  const parse = (text) => (text ? JSON.parse(text) : undefined);
  const fns = {
    undici: async () => {
      const res = await u.request({ method: target.method, path: target.path, reset: false });
      return parse(await res.body.text());
    },
    'node:http': () =>
      new Promise((resolve, reject) => {
        const req = http.request({ agent, socketPath: sock, method: target.method, path: target.path, headers: { host: 'docker' } }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve(parse(Buffer.concat(chunks).toString())));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      }),
    EngineClient: target.engine,
    connector: () => connector.execute(...target.op),
  };
  const names = Object.keys(fns);
  const stats = Object.fromEntries(names.map((n) => [n, { t: [], cpu: 0 }]));
  for (const n of names) for (let i = 0; i < 2000; i++) await fns[n]();
  for (let i = 0; i < calls; i++) {
    for (const n of shuffle(names)) {
      await settle();
      const c0 = process.cpuUsage();
      const s = performance.now();
      await fns[n]();
      stats[n].t.push(performance.now() - s);
      const c = process.cpuUsage(c0);
      stats[n].cpu += c.user + c.system;
    }
  }
  console.log(`${kind}: ${calls} calls each against ${real ? sock : 'a stub Engine'}, interleaved`);
  for (const n of names) {
    const s = stats[n];
    console.log(`${n.padEnd(13)} p50 ${(percentile(s.t, 50) * 1000).toFixed(1).padStart(6)} µs   p90 ${(percentile(s.t, 90) * 1000).toFixed(1).padStart(6)} µs   cpu ${(s.cpu / calls).toFixed(1).padStart(6)} µs/call`);
  }
  connector.close();
  await u.close();
  if (stub) {
    stub.kill();
    try {
      unlinkSync(sock);
    } catch {
      // already gone
    }
  }
}
