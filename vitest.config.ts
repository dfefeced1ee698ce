import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// The simulator serves media over HTTPS with its own CA. NODE_EXTRA_CA_CERTS is read only at process start,
// so it is set here, before vitest forks its worker processes (pool 'forks' inherits this environment).
// When the machine already sets NODE_EXTRA_CA_CERTS (a single file), a bundle of both is written and used instead.
const simCa = fileURLToPath(new URL('./test/wasim/certs/ca.pem', import.meta.url))
const existingCa = process.env.NODE_EXTRA_CA_CERTS
if (!existingCa || !fs.existsSync(existingCa)) process.env.NODE_EXTRA_CA_CERTS = simCa
else if (existingCa !== simCa && !path.basename(existingCa).startsWith('wasim-ca-bundle')) {
  const bundle = path.join(os.tmpdir(), `wasim-ca-bundle-${process.getuid?.() ?? 0}.pem`)
  fs.writeFileSync(bundle, `${fs.readFileSync(existingCa, 'utf8')}\n${fs.readFileSync(simCa, 'utf8')}`)
  process.env.NODE_EXTRA_CA_CERTS = bundle
}

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // Child-process tests run the daemon's production bundle, built once here (test/helpers/daemon-bundle.ts).
    globalSetup: ['test/helpers/daemon-bundle.ts'],
    // The JSON report is what .ci/run turns into its closing "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-output/vitest.json' },
    // libsignal prints whole session records (keys included) on every session change; they are noise here.
    onConsoleLog: (log) => !/^(Closing session|Opening session|Removing old closed session|Session already|Closing open session|Decrypted message with closed session)/.test(log),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers than that only adds contention to end-to-end tests against the simulator.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
})
