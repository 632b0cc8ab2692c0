/**
 * Processes found by their command line (Linux /proc), for tests that kill a run while one of
 * its programs (pip) runs, or check that none outlives it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'

/**
 * Pids of processes whose command line has all of `parts`. Read synchronously: one read each
 * through the thread pool made a scan take 10 ms with 70 processes and far longer beside a
 * parallel test run's hundreds, long enough for a poll to miss a pip that ran 0.4 s; in one
 * go it takes under a millisecond here.
 */
export async function processesWith(...parts: string[]): Promise<number[]> {
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8')
    } catch {
      continue // ended meanwhile
    }
    const argv = cmdline.split('\0')
    if (parts.every(p => argv.some(a => a.includes(p)))) pids.push(Number(name))
  }
  return pids
}

/**
 * Pids of pip installing with the virtualenv interpreter `python` (`<release>/bin/python`).
 * A test polls this every few milliseconds while the deploy uploads and makes the virtualenv:
 * /proc is read only once `python` exists (pip cannot run with it before), so the poll takes
 * little from the deploy it waits for.
 */
export async function pipInstallingWith(python: string): Promise<number[]> {
  if (!(await stat(python).catch(() => null))) return []
  return processesWith('pip', 'install', python)
}
