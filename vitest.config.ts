import { defineConfig } from 'vitest/config';

// Packages are imported by name (@kyoo/client, ...) and resolve to their built dist/ through
// the workspace package.json exports, so run `pnpm build` first (scripts/test does).
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
