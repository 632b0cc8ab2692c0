/**
 * The deploy in one step: inputs → deploy pipeline (or, with dry-run, its plan) → outputs and job
 * summary. actions/deploy runs it as its prepare stage for a site a deploy in stages does not
 * take (deploy-stage.ts); the pieces a stage needs (the request, the GitHub deployment record)
 * are built here, once, for both. Their alerts are site-action.ts's alertedOperation, as the
 * rollback's are.
 */
import { withAlerts } from '../alerts/alert-around.js'
import { describeError } from '../alerts/alert-report.js'
import type { GithubDeploymentsApi } from '../github/api.js'
import {
  runDeploymentsApi,
  withGithubDeployment,
  type DeploymentResult,
  type DeploymentTarget
} from '../github/deployments.js'
import { deploy, type DeployRequest } from '../pipelines/deploy.js'
import { planDeploy, reportDryRun } from '../pipelines/dry-run.js'
import type { OperationOutcome } from '../pipelines/operation.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { DeployInput, readDeploySettings, type DeploySettings } from './inputs.js'
import { setPlanOutputs } from './outputs.js'
import {
  alertedOperation,
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
 * Run the deploy in one step. Throws (with secrets redacted) when it fails; outputs and the job
 * summary are written in every case. The caller passes the message to core.setFailed.
 */
export async function runDeployAction(
  core: ActionCore,
  deps: DeployActionDeps = {}
): Promise<void> {
  await runSiteAction(
    core,
    'deploy',
    readDeploySettings,
    run => deployInOneStep(core, run, deps),
    deps
  )
}

/** The deploy request the inputs make (the config-secrets input adds to the environment). */
export function deployRequest(
  { settings, target, reporter }: SiteActionRun<DeploySettings>,
  deps: DeployActionDeps
): DeployRequest {
  return {
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
}

/**
 * The deploy (every step, one process) with its alerts and GitHub deployment record; with
 * dry-run, its plan: outputs and summary set here, undefined returned.
 */
export async function deployInOneStep(
  core: ActionCore,
  run: SiteActionRun<DeploySettings>,
  deps: DeployActionDeps
): Promise<OperationOutcome | undefined> {
  const { settings, target, reporter } = run
  const request = deployRequest(run, deps)
  if (!settings.dryRun) {
    const record = deploymentRecord(core, deps, run)
    const go = () => (deps.deploy ?? deploy)(request)
    return withAlerts(alertedOperation('deploy', target, deps, reporter), () =>
      record
        ? withGithubDeployment(record.api, record.target, reporter, go, {
            describe: describeDeployOutcome,
            describeError: describeDeployError,
            redact: text => reporter.redact(text)
          })
        : go()
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
}

/** Where and what a deploy records as a GitHub deployment. */
export interface DeploymentRecord {
  api: GithubDeploymentsApi
  target: DeploymentTarget
}

/**
 * The GitHub deployment of the site's environment the deploy is recorded in, when
 * `record-deployment` is true (the default) and a token (`github-token`, else GITHUB_TOKEN) and
 * GITHUB_REPOSITORY are there; undefined otherwise. Bad values of the inputs throw.
 */
export function deploymentRecord(
  core: ActionCore,
  deps: DeployActionDeps,
  { settings, target, reporter }: SiteActionRun<DeploySettings>
): DeploymentRecord | undefined {
  const env = deps.env ?? process.env
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
  if (!github) return undefined
  reporter.addSecret(token!)
  const { api, ref, logUrl } = github
  return {
    api,
    target: {
      ref,
      site: target.site,
      ...(environment !== '' && { environment }),
      ...(settings.version !== undefined && { version: settings.version }),
      ...(target.site.host.kind === 'ssh' && { host: target.exec.name }),
      ...(logUrl !== undefined && { logUrl })
    }
  }
}

/** The last status of the deployment record for a deploy's outcome. */
export function describeDeployOutcome(outcome: OperationOutcome): DeploymentResult {
  return outcome.status === 'deployed' || outcome.status === 'unchanged'
    ? { ok: true, description: `${outcome.version} serves on ${outcome.url}` }
    : { ok: false, description: outcome.error ?? `the deploy ended ${outcome.status}` }
}

/** The failure status's description for a deploy that threw. */
export function describeDeployError(error: unknown): string {
  const { step, error: message } = describeError(error)
  return step ? `failed at ${step}: ${message}` : message
}
