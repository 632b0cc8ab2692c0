/**
 * What the two read-only report actions (compare, watch) share: their inputs' names, reading the
 * site inputs every site action has (through the same checks as deploy and rollback), masking the
 * secret inputs first, writing the JSON report to a file, and one catch that writes a failure to
 * the job summary with every secret redacted.
 */
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { CoreReporter } from './core-reporter.js'
import {
  DeployInput,
  parseConfigSecrets,
  readRollbackSettings,
  SiteInput,
  type SiteActionSettings
} from './inputs.js'
import { errorMessage, writeSummary } from './site-action.js'
import { renderErrorSummary } from './summary.js'

/** Inputs of the compare action besides config, ssh-key and known-hosts. */
export enum CompareInput {
  SiteA = 'site-a',
  SiteB = 'site-b',
  HostA = 'host-a',
  HostB = 'host-b',
  FailOnDifference = 'fail-on-difference',
  ConfigSecrets = 'config-secrets'
}

/** Outputs of the compare action. */
export enum CompareOutput {
  /** `true` when nothing differs. */
  Same = 'same',
  /** How many differences were found. */
  Differences = 'differences',
  /** Path of the JSON report. */
  ReportFile = 'report-file'
}

/** Inputs of the watch action besides the site inputs. */
export enum WatchInput {
  FailOnDrift = 'fail-on-drift'
}

/** Outputs of the watch action. */
export enum WatchOutput {
  /** `true` when anything drifted. */
  Drifted = 'drifted',
  /** How many findings. */
  Findings = 'findings',
  /** Path of the JSON report. */
  ReportFile = 'report-file'
}

type InputSource = Pick<ActionCore, 'getInput'>

/**
 * The site inputs (config, site, host, ssh-key, known-hosts) read and checked as deploy and
 * rollback read them; `rename` maps the names this action uses (such as `site-a`) onto them.
 */
export function readSiteInputs(
  core: InputSource,
  rename: Partial<Record<SiteInput, string>> = {}
): SiteActionSettings {
  for (const [common, own] of Object.entries(rename))
    if (common === SiteInput.Site && core.getInput(own).trim() === '')
      throw new SitecycleError(
        `input '${own}' is empty; expected the name of a site in the config file, such as v1`,
        'input'
      )
  const view: InputSource = {
    getInput: name => {
      const own = rename[name as SiteInput]
      if (own) return core.getInput(own)
      // Inputs of rollback these actions do not have.
      if (name === 'to' || name === SiteInput.LockWait) return ''
      return core.getInput(name)
    }
  }
  const { to: _to, ...settings } = readRollbackSettings(view)
  return settings
}

/** `true`/`false` input (empty: `fallback`). */
export function readBooleanInput(core: InputSource, name: string, fallback: boolean): boolean {
  const text = core.getInput(name).trim()
  if (text === '') return fallback
  if (/^true$/i.test(text)) return true
  if (/^false$/i.test(text)) return false
  throw new SitecycleError(`input '${name}' is '${text}'; expected true or false`, 'input')
}

/** The config-secrets input as name → value (values never shown); {} when empty. */
export function readConfigSecretsInput(core: InputSource): Record<string, string> {
  const text = core.getInput(CompareInput.ConfigSecrets).trim()
  if (text === '') return {}
  const values = parseConfigSecrets(text)
  if (values === undefined)
    throw new SitecycleError(
      `input '${CompareInput.ConfigSecrets}' is not a JSON object of names to values (its value is not shown); expected such as {"DB_PASSWORD": "..."}, or \${{ toJSON(secrets) }} in a workflow`,
      'input'
    )
  return values
}

/** Write a report as JSON under RUNNER_TEMP (else the system temp dir); returns its path. */
export async function writeReportFile(
  name: string,
  report: unknown,
  dir?: string
): Promise<string> {
  const base = dir ?? process.env.RUNNER_TEMP ?? os.tmpdir()
  const file = path.join(base, `sitecycle-${name}-${Date.now()}.json`)
  await fs.writeFile(file, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 })
  return file
}

/** A report action that ran and found what it must fail on (its summary is already written). */
export class ReportFailure extends SitecycleError {
  constructor(message: string) {
    super(message, 'differences')
    this.name = 'ReportFailure'
  }
}

/**
 * Run a report action: mask the secret inputs, run `body`; on any error other than a
 * ReportFailure, write the error to the job summary. Re-throws with secrets redacted, for the
 * entry point to pass to core.setFailed.
 */
export async function runReportAction(
  core: ActionCore,
  op: string,
  subject: string,
  body: (reporter: CoreReporter) => Promise<void>
): Promise<void> {
  const reporter = new CoreReporter(core)
  try {
    reporter.addSecret(core.getInput(SiteInput.SshKey))
    const configSecrets = core.getInput(DeployInput.ConfigSecrets)
    if (configSecrets.trim() !== '') {
      reporter.addSecret(configSecrets)
      for (const v of Object.values(parseConfigSecrets(configSecrets) ?? {})) reporter.addSecret(v)
    }
    const knownHosts = core.getInput(SiteInput.KnownHosts)
    if (/PRIVATE KEY/.test(knownHosts)) reporter.addSecret(knownHosts)
    await body(reporter)
  } catch (error) {
    reporter.closeGroup()
    const redact = reporter.redact.bind(reporter)
    if (!(error instanceof ReportFailure))
      await writeSummary(core, renderErrorSummary(op, subject, errorMessage(error), redact))
    const message = errorMessage(error)
    const clean = redact(message)
    if (error instanceof Error && clean === message) throw error
    throw new SitecycleError(clean, error instanceof SitecycleError ? error.kind : 'internal')
  }
}
