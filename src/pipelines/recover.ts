import { firstOwnedBy, removeTree, takeTreeBack } from '../commands/files.js'
import { siteLayout, type Slot } from '../sites/layout.js'
import { siteUserSwitch } from '../sites/site-user.js'
import { listReleases, pointSlot, readSiteState, restartSlotGroup } from '../sites/site-state.js'
import { DATA_OPERATIONS, DataInDoubt, recoverDataRun, replacesAllData } from './data-recovery.js'
import { completeFrozenDeploys } from './frozen-deploy.js'
import type { OperationContext } from './operation.js'

/**
 * Finish what an interrupted run left (killed, machine lost): its journal entry has a start
 * and no end. Users were never routed to anything unverified (the switch comes after the
 * verification), so the live slot is the truth. What can be left over: half-installed release
 * directories, upload leftovers, and an idle slot pointing at the release the run was about to
 * verify instead of the one kept warm for a rollback. Each is put back; the journal gets a
 * `recovered` event for each such run, with what was done for it. An interrupted restore or sync
 * is finished or undone whole first (data-recovery.ts); when that is impossible the site stays
 * frozen, the run stays open, and this throws. A run killed while hooks ran left their release
 * lent to the site's user (hooks.ts): it is taken back, so the application cannot change its code.
 */
export async function recoverInterrupted(ctx: OperationContext): Promise<string[]> {
  const { exec, site, journal, python, reporter } = ctx
  const ops = await journal.operations()
  const open = ops.filter(o => !o.end)
  if (!open.length) return []
  const all: string[] = []
  let state = await readSiteState(exec, site, python)
  const l = siteLayout(site.root)
  for (const [index, op] of open.entries()) {
    const notes: string[] = []
    reporter.warn(
      `an earlier ${op.op} (${op.id}, started ${op.start.at}) did not finish: recovering`
    )
    if (Object.hasOwn(DATA_OPERATIONS, op.op)) {
      try {
        notes.push(...(await recoverDataRun(ctx, op)))
      } catch (e) {
        // Data in doubt: only an operation that replaces the site's data whole may go on; the
        // interrupted run is closed when that succeeds (withSiteOperation), open if it fails.
        if (!(e instanceof DataInDoubt) || !replacesAllData(ctx.op)) throw e
        reporter.warn(e.message)
        reporter.warn(
          `this ${ctx.op} replaces the database and data folders of site ${site.name} whole: it goes on, and closes the interrupted ${op.op} ${op.id} when it succeeds`
        )
        ctx.superseded = [
          ...(ctx.superseded ?? []),
          {
            id: op.id,
            op: op.op,
            notes: [
              `superseded by ${ctx.op} ${ctx.opId}: its data could not be put back (${e.why})`
            ]
          }
        ]
        continue
      }
    }
    const before = op.start as { liveSlot?: Slot; idle?: string | null; live?: string | null }
    if (site.apache.mode === 'blue-green' && before.liveSlot) {
      const idleBefore = before.idle ?? null
      if (state.liveSlot === before.liveSlot && state.idle !== idleBefore) {
        // The run had started its release in the idle slot but never switched: keep the
        // release that was warm for a rollback there again.
        const releases = await listReleases(exec, site, python)
        if (idleBefore === null || releases.some(r => r.dir === idleBefore && r.complete)) {
          await pointSlot(exec, site, python, state.idleSlot, idleBefore ?? '_empty')
          await restartSlotGroup(exec, site, python, state.idleSlot).catch(e =>
            reporter.warn(`could not restart the idle slot: ${e instanceof Error ? e.message : e}`)
          )
          notes.push(`idle slot ${state.idleSlot} points at ${idleBefore ?? 'no release'} again`)
          state = await readSiteState(exec, site, python)
        }
      } else if (state.liveSlot !== before.liveSlot) {
        notes.push(
          `the interrupted run had switched: ${state.live} is live (it was verified before the switch)`
        )
      }
    }
    // After the last open run: half-installed releases (no release.json) that no slot uses,
    // and upload leftovers. Recorded with that run.
    if (index === open.length - 1) {
      const inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean) as string[])
      const partial = (await listReleases(exec, site, python)).filter(
        r => !r.complete && !inSlots.has(r.dir)
      )
      if (partial.length) {
        await exec.run(removeTree(...partial.map(r => l.release(r.dir))))
        notes.push(`removed half-installed ${partial.map(r => r.dir).join(', ')}`)
      }
      await exec.run(removeTree(l.incoming))
      const lent = await takeBackLentReleases(ctx)
      if (lent) notes.push(lent)
    }
    await journal.append({ id: op.id, op: op.op, event: 'recovered', by: ctx.opId, notes })
    for (const n of notes) reporter.info(`recovered: ${n}`)
    all.push(...notes)
  }
  // A killed frozen deploy also left its site frozen, maybe with a migrated database.
  ctx.recoveredFreeze = await completeFrozenDeploys(ctx)
  all.push(...ctx.recoveredFreeze)
  return all
}

/**
 * Releases a killed hook run left owned by the site's Apache user (a restore's or sync's hooks
 * run in the LIVE release) are root's again: `chown --from` changes only what that user owns.
 * Only from root, which is the only case hooks lend a release.
 */
async function takeBackLentReleases(ctx: OperationContext): Promise<string | undefined> {
  const { exec, site } = ctx
  const l = siteLayout(site.root)
  const s = await siteUserSwitch(exec, site).catch(() => undefined)
  if (!s || !('argv' in s) || s.argv.length === 0) return undefined
  const found = await exec.tryRun(firstOwnedBy(site.apache.user, l.releases))
  if (found.code !== 0 || !found.stdout.trim()) return undefined
  await exec.run(takeTreeBack(site.apache.user, '0', l.releases))
  return `releases owned by ${site.apache.user} after a hook run was cut short are root's again`
}
