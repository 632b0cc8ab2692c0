/**
 * The deploy action: inputs → deploy pipeline (or, with dry-run, its plan) → outputs and job summary.
 */
import { deploy, deployPlan, prepareDeploy, type DeployRequest } from '../pipelines/deploy.js'
import type { ActionCore } from './action-core.js'
import { readDeploySettings } from './inputs.js'
import { setPlanOutputs } from './outputs.js'
import { runSiteAction, writeSummary, type SiteActionDeps } from './site-action.js'
import { renderPlanSummary } from './summary.js'

/** The deploy action's dependencies; tests replace the pipeline. */
export interface DeployActionDeps extends SiteActionDeps {
  /** The deploy pipeline (deploy() by default). */
  deploy?: typeof deploy
}

/**
 * Run the deploy action. Throws (with secrets redacted) when it fails; outputs and the job summary
 * are written in every case. The caller passes the message to core.setFailed.
 */
export async function runDeployAction(
  core: ActionCore,
  deps: DeployActionDeps = {}
): Promise<void> {
  await runSiteAction(
    core,
    'deploy',
    readDeploySettings,
    async ({ settings, target, reporter }) => {
      const request: DeployRequest = {
        config: target.config,
        site: target.site,
        exec: target.exec,
        reporter,
        lockWait: settings.lockWait,
        // The config-secrets input adds to the environment the template's placeholders read from.
        env: { ...(deps.env ?? process.env), ...settings.configSecrets },
        ...(settings.release !== undefined && { release: settings.release }),
        ...(settings.version !== undefined && { version: settings.version })
      }
      if (!settings.dryRun) return (deps.deploy ?? deploy)(request)

      const { release } = await prepareDeploy(request)
      const plan = deployPlan()
      reporter.info(
        `dry run: would deploy ${release.name} ${release.version} (${release.file}) to site ${target.site.name} on ${target.exec.name}:`
      )
      for (const line of plan) reporter.info(line)
      setPlanOutputs(core, target.site.url)
      await writeSummary(
        core,
        renderPlanSummary(
          {
            site: target.site.name,
            host: target.exec.name,
            url: target.site.url,
            release: { name: release.name, version: release.version, file: release.file },
            plan
          },
          reporter.redact.bind(reporter)
        )
      )
      return undefined
    },
    deps
  )
}
