/**
 * The restore action: inputs → restore a snapshot into the site, frozen while it happens →
 * outputs and job summary.
 */
import { DataOperationFailed, restoreSite, type DataOutcome } from '../pipelines/restore.js'
import type { ActionCore } from './action-core.js'
import { runDataAction, type DataReport } from './data-action.js'
import { readRestoreSettings } from './data-inputs.js'
import type { SiteActionDeps } from './site-action.js'

/** The restore action's dependencies; tests replace the pipeline. */
export interface RestoreActionDeps extends SiteActionDeps {
  restoreSite?: typeof restoreSite
}

/** The report of a finished restore or sync (shared with the sync-preview action). */
export function dataOutcomeReport(o: DataOutcome, heading: string): DataReport {
  return {
    status: o.status,
    heading,
    rows: [
      ['Site', `${o.site} on ${o.host}`],
      ['Snapshot', `${o.snapshot} of site ${o.source.site} on ${o.source.host}`],
      [
        'Database',
        o.database
          ? `${o.database.engine} ${o.database.name}, ${o.database.tables.length} tables`
          : 'none'
      ],
      ['Files', o.files.map(f => f.target).join(', ') || 'none'],
      ['Anonymized', String(o.anonymized)],
      ['Live release', o.live ?? 'none'],
      ['Operation', o.operationId]
    ],
    outputs: { snapshot: o.snapshot },
    steps: o.steps
  }
}

/** The report of a restore or sync that failed after it started. */
export function dataFailureReport(
  error: unknown,
  op: string,
  site: string
): DataReport | undefined {
  if (!(error instanceof DataOperationFailed)) return undefined
  return {
    status: 'failed',
    heading: `❌ ${op} of site ${site} failed at step ${error.failedStep}${error.leftFrozen ? ': the site is left frozen' : ''}`,
    rows: [['Site', site]],
    outputs: {},
    steps: error.steps,
    error: error.message
  }
}

/** Run the restore action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runRestoreAction(
  core: ActionCore,
  deps: RestoreActionDeps = {}
): Promise<void> {
  await runDataAction(
    core,
    {
      op: 'restore',
      readSettings: readRestoreSettings,
      run: ({ settings, target, reporter }) =>
        (deps.restoreSite ?? restoreSite)({
          config: target.config,
          site: target.site,
          exec: target.exec,
          reporter,
          lockWait: settings.lockWait,
          ...(settings.snapshot !== undefined && { snapshot: settings.snapshot })
        }),
      report: o => dataOutcomeReport(o, `♻️ Restored snapshot ${o.snapshot} into site ${o.site}`),
      reportFailure: (error, { target }) => dataFailureReport(error, 'Restore', target.site.name)
    },
    deps
  )
}
