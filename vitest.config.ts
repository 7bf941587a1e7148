import { defineConfig } from 'vitest/config';

// One run covers unit tests beside the code, per-subgraph integration tests and the end-to-end
// journeys in tests/. Files run in parallel workers; the machine has 2 cores.
export default defineConfig({
  test: {
    include: ['packages/**/*.test.ts', 'gateway/**/*.test.ts', 'subgraphs/**/*.test.ts', 'stack/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['**/node_modules/**', '.data/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['packages/kernel/src/testing/global-setup.ts'],
  },
});
