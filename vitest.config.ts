import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The simulator serves media over HTTPS with its own CA. NODE_EXTRA_CA_CERTS is read only at process start,
// so it is set here, before vitest forks its worker processes (pool 'forks' inherits this environment).
process.env.NODE_EXTRA_CA_CERTS ??= fileURLToPath(new URL('./test/wasim/certs/ca.pem', import.meta.url))

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // The JSON report is what .ci/run turns into its closing "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-output/vitest.json' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers than that only adds contention to end-to-end tests against the simulator.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
})
