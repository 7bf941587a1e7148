// @ts-check
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const otherServices = {
  group: ['@symbeon/*', '!@symbeon/kernel', '!@symbeon/kernel/*'],
  message:
    'Only packages/kernel is shared: services talk through federation and events (DESIGN.md, import rules).',
};

/** Subgraphs may also read the contracts' ABIs (DESIGN.md: "others may read ABIs from contracts/"); the gateway may not. */
const otherServicesButContracts = {
  ...otherServices,
  group: [...otherServices.group, '!@symbeon/contracts'],
};

/** DESIGN.md import rules, enforced. Each entry: which files, which imports they may not make. */
const boundaries = [
  {
    files: ['packages/kernel/**/*.ts'],
    patterns: [{ group: ['@symbeon/*'], message: 'The kernel holds no domain code and imports no service.' }],
  },
  {
    files: ['subgraphs/**/*.ts'],
    patterns: [otherServicesButContracts],
  },
  {
    // A library every service may read: it depends on none of them.
    files: ['contracts/src/**/*.ts', 'contracts/scripts/**/*.ts'],
    patterns: [{ group: ['@symbeon/*'], message: 'contracts/ imports no other Symbeon package.' }],
  },
  {
    files: ['gateway/**/*.ts'],
    patterns: [
      otherServices,
      {
        group: ['drizzle-orm', 'drizzle-orm/*', 'postgres', '@electric-sql/*'],
        message: 'The gateway holds no database (DESIGN.md).',
      },
    ],
  },
  {
    // Only *-storage.ts touches tables; service wiring hands the schema to the database factory.
    files: ['subgraphs/*/src/**/*.ts'],
    ignores: [
      '**/*-storage.ts',
      '**/*-consumer.ts',
      'subgraphs/*/src/service.ts',
      '**/*.test.ts',
      // Shared set-up of a subgraph's tests.
      'subgraphs/*/src/test-fixture.ts',
    ],
    patterns: [
      otherServicesButContracts,
      {
        group: ['**/db/schema', '**/db/schema.js'],
        message: 'Only *-storage.ts touches tables (DESIGN.md).',
      },
    ],
  },
  {
    files: ['tests/e2e/**/*.ts', 'tests/kit/**/*.ts'],
    patterns: [
      {
        group: ['@symbeon/*', '!@symbeon/kernel', '!@symbeon/kernel/testing'],
        message: 'End-to-end tests reach the system only over HTTP, WebSocket and JSON-RPC, like a user.',
      },
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.data/**',
      '**/dist/**',
      'schema/**',
      '**/drizzle/meta/**',
      'web/**',
      'contracts/artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // Relative imports never reach into another workspace package (subgraph, gateway, stack...).
      'import-x/no-relative-packages': 'error',
      'import-x/no-cycle': ['error', { maxDepth: 4 }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  ...boundaries.map(({ files, ignores, patterns }) => ({
    files,
    ...(ignores ? { ignores } : {}),
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  })),
  {
    // Tests read GraphQL responses as untyped JSON and assert on their shape; `any` there is the point.
    files: ['**/*.test.ts', 'tests/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    files: ['eslint.config.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
