/**
 * The attempt action (actions/attempt): one step of an upgrade attempt (pipelines/attempt.ts)
 * per run: `start` (sync the preview, deploy the release to it, freeze production, catch up),
 * `promote`, `cancel` or `status`. Outputs the attempt's phase and URLs, writes the job summary,
 * records `start` (the preview) and `promote` (production) as GitHub deployments, and alerts when
 * an unattended run fails. Every step resumes an attempt a killed run left.
 */
import { withAlerts } from '../alerts/alert-around.js'
import { describeError } from '../alerts/alert-report.js'
import { hostLabel } from '../config/host-spec.js'
import { parseDuration } from '../config/schema.js'
import { runDeploymentsApi, withGithubDeployment } from '../github/deployments.js'
import {
  AttemptFailed,
  attemptStatus,
  cancelAttempt,
  promoteAttempt,
  startAttempt,
  type AttemptOutcome,
  type AttemptRequest
} from '../pipelines/attempt.js'
import { syncSource } from '../pipelines/sync.js'
import { isValidVersion } from '../releases/version.js'
import type { AttemptRecord } from '../sites/attempt-record.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import {
  readBooleanInput,
  readConfigSecretsInput,
  runDataAction,
  type DataActionRun,
  type DataReport
} from './data-action.js'
import { checkMaintenanceMessage } from '../sites/maintenance.js'
import { readSiteInputs } from './data-inputs.js'
import type { SiteActionSettings } from './inputs.js'
import type { SiteActionDeps } from './site-action.js'

/** The attempt action's own inputs. */
export enum AttemptInput {
  Step = 'step',
  Release = 'release',
  Version = 'version',
  Message = 'message',
  KeepOld = 'keep-old',
  RecordDeployment = 'record-deployment',
  GithubToken = 'github-token',
  ProductionEnvironment = 'production-environment',
  PreviewEnvironment = 'preview-environment'
}

export const ATTEMPT_STEPS = ['start', 'promote', 'cancel', 'status'] as const
export type AttemptStep = (typeof ATTEMPT_STEPS)[number]

/** The attempt action's settings. */
export interface AttemptSettings extends SiteActionSettings {
  step: AttemptStep
  release?: string
  version?: string
  message?: string
  keepOldSeconds?: number
  recordDeployment: boolean
  /** The GitHub environment a promote is recorded in (default: the production site's name). */
  productionEnvironment?: string
  /** The GitHub environment a start is recorded in (default: the preview site's name). */
  previewEnvironment?: string
}

/** Read and check the inputs; one error naming every bad one. */
export function readAttemptSettings(core: Pick<ActionCore, 'getInput'>): AttemptSettings {
  const problems: string[] = []
  const common = readSiteInputs(core, problems)
  const step = core.getInput(AttemptInput.Step).trim()
  if (!(ATTEMPT_STEPS as readonly string[]).includes(step))
    problems.push(
      `input '${AttemptInput.Step}' is '${step}'; expected one of ${ATTEMPT_STEPS.join(', ')}`
    )
  const version = core.getInput(AttemptInput.Version).trim()
  if (version && !isValidVersion(version))
    problems.push(
      `input '${AttemptInput.Version}' is '${version}'; expected a PEP 440 version such as 1.4.0 or 2.0.0rc1`
    )
  const keep = core.getInput(AttemptInput.KeepOld).trim()
  const keepOldSeconds = keep ? parseDuration(keep) : undefined
  if (keep && keepOldSeconds === undefined)
    problems.push(
      `input '${AttemptInput.KeepOld}' is '${keep}'; expected a duration such as 7d, 12h or 1w2d`
    )
  const release = core.getInput(AttemptInput.Release).trim()
  const message = core.getInput(AttemptInput.Message).trim()
  try {
    checkMaintenanceMessage(message, `input '${AttemptInput.Message}'`)
  } catch (e) {
    problems.push((e as Error).message)
  }
  const env = readEnvironmentInput(core, AttemptInput.ProductionEnvironment, problems)
  const previewEnv = readEnvironmentInput(core, AttemptInput.PreviewEnvironment, problems)
  const recordDeployment = readBooleanInput(core, AttemptInput.RecordDeployment, true, problems)
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'input')
  return {
    ...common,
    step: step as AttemptStep,
    ...(release && { release }),
    ...(version && { version }),
    ...(message && { message }),
    ...(keepOldSeconds !== undefined && { keepOldSeconds }),
    recordDeployment,
    ...(env && { productionEnvironment: env }),
    ...(previewEnv && { previewEnvironment: previewEnv })
  }
}

function readEnvironmentInput(
  core: Pick<ActionCore, 'getInput'>,
  name: AttemptInput,
  problems: string[]
): string {
  const env = core.getInput(name).trim()
  if (env && !/^[\w .-]{1,255}$/.test(env))
    problems.push(`input '${name}' is '${env}'; expected a GitHub environment name`)
  return env
}

/** The attempt action's dependencies; tests replace the GitHub fetch. */
export interface AttemptActionDeps extends SiteActionDeps {
  githubFetch?: typeof globalThis.fetch
  /** The attempt pipelines (pipelines/attempt.ts by default). */
  pipelines?: Partial<{
    start: typeof startAttempt
    promote: typeof promoteAttempt
    cancel: typeof cancelAttempt
    status: typeof attemptStatus
  }>
}

type Result = { outcome?: AttemptOutcome; record?: AttemptRecord; step: AttemptStep }

function rowsOf(o: {
  attempt: string
  phase: string
  preview: string
  production: string
  version?: string | null
  previousVersion: string | null
  previewUrl: string
  productionUrl: string
  removeAfter?: string
}): [string, string][] {
  const promoted = o.phase === 'promoted'
  return [
    ['Attempt', o.attempt],
    ['Phase', o.phase],
    ['Release', o.version ?? '-'],
    ['Production had', o.previousVersion ?? 'nothing'],
    ...((promoted
      ? [
          ['Production', `${o.preview}: ${o.productionUrl}`],
          ['Old production', `${o.production}: ${o.previewUrl} (frozen)`]
        ]
      : [
          ['Preview', `${o.preview}: ${o.previewUrl}`],
          ['Production', `${o.production}: ${o.productionUrl}`]
        ]) as [string, string][]),
    ...(o.removeAfter ? [['Old site kept until', o.removeAfter] as [string, string]] : [])
  ]
}

function outputsOf(o: {
  attempt: string
  phase: string
  version?: string | null
  previewUrl: string
  productionUrl: string
}): Record<string, string> {
  return {
    attempt: o.attempt,
    phase: o.phase,
    version: o.version ?? '',
    'preview-url': o.previewUrl,
    'production-url': o.productionUrl
  }
}

const HEADINGS: Record<string, string> = {
  open: '🪟 Upgrade attempt: the window is open',
  promoted: '🚀 Upgrade attempt promoted',
  cancelled: '↩️ Upgrade attempt cancelled'
}

function report(r: Result): DataReport {
  if (r.outcome) {
    const o = r.outcome
    return {
      status: o.phase,
      heading: HEADINGS[o.phase] ?? `Upgrade attempt: ${o.phase}`,
      rows: rowsOf({ ...o, attempt: o.attempt }),
      outputs: outputsOf(o),
      steps: o.steps,
      notes: o.notes
    }
  }
  const rec = r.record
  if (!rec)
    return { status: 'none', heading: 'No upgrade attempt', rows: [], outputs: { phase: 'none' } }
  const view = { ...rec, attempt: rec.id, version: rec.version ?? null }
  return {
    status: rec.phase,
    heading: `Upgrade attempt: ${rec.phase}`,
    rows: rowsOf(view),
    outputs: outputsOf(view)
  }
}

function failureReport(error: unknown): DataReport | undefined {
  if (!(error instanceof AttemptFailed)) return undefined
  const o = error.outcome
  return {
    status: 'failed',
    heading: `❌ Upgrade attempt stopped at ${error.failedStep} (${o.phase})`,
    rows: rowsOf(o),
    outputs: outputsOf(o),
    steps: o.steps,
    error: error.message
  }
}

/** Run the step inside a GitHub deployment when one is recorded for it (start, promote). */
async function recorded(
  run: DataActionRun<AttemptSettings>,
  deps: AttemptActionDeps,
  req: AttemptRequest,
  operation: () => Promise<AttemptOutcome>
): Promise<AttemptOutcome> {
  const { settings, env, reporter } = run
  const step = settings.step
  const token = run.settings.recordDeployment ? readToken(run, env) : undefined
  const github = runDeploymentsApi(env, token, deps.githubFetch)
  if (!github || (step !== 'start' && step !== 'promote')) return operation()
  const { api, ref, logUrl } = github
  const production = syncSource(req.config, req.preview)
  const target =
    step === 'start'
      ? { name: req.preview.name, role: 'preview' as const, url: req.preview.url }
      : { name: production.name, role: 'production' as const, url: production.url }
  return withGithubDeployment(
    api,
    {
      ref,
      site: target,
      task: step === 'start' ? 'deploy:attempt' : 'deploy:promote',
      ...(settings.version !== undefined && { version: settings.version }),
      environment:
        step === 'start'
          ? (settings.previewEnvironment ?? req.preview.name)
          : (settings.productionEnvironment ?? production.name),
      ...(logUrl !== undefined && { logUrl })
    },
    reporter,
    operation,
    {
      describe: o =>
        o.phase === 'open' || o.phase === 'promoted'
          ? {
              ok: true,
              description:
                o.phase === 'open'
                  ? `${o.version} on the preview; production frozen for the window`
                  : `${o.version} is production (site ${o.preview})`
            }
          : { ok: false, description: `the attempt is ${o.phase}` },
      describeError: error => {
        const { step: failed, error: message } = describeError(error)
        return failed ? `failed at ${failed}: ${message}` : message
      },
      redact: text => reporter.redact(text)
    }
  )
}

function readToken(
  run: DataActionRun<AttemptSettings>,
  env: NodeJS.ProcessEnv
): string | undefined {
  const token = env.SITECYCLE_GITHUB_TOKEN || env.GITHUB_TOKEN
  if (token) run.reporter.addSecret(token)
  return token
}

/** Run the attempt action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runAttemptAction(
  core: ActionCore,
  deps: AttemptActionDeps = {}
): Promise<void> {
  let given: Record<string, string> = {}
  await runDataAction<AttemptSettings, Result>(
    core,
    {
      op: 'attempt',
      readSettings: c => {
        const s = readAttemptSettings(c)
        given = readConfigSecretsInput(c)
        const token = c.getInput(AttemptInput.GithubToken).trim()
        if (token) given = { ...given, SITECYCLE_GITHUB_TOKEN: token }
        return s
      },
      run: async run => {
        const { settings, target, reporter } = run
        if (given.SITECYCLE_GITHUB_TOKEN) reporter.addSecret(given.SITECYCLE_GITHUB_TOKEN)
        const env: NodeJS.ProcessEnv = { ...given, ...run.env }
        if (given.SITECYCLE_GITHUB_TOKEN) env.SITECYCLE_GITHUB_TOKEN = given.SITECYCLE_GITHUB_TOKEN
        const production = syncSource(target.config, target.config.sites[target.site.name])
        if (hostLabel(production.host) !== hostLabel(target.site.host))
          throw new SitecycleError(
            `site ${target.site.name} is on ${hostLabel(target.site.host)} and its production ${production.name} on ${hostLabel(production.host)}: the attempt action works on sites of one host (a promote moves production's address within one Apache)`,
            'config'
          )
        const req: AttemptRequest = {
          config: target.config,
          preview: target.config.sites[target.site.name],
          previewExec: target.exec,
          productionExec: target.exec,
          reporter,
          lockWait: settings.lockWait,
          env
        }
        const withRun = { ...run, env }
        const p = deps.pipelines ?? {}
        if (settings.step === 'status')
          return { step: 'status', record: await (p.status ?? attemptStatus)(req) }
        const operation = (): Promise<AttemptOutcome> => {
          switch (settings.step) {
            case 'start':
              return (p.start ?? startAttempt)({
                ...req,
                ...(settings.release !== undefined && { release: settings.release }),
                ...(settings.version !== undefined && { version: settings.version }),
                ...(settings.message !== undefined && { message: settings.message })
              })
            case 'promote':
              return (p.promote ?? promoteAttempt)({
                ...req,
                ...(settings.keepOldSeconds !== undefined && {
                  keepOldSeconds: settings.keepOldSeconds
                })
              })
            default:
              return (p.cancel ?? cancelAttempt)(req)
          }
        }
        const outcome = await withAlerts(
          {
            config: target.config,
            op: `attempt-${settings.step}`,
            site: target.site.name,
            env,
            reporter,
            redact: text => reporter.redact(text),
            summary: o => `attempt ${o.attempt} is ${o.phase}`,
            ...(deps.githubFetch && { deps: { fetch: deps.githubFetch } })
          },
          () => recorded(withRun, deps, req, operation)
        )
        return { step: settings.step, outcome }
      },
      report,
      reportFailure: error => failureReport(error)
    },
    deps
  )
}
