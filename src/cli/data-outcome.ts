/** How the data commands (restore, sync, clone) end: the outcome printed, or the failed run reported. */
import { DataOperationFailed, type restoreSite } from '../pipelines/restore.js'
import { EXIT, reportFailedPipeline, type CliContext } from './context.js'

type DataOutcome = Awaited<ReturnType<typeof restoreSite>>

/** The one line a restore or a sync prints. */
export function describeDataOutcome(o: DataOutcome): string {
  return (
    `site ${o.site} ${o.status} from snapshot ${o.snapshot} of site ${o.source.site}` +
    (o.database ? `: ${o.database.tables.length} tables` : '') +
    (o.files.length ? `, ${o.files.length} data folder(s)` : '') +
    (o.anonymized ? ', anonymized' : '') +
    (o.hooks ? `, ${o.hooks} hook(s) run in ${o.live}` : '') +
    (o.frozen ? '; it stays frozen (it was before)' : '')
  )
}

/**
 * Runs a data operation and ends the command: its outcome printed (JSON with `--json`, else
 * `describe`'s line), exit 0; or, when its pipeline failed, the failure reported with whether the
 * site was left frozen, exit 1 (undone) or 4 (needs attention: an undo failed). Other errors go up
 * to `act`.
 */
export async function endDataCommand<T>(
  ctx: CliContext,
  json: boolean,
  operation: () => Promise<T>,
  describe: (outcome: T) => string
): Promise<number> {
  try {
    const outcome = await operation()
    ctx.out(json ? JSON.stringify(outcome, null, 2) : describe(outcome))
    return EXIT.ok
  } catch (e) {
    if (!(e instanceof DataOperationFailed)) throw e
    return reportFailedPipeline(ctx, e, json, { frozen: e.leftFrozen })
  }
}
