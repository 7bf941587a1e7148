import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// One run covers unit tests beside the code, per-subgraph integration tests and the end-to-end
// journeys in tests/. Files run in parallel workers; the machine has 2 cores.
export default defineConfig({
  resolve: {
    // graphql 16 ships CJS (`main`) and ESM (`module`). Node and the Apollo packages load the CJS build; Vite
    // would give our sources the ESM one, and graphql refuses types "from another module or realm".
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: [
      'packages/**/*.test.ts',
      'gateway/**/*.test.ts',
      'subgraphs/**/*.test.ts',
      'stack/**/*.test.ts',
      'tests/**/*.test.ts',
      'scripts/**/*.test.ts',
      'contracts/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '.data/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['packages/kernel/src/testing/global-setup.ts'],
  },
});
