#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ can keep V8's compiled code between runs (in the OS temp folder):
// later CLI calls skip most parsing. Node 20 has no such cache; this is a no-op there.
module.enableCompileCache?.();

// The bundled CLI (npm run build): a few chunks, loaded as needed, start much faster
// than the ~60 modules of dist/cli/main.js (see scripts/bundle.mjs).
const { main } = await import('../dist/bundle/cli.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // main() reports every failure itself; this is a last resort without a stack trace.
    process.stderr.write(`${JSON.stringify({ error: { code: 'ENGINE_ERROR', status: null, message: String(err && err.message ? err.message : err) } })}\n`);
    process.exitCode = 1;
  },
);
