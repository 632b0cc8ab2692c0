/**
 * One job (or one matrix leg) of a workflow on this machine: `runs-on` checked (ubuntu* and
 * self-hosted run here, anything else is refused), `environment` (its protection rules recorded
 * and its approval waited for, its secrets and vars over the caller's), `permissions` recorded,
 * `concurrency` (the group taken or waited for), job `env` and `defaults`, the steps (the
 * running one interrupted when the job is cancelled), the post steps of JavaScript actions,
 * then the job outputs (an output holding a secret is dropped, as on GitHub) and the
 * environment url.
 */
import { promises as fs } from 'node:fs'
import { isMapping } from '@actions/workflow-parser'
import path from 'node:path'
import { Cancellation } from './cancellation.js'
import type { GroupLease } from './concurrency.js'
import { HarnessInvalid, HarnessUnsupported, formatLocation } from './errors.js'
import {
  asString,
  evaluateExpression,
  evaluateString,
  evaluateStringMap,
  evaluateToken,
  truthy,
  type Contexts,
  type Json
} from './expressions.js'
import type { JobRecord, Result, StaticCheck, StepRecord } from './model.js'
import {
  scopeOf,
  upperKeys,
  type JobRuntime,
  type Session,
  type StepFrame,
  type WorkflowIdentity
} from './runtime.js'
import { runSteps } from './steps.js'
import {
  entries,
  find,
  items,
  refuseKey,
  where,
  type LoadedWorkflow,
  type TemplateToken
} from './templates.js'

/** A workflow while it runs: what its jobs share. */
export interface WorkflowState {
  session: Session
  loaded: LoadedWorkflow
  identity: WorkflowIdentity & { root: string }
  /** github (the caller's, for a called workflow), inputs, vars, secrets. */
  contexts: Contexts
  /** Evaluated workflow `env:`. */
  env: Record<string, string>
  defaults: { shell?: string; workingDirectory?: string }
  /** Concurrency groups held by this run and its callers (a job taking one again deadlocks). */
  held: string[]
  eventPath: string
  /** The run's cancellation (for a called workflow: linked to its caller job's). */
  cancellation: Cancellation
}

/** A job's settings shared by its matrix legs. */
export interface JobPlan {
  id: string
  token: TemplateToken
  /** needs context (direct needs). */
  needs: Record<string, { result: Result; outputs: Record<string, string> }>
  matrix?: Record<string, Json>
  strategy: {
    'fail-fast': boolean
    'job-index': number
    'job-total': number
    'max-parallel': number
  }
  /** Fires when the run is cancelled, or the matrix by fail-fast. */
  cancellation: Cancellation
  /**
   * The job's `if:` evaluated again as if cancelled: GitHub does not cancel a running job whose
   * condition still holds then (`always()`, `cancelled()`).
   */
  holdsWhenCancelled: () => boolean
}

/** Contexts available to a job's own keys (runs-on, environment, concurrency, env ...). */
export function jobContexts(wf: WorkflowState, plan: JobPlan): Contexts {
  return {
    ...wf.contexts,
    needs: plan.needs as unknown as Json,
    matrix: (plan.matrix ?? {}) as Json,
    strategy: plan.strategy as unknown as Json
  }
}

function scopeFor(wf: WorkflowState, contexts: Contexts) {
  return { contexts, status: { failed: false, cancelled: false }, file: wf.loaded.name }
}

/** Check `runs-on`: ubuntu* or self-hosted labels run here; anything else is refused. */
export function checkRunsOn(
  wf: WorkflowState,
  token: TemplateToken | undefined,
  contexts: Contexts
): string[] {
  const at = where(wf.loaded.name, token)
  if (!token) throw new HarnessUnsupported('a job without runs-on', at)
  const value = evaluateToken(token, scopeFor(wf, contexts))
  let labels: string[]
  if (typeof value === 'string') labels = [value]
  else if (Array.isArray(value)) labels = value.map(v => asString(v))
  else if (value && typeof value === 'object' && 'labels' in value) {
    const l = (value as Record<string, Json>).labels
    labels = Array.isArray(l) ? l.map(v => asString(v)) : [asString(l)]
  } else {
    throw new HarnessUnsupported(
      `runs-on: ${JSON.stringify(value)}`,
      at,
      'runner groups without labels'
    )
  }
  const local = labels.includes('self-hosted') || /^ubuntu/.test(labels[0] ?? '')
  if (!local) {
    throw new HarnessUnsupported(
      `runs-on: ${labels.join(', ')}`,
      at,
      'only ubuntu* and self-hosted jobs run on this machine'
    )
  }
  return labels
}

/** Evaluate `concurrency:` (a string or {group, cancel-in-progress}); undefined when absent. */
export function evaluateConcurrency(
  wf: WorkflowState,
  token: TemplateToken | undefined,
  contexts: Contexts
): { group: string; cancelInProgress: boolean } | undefined {
  if (!token) return undefined
  const value = evaluateToken(token, scopeFor(wf, contexts))
  if (typeof value === 'string') return { group: value, cancelInProgress: false }
  const v = (value ?? {}) as Record<string, Json>
  return { group: asString(v.group), cancelInProgress: truthy(v['cancel-in-progress']) }
}

/** Record a concurrency group; true when a caller already holds it (GitHub cancels: deadlock). */
export function recordConcurrency(
  wf: WorkflowState,
  checks: StaticCheck[],
  scope: 'workflow' | 'job',
  token: TemplateToken,
  value: { group: string; cancelInProgress: boolean },
  job?: string
): boolean {
  const deadlock = wf.held.some(g => g.toLowerCase() === value.group.toLowerCase())
  checks.push({
    kind: 'concurrency',
    scope,
    ...(job !== undefined && { job }),
    where: formatLocation(where(wf.loaded.name, token)),
    group: value.group,
    cancelInProgress: value.cancelInProgress,
    deadlock
  })
  return deadlock
}

/** The promise's value, or undefined when `cancellation` fires first. */
function untilCancelled<T>(
  promise: Promise<T>,
  cancellation: Cancellation
): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const stop = cancellation.onCancel(() => resolve(undefined))
    promise.then(
      v => {
        stop()
        resolve(v)
      },
      (e: unknown) => {
        stop()
        reject(e instanceof Error ? e : new Error(String(e)))
      }
    )
  })
}

/** `base` with `over` laid on it, names compared without case (secrets and vars are not case-sensitive). */
function overriding(
  base: Record<string, Json>,
  over: Record<string, string>
): Record<string, Json> {
  const names = new Set(Object.keys(over).map(k => k.toLowerCase()))
  return {
    ...Object.fromEntries(Object.entries(base).filter(([k]) => !names.has(k.toLowerCase()))),
    ...over
  }
}

/** Glob of a deployment branch policy: `*` within a path segment, `**` across. */
function globMatches(pattern: string, value: string): boolean {
  const re = pattern
    .split('**')
    .map(part =>
      part
        .split('*')
        .map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*')
    )
    .join('.*')
  return new RegExp(`^${re}$`).test(value)
}

/** Make the job's workspace and runner temp dirs. */
async function jobDirs(session: Session, id: string): Promise<{ workspace: string; temp: string }> {
  const n = ++session.counter.value
  const base = path.join(session.tempRoot, `job-${n}-${id.replace(/[^\w.-]/g, '_')}`)
  const workspace = session.options.workspace ?? path.join(base, 'workspace')
  const temp = path.join(base, 'temp')
  await fs.mkdir(workspace, { recursive: true })
  await fs.mkdir(temp, { recursive: true })
  return { workspace, temp }
}

/** Run one leg of a job with steps; returns its record. */
export async function runJobLeg(
  wf: WorkflowState,
  plan: JobPlan,
  name: string
): Promise<JobRecord> {
  const { session } = wf
  const { log } = session
  const file = wf.loaded.name
  const token = plan.token
  refuseKey(file, token, 'container', 'job containers (container:)')
  refuseKey(file, token, 'services', 'service containers (services:)')
  refuseKey(file, token, 'snapshot', 'snapshot:')
  const contexts = jobContexts(wf, plan)
  const record: JobRecord = {
    id: plan.id,
    name,
    result: 'success',
    outputs: {},
    steps: [],
    summary: ''
  }
  if (plan.matrix) record.matrix = plan.matrix
  const labels = checkRunsOn(wf, find(token, 'runs-on'), contexts)
  // runner.environment / RUNNER_ENVIRONMENT: `self-hosted` when the labels ask for one, else
  // the job would run on a GitHub-hosted runner (it runs here either way).
  const runnerEnvironment = labels.some(l => l.toLowerCase() === 'self-hosted')
    ? 'self-hosted'
    : 'github-hosted'

  const permissions = find(token, 'permissions')
  if (permissions) {
    session.checks.push({
      kind: 'permissions',
      scope: 'job',
      job: name,
      where: formatLocation(where(file, permissions)),
      permissions: evaluateToken(permissions, scopeFor(wf, contexts))
    })
  }

  // The environment: its secrets and variables join the job's; its reviewers are asked.
  let secrets = { ...((wf.contexts.secrets ?? {}) as Record<string, Json>) }
  let vars = { ...((wf.contexts.vars ?? {}) as Record<string, Json>) }
  const envToken = find(token, 'environment')
  let environment: { name: string; urlToken?: TemplateToken } | undefined
  if (envToken) {
    const nameToken = isMapping(envToken) ? find(envToken, 'name') : envToken
    environment = { name: evaluateString(nameToken, scopeFor(wf, contexts)) }
    const urlToken = find(envToken, 'url')
    if (urlToken) environment.urlToken = urlToken
    const settings = session.options.environments?.[environment.name] ?? {}
    const reviewers = settings.reviewers ?? []
    const check: Extract<StaticCheck, { kind: 'environment' }> = {
      kind: 'environment',
      job: name,
      where: formatLocation(where(file, envToken)),
      name: environment.name,
      reviewers,
      waitTimer: settings.waitTimer ?? 0
    }
    if (!Number.isInteger(check.waitTimer) || check.waitTimer < 0 || check.waitTimer > 43200)
      throw new HarnessInvalid(
        `environment ${environment.name}: the wait timer must be a whole number of minutes from 0 to 43200, got ${check.waitTimer}`
      )
    session.checks.push(check)
    for (const v of Object.values(settings.secrets ?? {})) log.addMask(v)
    secrets = overriding(secrets, upperKeys(settings.secrets ?? {}))
    vars = overriding(vars, settings.vars ?? {})
    const ref = session.github.ref.replace(/^refs\/(heads|tags)\//, '')
    if (settings.allowedRefs && !settings.allowedRefs.some(p => globMatches(p, ref))) {
      record.result = 'failure'
      record.error = `${ref} is not allowed to deploy to ${environment.name} due to environment protection rules`
      log.write(name, `##[error] ${record.error}`)
      return record
    }
    if (reviewers.length > 0 || check.waitTimer > 0) {
      log.write(
        name,
        `waiting for environment ${environment.name}: reviewers [${reviewers.join(', ')}], wait timer ${check.waitTimer} min (harness: counted, not slept)`
      )
    }
    // The wait timer delays the job before it starts: counted in the record, never slept.
    if (check.waitTimer > 0) record.waitTimerMinutes = check.waitTimer
    if (reviewers.length > 0) {
      // The job waits for the answer (a promise: a reviewer who answers later), holding the
      // concurrency groups its run holds; a cancelled run stops waiting.
      const answer = await untilCancelled(
        Promise.resolve(
          (session.options.approve ?? (() => true))({
            job: name,
            environment: environment.name,
            reviewers,
            waitTimer: check.waitTimer
          })
        ),
        plan.cancellation
      )
      if (answer === undefined) {
        record.result = 'cancelled'
        record.error = plan.cancellation.reason || 'The run was canceled.'
        log.write(name, `##[error] ${record.error}`)
        return record
      }
      check.approved = answer
      if (!check.approved) {
        record.result = 'failure'
        record.error = `the deployment to ${environment.name} was rejected`
        log.write(name, `##[error] ${record.error}`)
        return record
      }
    }
  }

  // The job's concurrency group: a caller holding it is GitHub's deadlock; another run's job
  // holding it keeps this one pending (or replaced by a newer one).
  const jobScope = new Cancellation(plan.cancellation)
  const concurrencyToken = find(token, 'concurrency')
  const concurrency = evaluateConcurrency(wf, concurrencyToken, contexts)
  let lease: GroupLease | undefined
  if (concurrency && concurrencyToken) {
    if (recordConcurrency(wf, session.checks, 'job', concurrencyToken, concurrency, name)) {
      record.result = 'cancelled'
      record.error = `Canceling since a deadlock for concurrency group '${concurrency.group}' was detected between a caller and '${name}'`
      log.write(name, `##[error] ${record.error}`)
      return record
    }
    lease = await session.groups.acquire(
      concurrency.group,
      concurrency.cancelInProgress,
      jobScope,
      log,
      name
    )
    if (!lease) {
      record.result = 'cancelled'
      record.error = jobScope.reason || 'The job was canceled.'
      log.write(name, `##[error] ${record.error}`)
      return record
    }
  }
  try {
    return await runJobInGroup(wf, plan, name, record, jobScope, {
      environment,
      secrets,
      vars,
      runnerEnvironment
    })
  } finally {
    lease?.release()
  }
}

/** The rest of a job once its concurrency group (if any) is held: its steps and outputs. */
async function runJobInGroup(
  wf: WorkflowState,
  plan: JobPlan,
  name: string,
  record: JobRecord,
  jobScope: Cancellation,
  settled: {
    environment: { name: string; urlToken?: TemplateToken } | undefined
    secrets: Record<string, Json>
    vars: Record<string, Json>
    runnerEnvironment: string
  }
): Promise<JobRecord> {
  const { environment, secrets, vars, runnerEnvironment } = settled
  const { session } = wf
  const { log } = session
  const file = wf.loaded.name
  const token = plan.token
  const contexts = jobContexts(wf, plan)
  const dirs = await jobDirs(session, plan.id)
  record.workspace = dirs.workspace
  const github = {
    ...(wf.contexts.github as Record<string, Json>),
    job: plan.id,
    workspace: dirs.workspace
  }
  const jobContextsFull: Contexts = {
    ...contexts,
    github,
    secrets: secrets as Json,
    vars: vars as Json,
    runner: {
      os: 'Linux',
      arch: 'X64',
      name: 'sitecycle-harness',
      environment: runnerEnvironment,
      temp: dirs.temp,
      tool_cache: path.join(session.tempRoot, 'tool-cache'),
      debug: ''
    },
    job: {
      status: 'success',
      container: {},
      services: {},
      workflow_repository: wf.identity.repository,
      workflow_sha: wf.identity.sha,
      workflow_file_path: wf.identity.filePath,
      workflow_ref: `${wf.identity.repository}/${wf.identity.filePath}@${wf.identity.sha}`
    }
  }
  const envScope = {
    ...scopeFor(wf, jobContextsFull),
    contexts: { ...jobContextsFull, env: wf.env }
  }
  const jobEnv = { ...wf.env, ...evaluateStringMap(find(token, 'env'), envScope) }
  const run = find(find(token, 'defaults'), 'run')
  const defaults = {
    ...wf.defaults,
    ...(find(run, 'shell') && { shell: evaluateString(find(run, 'shell'), envScope) }),
    ...(find(run, 'working-directory') && {
      workingDirectory: evaluateString(find(run, 'working-directory'), envScope)
    })
  }
  const timeout = find(token, 'timeout-minutes')
  const minutes = timeout ? Number(evaluateToken(timeout, envScope)) : 360
  const job: JobRuntime = {
    session,
    id: plan.id,
    name,
    workflow: wf.identity,
    workspace: dirs.workspace,
    runnerTemp: dirs.temp,
    env: jobEnv,
    path: [],
    posts: [],
    status: { failed: false, cancelled: false },
    summary: [],
    contexts: jobContextsFull,
    defaults,
    deadline: Date.now() + minutes * 60_000,
    eventPath: wf.eventPath
  }
  const frame: StepFrame = {
    job,
    file,
    origin: name,
    steps: {},
    inputs: (wf.contexts.inputs ?? {}) as Json,
    status: job.status,
    inheritedEnv: {},
    composite: false
  }
  // Cancellation: the running step is interrupted; then only the steps whose if: holds for a
  // cancelled job (always(), cancelled()) run, and the post steps.
  job.cancellation = new Cancellation()
  const stopListening = jobScope.onCancel(reason => {
    if (plan.holdsWhenCancelled()) {
      log.write(name, `${reason} The job's if: still holds: it goes on.`)
      return
    }
    job.status.cancelled = true
    log.write(name, `##[error] ${reason}`)
    job.cancellation?.cancel(reason)
  })
  log.write(name, `job started (workspace ${dirs.workspace})`)
  try {
    record.steps = await runSteps(frame, items(find(token, 'steps')))
    record.steps.push(...(await runPosts(frame)))
  } finally {
    stopListening()
  }

  const outputScope = scopeOf(frame, { ...job.env })
  for (const [key, value] of entries(find(token, 'outputs'))) {
    const v = evaluateString(value, outputScope)
    if (v && log.holdsSecret(v)) {
      log.annotate({
        level: 'warning',
        origin: name,
        message: `Skip output '${key}' since it may contain secret.`
      })
      record.outputs[key] = ''
    } else record.outputs[key] = v
  }
  if (environment) {
    record.environment = {
      name: environment.name,
      ...(environment.urlToken && { url: evaluateString(environment.urlToken, outputScope) })
    }
    const check = session.checks.find(
      (c): c is Extract<StaticCheck, { kind: 'environment' }> =>
        c.kind === 'environment' && c.job === name
    )
    if (check && record.environment.url !== undefined) check.url = log.mask(record.environment.url)
  }
  record.summary = job.summary.join('\n')
  const failed = job.status.failed
  const coe = find(token, 'continue-on-error')
  const continueOnError = coe ? truthy(evaluateToken(coe, envScope)) : false
  record.result = job.status.cancelled
    ? 'cancelled'
    : failed && !continueOnError
      ? 'failure'
      : 'success'
  log.write(
    name,
    job.status.cancelled
      ? 'job cancelled'
      : `job ${failed ? 'failed' : 'succeeded'}${failed && continueOnError ? ' (continue-on-error)' : ''}`
  )
  return record
}

/** Run the registered post steps, last first, each under its condition. */
export async function runPosts(frame: StepFrame): Promise<StepRecord[]> {
  const job = frame.job
  const records: StepRecord[] = []
  for (const post of [...job.posts].reverse()) {
    const scope = scopeOf(frame, { ...job.env })
    const go = truthy(evaluateExpression(post.condition, scope))
    const record: StepRecord = {
      id: `post-${records.length + 1}`,
      name: post.name,
      outcome: 'skipped',
      conclusion: 'skipped',
      outputs: {},
      condition: post.condition,
      post: true
    }
    if (go) {
      const r = await post.run()
      record.outcome = record.conclusion = r.ok ? 'success' : 'failure'
      if (r.error) record.error = r.error
      if (!r.ok) job.status.failed = true
    }
    records.push(record)
  }
  return records
}
