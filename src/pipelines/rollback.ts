/**
 * Rollback: users back on the previous release (the one kept warm in the idle slot: one rename)
 * or a named installed release (started in the idle slot and verified first). The release it
 * leaves is marked bad.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { isValidVersion, normalizeVersion } from '../releases/version.js'
import { EMPTY_RELEASE, siteLayout } from '../sites/layout.js'
import {
  describeProbe,
  listReleases,
  pointSlot,
  probeHealth,
  readSiteState,
  requireInitialized,
  restartSlotGroup,
  switchLiveSlot,
  type InstalledRelease,
  type SiteState
} from '../sites/site-state.js'
import { currentHolder, releaseLock } from '../sites/lock.js'
import { newOperationId } from '../sites/journal.js'
import { tryWarmSwitch, type WarmSwitchResult } from '../sites/warm-switch.js'
import { checkBadMark, findInstalled, removeBadMark } from '../sites/bad-mark.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  startLine,
  withSiteOperation,
  type HeldLock,
  type OperationContext,
  type OperationOptions,
  type OperationOutcome
} from './operation.js'
import { operationFailed } from './outcome.js'
import { PipelineError, runPipeline, type Step } from './pipeline.js'

export interface RollbackRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** An installed version to go back to; the previous release when omitted. */
  to?: string
  lockWait?: number
  /** Go back to `to` even when it is marked bad (warns; the mark is removed once the rollback
   * succeeded). Without it such a rollback is refused before anything changes. */
  allowBad?: boolean
}

interface RollbackContext extends OperationContext {
  state: SiteState
  target: string
  /** True when the target is already warm in the idle slot. */
  warm: boolean
  idleBefore: string | null
  /** The switch WARM_SWITCH made before the pipeline ran (its note and milliseconds). */
  switchedBefore?: { note: string; ms: number }
}

/** The steps of a rollback, in order (a dry run prints them). */
export function rollbackSteps(): Step<RollbackContext>[] {
  return [
    {
      name: 'start-idle',
      title: 'start the target release in the idle slot (skipped when it is already warm there)',
      when: c => !c.warm,
      run: async c => {
        await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.target)
        if (c.site.apache.mode === 'blue-green')
          await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
        return `slot ${c.state.idleSlot}`
      },
      undo: async c => {
        await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE)
        if (c.site.apache.mode === 'blue-green')
          await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
      }
    },
    {
      name: 'verify-idle',
      title: 'verify the target release through the private route',
      when: c => !c.warm && c.site.apache.mode === 'blue-green',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, {
          slot: c.state.idleSlot,
          version: c.target
        })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(p, `release ${c.target} on slot ${c.state.idleSlot}`, c.target),
            'verify'
          )
      }
    },
    {
      name: 'switch',
      title: 'route users to the target release (one atomic rename of live.map)',
      run: async c => {
        if (c.switchedBefore) return c.switchedBefore.note
        if (c.site.apache.mode === 'single')
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        else await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot, c.state.liveSlot)
        return `${c.state.live ?? 'none'} -> ${c.target}`
      },
      undo: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot, c.state.idleSlot)
      }
    },
    {
      name: 'verify-live',
      title: 'verify the site as users see it',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, { version: c.target, successes: 1 })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(p, `site ${c.site.name} after the rollback`, c.target),
            'verify'
          )
      }
    },
    {
      name: 'mark-bad',
      title: 'mark the release left behind as bad',
      critical: false,
      when: c => c.state.live !== null,
      run: async c => {
        const reason = { markedAt: new Date().toISOString(), by: c.opId, reason: 'rolled back' }
        await c.exec.writeFile(
          `${siteLayout(c.site.root).release(c.state.live!)}/BAD`,
          JSON.stringify(reason) + '\n',
          0o644
        )
        await c.journal.append({
          id: c.opId,
          op: 'rollback',
          event: 'mark-bad',
          version: c.state.live
        })
        return `${c.state.live} marked bad`
      }
    }
  ]
}

/** The refusal of `rollback --to` a version that is not (completely) installed. */
function notInstalledError(
  to: string,
  site: SiteConfig,
  installed: readonly InstalledRelease[]
): SitecycleError {
  return new SitecycleError(
    `version ${to} is not installed on site ${site.name}; installed: ${installed.map(r => r.dir).join(', ') || 'none'} (deploy it instead)`,
    'input'
  )
}

/** Choose the release to go back to: the named one, or the warm one in the idle slot, or the
 * newest installed good release before the live one. */
export async function chooseTarget(
  c: Pick<OperationContext, 'exec' | 'site' | 'python' | 'reporter'>,
  state: SiteState,
  to?: string,
  allowBad = false
): Promise<{ target: string; warm: boolean }> {
  // The usual case, decided from the state alone: the previous release, warm in the idle slot.
  const idleInfo = state.idle ? state.slotReleases[state.idle] : undefined
  const idleIsGood =
    c.site.apache.mode === 'blue-green' && idleInfo?.complete === true && !idleInfo.bad
  if (
    idleIsGood &&
    (!to ||
      to === state.idle ||
      (isValidVersion(state.idle!) && normalizeVersion(state.idle!) === normalizeVersion(to)))
  )
    return { target: state.idle!, warm: true }
  const releases = (await listReleases(c.exec, c.site, c.python)).filter(r => r.complete)
  if (to) {
    const found = findInstalled(releases, to)
    if (!found) throw notInstalledError(to, c.site, releases)
    // Checked before the lock too (rollback()); here again, as the release is now under the lock.
    if (found.bad && !allowBad) checkBadMark(found, c.site, 'rollback', false, c.reporter)
    // Already there (e.g. a host a partial rolling deploy never reached): nothing to do.
    if (found.dir === state.live) return { target: found.dir, warm: true }
    return {
      target: found.dir,
      warm: found.dir === state.idle && c.site.apache.mode === 'blue-green'
    }
  }
  if (
    c.site.apache.mode === 'blue-green' &&
    state.idle &&
    releases.some(r => r.dir === state.idle && !r.bad)
  )
    return { target: state.idle, warm: true }
  const previous = releases
    .filter(r => r.dir !== state.live && !r.bad)
    .sort((a, b) => (b.info?.installedAt ?? '').localeCompare(a.info?.installedAt ?? ''))
    .filter(
      r =>
        (r.info?.installedAt ?? '') <
        (releases.find(x => x.dir === state.live)?.info?.installedAt ?? '\uffff')
    )[0]
  if (!previous)
    throw new SitecycleError(
      `site ${c.site.name} has no earlier good release to roll back to`,
      'input'
    )
  return { target: previous.dir, warm: false }
}

/** What the fast path's one host program does, as the title of its switch step. */
const WARM_SWITCH_TITLE =
  'take the lock and route users to the release warm in the idle slot (one host program: lock, journal, atomic rename of live.map)'

/**
 * Roll a site back. The usual case (blue-green, the previous release warm in the idle slot,
 * nothing unfinished in the journal) takes the lock, writes the journal's start line and
 * switches live.map in one host program (WARM_SWITCH), then verifies, marks the release left
 * bad, ends the journal entry and releases the lock. Anything else takes the full path: lock,
 * recovery of an interrupted run, state, target, steps.
 */
export async function rollback(req: RollbackRequest): Promise<OperationOutcome> {
  if (req.to !== undefined && !isValidVersion(req.to))
    throw new SitecycleError(
      `invalid version '${req.to}': expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1`,
      'input'
    )
  const operation: OperationOptions = {
    op: 'rollback',
    config: req.config,
    site: req.site,
    exec: req.exec,
    reporter: req.reporter,
    lockWait: req.lockWait
  }
  // A target not installed, or marked bad, is refused (or, with allowBad, warned about) before
  // the lock is taken: a refusal waits for no lock and leaves no journal line.
  let markedBad = false
  if (req.to !== undefined) {
    const installed = (await listReleases(req.exec, req.site, req.config.app.python)).filter(
      r => r.complete
    )
    const found = findInstalled(installed, req.to)
    if (!found) throw notInstalledError(req.to, req.site, installed)
    markedBad = checkBadMark(found, req.site, 'rollback', req.allowBad === true, req.reporter)
  }
  let held: HeldLock | undefined
  if (req.site.apache.mode === 'blue-green') {
    const opId = newOperationId()
    const holder = currentHolder('rollback', opId)
    const started = Date.now()
    req.reporter.stepStart('switch', WARM_SWITCH_TITLE)
    let warm: WarmSwitchResult
    try {
      warm = await tryWarmSwitch(req.exec, req.site, req.config.app.python, {
        opId,
        holder,
        start: startLine('rollback', opId, req.site.name, holder, { to: req.to ?? null }),
        accept: req.to ? [...new Set([req.to, normalizeVersion(req.to)])] : []
      })
    } catch (e) {
      // It said nothing: whether it switched is unknown. An unfinished journal entry, if it
      // wrote one, is recovered by the next operation.
      const message = e instanceof Error ? e.message : String(e)
      req.reporter.stepEnd('switch', 'failed', Date.now() - started, message)
      await releaseLock(req.exec, req.site.root, holder, req.config.app.python).catch(
        () => undefined
      )
      throw new SitecycleError(
        `the rollback of site ${req.site.name} failed on ${req.exec.name}: ${message}; see \`sitecycle status ${req.site.name}\``,
        'host'
      )
    }
    if (warm.result === 'switched') {
      const note = `${warm.state.live ?? 'none'} -> ${warm.target}`
      // As this process saw it (the program's start included), like any other step.
      const ms = Date.now() - started
      req.reporter.stepEnd('switch', 'ok', ms, note)
      const state = warm.state
      return withSiteOperation({ ...operation, held: { opId, holder, started: true } }, {}, octx =>
        runRollback(req, octx, state, { target: warm.target, warm: true }, { note, ms }, markedBad)
      )
    }
    if (warm.result === 'error' && warm.started) {
      req.reporter.stepEnd('switch', 'failed', Date.now() - started, warm.error)
      return withSiteOperation({ ...operation, held: { opId, holder, started: true } }, {}, () =>
        Promise.reject(
          new SitecycleError(
            `switching site ${req.site.name} back to its warm release failed on ${req.exec.name}: ${warm.error}`,
            'host'
          )
        )
      )
    }
    const reason = warm.result === 'error' ? warm.error : warm.reason
    req.reporter.stepEnd(
      'switch',
      'skipped',
      Date.now() - started,
      `${reason}: the full path follows`
    )
    if (warm.result !== 'busy') held = { opId, holder, started: false }
  }
  // Everything is read once, holding the lock.
  let state: SiteState | undefined
  let choice: { target: string; warm: boolean } | undefined
  return withSiteOperation(
    { ...operation, held },
    async octx => {
      state = await readSiteState(octx.exec, octx.site, octx.python)
      requireInitialized(state, req.site, req.exec)
      choice = await chooseTarget(octx, state, req.to, req.allowBad === true)
      return {
        to: req.to ?? null,
        target: choice.target,
        liveSlot: state.liveSlot,
        live: state.live,
        idle: state.idle
      }
    },
    octx => runRollback(req, octx, state!, choice!, undefined, markedBad)
  )
}

/** The steps of a rollback once its target is chosen (and, on the fast path, users are on it). */
async function runRollback(
  req: RollbackRequest,
  octx: OperationContext,
  st: SiteState,
  choice: { target: string; warm: boolean },
  switchedBefore?: { note: string; ms: number },
  markedBad = false
): Promise<OperationOutcome & { journal: Record<string, unknown> }> {
  const { target, warm } = choice
  if (target === st.live) {
    req.reporter.info(`${target} is already live on site ${req.site.name}: nothing to do`)
    return {
      op: 'rollback',
      site: req.site.name,
      host: req.exec.name,
      status: 'unchanged' as const,
      version: target,
      previousVersion: target,
      targetVersion: target,
      url: req.site.url,
      rolledBack: false,
      undoComplete: true,
      steps: [],
      operationId: octx.opId,
      notes: [],
      journal: { live: target }
    }
  }
  req.reporter.info(
    `rolling back site ${req.site.name} from ${st.live ?? 'nothing'} to ${target}${warm ? ' (warm in the idle slot)' : ''}`
  )
  const ctx: RollbackContext = {
    ...octx,
    state: st,
    target,
    warm,
    idleBefore: st.idle,
    switchedBefore
  }
  const base = {
    op: 'rollback',
    site: req.site.name,
    host: req.exec.name,
    previousVersion: st.live,
    targetVersion: target,
    url: req.site.url,
    operationId: octx.opId,
    notes: [] as string[]
  }
  // The switch WARM_SWITCH made was reported and journaled by it: not again.
  const again = (name: string) => !(switchedBefore && name === 'switch')
  const reporter: Reporter = {
    info: m => req.reporter.info(m),
    warn: m => req.reporter.warn(m),
    addSecret: x => req.reporter.addSecret(x),
    stepStart: (name, title) => {
      if (again(name)) req.reporter.stepStart(name, title)
    },
    stepEnd: (name, status, ms, note) => {
      if (again(name)) req.reporter.stepEnd(name, status, ms, note)
    }
  }
  try {
    const steps = await runPipeline(rollbackSteps(), ctx, reporter, {
      onEvent: async e => {
        if (again(e.step) || e.phase !== 'run')
          await octx.journal.append({ id: octx.opId, op: 'rollback', event: 'step', ...e })
      }
    })
    // A mark is removed only by a rollback that was told to go ahead (--allow-bad) and succeeded.
    if (markedBad) {
      const note = await removeBadMark(octx.exec, req.site, target)
      req.reporter.info(note)
      base.notes.push(note)
    }
    if (req.site.database) {
      // DESIGN rule 4: a rollback is code only, and says so.
      const note = codeOnlyNote(req.site.name, st.live, target)
      req.reporter.warn(note)
      base.notes.push(note)
    }
    return {
      ...base,
      status: 'rolled-back' as const,
      version: target,
      rolledBack: true,
      undoComplete: true,
      steps: steps.map(r =>
        switchedBefore && r.name === 'switch' ? { ...r, ms: switchedBefore.ms } : r
      ),
      journal: { live: target, previous: st.live }
    }
  } catch (e) {
    if (!(e instanceof PipelineError)) throw e
    throw operationFailed(base, e, { status: 'failed', version: st.live, rolledBack: false })
  }
}

/**
 * What a rollback leaves alone, said plainly: the database keeps what the newer release made of
 * it (migrations are not undone), and the way back to older data is a snapshot's restore.
 */
export function codeOnlyNote(site: string, from: string | null | undefined, to: string): string {
  return `the rollback of site ${site} is code only: its database stays as ${from ?? 'the live release'} left it (migrations are not undone); if ${to} needs the older schema, restore a snapshot taken before (sitecycle snapshots ${site}, then sitecycle restore ${site})`
}
