/**
 * Finding what a killed run left running: every process started with a marker (`NAME=value`) in
 * its environment, found through /proc (root's tests read every process's environment).
 */
import { promises as fs } from 'node:fs'

/** Pids of live processes whose environment holds `mark` (a zombie has ended). */
export async function processesMarked(mark: string): Promise<number[]> {
  const pids: number[] = []
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const env = await fs.readFile(`/proc/${name}/environ`, 'utf8').catch(() => '')
    if (!env.split('\0').includes(mark)) continue
    const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
    if (/^\d+ \(.*\) Z /.test(stat)) continue
    pids.push(Number(name))
  }
  return pids
}

/** Wait until no process holds `mark` (10 s at most); the pids of those left. */
export async function noneLeft(mark: string): Promise<number[]> {
  let left = await processesMarked(mark)
  for (let i = 0; i < 100 && left.length; i++) {
    await new Promise(r => setTimeout(r, 100))
    left = await processesMarked(mark)
  }
  return left
}
