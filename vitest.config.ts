import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

// Pure-logic unit tests, and integration tests against the private real
// Engines that test/support/global-setup.ts starts; the one test that
// restarts an Engine is a project of its own, run after the others.
//
// Integration tests exercise what users run: `docker-connector`,
// `docker-connector/catalogue` and `docker-connector/service` resolve to the
// bundle in dist/bundle/ (as package.json "exports" does), and the bundle is
// loaded by Node itself, not transformed by Vite, so a bundling mistake fails
// them. `npm test` builds first. test/unit/artifact-imports.test.ts checks
// that no integration test imports src/ at run time.
const bundle = (file: string) => fileURLToPath(new URL(`./dist/bundle/${file}`, import.meta.url));
const artifact = {
  resolve: {
    alias: [
      { find: /^docker-connector\/catalogue$/, replacement: bundle('catalogue.js') },
      { find: /^docker-connector\/service$/, replacement: bundle('service.js') },
      { find: /^docker-connector$/, replacement: bundle('index.js') },
    ],
  },
};
// Every result a test receives is validated against the published result
// schema and recorded (test/support/result-validation.setup.ts); the
// result-coverage project then checks that every operation was proven on
// both Engines.
const integration = {
  globalSetup: ['test/support/global-setup.ts'],
  setupFiles: ['test/support/result-validation.setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  pool: 'forks' as const,
  server: { deps: { external: [/\/dist\/bundle\//] } },
};

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        ...artifact,
        test: {
          ...integration,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/reliability-restart.test.ts', 'test/integration/swarm-non-manager.test.ts', 'test/integration/swarm-drain.test.ts'],
          poolOptions: { forks: { maxForks: 2, minForks: 1 } },
        },
      },
      {
        // Restarts the "new" Engine, makes the "old" one leave its swarm, drains the swarm nodes: alone, after the others (see the "test" script).
        ...artifact,
        test: {
          ...integration,
          name: 'integration-restart',
          include: ['test/integration/reliability-restart.test.ts', 'test/integration/swarm-non-manager.test.ts', 'test/integration/swarm-drain.test.ts'],
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        // Reads what the integration run recorded: run after it (see the "test"
        // script); in a run of every project its group waits for the others.
        ...artifact,
        test: {
          name: 'result-coverage',
          include: ['test/result-coverage/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          server: integration.server,
        },
      },
    ],
  },
});
