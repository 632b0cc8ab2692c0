/**
 * What the data actions (snapshot, restore, sync-preview, clone, mirror) share: mask the secret
 * inputs and the secrets the site's config names, read and check the inputs, load the config and
 * pick the site, run one pipeline, then set the outputs and write the job summary, on success and
 * on failure. Like site-action.ts for deploy and rollback, for pipelines whose outcome is not an
 * OperationOutcome.
 */
import type { SiteConfig } from '../config/model.js'
import type { StepReport, StepStatus } from '../pipelines/pipeline.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { CoreReporter } from './core-reporter.js'
import { DeployInput, parseConfigSecrets, SiteInput, type SiteActionSettings } from './inputs.js'
import {
  errorMessage,
  openSite,
  writeSummary,
  type OpenedSite,
  type SiteActionDeps
} from './site-action.js'

/** What a data action's pipeline gets. */
export interface DataActionRun<S extends SiteActionSettings> {
  settings: S
  target: OpenedSite
  reporter: CoreReporter
  /** The environment the site's secrets are read from (process.env unless a test gives one). */
  env: NodeJS.ProcessEnv
}

/** What the job summary and the outputs say about a run, success or failure. */
export interface DataReport {
  /** The `status` output: what happened (`created`, `refreshed`, ..., or `failed`). */
  status: string
  /** The summary's heading, with its emoji. */
  heading: string
  /** Rows of the summary's table: label and value. */
  rows: [string, string][]
  /** Outputs besides `status`, by name. */
  outputs: Record<string, string>
  steps?: StepReport[]
  error?: string
  notes?: string[]
}

/** How one data action reads its inputs, runs, and reports. */
export interface DataAction<S extends SiteActionSettings, O> {
  /** The operation's name (`snapshot`, `mirror` ...), for the summary of an early failure. */
  op: string
  readSettings(core: ActionCore): S
  run(run: DataActionRun<S>): Promise<O>
  /** The report of a run that finished. */
  report(outcome: O, run: DataActionRun<S>): DataReport
  /** The report of a pipeline that failed after it started (its steps and what was undone); undefined: an early failure. */
  reportFailure?(error: unknown, run: DataActionRun<S>): DataReport | undefined
}

/** The variables a site's config names as holding secrets: database passwords (the site's, its admin's and a mirror's reader's), basic-auth password, index URL. */
export function siteSecretNames(site: SiteConfig): string[] {
  return [
    site.database?.passwordEnv,
    site.database?.admin?.passwordEnv,
    site.database?.reader?.passwordEnv,
    site.access?.basicAuth?.passwordEnv,
    site.pip?.indexUrlEnv
  ].filter((n): n is string => n !== undefined)
}

/**
 * Make the secrets the sites' config names available where the pipelines read them (`env`): from
 * the `config-secrets` input (a JSON object of names to values, such as `toJSON(secrets)`), only
 * the names the config uses; a variable already set in the step's environment is kept. Every
 * one of them is masked. Missing ones are left for the pipeline to report.
 */
export function provideSiteSecrets(
  sites: SiteConfig[],
  given: Record<string, string>,
  env: NodeJS.ProcessEnv,
  reporter: CoreReporter
): void {
  for (const name of new Set(sites.flatMap(siteSecretNames))) {
    if (!env[name] && given[name]) env[name] = given[name]
    const value = env[name]
    if (value) reporter.addSecret(value)
  }
}

/**
 * Run one data action: outputs and the job summary are written in every case; on failure the
 * error is re-thrown with every secret redacted, for the entry point to pass to core.setFailed.
 */
export async function runDataAction<S extends SiteActionSettings, O>(
  core: ActionCore,
  action: DataAction<S, O>,
  deps: SiteActionDeps = {}
): Promise<void> {
  const reporter = new CoreReporter(core)
  const env = deps.env ?? process.env
  const redact = reporter.redact.bind(reporter)
  let siteName = ''
  let url: string | undefined
  let run: DataActionRun<S> | undefined
  try {
    maskSecretInputs(core, reporter)
    const settings = action.readSettings(core)
    siteName = settings.site
    const target = await openSite(settings, reporter, deps)
    url = target.site.url
    const given = readConfigSecretsInput(core)
    provideSiteSecrets(Object.values(target.config.sites), given, env, reporter)
    run = { settings, target, reporter, env }
    try {
      const report = action.report(await action.run(run), run)
      publish(core, report, url)
      await writeSummary(core, renderDataSummary(report, redact))
    } finally {
      reporter.closeGroup()
      await target.close()
    }
  } catch (error) {
    reporter.closeGroup()
    const report = run && action.reportFailure?.(error, run)
    const failed: DataReport = report ?? {
      status: 'failed',
      heading: `❌ ${action.op[0].toUpperCase()}${action.op.slice(1)}${siteName ? ` of site ${siteName}` : ''} failed`,
      rows: [],
      outputs: {},
      error: errorMessage(error)
    }
    publish(core, { ...failed, status: 'failed' }, url)
    await writeSummary(core, renderDataSummary(failed, redact))
    if (!(error instanceof SitecycleError) && error instanceof Error && error.stack)
      core.debug(redact(error.stack))
    const message = errorMessage(error)
    const clean = redact(message)
    if (error instanceof Error && clean === message) throw error
    throw new SitecycleError(clean, error instanceof SitecycleError ? error.kind : 'internal')
  }
}

function publish(core: ActionCore, report: DataReport, url: string | undefined): void {
  core.setOutput('status', report.status)
  if (url) core.setOutput('url', url)
  for (const [name, value] of Object.entries(report.outputs)) core.setOutput(name, value)
}

/**
 * The SSH key, every value of config-secrets, and a private key pasted into known-hosts by
 * mistake, masked before anything runs.
 */
function maskSecretInputs(core: ActionCore, reporter: CoreReporter): void {
  reporter.addSecret(core.getInput(SiteInput.SshKey))
  const configSecrets = core.getInput(DeployInput.ConfigSecrets)
  if (configSecrets.trim() !== '') {
    reporter.addSecret(configSecrets)
    for (const value of Object.values(parseConfigSecrets(configSecrets) ?? {}))
      reporter.addSecret(value)
  }
  const knownHosts = core.getInput(SiteInput.KnownHosts)
  if (/PRIVATE KEY/.test(knownHosts)) reporter.addSecret(knownHosts)
}

const STEP_RESULT: Record<StepStatus, string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  undone: '↩️ undone',
  'undo-failed': '⚠️ undo failed',
  warning: '⚠️ warning',
  skipped: '⏭️ skipped',
  'not-run': '➖ not run'
}

/** The job summary of a data action: heading, table, steps, error, notes; every text redacted. */
export function renderDataSummary(r: DataReport, redact: (s: string) => string): string {
  const cell = (s: string) => escapeHtml(redact(s)).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
  const out = [`## ${escapeHtml(redact(r.heading))}`, '']
  if (r.rows.length)
    out.push('| | |', '| --- | --- |', ...r.rows.map(([k, v]) => `| **${k}** | ${cell(v)} |`), '')
  if (r.steps?.length) {
    out.push('### Steps', '', '| Step | Result | Duration | Note |', '| --- | --- | --- | --- |')
    for (const s of r.steps) {
      const ran = s.status !== 'skipped' && s.status !== 'not-run'
      out.push(
        `| \`${s.name}\` | ${STEP_RESULT[s.status] ?? s.status} | ${ran ? `${(s.ms / 1000).toFixed(2)} s` : ''} | ${cell(s.error ?? s.note ?? '')} |`
      )
    }
    out.push('')
  }
  if (r.error !== undefined) {
    const text = redact(r.error)
    const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map(x => x.length))
    const fence = '`'.repeat(Math.max(3, longest + 1))
    out.push('### Error', '', `${fence}text`, text, fence, '')
  }
  if (r.notes?.length) out.push('### Notes', '', ...r.notes.map(n => `- ${cell(n)}`), '')
  return redact(out.join('\n'))
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** The `config-secrets` input: a JSON object of names to values (empty: none). */
export function readConfigSecretsInput(core: Pick<ActionCore, 'getInput'>): Record<string, string> {
  const text = core.getInput(DeployInput.ConfigSecrets).trim()
  if (text === '') return {}
  const values = parseConfigSecrets(text)
  if (values === undefined)
    throw new SitecycleError(
      `input '${DeployInput.ConfigSecrets}' is not a JSON object of names to values (its value is not shown); ` +
        'expected such as {"DB_PASSWORD": "..."}, or ${{ toJSON(secrets) }} in a workflow',
      'input'
    )
  return values
}

/** Read an optional boolean input (`true`/`false`, empty: `fallback`); a problem otherwise. */
export function readBooleanInput(
  core: Pick<ActionCore, 'getInput'>,
  name: string,
  fallback: boolean,
  problems: string[]
): boolean {
  const text = core.getInput(name).trim()
  if (text === '') return fallback
  if (/^true$/i.test(text)) return true
  if (/^false$/i.test(text)) return false
  problems.push(`input '${name}' is '${text}'; expected true or false`)
  return fallback
}

/** Read an optional snapshot id input; a problem naming the form otherwise. */
export function readSnapshotInput(
  core: Pick<ActionCore, 'getInput'>,
  name: string,
  problems: string[]
): string | undefined {
  const text = core.getInput(name).trim()
  if (text === '') return undefined
  if (!/^\d{8}T\d{6}Z(-\d+)?$/.test(text)) {
    problems.push(
      `input '${name}' is '${text}'; expected a snapshot id such as 20240315T030000Z (see \`sitecycle snapshots <site>\`)`
    )
    return undefined
  }
  return text
}
