/**
 * The sync-preview action: inputs → sync the preview site from its `from` site (a new snapshot,
 * or the newest / a named one), anonymise, run the preview's hooks on the copied data, verify →
 * outputs and job summary.
 */
import { syncSite } from '../pipelines/sync.js'
import type { ActionCore } from './action-core.js'
import { runDataAction } from './data-action.js'
import { readSyncPreviewSettings } from './data-inputs.js'
import { dataFailureReport, dataOutcomeReport } from './restore.js'
import type { SiteActionDeps } from './site-action.js'

/** The sync-preview action's dependencies; tests replace the pipeline. */
export interface SyncPreviewActionDeps extends SiteActionDeps {
  syncSite?: typeof syncSite
}

/** Run the sync-preview action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runSyncPreviewAction(
  core: ActionCore,
  deps: SyncPreviewActionDeps = {}
): Promise<void> {
  await runDataAction(
    core,
    {
      op: 'sync-preview',
      readSettings: readSyncPreviewSettings,
      run: ({ settings, target, reporter }) =>
        (deps.syncSite ?? syncSite)({
          config: target.config,
          site: target.site,
          exec: target.exec,
          reporter,
          lockWait: settings.lockWait,
          useLatest: settings.useLatest,
          ...(settings.snapshot !== undefined && { snapshot: settings.snapshot })
        }),
      report: o =>
        dataOutcomeReport(
          o,
          `🔄 Synced site ${o.site} from site ${o.source.site} (snapshot ${o.snapshot})`
        ),
      reportFailure: (error, { target }) => dataFailureReport(error, 'Sync', target.site.name)
    },
    deps
  )
}
