/**
 * The one dry-run path (`--dry-run`, the deploy action's `dry-run` input): every check that
 * touches nothing on the host, then the plan. A dry run takes no lock, writes no journal line and
 * changes no file; it reads the site (its state, releases, maintenance flag) and runs read-only
 * programs there (preflight's facts, apachectl configtest). Its refusals are the real run's: the
 * same error, so the same exit code.
 */
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { checkBadMark, findInstalled } from '../sites/bad-mark.js'
import { frozenState, renderMaintenancePage, retryAfterOf } from '../sites/maintenance.js'
import {
  listReleases,
  readSiteState,
  requireInitialized,
  type InstalledRelease
} from '../sites/site-state.js'
import { checkHost, deployPlan, prepareDeploy, type DeployRequest } from './deploy.js'
import type { MaintenanceRequest } from './maintenance.js'
import { describePlan } from './pipeline.js'
import { chooseTarget, rollbackSteps, type RollbackRequest } from './rollback.js'

/** What a dry run found: what it would do, the checks that passed, and the steps. */
export interface DryRunPlan {
  op: string
  site: string
  host: string
  url: string
  /** One sentence: what the run would do (or that it would do nothing). */
  summary: string
  /** The checks that passed, one line each. */
  checks: string[]
  /** The steps the run would take, numbered (empty when it would do nothing). */
  steps: string[]
  /** deploy: the release that would be deployed. */
  release?: { name: string; version: string; file: string }
}

/** The plan as text: the summary, the checks, then the steps. */
export function formatDryRun(plan: DryRunPlan): string {
  return [
    `dry run: ${plan.summary}; nothing was changed`,
    ...plan.checks.map(c => `  checked: ${c}`),
    ...(plan.steps.length ? ['steps:', ...plan.steps] : [])
  ].join('\n')
}

/**
 * A deploy's dry run: the release fetched and verified (manifest, checksums, archive, the wheel's
 * METADATA), the config rendered with every secret, the site read (initialized, a version marked
 * bad, a version installed with other content) and preflight's host checks, read-only.
 */
export async function planDeploy(req: DeployRequest): Promise<DryRunPlan> {
  const prepared = await prepareDeploy(req)
  try {
    const { release, rendered, appEnv } = prepared
    const python = req.config.app.python
    const [state, listed] = await Promise.all([
      readSiteState(req.exec, req.site, python),
      listReleases(req.exec, req.site, python).catch((e: unknown) => e)
    ])
    // A site not initialized is said so first, as the deploy says it.
    requireInitialized(state, req.site, req.exec)
    if (!Array.isArray(listed)) throw listed
    const installed = findInstalled(listed as InstalledRelease[], release.version)
    const markedBad = checkBadMark(
      installed,
      req.site,
      'deploy',
      req.allowBad === true,
      req.reporter
    )
    if (
      installed?.complete &&
      installed.info?.sha256 !== release.sha256 &&
      (installed.dir === state.idle || installed.dir === state.live)
    )
      throw new SitecycleError(
        `version ${release.version} is installed in a slot of site ${req.site.name} with other content ` +
          `(sha256 ${installed.info?.sha256 ?? 'unknown'}, this release ${release.sha256}): a version must not be reused for other content; build a new version`,
        'release'
      )
    const host = await checkHost({ exec: req.exec, site: req.site, python, state, release })
    const checks = [
      `release ${release.name} ${release.version}: ${release.file} matches its manifest (sha256 ${release.sha256})`,
      ...(rendered
        ? [
            `config ${req.site.config!.template} renders${rendered.secretNames.length ? ` with secrets ${rendered.secretNames.join(', ')}` : ''}`
          ]
        : []),
      ...(appEnv
        ? [
            `environment renders: ${Object.keys(appEnv.variables).join(', ') || 'empty'}${appEnv.secretNames.length ? ` (secrets in ${appEnv.secretNames.join(', ')})` : ''}`
          ]
        : []),
      `site ${req.site.name} on ${req.exec.name}: live ${state.live ?? 'nothing'}${markedBad ? `; ${release.version} is marked bad (--allow-bad)` : ''}`,
      `preflight: ${host.note}`
    ]
    const unchanged = state.live === release.version
    return {
      op: 'deploy',
      site: req.site.name,
      host: req.exec.name,
      url: req.site.url,
      summary: unchanged
        ? `${release.version} is already live on site ${req.site.name}: a deploy would do nothing`
        : `would deploy ${release.name} ${release.version} to site ${req.site.name} on ${req.exec.name} (live now: ${state.live ?? 'nothing'})`,
      checks,
      steps: unchanged ? [] : deployPlan(req.site),
      release: { name: release.name, version: release.version, file: release.file }
    }
  } finally {
    await prepared.cleanup()
  }
}

/** A rollback's dry run: the site read, the target chosen as the rollback would (bad marks too). */
export async function planRollback(req: RollbackRequest): Promise<DryRunPlan> {
  const python = req.config.app.python
  const state = await readSiteState(req.exec, req.site, python)
  requireInitialized(state, req.site, req.exec)
  const ctx = { exec: req.exec, site: req.site, python, reporter: req.reporter }
  if (req.to !== undefined)
    checkBadMark(
      findInstalled(await listReleases(req.exec, req.site, python), req.to),
      req.site,
      'rollback',
      req.allowBad === true,
      req.reporter
    )
  const { target, warm } = await chooseTarget(ctx, state, req.to, req.allowBad === true)
  const base = { op: 'rollback', site: req.site.name, host: req.exec.name, url: req.site.url }
  if (target === state.live)
    return {
      ...base,
      summary: `${target} is already live on site ${req.site.name}: a rollback would do nothing`,
      checks: [],
      steps: []
    }
  return {
    ...base,
    summary:
      `would roll back site ${req.site.name} from ${state.live ?? 'nothing'} to ${target}` +
      `${warm ? ' (warm in the idle slot)' : ' (started in the idle slot and verified first)'}` +
      `${state.live ? `, and mark ${state.live} bad` : ''}`,
    checks: [
      `site ${req.site.name} on ${req.exec.name}: live ${state.live ?? 'nothing'}, target ${target} installed`
    ],
    steps: describePlan(rollbackSteps())
  }
}

/** `maintenance on|off`'s dry run: the site read, the page rendered and Retry-After checked. */
export async function planMaintenance(req: MaintenanceRequest): Promise<DryRunPlan> {
  const state = await readSiteState(req.exec, req.site, req.config.app.python)
  requireInitialized(state, req.site, req.exec)
  const before = await frozenState(req.exec, req.site)
  const base = {
    op: `maintenance-${req.action}`,
    site: req.site.name,
    host: req.exec.name,
    url: req.site.url,
    steps: []
  }
  if (req.action === 'off')
    return {
      ...base,
      summary: before.frozen
        ? `would open site ${req.site.name} again (frozen since ${before.since ?? 'an unknown time'})`
        : `site ${req.site.name} is not frozen: maintenance off would change nothing`,
      checks: []
    }
  const retryAfter = retryAfterOf(req.site, req.options ?? {})
  renderMaintenancePage(req.site, req.options ?? {})
  return {
    ...base,
    summary: before.frozen
      ? `site ${req.site.name} is frozen already: would update its page and Retry-After ${retryAfter}`
      : `would freeze site ${req.site.name}: ${req.site.url} would answer 503 with the maintenance page, Retry-After ${retryAfter}`,
    checks: ['maintenance page renders']
  }
}

/** Report a plan's lines through the reporter (the actions' log). */
export function reportDryRun(plan: DryRunPlan, reporter: Reporter): void {
  for (const line of formatDryRun(plan).split('\n')) reporter.info(line)
}
