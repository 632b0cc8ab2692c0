import { hostname } from 'node:os'
import { makeDirExclusive, removeTree } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { siteLayout } from './layout.js'

/** Who holds a site's lock. */
export interface LockHolder {
  op: string
  id: string
  pid: number
  /** The machine the holding sitecycle process runs on (the runner, not the site's host). */
  machine: string
  actor: string
  /** The GitHub run, when the holder is a workflow run. */
  run?: string
  since: string
}

/** Whether the holder is known to be gone: only knowable from the machine it ran on. */
export function holderState(h: LockHolder): 'alive' | 'dead' | 'unknown' {
  if (h.machine !== hostname()) return 'unknown'
  try {
    process.kill(h.pid, 0)
    return 'alive'
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'dead'
  }
}

export function describeHolder(h: LockHolder): string {
  const run = h.run ? `, run ${h.run}` : ''
  return `${h.op} ${h.id} by ${h.actor} (pid ${h.pid} on ${h.machine}${run}) since ${h.since}`
}

export function currentHolder(op: string, id: string): LockHolder {
  const run = process.env.GITHUB_RUN_ID
    ? `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY ?? ''}/actions/runs/${process.env.GITHUB_RUN_ID}`
    : undefined
  return {
    op,
    id,
    pid: process.pid,
    machine: hostname(),
    actor: process.env.GITHUB_ACTOR ?? process.env.SUDO_USER ?? process.env.USER ?? 'unknown',
    run,
    since: new Date().toISOString()
  }
}

export async function readHolder(exec: Executor, root: string): Promise<LockHolder | undefined> {
  const text = await exec.readFile(siteLayout(root).lockHolder)
  if (text === undefined) {
    const exists = await exec.tryRun({ argv: ['test', '-d', siteLayout(root).lock] })
    if (exists.code === 0)
      return {
        op: 'unknown',
        id: 'unknown',
        pid: 0,
        machine: 'unknown',
        actor: 'unknown',
        since: 'unknown'
      }
    return undefined
  }
  try {
    return JSON.parse(text) as LockHolder
  } catch {
    return {
      op: 'unknown',
      id: 'unknown',
      pid: 0,
      machine: 'unknown',
      actor: 'unknown',
      since: 'unknown'
    }
  }
}

export interface AcquireOptions {
  /** Seconds to wait for a held lock; 0 fails at once. */
  waitSeconds?: number
  /** The site's name, for messages (default: its root). */
  siteName?: string
  reporter?: Reporter
}

/** The result of taking the lock: `stale` is the dead holder it replaced, if any. */
export interface AcquiredLock {
  holder: LockHolder
  stale?: LockHolder
}

/**
 * Take the site lock: `mkdir .sitecycle/lock` (atomic), then write who holds it. A lock whose
 * holder is known dead (same machine, process gone) is taken over and reported as stale.
 */
export async function acquireLock(
  exec: Executor,
  root: string,
  holder: LockHolder,
  options: AcquireOptions = {}
): Promise<AcquiredLock> {
  const l = siteLayout(root)
  const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000
  let waiting = false
  for (;;) {
    const r = await tryTakeLock(exec, root, holder)
    if (r.taken) {
      return { holder }
    }
    const held = await readHolder(exec, root)
    if (!held) {
      if (r.missingState) {
        throw new SitecycleError(
          `site root ${root} on ${exec.name} is not initialized (no ${l.state}): run \`sitecycle init\` first`,
          'site'
        )
      }
      continue
    }
    if (held.pid && holderState(held) === 'dead') {
      options.reporter?.warn(`taking over the lock of a run that is gone: ${describeHolder(held)}`)
      await exec.run(removeTree(l.lock))
      if ((await tryTakeLock(exec, root, holder)).taken) return { holder, stale: held }
      continue
    }
    if (Date.now() >= deadline) {
      throw new SitecycleError(
        `site ${options.siteName ?? root} on ${exec.name} is locked by ${describeHolder(held)}; ` +
          `wait for it (--lock-wait SECONDS), or if that run is gone, clear it with \`sitecycle unlock\``,
        'lock'
      )
    }
    if (!waiting) {
      options.reporter?.info(`waiting for the lock held by ${describeHolder(held)}`)
      waiting = true
    }
    await new Promise(r => setTimeout(r, 500))
  }
}

/**
 * One attempt: a private directory holding holder.json, renamed to `lock` (rename(2) of a
 * directory fails when the target is a non-empty directory), so the lock never exists without
 * its holder.
 */
async function tryTakeLock(
  exec: Executor,
  root: string,
  holder: LockHolder
): Promise<{ taken: boolean; missingState: boolean }> {
  const l = siteLayout(root)
  const tmp = `${l.state}/lock.${holder.id}`
  const made = await exec.tryRun(makeDirExclusive(tmp))
  if (made.code !== 0) return { taken: false, missingState: /No such file/.test(made.stderr) }
  await exec.writeFile(`${tmp}/holder.json`, JSON.stringify(holder, null, 2) + '\n', 0o644)
  const moved = await exec.tryRun({ argv: ['mv', '-T', tmp, l.lock] })
  if (moved.code === 0) return { taken: true, missingState: false }
  await exec.run(removeTree(tmp))
  return { taken: false, missingState: false }
}

/** Remove `lock.<id>` folders of attempts killed between making them and the rename (older
 * than a minute, so a contender in the middle of its attempt is left alone). */
async function removeStaleAttempts(exec: Executor, root: string): Promise<void> {
  const l = siteLayout(root)
  await exec.tryRun({
    argv: [
      'find',
      l.state,
      '-mindepth',
      '1',
      '-maxdepth',
      '1',
      '-type',
      'd',
      '-name',
      'lock.*',
      '-mmin',
      '+1',
      '-exec',
      'rm',
      '-rf',
      '--',
      '{}',
      '+'
    ]
  })
}

/** Release the lock, but only if this holder still has it. */
export async function releaseLock(exec: Executor, root: string, holder: LockHolder): Promise<void> {
  const held = await readHolder(exec, root)
  if (held && held.id === holder.id) {
    await exec.run(removeTree(siteLayout(root).lock))
    // Here, not when taking the lock: it stays off the path of a rollback's switch.
    await removeStaleAttempts(exec, root)
  }
}
