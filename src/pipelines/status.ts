import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { removeTree } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { Journal, newOperationId } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import { describeHolder, holderState, readHolder, type LockHolder } from '../sites/lock.js'
import { listReleases, readSiteState, type InstalledRelease } from '../sites/site-state.js'
import { readAttempt } from '../sites/attempt-record.js'
import { frozenState } from '../sites/maintenance.js'
import { SitecycleError } from '../util/errors.js'

export interface SiteStatus {
  site: string
  host: string
  root: string
  url: string
  initialized: boolean
  live: string | null
  liveSlot: string
  idle: string | null
  releases: InstalledRelease[]
  lock: (LockHolder & { state: 'alive' | 'dead' | 'unknown' }) | null
  /** The last operations, newest first. */
  history: {
    id: string
    op: string
    at: string
    status: string
    version?: unknown
    live?: unknown
    error?: unknown
  }[]
  /** Operations that started and never ended (an interrupted run): the next operation recovers them. */
  unfinished: string[]
  /** Operations under way now: started, not ended, and holding the lock with a live holder. */
  running: string[]
  /** Whether the idle slot's release is complete (warm, a rollback target); false while it is
   * being installed or was left half-installed; null when the idle slot holds none. */
  idleComplete: boolean | null
  /** The site's role (as its host knows it after a promote) and whether it is frozen now. */
  role?: SiteConfig['role']
  frozen?: boolean
  /** The upgrade attempt recorded on the site, when one is in progress or was the last. */
  attempt?: { id: string; phase: string; preview: string; production: string; version?: string }
}

/** Live release, installed releases, lock holder and history from the journal. Read only. */
export async function siteStatus(
  config: SitecycleConfig,
  site: SiteConfig,
  exec: Executor,
  historyLength = 10
): Promise<SiteStatus> {
  const python = config.app.python
  const state = await readSiteState(exec, site, python)
  const base = { site: site.name, host: exec.name, root: site.root, url: site.url }
  if (!state.initialized)
    return {
      ...base,
      initialized: false,
      live: null,
      liveSlot: state.liveSlot,
      idle: null,
      releases: [],
      lock: null,
      history: [],
      unfinished: [],
      running: [],
      idleComplete: null
    }
  const ops = await new Journal(exec, siteLayout(site.root).journal).operations()
  const holder = await readHolder(exec, site.root)
  const attempt = await readAttempt(exec, site)
  const lock = holder
    ? { ...holder, state: holder.pid || holder.stage ? holderState(holder) : 'unknown' }
    : null
  const isRunning = (id: string) => lock?.state === 'alive' && lock.id === id
  const releases = await listReleases(exec, site, python)
  return {
    ...base,
    role: site.role,
    frozen: (await frozenState(exec, site)).frozen,
    ...(attempt && {
      attempt: {
        id: attempt.id,
        phase: attempt.phase,
        preview: attempt.preview,
        production: attempt.production,
        ...(attempt.version !== undefined && { version: attempt.version })
      }
    }),
    initialized: true,
    live: state.live,
    liveSlot: state.liveSlot,
    idle: state.idle,
    idleComplete:
      state.idle === null ? null : releases.some(r => r.dir === state.idle && r.complete),
    releases,
    lock: lock as SiteStatus['lock'],
    history: ops
      .slice(-historyLength)
      .reverse()
      .map(o => ({
        id: o.id,
        op: o.op,
        at: o.start.at,
        status: o.end
          ? String(o.end.status ?? o.end.event)
          : isRunning(o.id)
            ? 'running'
            : 'unfinished',
        version: o.start.version ?? o.start.to ?? undefined,
        live: o.end?.live,
        error: o.end?.error
      })),
    unfinished: ops.filter(o => !o.end && !isRunning(o.id)).map(o => o.id),
    running: ops.filter(o => !o.end && isRunning(o.id)).map(o => o.id)
  }
}

/** Clear a lock whose holder is gone. Refuses while the holder is alive, and when that cannot
 * be told from here (another machine) unless forced. */
export async function unlockSite(
  site: SiteConfig,
  exec: Executor,
  force = false
): Promise<LockHolder | null> {
  const holder = await readHolder(exec, site.root)
  if (!holder) return null
  const state = holder.pid || holder.stage ? holderState(holder) : 'unknown'
  if (state === 'alive' && holder.stage && !force)
    throw new SitecycleError(
      `site ${site.name} is locked by ${describeHolder(holder)}: let that run go on or undo it (\`sitecycle deploy ${site.name} --stage undo\`), or if the run is gone, \`sitecycle unlock ${site.name} --force\` (the next operation then recovers the site)`,
      'lock'
    )
  if (state === 'alive' && !holder.stage)
    throw new SitecycleError(
      `site ${site.name} is locked by ${describeHolder(holder)}, which is still running: wait for it or stop it first`,
      'lock'
    )
  if (state === 'unknown' && !force)
    throw new SitecycleError(
      `site ${site.name} is locked by ${describeHolder(holder)}; whether it still runs cannot be told from this machine: ` +
        `if you are sure it is gone, run \`sitecycle unlock ${site.name} --force\``,
      'lock'
    )
  await exec.run(removeTree(siteLayout(site.root).lock))
  await new Journal(exec, siteLayout(site.root).journal).append({
    id: newOperationId(),
    op: 'unlock',
    event: 'unlock',
    note: `lock of ${holder.id} cleared (${state})`
  })
  return holder
}
