import type * as TarStream from 'tar-stream';

/**
 * tar-stream, loaded on first use (most calls never touch an archive).
 * It is a CommonJS package: Node exposes it to `import()` as `default`
 * (named exports only when its lexer guesses them), and the bundle's chunk
 * has only `default`. Reading `default` works in both, so the sources and
 * the bundle behave alike.
 */
export async function loadTarStream(): Promise<typeof TarStream> {
  const mod = (await import('tar-stream')) as unknown as { default?: typeof TarStream } & typeof TarStream;
  return mod.default ?? mod;
}
