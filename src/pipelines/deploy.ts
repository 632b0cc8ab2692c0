/**
 * The deploy pipeline: a release file (checked against its manifest) installed into a fresh
 * virtualenv beside the live one, configured, started in the idle slot, verified there before
 * any user reaches it, switched in with one rename, verified again as users see it, and undone
 * in reverse on any failure so the previous release serves again. The release comes from a
 * local path or, by version, from a store (fetched and checked before the host is touched);
 * a release with a wheelhouse is installed offline from it with --require-hashes.
 *
 * The idle slot's daemons are restarted as soon as the new virtualenv exists (restart-idle),
 * not after the install: Apache's parent respawns a mod_wsgi daemon only on its once-a-second
 * maintenance tick, and that wait now passes while pip installs. The new daemons load the
 * application as soon as release.json is written (complete-release, after the config and the
 * hooks), so nothing is imported from a release before it is complete.
 *
 * A site whose hooks migrate its database sets `hooks.freeze`: the deploy then freezes the site
 * (maintenance page, 503 to users) just before the hooks and dumps the database, so that a failed
 * deploy restores that dump before users come back: no user wrote anything since it was taken.
 * The freeze restarts the live daemon group, so requests admitted before it finish before the
 * dump; the restore runs with the site held and its daemon groups restarted around it
 * (frozen-deploy.ts restoreWhileHeld), so no request runs on a connection the restore ends.
 * Without `hooks.freeze` a failed deploy's rollback is code-only, and its outcome says so.
 *
 * This module runs a deploy; its parts live in deploy/: what it is asked and shares (context),
 * the checks before the host is touched (prepare), the step list (steps) and the step bodies
 * (preflight, install, idle-slot, freeze), the notes on what it leaves stale (stale-notes) and
 * its outcomes (outcome). The public API is re-exported here.
 */
import { basename } from 'node:path'
import { siteLayout, type Slot } from '../sites/layout.js'
import { frozenState } from '../sites/maintenance.js'
import {
  listReleases,
  readSiteState,
  requireInitialized,
  type InstalledRelease,
  type SiteState
} from '../sites/site-state.js'
import { checkBadMark, findInstalled, removeBadMark } from '../sites/bad-mark.js'
import { withSiteOperation, type OperationOutcome } from './operation.js'
import { PipelineError, runPipeline } from './pipeline.js'
import type { DeployContext, DeployRequest } from './deploy/context.js'
import { freezesAroundHooks } from './deploy/freeze.js'
import { deployFailed, deployedOutcome, unchangedOutcome } from './deploy/outcome.js'
import { prepareDeploy, type PreparedDeploy } from './deploy/prepare.js'
import { describeStaleLive, describeStaleVhost } from './deploy/stale-notes.js'
import { deploySteps } from './deploy/steps.js'

export type { DeployContext, DeployRequest, DeployStepOptions } from './deploy/context.js'
export { CODE_ONLY_ROLLBACK, freezesAroundHooks } from './deploy/freeze.js'
export { prepareDeploy, type PreparedDeploy } from './deploy/prepare.js'
export { checkHost, type HostFacts } from './deploy/preflight.js'
export { deployPlan, deploySteps } from './deploy/steps.js'

/** Deploy a release to a site. Throws SitecycleError on bad input (nothing touched) and
 * OperationFailed when a step failed (its undos ran: the previous release serves). */
export async function deploy(req: DeployRequest): Promise<OperationOutcome> {
  const prepared = await prepareDeploy(req)
  try {
    return await deployPrepared(req, prepared)
  } finally {
    await prepared.cleanup()
  }
}

async function deployPrepared(
  req: DeployRequest,
  prepared: PreparedDeploy
): Promise<OperationOutcome> {
  const { release } = prepared
  // Read before the lock, so a refusal leaves the site as it was, its journal and lock folder too.
  const [state0, listed] = await Promise.all([
    readSiteState(req.exec, req.site, req.config.app.python),
    listReleases(req.exec, req.site, req.config.app.python).catch((e: unknown) => e)
  ])
  // A site not initialized is said so first, whatever the listing found.
  requireInitialized(state0, req.site, req.exec)
  if (!Array.isArray(listed)) throw listed
  const markedBad = checkBadMark(
    findInstalled(listed as InstalledRelease[], release.version),
    req.site,
    'deploy',
    req.allowBad === true,
    req.reporter
  )
  req.reporter.info(
    `deploying ${release.name} ${release.version} (${release.kind}) to site ${req.site.name} on ${req.exec.name}`
  )
  let state: SiteState = state0
  let releases: InstalledRelease[] = []
  const stage = req.prepareOnly
  return withSiteOperation(
    {
      op: 'deploy',
      config: req.config,
      site: req.site,
      exec: req.exec,
      reporter: req.reporter,
      lockWait: req.lockWait,
      // A prepared stage (deploy-stages.ts) keeps the lock for its run, its journal entry open.
      ...(stage && {
        handOff: (result, octx) =>
          result.status === 'prepared'
            ? { ...octx.holder, stage: { reached: 'prepared' as const, ...stage } }
            : undefined
      })
    },
    // The state as it is once the lock is held (and an interrupted run recovered) is what the
    // journal records, so a recovery of this run knows what to put back.
    async octx => {
      // Both read at once; under the lock neither changes but by this deploy.
      ;[state, releases] = await Promise.all([
        readSiteState(octx.exec, octx.site, octx.python),
        listReleases(octx.exec, octx.site, octx.python)
      ])
      return {
        version: release.version,
        sha256: release.sha256,
        liveSlot: state.liveSlot,
        live: state.live,
        idle: state.idle,
        ...(freezesAroundHooks(req.site) && {
          freeze: true,
          frozen: (await frozenState(octx.exec, octx.site)).frozen
        }),
        ...(octx.recoveredFreeze?.length && { recoveredFreeze: octx.recoveredFreeze }),
        ...(stage && { staged: { run: stage.run, attempt: stage.attempt } })
      }
    },
    async octx => {
      const base = {
        op: 'deploy',
        site: req.site.name,
        host: req.exec.name,
        previousVersion: state.live,
        targetVersion: release.version,
        url: req.site.url,
        operationId: octx.opId,
        notes: [] as string[]
      }
      const staleVhost = await describeStaleVhost(req)
      if (staleVhost) {
        req.reporter.warn(staleVhost)
        base.notes.push(staleVhost)
      }
      if (state.live === release.version) {
        req.reporter.info(
          `${release.version} is already live on site ${req.site.name}: nothing to do`
        )
        const stale = await describeStaleLive(req, state, prepared.appEnv)
        if (stale) {
          req.reporter.warn(stale)
          base.notes.push(stale)
        }
        return unchangedOutcome(base, state.live)
      }
      const ctx: DeployContext = {
        ...octx,
        release,
        rendered: prepared.rendered,
        ...(prepared.appEnv && { appEnv: prepared.appEnv }),
        indexUrl: prepared.indexUrl,
        state,
        upload: `${siteLayout(req.site.root).incoming}/${octx.opId}/${basename(release.file)}`,
        createdRelease: false,
        idleBefore: state.idle,
        switched: false,
        notes: [],
        releases,
        frozenBefore: false,
        dbRestored: false,
        dbRestoreFailed: false
      }
      const all = deploySteps({ freeze: freezesAroundHooks(req.site) })
      // The prepare stage: the steps before the switch.
      const steps = stage
        ? all.slice(
            0,
            all.findIndex(st => st.name === 'switch')
          )
        : all
      try {
        const reports = await runPipeline(steps, ctx, req.reporter, {
          onEvent: e => octx.journal.append({ id: octx.opId, op: 'deploy', event: 'step', ...e })
        })
        if (stage)
          return {
            ...deployedOutcome(base, release.version, reports),
            status: 'prepared' as const,
            version: state.live
          }
        // A mark is removed only by a deploy that was told to go ahead (--allow-bad) and succeeded.
        if (markedBad) {
          const note = await removeBadMark(octx.exec, req.site, release.version)
          req.reporter.info(note)
          base.notes.push(note)
        }
        return deployedOutcome(base, release.version, reports)
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e
        throw await deployFailed(octx, ctx, base, state, e)
      }
    }
  )
}

export type { Slot }
