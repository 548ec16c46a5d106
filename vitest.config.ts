import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {test: {name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000}},
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Lab hosts and image builds are slow and share one Docker engine: run files one at a time.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
})
