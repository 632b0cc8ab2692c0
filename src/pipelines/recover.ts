import { removeTree } from '../commands/files.js'
import { siteLayout, type Slot } from '../sites/layout.js'
import { listReleases, pointSlot, readSiteState, restartSlotGroup } from '../sites/site-state.js'
import type { OperationContext } from './operation.js'

/**
 * Finish what an interrupted run left (killed, machine lost): its journal entry has a start
 * and no end. Users were never routed to anything unverified (the switch comes after the
 * verification), so the live slot is the truth. What can be left over: half-installed release
 * directories, upload leftovers, and an idle slot pointing at the release the run was about to
 * verify instead of the one kept warm for a rollback. Each is put back; the journal gets a
 * `recovered` event for the run.
 */
export async function recoverInterrupted(ctx: OperationContext): Promise<string[]> {
  const { exec, site, journal, python, reporter } = ctx
  const ops = await journal.operations()
  const open = ops.filter(o => !o.end)
  if (!open.length) return []
  const notes: string[] = []
  const state = await readSiteState(exec, site, python)
  const inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean) as string[])
  for (const op of open) {
    reporter.warn(
      `an earlier ${op.op} (${op.id}, started ${op.start.at}) did not finish: recovering`
    )
    const before = op.start as { liveSlot?: Slot; idle?: string | null; live?: string | null }
    if (site.apache.mode === 'blue-green' && before.liveSlot) {
      const idleBefore = before.idle ?? null
      if (state.liveSlot === before.liveSlot && state.idle !== idleBefore) {
        // The run had started its release in the idle slot but never switched: keep the
        // release that was warm for a rollback there again.
        const target = idleBefore ?? '_empty'
        const releases = await listReleases(exec, site, python)
        if (idleBefore === null || releases.some(r => r.dir === idleBefore && r.complete)) {
          await pointSlot(exec, site, python, state.idleSlot, target)
          await restartSlotGroup(exec, site, python, state.idleSlot).catch(e =>
            reporter.warn(`could not restart the idle slot: ${e instanceof Error ? e.message : e}`)
          )
          inSlots.delete(state.idle ?? '')
          if (idleBefore) inSlots.add(idleBefore)
          notes.push(`idle slot ${state.idleSlot} points at ${idleBefore ?? 'no release'} again`)
        }
      } else if (state.liveSlot !== before.liveSlot) {
        notes.push(
          `the interrupted run had switched: ${state.live} is live (it was verified before the switch)`
        )
      }
    }
    await journal.append({
      id: op.id,
      op: op.op,
      event: 'recovered',
      by: ctx.opId,
      notes: [...notes]
    })
  }
  // Half-installed releases (no release.json) that no slot uses, and upload leftovers.
  const releases = await listReleases(exec, site, python)
  const l = siteLayout(site.root)
  const partial = releases
    .filter(r => !r.complete && !inSlots.has(r.dir))
    .map(r => l.release(r.dir))
  if (partial.length) {
    await exec.run(removeTree(...partial))
    notes.push(`removed half-installed ${partial.map(p => p.split('/').pop()).join(', ')}`)
  }
  await exec.run(removeTree(l.incoming))
  for (const n of notes) reporter.info(`recovered: ${n}`)
  return notes
}
