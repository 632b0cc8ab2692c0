/**
 * One stage of actions/deploy (actions/deploy-stage, each stage a step of the composite action
 * and a process of its own): prepare, smoke-test, switch, finish, or undo on failure. The stages
 * are those of `sitecycle deploy --stage` (pipelines/deploy-stages.ts); between them the lock is
 * held by the workflow run. Around them, as the deploy in one step has: the GitHub deployment
 * record (in_progress at prepare, success or failure at the stage that ends the deploy), the
 * alerts of an unattended run, and the outputs and job summary, set by the stage that ends the
 * deploy (the composite takes each output from the last stage that set it).
 *
 * A site a deploy in stages does not take (`apache.mode: single`, `hooks.freeze`, allow-bad) is
 * deployed in one step by prepare when no smoke test asks for the idle slot; a dry run too.
 */
import { withAlerts } from '../alerts/alert-around.js'
import { settleGithubDeployment, startGithubDeployment } from '../github/deployments.js'
import {
  prepareStage,
  resumeStage,
  runAgainstIdle,
  stageRun,
  whyNotStageable,
  type StageOutcome
} from '../pipelines/deploy-stages.js'
import type { OperationOutcome } from '../pipelines/operation.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import {
  deployInOneStep,
  deploymentRecord,
  deployRequest,
  describeDeployError,
  describeDeployOutcome,
  type DeployActionDeps
} from './deploy.js'
import { readDeployStageSettings, type DeployStageSettings } from './inputs.js'
import { Output } from './outputs.js'
import { alertedOperation, runSiteAction, writeSummary, type SiteActionRun } from './site-action.js'
import { renderOutcomeSummary } from './summary.js'

/** Outputs of the deploy-stage action besides the deploy's (actions/deploy-stage/action.yml). */
export enum StageOutput {
  /** `switch` when prepare left the release in the idle slot for the next stages; else empty. */
  Next = 'next',
  /** Where the idle slot answers, from the site's host, with the header below. */
  IdleUrl = 'idle-url',
  IdleHeader = 'idle-header',
  /** The GitHub deployment prepare recorded, for the stage that ends the deploy to settle. */
  DeploymentId = 'deployment-id'
}

type StageRunArgs = SiteActionRun<DeployStageSettings>

/**
 * Run the stage the `stage` input names. Throws (with secrets redacted) when it fails; the caller
 * passes the message to core.setFailed.
 */
export async function runDeployStageAction(
  core: ActionCore,
  deps: DeployActionDeps = {}
): Promise<void> {
  await runSiteAction(
    core,
    'deploy',
    readDeployStageSettings,
    run => {
      switch (run.settings.stage) {
        case 'prepare':
          return prepare(core, run, deps)
        case 'smoke-test':
          return smokeTest(run, deps)
        default:
          return resume(core, run, deps, run.settings.stage)
      }
    },
    deps
  )
}

/** prepare: the deploy up to verify-idle, the lock handed to the run; or the whole deploy in one
 * step (a dry run, a site a deploy in stages does not take, without a smoke test). */
async function prepare(
  core: ActionCore,
  run: StageRunArgs,
  deps: DeployActionDeps
): Promise<OperationOutcome | undefined> {
  const { settings, reporter } = run
  const request = deployRequest(run, deps)
  const why = whyNotStageable(request)
  if (settings.dryRun || (why !== undefined && settings.smokeTest === undefined)) {
    if (why !== undefined && !settings.dryRun)
      reporter.info(`${why}: deploying in one step, in this step`)
    return deployInOneStep(core, run, deps)
  }
  const stageOf = stageRun(deps.env ?? process.env)
  const record = deploymentRecord(core, deps, run)
  const redact = (text: string) => reporter.redact(text)
  const id = record && (await startGithubDeployment(record.api, record.target, reporter, redact))
  if (id !== undefined) core.setOutput(StageOutput.DeploymentId, String(id))
  const outcome = await settled(core, run, deps, id, () =>
    prepareStage({ ...request, run: stageOf })
  )
  if (outcome.status !== 'prepared') return outcome
  core.setOutput(StageOutput.Next, 'switch')
  core.setOutput(StageOutput.IdleUrl, outcome.idle!.url)
  core.setOutput(StageOutput.IdleHeader, outcome.idle!.header)
  core.setOutput(Output.Url, outcome.url)
  await writeSummary(core, renderOutcomeSummary(outcome, redact))
  return undefined
}

/** smoke-test: the command (bash) on the runner against the idle slot; its failure fails the step. */
async function smokeTest(run: StageRunArgs, deps: DeployActionDeps): Promise<undefined> {
  const { settings, target, reporter } = run
  const env = deps.env ?? process.env
  // The action's own inputs (the SSH key, the secrets) stay out of the command's environment.
  const commandEnv = Object.fromEntries(
    Object.entries(env).filter(([name]) => !/^(INPUT|STATE)_/.test(name))
  )
  const r = await runAgainstIdle({
    config: target.config,
    site: target.site,
    exec: target.exec,
    reporter,
    run: stageRun(env),
    command: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', settings.smokeTest!],
    env: commandEnv
  })
  if (r.code !== 0)
    throw new SitecycleError(
      `the smoke test exited with code ${r.code} against ${r.env.SITECYCLE_IDLE_VERSION} in the idle slot of site ${target.site.name}: users were not switched to it`,
      'stage'
    )
  reporter.info(`the smoke test passed against ${r.env.SITECYCLE_IDLE_VERSION} in the idle slot`)
  return undefined
}

/** switch, finish or undo of the deploy this run prepared. */
async function resume(
  core: ActionCore,
  run: StageRunArgs,
  deps: DeployActionDeps,
  stage: 'switch' | 'finish' | 'undo'
): Promise<OperationOutcome | undefined> {
  const { settings, target, reporter } = run
  const outcome = await settled(core, run, deps, settings.deploymentId, () =>
    resumeStage(
      {
        config: target.config,
        site: target.site,
        exec: target.exec,
        reporter,
        run: stageRun(deps.env ?? process.env)
      },
      stage
    )
  )
  if (stage === 'undo' && !undid(outcome)) return undefined
  if (outcome.status === 'switched') {
    await writeSummary(
      core,
      renderOutcomeSummary(outcome, text => reporter.redact(text))
    )
    return undefined
  }
  return outcome
}

/** An undo that found a deploy of this run to undo (not "nothing to undo"). */
function undid(o: StageOutcome): boolean {
  return o.stage === 'undo' && o.operationId !== ''
}

/** How a stage's outcome ends the deploy: not yet (prepared, switched, nothing undone), as a
 * failure (undone), or as its status says (deployed, unchanged). */
function ending(o: StageOutcome): 'pending' | 'failed' | 'ended' {
  if (o.status === 'prepared' || o.status === 'switched') return 'pending'
  if (o.stage === 'undo') return undid(o) ? 'failed' : 'pending'
  return 'ended'
}

/**
 * Run a stage with the alerts of an unattended run and the GitHub deployment `id` settled when
 * the stage ends the deploy (a thrown error is a failure of both).
 */
async function settled(
  core: ActionCore,
  run: StageRunArgs,
  deps: DeployActionDeps,
  id: number | undefined,
  stage: () => Promise<StageOutcome>
): Promise<StageOutcome> {
  const { reporter } = run
  const redact = (text: string) => reporter.redact(text)
  const record = id !== undefined ? deploymentRecord(core, deps, run) : undefined
  const settle = (result: Parameters<typeof settleGithubDeployment>[3]) =>
    record
      ? settleGithubDeployment(record.api, id, record.target, result, reporter, redact)
      : undefined
  return withAlerts(
    {
      ...alertedOperation('deploy', run.target, deps, run.reporter),
      settle: o => {
        const end = ending(o as StageOutcome)
        return end === 'ended' ? 'succeeded' : end === 'pending' ? 'pending' : { failed: undone(o) }
      }
    },
    async () => {
      let outcome: StageOutcome
      try {
        outcome = await stage()
      } catch (error) {
        await settle({ ok: false, description: describeDeployError(error) })
        throw error
      }
      const end = ending(outcome)
      if (end === 'ended') await settle(describeDeployOutcome(outcome))
      else if (end === 'failed') await settle({ ok: false, description: undone(outcome).message })
      return outcome
    }
  ) as Promise<StageOutcome>
}

/** The failure an undo reports: the deploy did not go through, the release before serves again. */
function undone(o: OperationOutcome): Error {
  return new SitecycleError(
    `the deploy of ${o.targetVersion ?? 'the release'} to site ${o.site} was undone after a failed or cancelled step: ${o.version ?? 'nothing'} serves again`,
    'deploy'
  )
}
