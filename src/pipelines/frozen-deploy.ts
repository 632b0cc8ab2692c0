/**
 * What a frozen deploy (`hooks.freeze`) leaves when it is killed, and how the next operation,
 * whatever it is, finishes it: the site is still frozen, and its hooks may have migrated the
 * database for a release that never went live. Called by the shared recovery (recover.ts), so a
 * killed frozen deploy is completed by the next deploy, rollback, sync, snapshot or maintenance
 * run alike.
 */
import { removeTree } from '../commands/files.js'
import type { DatabaseConfig } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import type { JournalOperation } from '../sites/journal.js'
import { maintenanceHoldPath } from '../commands/apache.js'
import { siteLayout, vhostFileName, type Slot } from '../sites/layout.js'
import { holdRequests, releaseRequests, unfreeze } from '../sites/maintenance.js'
import { readSiteState, restartSlotGroup, type SiteState } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import type { OperationContext } from './operation.js'

/** Where a frozen deploy keeps the database dump taken after the freeze, until it ends. */
export function preDeployDumpPath(root: string, opId: string): string {
  return `${siteLayout(root).state}/pre-deploy-${opId}.dump`
}

/** The daemon groups of the site that may hold its database open: both slots' (those that
 * point at a release), or `current` in single mode. */
function groupsOf(c: OperationContext, state: SiteState): (Slot | 'current')[] {
  if (c.site.apache.mode === 'single') return state.live !== null ? ['current'] : []
  return [state.liveSlot, state.idleSlot].filter(slot => state.slots[slot] !== null)
}

/** Restart daemon groups, side by side (each waits for its own new PIDs). */
async function restartGroups(c: OperationContext, groups: (Slot | 'current')[]): Promise<void> {
  await Promise.all(groups.map(g => restartSlotGroup(c.exec, c.site, c.python, g)))
}

/**
 * Restart the live daemon group of a site just frozen: SIGINT lets each daemon finish the
 * requests it has (up to shutdown-timeout) before it exits, so no request admitted before the
 * freeze writes after the dump that follows. Users are frozen out meanwhile; the health path
 * waits for the new daemons.
 */
export async function drainLiveGroup(c: OperationContext, state: SiteState): Promise<void> {
  const live = groupsOf(c, state).filter(g => g === 'current' || g === state.liveSlot)
  await restartGroups(c, live)
}

/** Warn when the site's vhost predates the hold rule (then the health path is not held). */
async function checkHoldRule(c: OperationContext): Promise<void> {
  const vhost = `${c.site.apache.confDir}/${vhostFileName(c.site)}`
  const text = await c.exec.readFile(vhost).catch(() => undefined)
  if (text !== undefined && !text.includes(maintenanceHoldPath(c.site)))
    c.reporter.warn(
      `the vhost ${vhost} of site ${c.site.name} has no hold rule: requests to the health path may fail while the database is put back; run \`sitecycle init ${c.site.name}\` to rewrite it`
    )
}

/**
 * Put a frozen site's database back (`restore`) without failing a request: hold the site (every
 * request, the health path included, gets the maintenance answer), restart its daemon groups so
 * that the requests they run finish and their connections close with them (PostgreSQL would
 * otherwise terminate them under the application, which then fails its next requests), restore,
 * restart the groups again (a daemon that connected meanwhile holds no connection to the replaced
 * database), and release the hold, even when the restore failed. A group that does not restart
 * before the restore is warned about, and the restore goes on.
 */
export async function restoreWhileHeld(
  c: OperationContext,
  state: SiteState,
  restore: () => Promise<void>
): Promise<void> {
  const groups = groupsOf(c, state)
  await checkHoldRule(c)
  await holdRequests(c.exec, c.site)
  try {
    // The database goes back even when a group does not restart: its data come first.
    await restartGroups(c, groups).catch(e =>
      c.reporter.warn(
        `the daemons of site ${c.site.name} could not be restarted before its database is put back, so their connections may be ended under them: ${e instanceof Error ? e.message : e}`
      )
    )
    await restore()
    await restartGroups(c, groups)
  } finally {
    await releaseRequests(c.exec, c.site)
  }
}

/**
 * Finish the freeze of a frozen deploy (`hooks.freeze`) that was killed: recoverInterrupted
 * (recover.ts) has just put its slots back and marked it recovered, but its site is still frozen, and its hooks may
 * have migrated the database while the release it was for never went live. For each such run
 * recovered by this operation: when it had not switched, its dump (taken after the freeze) is
 * restored while the site is held (restoreWhileHeld); then the site is unfrozen unless it was frozen
 * before that run, and the dump removed. A needed dump that is missing keeps the site frozen
 * and throws. Returns what was done, one sentence per action.
 */
export async function completeFrozenDeploys(ctx: OperationContext): Promise<string[]> {
  const { exec, site, reporter, python } = ctx
  const ran = (op: JournalOperation, step: string, phase: 'run' | 'undo', status: string) =>
    op.steps.some(s => s.step === step && s.phase === phase && s.status === status)
  const killed = (await ctx.journal.operations()).filter(
    op =>
      op.op === 'deploy' &&
      op.end?.event === 'recovered' &&
      op.end.by === ctx.opId &&
      ran(op, 'freeze', 'run', 'ok') &&
      !ran(op, 'freeze', 'undo', 'undone') &&
      !ran(op, 'unfreeze', 'run', 'ok')
  )
  const done: string[] = []
  for (const op of killed) {
    const start = op.start as { liveSlot?: Slot; live?: string | null; frozen?: boolean }
    const state = await readSiteState(exec, site, python)
    const switched =
      site.apache.mode === 'single' ? state.live !== start.live : state.liveSlot !== start.liveSlot
    const dump = preDeployDumpPath(site.root, op.id)
    if (!switched && ran(op, 'snapshot-db', 'run', 'ok') && site.database) {
      const db: DatabaseConfig = { ...site.database, python }
      const engine = getEngine(db.engine)
      if ((await exec.tryRun({ argv: ['test', '-e', dump] })).code !== 0)
        throw new SitecycleError(
          `the deploy ${op.id} was killed after its hooks may have migrated ${db.name}, and its dump ${dump} is missing: ` +
            `site ${site.name} stays frozen; restore the database from a snapshot, then run \`sitecycle maintenance off ${site.name}\``,
          'database'
        )
      await restoreWhileHeld(ctx, state, () => engine.restore(exec, db, dump, reporter))
      done.push(`the database was restored from ${dump}, taken before the hooks of ${op.id}`)
    } else {
      // The killed run may have been holding the site (restoreWhileHeld) when it died.
      await releaseRequests(exec, site)
    }
    if (!start.frozen) {
      await unfreeze(exec, site)
      done.push(`site ${site.name} is unfrozen (${op.id} had frozen it)`)
    }
    await exec.tryRun(removeTree(dump))
  }
  for (const n of done) reporter.info(`recovered: ${n}`)
  return done
}
