/**
 * The store's lock: `mkdir <path>/.lock` (atomic), a `holder` file naming the run, waited for
 * up to a minute when another run holds it, removed when the change is done.
 */
import os from 'node:os'
import path from 'node:path'
import { cmd } from '../../commands/command.js'
import { removeTree } from '../../commands/files.js'
import type { Executor } from '../../hosts/executor.js'
import { SitecycleError } from '../../util/errors.js'
import type { Reporter } from '../../util/reporter.js'
import type { DirectoryStoreLayout } from './layout.js'

const posix = path.posix

/** How long a change waits for another run's lock on the store before giving up. */
const LOCK_WAIT_MS = 60_000

/** argv: releases dir, lock dir, holder text. Creates the store and takes its lock (mkdir is atomic). */
const TAKE_LOCK = 'mkdir -p -- "$1" && mkdir -m 700 -- "$2" && printf "%s\\n" "$3" > "$2/holder"'

/**
 * Hold the lock of the store at `layout` (`mkdir <path>/.lock`) while `fn` runs; wait up to a
 * minute for another run. `label` names the store in messages.
 */
export async function withStoreLock<T>(
  exec: Executor,
  layout: DirectoryStoreLayout,
  label: string,
  reporter: Reporter,
  fn: () => Promise<T>
): Promise<T> {
  const lock = layout.lock
  const deadline = Date.now() + LOCK_WAIT_MS
  const me = `pid ${process.pid} on ${os.hostname()} since ${new Date().toISOString()}`
  let waited = false
  for (;;) {
    const r = await exec.tryRun(cmd(['sh', '-c', TAKE_LOCK, 'sh', layout.releases, lock, me]))
    if (r.code === 0) break
    if (!/exists/i.test(r.stderr))
      throw new SitecycleError(`cannot lock ${label}: ${r.stderr.trim()}`, 'release')
    const holder = (await exec.readFile(posix.join(lock, 'holder')))?.trim()
    if (Date.now() > deadline)
      throw new SitecycleError(
        `${label} is locked by another run (${holder ?? 'holder unknown'}): if that run is gone, remove ${lock} on its host and retry`,
        'lock'
      )
    if (!waited) reporter.info(`waiting for the lock on ${label} (${holder ?? 'holder unknown'})`)
    waited = true
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  try {
    return await fn()
  } finally {
    await exec.tryRun(removeTree(lock))
  }
}
