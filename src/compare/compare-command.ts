/**
 * `sitecycle compare <siteA> <siteB>` once both sites are open: run the comparison, print it (text
 * or --json) and choose the exit code.
 */
import type { Reporter } from '../util/reporter.js'
import { compareSites, type CompareSide } from './compare.js'
import { formatCompareText } from './compare-report.js'

/** The CLI's exit code when compare (with --fail-on-difference) or watch found differences. */
export const DIFFERENCES_EXIT = 5

export interface CompareCommandOptions {
  a: CompareSide
  b: CompareSide
  json: boolean
  /** Exit {@link DIFFERENCES_EXIT} when anything differs (default: 0 whatever the result). */
  failOnDifference: boolean
  reporter: Reporter
  out: (text: string) => void
  env?: NodeJS.ProcessEnv
}

/** Compare, print, and return the exit code (0, or 5 for differences with failOnDifference). */
export async function compareCommand(o: CompareCommandOptions): Promise<number> {
  const report = await compareSites({ a: o.a, b: o.b, reporter: o.reporter, env: o.env })
  o.out(o.json ? JSON.stringify(report, null, 2) : formatCompareText(report))
  return o.failOnDifference && !report.same ? DIFFERENCES_EXIT : 0
}
