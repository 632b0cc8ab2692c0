/**
 * The rollback action: inputs → rollback pipeline → outputs and job summary.
 */
import { withAlerts } from '../alerts/alert-around.js'
import { rollback, type RollbackRequest } from '../pipelines/rollback.js'
import type { ActionCore } from './action-core.js'
import { readRollbackSettings } from './inputs.js'
import { alertedOperation, runSiteAction, type SiteActionDeps } from './site-action.js'

/** The rollback action's dependencies; tests replace the pipeline. */
export interface RollbackActionDeps extends SiteActionDeps {
  /** The rollback pipeline (rollback() by default). */
  rollback?: typeof rollback
  /** The fetch GitHub requests go through (issue alerts); the global one by default. */
  githubFetch?: typeof globalThis.fetch
}

/**
 * Run the rollback action. Throws (with secrets redacted) when it fails; outputs and the job
 * summary are written in every case. The caller passes the message to core.setFailed.
 */
export async function runRollbackAction(
  core: ActionCore,
  deps: RollbackActionDeps = {}
): Promise<void> {
  await runSiteAction(
    core,
    'rollback',
    readRollbackSettings,
    ({ settings, target, reporter }) => {
      const request: RollbackRequest = {
        config: target.config,
        site: target.site,
        exec: target.exec,
        reporter,
        lockWait: settings.lockWait,
        allowBad: settings.allowBad,
        ...(settings.to !== undefined && { to: settings.to })
      }
      // A scheduled rollback is unusual, but SITECYCLE_UNATTENDED=1 makes any run alert.
      return withAlerts(alertedOperation('rollback', target, deps, reporter), () =>
        (deps.rollback ?? rollback)(request)
      )
    },
    deps
  )
}
