#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

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
