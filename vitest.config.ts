import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Two cores: keep workers to what the machine has.
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/**/*.int.test.ts', 'tests/**/*.faults.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.int.test.ts'],
          environment: 'node',
          globalSetup: ['tests/support/redisGlobalSetup.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['tests/faults/**/*.faults.test.ts'],
          environment: 'node',
          // Files run one after another: they kill processes and restart Redis.
          fileParallelism: false,
          globalSetup: ['tests/support/redisGlobalSetup.ts', 'tests/faults/support/reliabilityReport.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
