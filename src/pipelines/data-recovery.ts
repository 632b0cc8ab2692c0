/**
 * Recovery of a restore or sync that did not finish (killed, machine lost, or its own undo
 * failed), by whichever operation comes next on the site: a deploy, a snapshot, `maintenance
 * off`, another restore. The site ends with its previous data, or with the complete new data
 * when the interrupted run had verified it, never a mix:
 *
 * - no intent in the journal: nothing was swapped in; the staged copies are dropped;
 * - an intent, and the run had verified the site after the swap: finished forward (what was kept
 *   for the way back is dropped, the site unfrozen if the run had frozen it);
 * - an intent otherwise: rolled back from what is on the host (data-swap.ts rollBackData) while the
 *   site is held and its daemons restarted around it, then unfrozen if the run had frozen it.
 *
 * When that fails the site stays in maintenance, with a page saying why, and the run stays open:
 * the operation that found it stops with an error naming the run and what to do.
 */
import { removeTree } from '../commands/files.js'
import { getEngine } from '../databases/registry.js'
import type { JournalOperation } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import { freeze, frozenState, unfreeze } from '../sites/maintenance.js'
import { readSiteState } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import {
  databaseSwapNames,
  finishData,
  folderSiblings,
  rollBackData,
  swapParts,
  type SwapIntent
} from './data-swap.js'
import { restoreWhileHeld } from './frozen-deploy.js'
import type { OperationContext } from './operation.js'

/**
 * The operations whose interrupted runs are recovered here, each with the steps after which its
 * new data counts as verified (then it is finished forward rather than undone).
 */
export const DATA_OPERATIONS: Record<string, string[]> = {
  restore: ['verify', 'unfreeze'],
  sync: ['verify', 'unfreeze'],
  mirror: ['record-shown']
}

function stepOk(op: JournalOperation, step: string): boolean {
  return op.steps.some(s => s.step === step && s.phase === 'run' && s.status === 'ok')
}

/** What the interrupted run was about to swap in, when it got that far. */
function intentOf(op: JournalOperation): SwapIntent | undefined {
  return (op.intent as { intent?: SwapIntent } | undefined)?.intent
}

/** The operations that replace a site's database and data folders whole (restore.ts, sync.ts). */
export function replacesAllData(op: string): boolean {
  return op === 'restore' || op === 'sync'
}

/** An interrupted data run whose data could not be put back: the site stays frozen, the run open. */
export class DataInDoubt extends SitecycleError {
  constructor(
    siteName: string,
    readonly run: JournalOperation,
    /** Why the data could not be put back. */
    readonly why: string
  ) {
    super(
      `site ${siteName}: the interrupted ${run.op} ${run.id} could not be put back (${why}); the site stays in maintenance with its data in doubt. ` +
        `Fix the cause, then run any operation on the site (such as \`sitecycle maintenance off ${siteName}\`): it finishes putting the data back first. ` +
        `Or replace the data whole: \`sitecycle restore ${siteName} --snapshot ID\`, or for a preview \`sitecycle sync ${siteName}\``,
      'data'
    )
    this.name = 'DataInDoubt'
  }
}

/**
 * Put the site back whole after the interrupted data run `op` (see the module comment). Returns
 * notes for the journal's `recovered` event; throws a SitecycleError (the site frozen) when the
 * data cannot be put back.
 */
export async function recoverDataRun(
  ctx: OperationContext,
  op: JournalOperation
): Promise<string[]> {
  const { exec, site, python, reporter } = ctx
  const parts = swapParts(exec, site, python, reporter, getEngine)
  const intent = intentOf(op)
  const froze = stepOk(op, 'freeze')
  const frozenBefore = Boolean(op.start.frozenBefore)
  const notes: string[] = []
  try {
    if (intent && DATA_OPERATIONS[op.op].some(step => stepOk(op, step))) {
      notes.push(...(await finishData(parts, intent)))
      notes.push(`the interrupted ${op.op} had swapped in and checked the new data: finished`)
    } else if (intent) {
      const state = await readSiteState(exec, site, python)
      await restoreWhileHeld(ctx, state, async () => {
        notes.push(...(await rollBackData(parts, intent)))
      })
      notes.push(`the interrupted ${op.op} was undone: the site holds its data from before it`)
    } else {
      // Nothing was swapped in: only the staged copies are left.
      if (parts.db && parts.engine) {
        const names = databaseSwapNames(parts.db, parts.engine.nameBytes, op.id)
        for (const name of [names.scratch, names.keep]) {
          const staged = { ...parts.db, name }
          if (await parts.engine.exists(exec, staged)) {
            await parts.engine.drop(exec, staged)
            notes.push(`dropped the staged copy ${name}`)
          }
        }
      }
      const siblings = (site.data ?? []).flatMap(d => Object.values(folderSiblings(d, op.id)))
      if (siblings.length) await exec.run(removeTree(...siblings))
      notes.push(
        `the interrupted ${op.op} had not swapped anything in: the site's data is as before`
      )
    }
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e)
    await freeze(exec, site, python, {
      message:
        'This site is closed while its data is checked after an interrupted operation. Please come back later.'
    }).catch(() => undefined)
    throw new DataInDoubt(site.name, op, why)
  }
  await exec.run(removeTree(`${siteLayout(site.root).incoming}/${op.id}`))
  if (froze && !frozenBefore && (await frozenState(exec, site)).frozen) {
    await unfreeze(exec, site)
    notes.push('unfrozen (the interrupted run had frozen it)')
  }
  return notes
}
