import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Namespace tests share the host's network stack: never run two files at once.
    fileParallelism: false,
    testTimeout: 60_000,
    reporters: ['default', './test/summary-reporter.ts'],
    hookTimeout: 120_000,
  },
});
