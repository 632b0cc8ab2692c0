// Merge the --json results of several jest runs into one file of the same shape (counts summed,
// test files listed together), so one results file covers the whole run.
// Usage: node scripts/merge-jest-results.mjs OUT IN...   (an IN that is missing counts as a failure)
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const [out, ...inputs] = process.argv.slice(2)
if (!out || inputs.length === 0) {
  console.error('merge-jest-results: usage: merge-jest-results.mjs OUT IN...')
  process.exit(2)
}

/** Numbers summed, flags and-ed (success) or or-ed (the rest), lists joined, the rest the first's. */
function merge(a, b) {
  const m = { ...a }
  for (const [k, v] of Object.entries(b)) {
    if (!(k in a)) m[k] = v
    else if (k === 'startTime') m[k] = Math.min(a[k], v)
    else if (typeof v === 'number') m[k] = a[k] + v
    else if (typeof v === 'boolean') m[k] = k === 'success' ? a[k] && v : a[k] || v
    else if (Array.isArray(v)) m[k] = [...a[k], ...v]
    else if (v && typeof v === 'object') m[k] = merge(a[k], v)
  }
  return m
}

let merged
for (const file of inputs) {
  const r = existsSync(file)
    ? JSON.parse(readFileSync(file, 'utf8'))
    : { numFailedTestSuites: 1, numFailedTests: 1, success: false, testResults: [] }
  if (!existsSync(file))
    console.error(`merge-jest-results: ${file} is missing (that run failed to start)`)
  merged = merged ? merge(merged, r) : r
}
writeFileSync(out, JSON.stringify(merged))
