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
import { siteLayout, type Slot } from '../sites/layout.js'
import { unfreeze } from '../sites/maintenance.js'
import { readSiteState, restartSlotGroup, type SiteState } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import type { OperationContext } from './operation.js'

/** Where a frozen deploy keeps the database dump taken after the freeze, until it ends. */
export function preDeployDumpPath(root: string, opId: string): string {
  return `${siteLayout(root).state}/pre-deploy-${opId}.dump`
}

/**
 * Restart the daemon groups that may hold the database open, so none keeps the replaced one (a
 * restore swaps in a new database or file). The site is frozen: users are not served meanwhile.
 */
export async function restartAfterRestore(c: OperationContext, state: SiteState): Promise<void> {
  if (c.site.apache.mode === 'single') {
    if (state.live !== null) await restartSlotGroup(c.exec, c.site, c.python, 'current')
    return
  }
  for (const slot of [state.liveSlot, state.idleSlot])
    if (state.slots[slot] !== null) await restartSlotGroup(c.exec, c.site, c.python, slot)
}

/**
 * Finish the freeze of a frozen deploy (`hooks.freeze`) that was killed: recoverInterrupted
 * (recover.ts) has just put its slots back and marked it recovered, but its site is still frozen, and its hooks may
 * have migrated the database while the release it was for never went live. For each such run
 * recovered by this operation: when it had not switched, its dump (taken after the freeze) is
 * restored and the daemon groups restarted; then the site is unfrozen unless it was frozen
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
      await engine.restore(exec, db, dump, reporter)
      await restartAfterRestore(ctx, state)
      done.push(`the database was restored from ${dump}, taken before the hooks of ${op.id}`)
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
