import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    projects: [
      // Image build locks of the code under test stay out of the machine's /var/cache/osctl.
      {test: {name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000, env: {OSCTL_CACHE_DIR: join(tmpdir(), 'osctl-unit-cache')}}},
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
