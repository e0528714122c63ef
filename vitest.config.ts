import { configDefaults, defineConfig } from 'vitest/config';

// Pure-logic unit tests, and integration tests against the private real
// Engines that test/support/global-setup.ts starts; the one test that
// restarts an Engine is a project of its own, run after the others.
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
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/reliability-restart.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: 'forks',
          poolOptions: { forks: { maxForks: 2, minForks: 1 } },
        },
      },
      {
        // Restarts the "new" Engine, so it runs alone, after the others (see the "test" script).
        test: {
          name: 'integration-restart',
          include: ['test/integration/reliability-restart.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
