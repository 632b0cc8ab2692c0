/** The outcomes of a deploy: done, nothing to do, or failed with what its undos put back. */
import { removeTree } from '../../commands/files.js'
import { siteLayout } from '../../sites/layout.js'
import { readSiteState, type SiteState } from '../../sites/site-state.js'
import type { OperationContext, OperationFailed } from '../operation.js'
import { failureCause, operationFailed, rolledBackBy, type OutcomeBase } from '../outcome.js'
import type { PipelineError, StepReport } from '../pipeline.js'
import type { DeployContext } from './context.js'
import { databaseNote } from './freeze.js'

/** The outcome, with its journal fields, of a deploy whose release is live already. */
export function unchangedOutcome(base: OutcomeBase, live: string) {
  return {
    ...base,
    status: 'unchanged' as const,
    version: live,
    rolledBack: false,
    undoComplete: true,
    steps: [],
    journal: { live }
  }
}

/** The outcome, with its journal fields, of a deploy that made `version` live. */
export function deployedOutcome(base: OutcomeBase, version: string, steps: StepReport[]) {
  return {
    ...base,
    status: 'deployed' as const,
    version,
    rolledBack: false,
    undoComplete: true,
    steps,
    journal: { live: version, previous: base.previousVersion }
  }
}

/**
 * The OperationFailed of a deploy whose pipeline failed, after cleaning up what the failure
 * leaves: the upload folder, and the database dump once every undo ran (while they did not, it
 * may be the only copy of the data from before the hooks). Its status is rolled-back when the
 * switch was undone or the undos put anything back, and its version the release live now.
 */
export async function deployFailed(
  octx: OperationContext,
  ctx: DeployContext,
  base: OutcomeBase,
  state: SiteState,
  e: PipelineError
): Promise<OperationFailed> {
  await octx.exec.tryRun(removeTree(`${siteLayout(octx.site.root).incoming}/${octx.opId}`))
  const dbNote = databaseNote(ctx, e)
  if (ctx.dbSnapshot && e.undoComplete)
    await octx.exec.tryRun(removeTree(ctx.dbSnapshot)).catch(() => undefined)
  const after = await readSiteState(octx.exec, octx.site, octx.python).catch(() => undefined)
  const switchedOnce = e.reports.some(
    r => r.name === 'switch' && (r.status === 'undone' || r.status === 'undo-failed')
  )
  const rolledBack = rolledBackBy(e)
  return operationFailed(base, e, {
    status: switchedOnce || rolledBack ? 'rolled-back' : 'failed',
    version: after?.live ?? state.live,
    rolledBack,
    error: dbNote ? `${failureCause(e)}; ${dbNote}` : failureCause(e),
    notes: dbNote ? [dbNote] : []
  })
}
