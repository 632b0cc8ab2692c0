/**
 * Temporary folders of one run (an SSH key and control socket, a fetched release) that a later
 * run can recognise and remove when this one was killed before it could: each holds a file
 * naming the process that made it (PID, start time, boot). A run that makes such a folder first
 * removes the folders of the same kind whose maker is gone.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { processRuns, thisProcess, type ProcessIdentity } from './process-identity.js'

/** The file in each run folder that names the process that made it. */
export const OWNER_FILE = '.sitecycle-owner'

/**
 * A new private (0700) folder `<base>/<prefix>XXXXXX` owned by this run, after removing the
 * folders `<base>/<prefix>*` that runs now gone left behind.
 */
export async function makeRunTempDir(base: string, prefix: string): Promise<string> {
  await removeDeadRunTempDirs(base, prefix)
  const dir = await fs.mkdtemp(path.join(base, prefix))
  await fs.chmod(dir, 0o700)
  await fs.writeFile(path.join(dir, OWNER_FILE), JSON.stringify(thisProcess()) + '\n', {
    mode: 0o600
  })
  return dir
}

/**
 * Remove the folders `<base>/<prefix>*` of this user whose owner file names a process that is
 * gone (its PID free or reused, or an earlier boot). A folder without an owner file (being made
 * now, or made by an older version) is left alone. Returns the folders removed.
 */
export async function removeDeadRunTempDirs(base: string, prefix: string): Promise<string[]> {
  let names: string[]
  try {
    names = await fs.readdir(base)
  } catch {
    return []
  }
  const removed: string[] = []
  const uid = process.getuid?.()
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const dir = path.join(base, name)
    try {
      const st = await fs.lstat(dir)
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue
      const owner = JSON.parse(
        await fs.readFile(path.join(dir, OWNER_FILE), 'utf8')
      ) as ProcessIdentity
      if (typeof owner.pid !== 'number' || processRuns(owner)) continue
      await fs.rm(dir, { recursive: true, force: true })
      removed.push(dir)
    } catch {
      // No owner file, or gone meanwhile: not ours to judge.
    }
  }
  return removed
}
