#!/usr/bin/env node
// Minimal Docker Hub "v1 search" stub for GET /images/search tests.
// The Engine, asked `GET /images/search?term=127.0.0.1:5001/foo`, calls
//   GET /v1/_ping                 -> 200 {}
//   GET /v1/search?q=foo&n=25     -> 200 {"num_results":N,"query":"foo","results":[...]}
// on this stub (127.0.0.0/8 registries are plain HTTP by default).
// Usage: node search-stub.mjs [host] [port]   (defaults 127.0.0.1 5001)
// node:http only, no dependencies.
import http from 'node:http';

const host = process.argv[2] || process.env.DC_SEARCH_STUB_HOST || '127.0.0.1';
const port = Number(process.argv[3] || process.env.DC_SEARCH_STUB_PORT || 5001);

// Fixed results; every name contains the query.
function resultsFor(q) {
  return [
    { name: `${q}/alpha`, description: `Official ${q} image (stub)`, star_count: 10, is_official: true, is_automated: false },
    { name: `${q}/beta`, description: `Community ${q} image (stub)`, star_count: 3, is_official: false, is_automated: true },
    { name: `${q}/gamma`, description: '', star_count: 0, is_official: false, is_automated: false },
  ];
}

function send(res, status, body) {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': data.length });
  res.end(data);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url || '/', 'http://stub');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
  if (url.pathname === '/v1/_ping' || url.pathname === '/v1/_ping/') {
    res.setHeader('X-Docker-Registry-Version', '0.6.0');
    return send(res, 200, {});
  }
  if (url.pathname === '/v1/search') {
    const q = url.searchParams.get('q') || '';
    const n = Number.parseInt(url.searchParams.get('n') || '25', 10);
    let results = resultsFor(q);
    if (Number.isFinite(n) && n > 0) results = results.slice(0, n);
    return send(res, 200, { num_results: results.length, query: q, results });
  }
  return send(res, 404, { error: 'not found', path: url.pathname });
});

server.listen(port, host, () => {
  process.stderr.write(`search-stub listening on http://${host}:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
