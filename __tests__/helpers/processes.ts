/**
 * Processes found by their command line (Linux /proc), for tests that kill a run while one of
 * its programs (pip) runs, or check that none outlives it.
 */
import { readdir, readFile, stat } from 'node:fs/promises'

/** Pids of processes whose command line has all of `parts`. */
export async function processesWith(...parts: string[]): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')
    const argv = cmdline.split('\0')
    if (parts.every(p => argv.some(a => a.includes(p)))) pids.push(Number(name))
  }
  return pids
}

/**
 * Pids of pip installing with the virtualenv interpreter `python` (`<release>/bin/python`).
 * Reading every process's command line costs tens of milliseconds of CPU, and a test polls this
 * every few milliseconds while the deploy uploads and makes the virtualenv: /proc is read only
 * once `python` exists (pip cannot run with it before), so the poll does not take a core from
 * the deploy it waits for.
 */
export async function pipInstallingWith(python: string): Promise<number[]> {
  if (!(await stat(python).catch(() => null))) return []
  return processesWith('pip', 'install', python)
}
