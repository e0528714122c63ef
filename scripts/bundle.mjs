/**
 * Bundles the compiled library and CLI (dist/, from tsc) into dist/bundle/:
 *   index.js     the package's main entry      (import 'docker-connector')
 *   catalogue.js every operation + manifest    (import 'docker-connector/catalogue')
 *   cli.js       the CLI                        (bin/docker-connector.js)
 *   service.js   the HTTP service and MCP server (import 'docker-connector/service')
 *
 * Why (measured, bench/README.md): loading ~60 ES modules one by one
 * (resolve, read, compile, link each) made a CLI `run ping` ~3× as slow as
 * `node -e ""`, and esbuild drops the parts of zod we never call: importing
 * the library costs ~45 ms and ~47 MiB RSS bundled against ~105 ms and
 * ~57 MiB unbundled. One build with code splitting keeps a single copy of
 * every module shared by the three entries (one ConnectorError class, one
 * zod), and keeps lazy imports lazy: each operation family, `serve`
 * (fastify) and `mcp` (the MCP SDK) are chunks loaded when first needed.
 *
 * Packages that are loaded only by the commands that need them (fastify, the
 * MCP SDK, pino, undici) stay outside: they come from node_modules.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url).pathname;
const outdir = `${dist}bundle/`;
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: { index: `${dist}index.js`, catalogue: `${dist}catalogue.js`, cli: `${dist}cli/main.js`, service: `${dist}service.js` },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  external: ['ioredis', 'prom-client', 'rate-limiter-flexible', 'fastify', '@fastify/*', '@modelcontextprotocol/sdk', '@modelcontextprotocol/sdk/*', 'pino', 'undici', 'undici/*'],
  // Some bundled CommonJS packages call require(); in an ES module it has to be made.
  banner: { js: "import { createRequire as __dcCreateRequire } from 'node:module'; const require = __dcCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
