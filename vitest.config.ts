import { defineConfig } from 'vitest/config';

// tfjs-node and zeromq hold native handles: run each test file in its own forked process
// (a leaked socket hung the threads pool; vm pools break tfjs's typed-array checks).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { TF_CPP_MIN_LOG_LEVEL: '2' },
  },
});
