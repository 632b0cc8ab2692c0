/**
 * A deploy in stages, for a workflow that puts its own steps (a smoke test, an end-to-end
 * suite) between "installed and verified in the idle slot" and "users switched to it":
 *
 *   prepare  the one-step deploy's steps up to verify-idle. The lock is then held by the run
 *            (not by this process) until its next stage or a deadline, and the journal's entry
 *            stays open.
 *   switch   switch and verify-live, as users see it; a failed verify-live switches back and
 *            puts the idle slot back, as the one-step deploy's undo does.
 *   finish   prune; the journal's entry is closed and the lock released.
 *   undo     whichever stage was reached: users back on the release they had, the idle slot
 *            as it was; the entry closed as rolled back and the lock released. With nothing
 *            held it has nothing to do (a prepare that failed undid itself).
 *
 * Only the run that prepared may take the next stage (GITHUB_RUN_ID and GITHUB_RUN_ATTEMPT, or
 * the name given with --run), in order, on a site that did not change meanwhile; anything else
 * is refused before the site is touched. While a stage runs, its own process holds the lock, so
 * a stage killed half-way is recovered as a killed deploy is. A run that dies between stages
 * leaves the lock to its deadline (lock.ts holderState): after it, the next operation takes the
 * lock over and recovers from the journal as for any interrupted deploy.
 *
 * `sitecycle deploy` without --stage runs every stage in one process, as before.
 */
import { spawn } from 'node:child_process'
import { hostname } from 'node:os'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { SLOT_HEADER } from '../commands/apache.js'
import { HEALTH_URI } from '../config/schema.js'
import type { Executor } from '../hosts/executor.js'
import { Journal, type JournalOperation } from '../sites/journal.js'
import { siteLayout, type Slot } from '../sites/layout.js'
import {
  describeHolder,
  holderState,
  readHolder,
  replaceHolder,
  type LockHolder
} from '../sites/lock.js'
import {
  listReleases,
  probeHealth,
  readSiteState,
  switchLiveSlot,
  type SiteState
} from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import { thisProcess } from '../util/process-identity.js'
import type { Reporter } from '../util/reporter.js'
import {
  deploy,
  deploySteps,
  freezesAroundHooks,
  type DeployContext,
  type DeployRequest
} from './deploy.js'
import { restoreIdleSlot } from './deploy/idle-slot.js'
import { OperationFailed, withSiteOperation, type OperationOutcome } from './operation.js'
import { PipelineError, runPipeline, type StepReport } from './pipeline.js'
import type { ResolvedRelease } from '../releases/resolve-release.js'

export type DeployStage = 'prepare' | 'switch' | 'finish' | 'undo'
export const DEPLOY_STAGES: readonly DeployStage[] = ['prepare', 'switch', 'finish', 'undo']

/** How long a prepared deploy's run holds the lock for its next stage, by default. */
export const DEFAULT_HOLD_MINUTES = 60

/** The run that holds a staged deploy: only it may take the next stage. */
export interface StageRun {
  run: string
  attempt: string
}

/**
 * The run this process belongs to: `--run NAME` when given, else the GitHub Actions run
 * (repository, run id and attempt: a re-run is another attempt and starts over). Outside Actions
 * without --run a staged deploy has no run to hold it: refused.
 */
export function stageRun(env: NodeJS.ProcessEnv, given?: string): StageRun {
  const attempt = env.GITHUB_RUN_ATTEMPT || '1'
  if (given !== undefined) {
    if (!/^[\w.:/@-]{1,200}$/.test(given))
      throw new SitecycleError(
        `--run ${JSON.stringify(given)}: a run name is 1 to 200 letters, digits and . _ : / @ -`,
        'input'
      )
    return { run: given, attempt }
  }
  if (env.GITHUB_RUN_ID)
    return {
      run: `${env.GITHUB_REPOSITORY ?? ''}/actions/runs/${env.GITHUB_RUN_ID}`,
      attempt
    }
  throw new SitecycleError(
    'a deploy in stages is held by its run between stages: in GitHub Actions the run says who it is (GITHUB_RUN_ID); elsewhere pass --run NAME, the same to every stage',
    'input'
  )
}

/** Where a smoke test reaches the release in the idle slot: the site's address with a header,
 * from the site's host's loopback only (the vhost honours the header from there alone). */
export interface IdleAddress {
  slot: Slot
  url: string
  header: string
  healthUrl: string
}

export function idleAddress(site: SiteConfig, slot: Slot): IdleAddress {
  return {
    slot,
    url: site.url,
    header: `${SLOT_HEADER}: ${slot}`,
    healthUrl: new URL(HEALTH_URI, site.url).toString()
  }
}

/** The outcome of a stage: the deploy's outcome, with the idle address after prepare. */
export interface StageOutcome extends OperationOutcome {
  stage: DeployStage
  idle?: IdleAddress
}

/** Why a deploy cannot be done in stages (refused before anything is read), or undefined. */
export function whyNotStageable(req: Pick<DeployRequest, 'site' | 'allowBad'>): string | undefined {
  const where = `sites.${req.site.name}`
  if (req.site.apache.mode !== 'blue-green')
    return `a deploy in stages needs an idle slot to test before the switch: ${where}.apache.mode is ${req.site.apache.mode}, not blue-green`
  if (freezesAroundHooks(req.site))
    return `site ${req.site.name} freezes around its hooks (${where}.hooks.freeze): a deploy in stages would keep it frozen between them; deploy it in one step (without --stage)`
  if (req.allowBad)
    return '--allow-bad is not taken by a deploy in stages: deploy a version marked bad in one step'
  return undefined
}

function checkStageable(req: DeployRequest): void {
  const why = whyNotStageable(req)
  if (why) throw new SitecycleError(why, 'input')
}

/** prepare: the deploy's steps up to verify-idle; the lock handed to the run. */
export async function prepareStage(
  req: DeployRequest & { run: StageRun; holdMinutes?: number }
): Promise<StageOutcome> {
  checkStageable(req)
  const minutes = req.holdMinutes ?? DEFAULT_HOLD_MINUTES
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60)
    throw new SitecycleError(`--hold ${minutes}: give 1 to 1440 minutes`, 'input')
  const until = new Date(Date.now() + minutes * 60_000).toISOString()
  const outcome = await deploy({ ...req, prepareOnly: { ...req.run, until } })
  if (outcome.status !== 'prepared') return { ...outcome, stage: 'prepare' }
  const state = await readSiteState(req.exec, req.site, req.config.app.python)
  req.reporter.info(
    `prepared: ${outcome.targetVersion} verified in the idle slot ${state.idleSlot}; held by run ${req.run.run} (attempt ${req.run.attempt}) until ${until} for its next stage (switch, or undo)`
  )
  return { ...outcome, stage: 'prepare', idle: idleAddress(req.site, state.idleSlot) }
}

export interface ResumeRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  run: StageRun
}

/** What the journal's start line of a staged deploy recorded. */
interface StagedStart {
  version: string
  liveSlot: Slot
  live: string | null
  idle: string | null
}

/** The staged deploy this run holds on the site, checked for the stage asked. */
interface Held {
  holder: LockHolder
  reached: 'prepared' | 'switched'
  op: JournalOperation
  start: StagedStart
}

const NEXT: Record<'prepared' | 'switched', DeployStage> = {
  prepared: 'switch',
  switched: 'finish'
}

/**
 * Find the staged deploy of this run on the site. Undefined when none holds it (for undo:
 * nothing to do). Throws, touching nothing, when the lock is another operation's or another
 * run's, or its deadline passed before switch or finish.
 */
async function findHeld(r: ResumeRequest, stage: DeployStage): Promise<Held | undefined> {
  const { exec, site } = r
  const holder = await readHolder(exec, site.root)
  const journal = new Journal(exec, siteLayout(site.root).journal)
  const nothing = () =>
    new SitecycleError(
      `no prepared deploy holds site ${site.name}: run \`sitecycle deploy ${site.name} --stage prepare\` first (a prepare that failed undid itself; one whose deadline passed was recovered by the next operation)`,
      'stage'
    )
  if (!holder) {
    if (stage === 'undo') return undefined
    throw nothing()
  }
  const op = (await journal.operations()).find(o => o.id === holder.id && !o.end)
  const staged = op?.start.staged as StageRun | undefined
  let reached = holder.stage?.reached
  if (!holder.stage) {
    // A stage's own process holds the lock while it runs; one killed half-way left it dead:
    // its own run may still undo it (the next operation would recover it otherwise).
    const ours =
      stage === 'undo' &&
      staged?.run === r.run.run &&
      staged.attempt === r.run.attempt &&
      holderState(holder) === 'dead'
    if (!ours)
      throw new SitecycleError(
        `site ${site.name} is locked by ${describeHolder(holder)}, not by a prepared deploy of this run`,
        'lock'
      )
    const switchEvents = op?.steps.filter(e => e.step === 'switch') ?? []
    const last = switchEvents[switchEvents.length - 1]
    reached = last?.phase === 'run' && last.status === 'ok' ? 'switched' : 'prepared'
  } else if (holder.stage.run !== r.run.run || holder.stage.attempt !== r.run.attempt) {
    throw new SitecycleError(
      `site ${site.name} is held by ${describeHolder(holder)}: only that run takes its next stage (this is run ${r.run.run}, attempt ${r.run.attempt})`,
      'lock'
    )
  } else if (stage !== 'undo' && holderState(holder) === 'dead') {
    throw new SitecycleError(
      `the prepared deploy of site ${site.name} (${holder.id}) was held only until ${holder.stage.until}: another operation may have recovered it; undo it (\`--stage undo\`) and prepare again`,
      'lock'
    )
  }
  if (!op)
    throw new SitecycleError(
      `the journal of site ${site.name} has no open deploy ${holder.id} for its lock: run \`sitecycle status ${site.name}\`, then \`sitecycle unlock ${site.name} --force\``,
      'stage'
    )
  if (stage !== 'undo' && NEXT[reached!] !== stage)
    throw new SitecycleError(
      `the deploy of ${String(op.start.version)} to site ${site.name} (${op.id}) is ${reached}: its next stage is ${NEXT[reached!]} (or undo), not ${stage}`,
      'stage'
    )
  const start = op.start as unknown as StagedStart
  return { holder, reached: reached!, op, start }
}

/** The site as the stage expects it, or a refusal naming what changed since the last stage. */
function checkUnchanged(site: SiteConfig, held: Held, state: SiteState): void {
  const { start, reached } = held
  const idleSlot: Slot = start.liveSlot === 'blue' ? 'green' : 'blue'
  const expected =
    reached === 'prepared'
      ? { liveSlot: start.liveSlot, live: start.live, idle: start.version }
      : { liveSlot: idleSlot, live: start.version, idle: start.live }
  const now = { liveSlot: state.liveSlot, live: state.live, idle: state.idle }
  if (JSON.stringify(now) !== JSON.stringify(expected))
    throw new SitecycleError(
      `site ${site.name} changed since the deploy of ${start.version} was ${reached}: live slot ${now.liveSlot} serves ${now.live ?? 'nothing'} with ${now.idle ?? 'nothing'} idle, where ${expected.liveSlot} serving ${expected.live ?? 'nothing'} with ${expected.idle ?? 'nothing'} idle was left; undo it (\`--stage undo\`) and start again`,
      'stage'
    )
}

/** This process takes the lock from the run for the stage's duration (a kill is then a killed
 * deploy's, recovered as such); the run gets it back, moved on, when the stage ends well. */
function heldByThisProcess(holder: LockHolder): LockHolder {
  const { stage: _stage, ...rest } = holder
  return { ...rest, ...thisProcess(), machine: hostname() }
}

/** A deploy context for the stages after prepare, from what the journal and the site say. */
function stageContext(
  octx: Parameters<Parameters<typeof withSiteOperation>[2]>[0],
  held: Held,
  state: SiteState
): DeployContext {
  const { start } = held
  // The stages after prepare use the release's version only (switch, verify-live, prune).
  const release = { version: start.version } as ResolvedRelease
  const before: SiteState = {
    ...state,
    liveSlot: start.liveSlot,
    idleSlot: start.liveSlot === 'blue' ? 'green' : 'blue',
    live: start.live,
    idle: start.idle
  }
  return {
    ...octx,
    release,
    state: before,
    upload: '',
    createdRelease: false,
    idleBefore: start.idle,
    switched: held.reached === 'switched',
    notes: [],
    releases: [],
    frozenBefore: false,
    dbRestored: false,
    dbRestoreFailed: false
  }
}

/** The outcome fields every stage after prepare shares. */
function baseOutcome(r: ResumeRequest, held: Held, stage: DeployStage) {
  return {
    op: 'deploy',
    stage,
    site: r.site.name,
    host: r.exec.name,
    previousVersion: held.start.live,
    targetVersion: held.start.version,
    url: r.site.url,
    operationId: held.op.id,
    notes: [] as string[]
  }
}

/** switch, finish or undo of the staged deploy this run holds. */
export async function resumeStage(
  r: ResumeRequest,
  stage: Exclude<DeployStage, 'prepare'>
): Promise<StageOutcome> {
  const held = await findHeld(r, stage)
  if (!held) {
    r.reporter.info(`no staged deploy holds site ${r.site.name}: nothing to undo`)
    const state = await readSiteState(r.exec, r.site, r.config.app.python)
    return {
      op: 'deploy',
      stage,
      site: r.site.name,
      host: r.exec.name,
      status: 'unchanged',
      version: state.live,
      previousVersion: state.live,
      targetVersion: null,
      url: r.site.url,
      rolledBack: false,
      undoComplete: true,
      steps: [],
      operationId: '',
      notes: ['nothing to undo']
    }
  }
  const python = r.config.app.python
  const state = await readSiteState(r.exec, r.site, python)
  if (stage !== 'undo') checkUnchanged(r.site, held, state)
  const holder = heldByThisProcess(held.holder)
  await replaceHolder(r.exec, r.site.root, holder)
  const base = baseOutcome(r, held, stage)
  return withSiteOperation(
    {
      op: 'deploy',
      config: r.config,
      site: r.site,
      exec: r.exec,
      reporter: r.reporter,
      held: { opId: held.op.id, holder, started: true },
      handOff: (result, octx) =>
        result.status === 'switched'
          ? {
              ...octx.holder,
              stage: { ...held.holder.stage!, reached: 'switched' as const }
            }
          : undefined
    },
    {},
    async octx => {
      const ctx = stageContext(octx, held, state)
      if (stage === 'undo') return undoStage(ctx, held, state, base)
      const all = deploySteps()
      const names = stage === 'switch' ? ['switch', 'verify-live'] : ['prune']
      if (stage === 'finish') ctx.releases = await listReleases(octx.exec, octx.site, octx.python)
      try {
        const steps = await runPipeline(
          all.filter(s => names.includes(s.name)),
          ctx,
          r.reporter,
          {
            onEvent: e => octx.journal.append({ id: octx.opId, op: 'deploy', event: 'step', ...e })
          }
        )
        return {
          ...base,
          status: stage === 'switch' ? ('switched' as const) : ('deployed' as const),
          version: held.start.version,
          rolledBack: false,
          undoComplete: true,
          steps,
          journal: { live: held.start.version, previous: held.start.live }
        }
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e
        // A failed verify-live switched back (its undo): the idle slot is put back too, as the
        // one-step deploy's undo does, so the site is what it served before.
        const idleNote = e.undoComplete ? await putIdleBack(ctx, r.reporter) : undefined
        const cause = e.cause instanceof Error ? e.cause.message : String(e.cause)
        throw new OperationFailed({
          ...base,
          status: e.undoComplete ? 'rolled-back' : 'failed',
          version: (await readSiteState(octx.exec, octx.site, octx.python)).live,
          rolledBack: e.undoComplete,
          undoComplete: e.undoComplete && idleNote !== undefined,
          steps: e.reports,
          error: cause,
          failedStep: e.failedStep,
          notes: idleNote ? [idleNote] : []
        })
      }
    }
  ) as Promise<StageOutcome>
}

/** The idle slot back to the release kept warm before the deploy, restarted: a note, or a warning. */
async function putIdleBack(c: DeployContext, reporter: Reporter): Promise<string | undefined> {
  try {
    await restoreIdleSlot(c)
    return `idle slot ${c.state.idleSlot} points at ${c.idleBefore ?? 'no release'} again`
  } catch (e) {
    reporter.warn(
      `could not put the idle slot ${c.state.idleSlot} back: ${e instanceof Error ? e.message : e}`
    )
    return undefined
  }
}

/** undo: users back on the release they had (switch back when switched), the idle slot as it
 * was. */
async function undoStage(
  c: DeployContext,
  held: Held,
  state: SiteState,
  base: ReturnType<typeof baseOutcome>
): Promise<OperationOutcome> {
  const steps: StepReport[] = []
  const notes: string[] = []
  const { start } = held
  const began = Date.now()
  if (state.liveSlot !== start.liveSlot) {
    await switchLiveSlot(c.exec, c.site, c.python, start.liveSlot, state.liveSlot)
    notes.push(
      `live slot ${state.liveSlot} -> ${start.liveSlot}: ${start.live ?? 'nothing'} serves again`
    )
    steps.push({
      name: 'switch-back',
      title: 'route users back to the release they had',
      status: 'ok',
      note: notes[notes.length - 1],
      ms: Date.now() - began
    })
  }
  const idleNote = await putIdleBack(c, c.reporter)
  if (idleNote) notes.push(idleNote)
  for (const n of notes) c.reporter.info(`undone: ${n}`)
  if (start.live !== null) {
    const p = await probeHealth(c.exec, c.site, c.python, { version: start.live })
    if (!p.ok)
      c.reporter.warn(
        `site ${c.site.name} after the undo does not answer as ${start.live}: check it`
      )
  }
  return {
    ...base,
    status: 'rolled-back',
    version: start.live,
    rolledBack: true,
    undoComplete: idleNote !== undefined,
    steps,
    notes,
    journal: { live: start.live, undone: held.reached }
  } as OperationOutcome
}

/** What a command run against the idle slot gets in its environment. */
export interface IdleEnvironment {
  /** http(s)://127.0.0.1:<port> and the site's path: the idle slot, from this machine. */
  SITECYCLE_IDLE_URL: string
  /** The Host header to send (the site's), for a server with several virtual hosts. */
  SITECYCLE_IDLE_HOST: string
  /** The header that routes a request to the idle slot: `X-Sitecycle-Slot: <slot>`. */
  SITECYCLE_IDLE_HEADER: string
  SITECYCLE_IDLE_SLOT: Slot
  SITECYCLE_IDLE_VERSION: string
  /** The site's own address, where users are (still on the release before). */
  SITECYCLE_SITE_URL: string
}

export interface AgainstIdleRequest extends ResumeRequest {
  /** The command, an argv (no shell), run on this machine. */
  command: string[]
  /** The environment it starts from (default this process's). */
  env?: NodeJS.ProcessEnv
}

/**
 * Run a command on this machine against the release a prepared deploy of this run left in the
 * idle slot (a smoke test, an end-to-end suite): the slot answers only from the site's host's
 * loopback, so over SSH a local port is forwarded there for the command's duration. The
 * command's output passes through; its exit code is returned. Refused, touching nothing, as
 * switch is: no deploy prepared by this run, or a site changed since.
 */
export async function runAgainstIdle(
  r: AgainstIdleRequest
): Promise<{ code: number; env: IdleEnvironment }> {
  if (!r.command.length)
    throw new SitecycleError('no command to run against the idle slot', 'input')
  const held = (await findHeld(r, 'switch'))!
  const state = await readSiteState(r.exec, r.site, r.config.app.python)
  checkUnchanged(r.site, held, state)
  const site = new URL(r.site.url)
  const hostPort = Number(site.port || (site.protocol === 'https:' ? 443 : 80))
  const forward = await r.exec.forwardPort(hostPort)
  const env: IdleEnvironment = {
    SITECYCLE_IDLE_URL: `${site.protocol}//127.0.0.1:${forward.port}${site.pathname.replace(/\/$/, '')}`,
    SITECYCLE_IDLE_HOST: site.host,
    SITECYCLE_IDLE_HEADER: `${SLOT_HEADER}: ${state.idleSlot}`,
    SITECYCLE_IDLE_SLOT: state.idleSlot,
    SITECYCLE_IDLE_VERSION: held.start.version,
    SITECYCLE_SITE_URL: r.site.url
  }
  r.reporter.info(
    `running ${r.command.join(' ')} against ${held.start.version} in the idle slot ${state.idleSlot} (${env.SITECYCLE_IDLE_URL} with ${env.SITECYCLE_IDLE_HEADER})`
  )
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(r.command[0], r.command.slice(1), {
        stdio: 'inherit',
        env: { ...(r.env ?? process.env), ...env }
      })
      child.on('error', e =>
        reject(new SitecycleError(`cannot run ${r.command[0]}: ${(e as Error).message}`, 'input'))
      )
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)))
    })
    return { code, env }
  } finally {
    await forward.close()
  }
}
