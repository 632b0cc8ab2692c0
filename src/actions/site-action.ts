/**
 * What the deploy and rollback actions share: mask the secret inputs, read the settings, load the
 * config and pick the site, write the pinned known-hosts file, build the executor, run the
 * operation, then set the outputs and write the job summary whether it succeeded or failed.
 * Everything the user gave is checked before any host is touched. Also the alerts both send for an
 * unattended run.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import type { AlertedOperation } from '../alerts/alert-around.js'
import { loadConfig } from '../config/load-config.js'
import type { SiteConfig, SitecycleConfig } from '../config/model.js'
import { siteOnHost } from '../config/site-hosts.js'
import { createExecutor } from '../hosts/create-executor.js'
import { siteAsOnHost } from '../sites/identity.js'
import type { Executor } from '../hosts/executor.js'
import { OperationFailed, type OperationOutcome } from '../pipelines/operation.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { CoreReporter } from './core-reporter.js'
import {
  DeployInput,
  parseConfigSecrets,
  SiteInput,
  selectSite,
  type SiteActionSettings
} from './inputs.js'
import { setEarlyFailureOutputs, setOutcomeOutputs } from './outputs.js'
import { writeKnownHostsFile, type TempFile } from './secrets.js'
import { renderErrorSummary, renderOutcomeSummary } from './summary.js'

/** What the actions take from outside, replaceable in tests. */
export interface SiteActionDeps {
  /** Builds the site's executor (createExecutor by default). */
  createExecutor?: typeof createExecutor
  /** Where the known-hosts file is written (RUNNER_TEMP, else the system temp dir, by default). */
  tempDir?: string
  /** Environment the config template's secrets and variables come from (process.env by default). */
  env?: NodeJS.ProcessEnv
}

/** The site an action works on, ready to use; close() it when done. */
export interface OpenedSite {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  /** Close the executor (removing a key file it wrote) and remove the known-hosts file. */
  close(): Promise<void>
}

/** What an action's operation gets. */
export interface SiteActionRun<S extends SiteActionSettings> {
  settings: S
  target: OpenedSite
  reporter: CoreReporter
}

/**
 * Run one action: `readSettings` parses the inputs, `operation` runs the pipeline and returns its
 * outcome (or undefined when it set outputs and summary itself, as a dry run does). Outputs and
 * the job summary are written on success and on failure; on failure the error is re-thrown with
 * every secret redacted, for the entry point to pass to core.setFailed.
 */
export async function runSiteAction<S extends SiteActionSettings>(
  core: ActionCore,
  op: string,
  readSettings: (core: ActionCore) => S,
  operation: (run: SiteActionRun<S>) => Promise<OperationOutcome | undefined>,
  deps: SiteActionDeps = {}
): Promise<void> {
  const reporter = new CoreReporter(core)
  let siteName = ''
  let url: string | undefined
  try {
    maskSecretInputs(core, reporter)
    const settings = readSettings(core)
    siteName = settings.site
    const target = await openSite(settings, reporter, deps)
    url = target.site.url
    try {
      const outcome = await operation({ settings, target, reporter })
      if (outcome) {
        setOutcomeOutputs(core, outcome)
        await writeSummary(core, renderOutcomeSummary(outcome, reporter.redact.bind(reporter)))
      }
    } finally {
      reporter.closeGroup()
      await target.close()
    }
  } catch (error) {
    reporter.closeGroup()
    const redact = reporter.redact.bind(reporter)
    if (error instanceof OperationFailed) {
      setOutcomeOutputs(core, error.outcome)
      await writeSummary(core, renderOutcomeSummary(error.outcome, redact))
    } else {
      setEarlyFailureOutputs(core, url)
      await writeSummary(core, renderErrorSummary(op, siteName, errorMessage(error), redact))
      if (!(error instanceof SitecycleError) && error instanceof Error && error.stack)
        core.debug(redact(error.stack))
    }
    throw redactedError(error, reporter)
  }
}

/**
 * Load the config named by the settings, pick the site, and build its executor: with the
 * `ssh-key` content (written by the SSH executor itself, removed by its close()) and the
 * `known-hosts` content written to a private file. The site is as its host knows it (one read of
 * its identity record, sites/identity.ts); a host that cannot be reached
 * leaves the config's.
 */
export async function openSite(
  settings: SiteActionSettings,
  reporter: CoreReporter,
  deps: SiteActionDeps = {}
): Promise<OpenedSite> {
  await requireConfigFile(settings.configFile)
  const config = await loadConfig(settings.configFile)
  const site = siteOnHost(
    selectSite(config, settings.site),
    settings.host,
    `input '${SiteInput.Host}'`
  )
  if (
    site.host.kind === 'local' &&
    (settings.sshKey !== undefined || settings.knownHosts !== undefined)
  ) {
    reporter.info(
      `site ${site.name} is on this machine (host: local): the ssh-key and known-hosts inputs are not used`
    )
  }
  let knownHosts: TempFile | undefined
  if (site.host.kind === 'ssh' && settings.knownHosts !== undefined) {
    knownHosts = await writeKnownHostsFile(settings.knownHosts, deps.tempDir)
  }
  try {
    const exec = (deps.createExecutor ?? createExecutor)(site.host, {
      ...config.ssh,
      ...(knownHosts && { knownHostsFile: knownHosts.path }),
      ...(settings.sshKey !== undefined && { key: settings.sshKey })
    })
    // After an upgrade attempt's promote, the host knows the site's new role and address
    // (sites/identity.ts); unreadable (a host not reached yet), the config file's. A dry run
    // reads it too: it checks the site as the deploy would (pipelines/dry-run.ts).
    const asOnHost = await siteAsOnHost(exec, site).catch(() => site)
    return {
      config,
      site: asOnHost,
      exec,
      close: async () => {
        try {
          await exec.close()
        } finally {
          await knownHosts?.remove()
        }
      }
    }
  } catch (e) {
    await knownHosts?.remove()
    throw e
  }
}

/**
 * The alerts of an unattended `op` (the config's `alerts:`) on the action's site, for withAlerts:
 * a success is summed up as the version that serves and where. `deps.githubFetch` replaces the
 * fetch of issue alerts (the global one by default).
 */
export function alertedOperation(
  op: string,
  target: OpenedSite,
  deps: Pick<SiteActionDeps, 'env'> & { githubFetch?: typeof globalThis.fetch },
  reporter: CoreReporter
): AlertedOperation<OperationOutcome> {
  return {
    config: target.config,
    op,
    site: target.site.name,
    host: target.exec.name,
    env: deps.env ?? process.env,
    reporter,
    redact: text => reporter.redact(text),
    summary: o => `${o.version ?? 'nothing'} serves on ${o.url}`,
    ...(deps.githubFetch && { deps: { fetch: deps.githubFetch } })
  }
}

/** Append markdown to the job summary; outside Actions (no summary file) say so and go on. */
export async function writeSummary(core: ActionCore, markdown: string): Promise<void> {
  try {
    core.summary.addRaw(markdown, true)
    await core.summary.write()
  } catch (e) {
    core.info(`the job summary was not written: ${errorMessage(e)}`)
  }
}

/** The message for core.setFailed. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Mask the secret inputs before anything else reads or prints them: the SSH key, and a private
 * key pasted into known-hosts by mistake (the input check rejects it; its value must not show).
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

async function requireConfigFile(file: string): Promise<void> {
  const stat = await fs.stat(file).catch(() => undefined)
  if (!stat?.isFile()) {
    const resolved = path.resolve(file)
    const shown = resolved === file ? file : `${file} (${resolved})`
    throw new SitecycleError(
      `input '${SiteInput.Config}' is ${shown}, which ${stat ? 'is not a file' : 'does not exist'}; ` +
        'expected the path of sitecycle.yml, relative to the workspace (check out the repository first)',
      'input'
    )
  }
}

function redactedError(error: unknown, reporter: CoreReporter): Error {
  const message = errorMessage(error)
  const clean = reporter.redact(message)
  if (error instanceof Error && clean === message) return error
  return new SitecycleError(clean, error instanceof SitecycleError ? error.kind : 'internal')
}
