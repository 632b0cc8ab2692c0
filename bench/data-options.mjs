// The command line of bench/data.mjs, parsed apart so that a test can check it without running
// the bench (__tests__/unit/bench-data-options.test.ts).
import { parseArgs } from 'node:util'

/** The parts of the bench `--only` can choose. */
export const BENCH_DATA_PARTS = ['sqlite', 'sync']

/**
 * The options of `npm run bench:data -- ...`, or an Error whose message is the one line to print
 * (exit code 2). `only`: null (every part) or one of BENCH_DATA_PARTS; `cli`: a bundle to run
 * instead of bundling the current sources, or null; `sqliteRuns`: how many snapshots the SQLite
 * part times, each between two `.backup` runs (its figures are the medians).
 */
export function parseDataOptions(args) {
  let values
  try {
    ;({ values } = parseArgs({
      args,
      options: {
        large: { type: 'boolean', default: false },
        rows: { type: 'string', default: '1000000' },
        'sqlite-rows': { type: 'string', default: '300000' },
        'sqlite-runs': { type: 'string', default: '5' },
        days: { type: 'string', default: '10' },
        only: { type: 'string' },
        cli: { type: 'string' },
        verbose: { type: 'boolean', default: false }
      }
    }))
  } catch (e) {
    return new Error(e.message)
  }
  const rows = Number(values.rows)
  const sqliteRows = Number(values['sqlite-rows'])
  const sqliteRuns = Number(values['sqlite-runs'])
  const days = Number(values.days)
  if (![rows, sqliteRows, sqliteRuns, days].every(n => Number.isInteger(n) && n > 0))
    return new Error('--rows, --sqlite-rows, --sqlite-runs and --days take positive integers')
  const only = values.only ?? null
  if (only !== null && !BENCH_DATA_PARTS.includes(only))
    return new Error(
      `--only ${JSON.stringify(only)} is not a part of the bench; the parts: ${BENCH_DATA_PARTS.join(', ')}`
    )
  if (only !== null && values.large)
    return new Error(`--large measures the PostgreSQL part, which --only ${only} leaves out`)
  if (values.cli === '')
    return new Error('--cli takes the path of a bundled CLI (e.g. dist/cli.js)')
  return {
    large: values.large,
    rows,
    sqliteRows,
    sqliteRuns,
    days,
    only,
    cli: values.cli ?? null,
    verbose: values.verbose
  }
}
