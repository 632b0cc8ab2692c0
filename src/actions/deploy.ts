/**
 * The deploy action: inputs → deploy pipeline (or, with dry-run, its plan) → outputs and job summary.
 */
import { withAlerts } from '../alerts/alert-around.js'
import { describeError } from '../alerts/alert-report.js'
import { runDeploymentsApi, withGithubDeployment } from '../github/deployments.js'
import { deploy, type DeployRequest } from '../pipelines/deploy.js'
import { planDeploy, reportDryRun } from '../pipelines/dry-run.js'
import type { OperationOutcome } from '../pipelines/operation.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import type { CoreReporter } from './core-reporter.js'
import { DeployInput, readDeploySettings, type DeploySettings } from './inputs.js'
import { setPlanOutputs } from './outputs.js'
import {
  runSiteAction,
  writeSummary,
  type SiteActionDeps,
  type SiteActionRun
} from './site-action.js'
import { renderPlanSummary } from './summary.js'

/** The deploy action's dependencies; tests replace the pipeline. */
export interface DeployActionDeps extends SiteActionDeps {
  /** The deploy pipeline (deploy() by default). */
  deploy?: typeof deploy
  /** The fetch GitHub requests go through (deployment records, issue alerts); the global one by default. */
  githubFetch?: typeof globalThis.fetch
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
        allowBad: settings.allowBad,
        // The config-secrets input adds to the environment the template's placeholders read from.
        env: { ...(deps.env ?? process.env), ...settings.configSecrets },
        ...(settings.release !== undefined && { release: settings.release }),
        ...(settings.version !== undefined && { version: settings.version })
      }
      if (!settings.dryRun) {
        const env = deps.env ?? process.env
        const run = () => (deps.deploy ?? deploy)(request)
        const recorded = () =>
          recordDeployment(core, env, deps, target, settings.version, reporter, run)
        return withAlerts(
          {
            config: target.config,
            op: 'deploy',
            site: target.site.name,
            host: target.exec.name,
            env,
            reporter,
            redact: text => reporter.redact(text),
            summary: o => `${o.version ?? 'nothing'} serves on ${o.url}`,
            ...(deps.githubFetch && { deps: { fetch: deps.githubFetch } })
          },
          recorded
        )
      }

      // The one dry-run path of the CLI too: every check that changes nothing, then the plan.
      const plan = await planDeploy(request)
      reportDryRun(plan, reporter)
      setPlanOutputs(core, target.site.url)
      await writeSummary(
        core,
        renderPlanSummary(
          {
            site: target.site.name,
            host: target.exec.name,
            url: target.site.url,
            release: plan.release!,
            checks: [plan.summary, ...plan.checks],
            plan: plan.steps
          },
          reporter.redact.bind(reporter)
        )
      )
      return undefined
    },
    deps
  )
}

/**
 * Run the deploy inside a GitHub deployment of the site's environment when `record-deployment`
 * is true (the default) and a token (`github-token`, else GITHUB_TOKEN) and GITHUB_REPOSITORY
 * are there; just run it otherwise.
 */
async function recordDeployment(
  core: ActionCore,
  env: NodeJS.ProcessEnv,
  deps: DeployActionDeps,
  target: SiteActionRun<DeploySettings>['target'],
  version: string | undefined,
  reporter: CoreReporter,
  run: () => Promise<OperationOutcome>
): Promise<OperationOutcome> {
  const record = core.getInput(DeployInput.RecordDeployment).trim()
  if (record !== '' && !/^(true|false)$/i.test(record))
    throw new SitecycleError(
      `input '${DeployInput.RecordDeployment}' is '${record}'; expected true or false`,
      'input'
    )
  // The environment the job runs in (deploy.yml's `environment` input): recording under the
  // site's name instead would make GitHub create a second environment, without protection rules.
  const environment = core.getInput(DeployInput.Environment).trim()
  if (environment && !/^[\w .-]{1,255}$/.test(environment))
    throw new SitecycleError(
      `input '${DeployInput.Environment}' is '${environment}'; expected a GitHub environment name`,
      'input'
    )
  const tokenInput = core.getInput(DeployInput.GithubToken).trim()
  reporter.addSecret(tokenInput)
  const token = tokenInput || env.GITHUB_TOKEN
  const github = /^false$/i.test(record)
    ? undefined
    : runDeploymentsApi(env, token, deps.githubFetch)
  if (!github) return run()
  reporter.addSecret(token!)
  const { api, ref, logUrl } = github
  return withGithubDeployment(
    api,
    {
      ref,
      site: target.site,
      ...(environment !== '' && { environment }),
      ...(version !== undefined && { version }),
      ...(target.site.host.kind === 'ssh' && { host: target.exec.name }),
      ...(logUrl !== undefined && { logUrl })
    },
    reporter,
    run,
    {
      describe: outcome =>
        outcome.status === 'deployed' || outcome.status === 'unchanged'
          ? { ok: true, description: `${outcome.version} serves on ${outcome.url}` }
          : { ok: false, description: outcome.error ?? `the deploy ended ${outcome.status}` },
      describeError: error => {
        const { step, error: message } = describeError(error)
        return step ? `failed at ${step}: ${message}` : message
      },
      redact: text => reporter.redact(text)
    }
  )
}
