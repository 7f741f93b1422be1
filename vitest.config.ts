import { configDefaults, defineConfig } from 'vitest/config';

// Packages are imported by name (@kyoo/client, ...) and resolve to their built dist/ through
// the workspace package.json exports, so run `pnpm build` first (scripts/test does).
//
// Two projects, each with its own Redis target handed to the tests as `redisUrl`:
// - `single`: every test, against one redis-server (test/global-setup.ts);
// - `cluster`: the behaviour suite again, plus the cluster-only tests in test/cluster/, against a
//   local Redis Cluster of 3 masters with 1 replica each (test/cluster/global-setup.ts).
// Pick one with `--project single` or `--project cluster`.
export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'single',
          include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/cluster/**'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/behaviour/**/*.test.ts', 'test/cluster/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          setupFiles: ['test/cluster/no-noscript.ts'],
        },
      },
    ],
  },
});
