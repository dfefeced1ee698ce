// Prints the closing line CI reads, "N passed, N failed", from vitest's JSON report.
import fs from 'node:fs'

const file = process.argv[2] ?? 'test-output/vitest.json'
let report
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'))
} catch (err) {
  console.error(`no vitest JSON report at ${file}: ${err.message}`)
  console.log('0 passed, 1 failed')
  process.exit(1)
}
// A suite that failed to load (import error, crash) counts as a failure even though it ran no test.
const brokenSuites = report.testResults.filter((s) => s.status === 'failed' && s.assertionResults.length === 0).length
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + brokenSuites} failed`)
