/**
 * A workflow run: the trigger checked against `on:`, workflow_call / workflow_dispatch inputs
 * checked and typed (defaults applied), workflow_call secrets checked, workflow-level
 * permissions (the ceiling of called workflows checked over the whole call tree first),
 * concurrency (the group taken, or waited for, among the Harness's runs) and env, then the jobs
 * in the order their `needs` allow (one at a time), each expanded over its matrix (legs side by
 * side up to max-parallel; fail-fast cancels the others), `uses:` jobs running the reusable
 * workflow they name; finally the workflow_call outputs. A cancelled run cancels its jobs.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { isBasicExpression, isSequence, isString } from '@actions/workflow-parser'
import { Cancellation } from './cancellation.js'
import { HarnessInvalid, HarnessUnsupported, formatLocation } from './errors.js'
import {
  asString,
  evaluateCondition,
  evaluateString,
  evaluateStringMap,
  evaluateToken,
  type Contexts,
  type Json
} from './expressions.js'
import {
  evaluateConcurrency,
  jobContexts,
  recordConcurrency,
  runJobLeg,
  type JobPlan,
  type WorkflowState
} from './jobs.js'
import { expandMatrix, legLabel } from './matrix.js'
import type { JobRecord, Result, Trigger, WorkflowRun } from './model.js'
import { parsePermissions, permissionProblems } from './permissions.js'
import { refParts, upperKeys, type Session } from './runtime.js'
import {
  entries,
  find,
  items,
  literalOf,
  loadWorkflow,
  stringOf,
  where,
  type TemplateToken
} from './templates.js'

/** Where a workflow file comes from: its repository on this machine and its identity. */
export interface WorkflowSource {
  file: string
  root: string
  repository: string
  sha: string
}

/** A run request: the public trigger plus what a caller passes down. */
export interface RunRequest extends Trigger {
  /** The caller's github context (a called workflow sees the caller's). */
  callerGithub?: Record<string, Json>
  /** `secrets: inherit`: every secret of the caller, declared or not. */
  inheritSecrets?: boolean
  /** Concurrency groups held by callers. */
  held?: string[]
  /** The caller job's cancellation (a called workflow's jobs are cancelled with it). */
  cancellation?: Cancellation
  depth?: number
}

const MAX_DEPTH = 4

function onMapping(root: TemplateToken): TemplateToken | undefined {
  return find(root, 'on')
}

/** The events a workflow declares in `on:` (a name, a list, or a mapping). */
function declaredEvents(root: TemplateToken): string[] {
  const on = onMapping(root)
  if (!on) return []
  if (isString(on)) return [on.value]
  if (isSequence(on)) return items(on).map(t => String(literalOf(t)))
  return entries(on).map(([k]) => k)
}

type InputDef = {
  type?: string
  required?: boolean
  /** A literal, or the token of an expression. */
  default?: Json | TemplateToken
  options?: string[]
}

/** The input definitions of `on.<event>.inputs`, read from the tokens (defaults may be expressions). */
function inputDefinitions(root: TemplateToken, event: string): Record<string, InputDef> {
  const out: Record<string, InputDef> = {}
  for (const [name, def] of entries(find(find(onMapping(root), event), 'inputs'))) {
    const d = find(def, 'default')
    const options = find(def, 'options')
    out[name] = {
      type: stringOf(find(def, 'type')) ?? 'string',
      required: literalOf(find(def, 'required')) === true,
      ...(d !== undefined && { default: isBasicExpression(d) ? d : (literalOf(d) ?? null) }),
      ...(options && { options: items(options).map(t => String(literalOf(t))) })
    }
  }
  return out
}

/** The secret definitions of `on.workflow_call.secrets`. */
function secretDefinitions(root: TemplateToken): Record<string, { required?: boolean }> {
  const out: Record<string, { required?: boolean }> = {}
  for (const [name, def] of entries(find(find(onMapping(root), 'workflow_call'), 'secrets'))) {
    out[name] = { required: literalOf(find(def, 'required')) === true }
  }
  return out
}

function typeDefault(type: string | undefined): Json {
  if (type === 'boolean') return false
  if (type === 'number') return 0
  return ''
}

/**
 * The inputs context of a workflow_call or workflow_dispatch: given values checked against the
 * definitions (unknown, missing required, wrong type), defaults applied. Throws HarnessInvalid.
 */
export function resolveInputs(
  file: string,
  event: string,
  defs: Record<string, InputDef>,
  given: Record<string, Json>,
  defaultScope: { contexts: Contexts; file: string }
): Record<string, Json> {
  const problems: string[] = []
  const lower = new Map(Object.keys(defs).map(k => [k.toLowerCase(), k]))
  const values: Record<string, Json> = {}
  for (const [k, v] of Object.entries(given)) {
    const name = lower.get(k.toLowerCase())
    if (!name) problems.push(`Invalid input, ${k} is not defined in the referenced workflow.`)
    else values[name] = v
  }
  const out: Record<string, Json> = {}
  for (const [name, def] of Object.entries(defs)) {
    let value = values[name]
    if (value === undefined) {
      if (def.required) {
        problems.push(`Input ${name} is required, but not provided while calling.`)
        continue
      }
      const d = def.default
      if (d === undefined) value = typeDefault(def.type)
      else if (d && typeof d === 'object' && 'templateTokenType' in d) {
        value = evaluateToken(d as TemplateToken, {
          ...defaultScope,
          status: { failed: false, cancelled: false }
        })
      } else value = d as Json
    }
    const type = def.type ?? 'string'
    if (type === 'boolean') {
      if (event === 'workflow_dispatch' && (value === 'true' || value === 'false'))
        value = value === 'true'
      if (typeof value !== 'boolean') {
        problems.push(`Input ${name} must be a boolean, got ${JSON.stringify(value)}`)
        continue
      }
    } else if (type === 'number') {
      if (event === 'workflow_dispatch' && typeof value === 'string' && value.trim() !== '')
        value = Number(value)
      if (typeof value !== 'number' || Number.isNaN(value)) {
        problems.push(`Input ${name} must be a number, got ${JSON.stringify(value)}`)
        continue
      }
    } else {
      if (typeof value === 'number' || typeof value === 'boolean') value = String(value)
      if (typeof value !== 'string') {
        problems.push(`Input ${name} must be a string, got ${JSON.stringify(value)}`)
        continue
      }
      if (type === 'choice' && def.options && !def.options.includes(value)) {
        problems.push(`Input ${name} must be one of ${def.options.join(', ')}, got '${value}'`)
        continue
      }
    }
    out[name] = value
  }
  if (problems.length)
    throw new HarnessInvalid(`${file}: the ${event} inputs are not valid`, problems)
  return out
}

/** The secrets context of a workflow_call: declared ones only, required ones present. */
function resolveCallSecrets(
  file: string,
  defs: Record<string, { required?: boolean }>,
  given: Record<string, string>
): Record<string, string> {
  const problems: string[] = []
  const lower = new Map(Object.keys(defs).map(k => [k.toLowerCase(), k]))
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(given)) {
    const name = lower.get(k.toLowerCase())
    if (!name) problems.push(`Invalid secret, ${k} is not defined in the referenced workflow.`)
    else out[name] = v
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.required && !(name in out))
      problems.push(`Secret ${name} is required, but not provided while calling.`)
  }
  if (problems.length)
    throw new HarnessInvalid(`${file}: the workflow_call secrets are not valid`, problems)
  return out
}

function needsOf(job: TemplateToken): string[] {
  const needs = find(job, 'needs')
  if (!needs) return []
  const literal = literalOf(needs)
  if (typeof literal === 'string') return [literal]
  return items(needs).map(t => String(literalOf(t)))
}

/** The github context of a run (or the caller's, passed down). */
function githubContext(
  session: Session,
  event: string,
  payload: Record<string, Json>,
  eventPath: string,
  workflowName: string,
  filePath: string
): Record<string, Json> {
  const g = session.github
  const ref = refParts(g.ref)
  return {
    event_name: event,
    event: payload,
    event_path: eventPath,
    ref: g.ref,
    ref_name: ref.name,
    ref_type: ref.type,
    ref_protected: false,
    sha: g.sha,
    repository: g.repository,
    repository_owner: g.repository.split('/')[0],
    repository_id: '1',
    repository_owner_id: '1',
    actor: g.actor,
    actor_id: '1',
    triggering_actor: g.actor,
    token: g.token,
    server_url: g.serverUrl,
    api_url: g.apiUrl,
    graphql_url: g.graphqlUrl,
    run_id: g.runId,
    run_number: g.runNumber,
    run_attempt: g.runAttempt,
    retention_days: '90',
    workflow: session.options.github?.workflow ?? workflowName,
    workflow_ref: `${g.repository}/${filePath}@${g.ref}`,
    workflow_sha: g.sha,
    head_ref: g.headRef,
    base_ref: g.baseRef,
    secret_source: 'Actions',
    action: '',
    action_path: '',
    action_ref: '',
    action_repository: ''
  }
}

/** Run a workflow file for a trigger. */
export async function runWorkflowFile(
  session: Session,
  source: WorkflowSource,
  request: RunRequest
): Promise<WorkflowRun> {
  const depth = request.depth ?? 0
  const loaded = await loadWorkflow(source.file, source.root)
  const file = loaded.name
  const filePath = path.relative(source.root, source.file)
  const events = declaredEvents(loaded.root)
  const event = request.callerGithub
    ? 'workflow_call'
    : (request.event ?? (events.includes('workflow_call') ? 'workflow_call' : 'push'))
  if (!events.includes(event)) {
    throw new HarnessInvalid(
      `${file} does not run on ${event}: its on: names ${events.join(', ') || 'nothing'}`
    )
  }
  const workflowName = stringOf(find(loaded.root, 'name')) ?? filePath
  const firstRunLog = session.log.lines.length
  const firstAnnotation = session.log.annotations.length
  const firstCheck = session.checks.length

  // The event payload and github context (a called workflow sees its caller's).
  let github = request.callerGithub
  let eventPath: string
  if (github) eventPath = String(github.event_path)
  else {
    const payload: Record<string, Json> = { ...(request.payload ?? {}) }
    if (event === 'workflow_dispatch' && request.inputs) payload.inputs = request.inputs
    eventPath = path.join(session.tempRoot, `event-${++session.counter.value}.json`)
    await fs.writeFile(eventPath, JSON.stringify(payload, null, 2))
    github = githubContext(session, event, payload, eventPath, workflowName, filePath)
  }
  const vars = session.options.vars ?? {}
  const baseContexts: Contexts = { github, vars }

  let inputs: Record<string, Json> = {}
  let secrets: Record<string, string>
  if (event === 'workflow_call' || event === 'workflow_dispatch') {
    inputs = resolveInputs(
      file,
      event,
      inputDefinitions(loaded.root, event),
      request.inputs ?? {},
      {
        contexts: baseContexts,
        file
      }
    )
  }
  if (event === 'workflow_call' && request.inheritSecrets) secrets = { ...(request.secrets ?? {}) }
  else if (event === 'workflow_call') {
    secrets = resolveCallSecrets(file, secretDefinitions(loaded.root), request.secrets ?? {})
  } else secrets = upperKeys({ ...(session.options.secrets ?? {}), ...(request.secrets ?? {}) })
  // The secrets context as GitHub spells it: repository secrets in upper case (GitHub stores
  // their names so), the token as `github_token`.
  secrets.github_token = session.github.token
  for (const v of Object.values(secrets)) session.log.addMask(v)

  const wf: WorkflowState = {
    session,
    loaded,
    identity: {
      file,
      filePath,
      repository: source.repository,
      sha: source.sha,
      name: workflowName,
      root: source.root
    },
    contexts: { ...baseContexts, inputs, secrets },
    env: {},
    defaults: {},
    held: [...(request.held ?? [])],
    eventPath,
    cancellation: request.cancellation ?? session.cancellation
  }
  const scope = { contexts: wf.contexts, status: { failed: false, cancelled: false }, file }
  const permissions = find(loaded.root, 'permissions')
  if (permissions) {
    session.checks.push({
      kind: 'permissions',
      scope: 'workflow',
      where: formatLocation(where(file, permissions)),
      permissions: evaluateToken(permissions, scope)
    })
  }
  const concurrencyToken = find(loaded.root, 'concurrency')
  const concurrency = evaluateConcurrency(wf, concurrencyToken, wf.contexts)
  const results = new Map<string, { result: Result; outputs: Record<string, string> }>()
  const records: JobRecord[] = []
  const run: WorkflowRun = {
    file,
    result: 'success',
    outputs: {},
    jobs: records,
    checks: [],
    annotations: [],
    log: [],
    waitTimerMinutes: 0
  }
  const finish = (): WorkflowRun => {
    run.waitTimerMinutes = records.reduce(
      (sum, r) => sum + (r.waitTimerMinutes ?? 0) + (r.call?.waitTimerMinutes ?? 0),
      0
    )
    run.checks = session.checks.slice(firstCheck)
    run.annotations = session.log.annotations.slice(firstAnnotation)
    run.log = session.log.lines.slice(firstRunLog)
    return run
  }
  // GitHub validates the whole tree of called workflows when the run is queued: a called job
  // asking more GITHUB_TOKEN permissions than its caller grants fails the run before any job.
  if (depth === 0) {
    const ceiling =
      request.permissions !== undefined
        ? parsePermissions(request.permissions, `${file}: trigger.permissions`)
        : undefined
    const problems = await permissionProblems(session, source, ceiling, (uses, caller) =>
      callSource(session, uses, caller)
    )
    if (problems.length) {
      run.result = 'failure'
      run.error = `The workflow is not valid. ${problems.join(' ')}`
      session.log.annotate({ level: 'error', origin: file, message: run.error })
      return finish()
    }
  }
  if (concurrency && concurrencyToken) {
    if (recordConcurrency(wf, session.checks, 'workflow', concurrencyToken, concurrency)) {
      run.result = 'cancelled'
      session.log.write(
        file,
        `##[error] Canceling since a deadlock for concurrency group '${concurrency.group}' was detected`
      )
      return finish()
    }
    wf.held.push(concurrency.group)
    const lease = await session.groups.acquire(
      concurrency.group,
      concurrency.cancelInProgress,
      wf.cancellation,
      session.log,
      file
    )
    if (!lease) {
      run.result = 'cancelled'
      session.log.write(file, `##[error] ${wf.cancellation.reason || 'The run was canceled.'}`)
      return finish()
    }
    try {
      return await runJobs()
    } finally {
      lease.release()
    }
  }
  return runJobs()

  async function runJobs(): Promise<WorkflowRun> {
    wf.env = evaluateStringMap(find(loaded.root, 'env'), scope)
    const defaultsRun = find(find(loaded.root, 'defaults'), 'run')
    if (find(defaultsRun, 'shell'))
      wf.defaults.shell = evaluateString(find(defaultsRun, 'shell'), scope)
    if (find(defaultsRun, 'working-directory'))
      wf.defaults.workingDirectory = evaluateString(find(defaultsRun, 'working-directory'), scope)

    // Jobs, in the order their needs allow (file order among the ready ones).
    const jobs = entries(find(loaded.root, 'jobs'))
    for (const [id, given] of Object.entries(request.needs ?? {}))
      results.set(id, { result: given.result, outputs: given.outputs ?? {} })
    const selected = request.jobs ? new Set(request.jobs) : undefined
    const pending = jobs.filter(([id]) => !selected || selected.has(id))
    const ancestors = new Map<string, Set<string>>()
    const ancestorsOf = (id: string): Set<string> => {
      const known = ancestors.get(id)
      if (known) return known
      const set = new Set<string>()
      const job = jobs.find(([j]) => j === id)?.[1]
      for (const n of job ? needsOf(job) : []) {
        set.add(n)
        for (const a of ancestorsOf(n)) set.add(a)
      }
      ancestors.set(id, set)
      return set
    }
    while (pending.length > 0) {
      const index = pending.findIndex(([, job]) => needsOf(job).every(n => results.has(n)))
      if (index < 0) {
        const missing = pending.flatMap(([id, job]) =>
          needsOf(job)
            .filter(n => !results.has(n) && !pending.some(([p]) => p === n))
            .map(n => `${id} needs ${n}`)
        )
        throw new HarnessInvalid(
          `${file}: jobs wait for jobs that are neither run nor given in trigger.needs`,
          missing
        )
      }
      const [id, token] = pending.splice(index, 1)[0]
      const outcome = await runJobEntry(wf, id, token, results, ancestorsOf(id), depth)
      results.set(id, { result: outcome.result, outputs: outcome.outputs })
      records.push(...outcome.records)
    }

    // The run's result (cancelled when it was) and its workflow_call outputs.
    const ran = records.map(r => r.result)
    run.result = wf.cancellation.requested
      ? 'cancelled'
      : ran.includes('failure')
        ? 'failure'
        : ran.includes('cancelled')
          ? 'cancelled'
          : 'success'
    if (event === 'workflow_call') {
      const jobsContext: Record<string, Json> = {}
      for (const [id, r] of results) jobsContext[id] = { result: r.result, outputs: r.outputs }
      const outScope = {
        contexts: { ...wf.contexts, jobs: jobsContext },
        status: { failed: false, cancelled: false },
        file
      }
      for (const [name, def] of entries(
        find(find(onMapping(loaded.root), 'workflow_call'), 'outputs')
      )) {
        run.outputs[name] = evaluateString(find(def, 'value'), outScope)
      }
    }
    session.log.write(file, `workflow ${run.result}`)
    return finish()
  }
}

/** Run one job of the workflow: its `if:`, then its legs (matrix) or its reusable workflow call. */
async function runJobEntry(
  wf: WorkflowState,
  id: string,
  token: TemplateToken,
  results: Map<string, { result: Result; outputs: Record<string, string> }>,
  ancestors: Set<string>,
  depth: number
): Promise<{ result: Result; outputs: Record<string, string>; records: JobRecord[] }> {
  const { session } = wf
  const file = wf.loaded.name
  const needs: JobPlan['needs'] = {}
  for (const n of needsOf(token))
    needs[n] = results.get(n) as { result: Result; outputs: Record<string, string> }
  const ancestorResults = [...ancestors].map(a => results.get(a)?.result ?? 'skipped')
  const status = {
    failed: ancestorResults.includes('failure'),
    cancelled: wf.cancellation.requested,
    blocked: ancestorResults.some(r => r === 'skipped' || r === 'cancelled')
  }
  const ifScope = { contexts: { ...wf.contexts, needs: needs as unknown as Json }, status, file }
  const displayName = find(token, 'name')
  const { condition, result: go } = evaluateCondition(find(token, 'if'), ifScope)
  if (!go) {
    // A job not started when its run is cancelled is cancelled, unless its if: still holds.
    const result: Result = wf.cancellation.requested ? 'cancelled' : 'skipped'
    session.log.write(
      id,
      result === 'cancelled'
        ? `job cancelled: ${wf.cancellation.reason}`
        : `job skipped: ${condition} is false`
    )
    const record: JobRecord = { id, name: id, result, outputs: {}, steps: [], summary: '' }
    return { result, outputs: {}, records: [record] }
  }
  const holdsWhenCancelled = () =>
    evaluateCondition(find(token, 'if'), { ...ifScope, status: { ...status, cancelled: true } })
      .result

  // The matrix's own cancellation: fail-fast cancels the legs running and those not started.
  const matrixCancellation = new Cancellation(wf.cancellation)
  const basePlan: JobPlan = {
    id,
    token,
    needs,
    strategy: { 'fail-fast': true, 'job-index': 0, 'job-total': 1, 'max-parallel': 1 },
    cancellation: matrixCancellation,
    holdsWhenCancelled
  }
  const strategyToken = find(token, 'strategy')
  let legs: (Record<string, Json> | undefined)[] = [undefined]
  let failFast = true
  let maxParallel = 1
  if (strategyToken) {
    const strategy = (evaluateToken(strategyToken, {
      contexts: jobContexts(wf, basePlan),
      status: { failed: false, cancelled: false },
      file
    }) ?? {}) as Record<string, Json>
    if (strategy.matrix !== undefined)
      legs = expandMatrix(strategy.matrix, formatLocation(where(file, strategyToken)))
    if (strategy['fail-fast'] !== undefined)
      failFast = strategy['fail-fast'] === true || strategy['fail-fast'] === 'true'
    if (strategy['max-parallel'] !== undefined) maxParallel = Number(strategy['max-parallel'])
    else maxParallel = legs.length
  }
  if (!Number.isInteger(maxParallel) || maxParallel < 1) maxParallel = legs.length

  // The legs run side by side, at most max-parallel at a time, started in matrix order.
  const records: JobRecord[] = new Array<JobRecord>(legs.length)
  const runLeg = async (i: number): Promise<void> => {
    const matrix = legs[i]
    const plan: JobPlan = {
      ...basePlan,
      ...(matrix && { matrix }),
      strategy: {
        'fail-fast': failFast,
        'job-index': i,
        'job-total': legs.length,
        'max-parallel': maxParallel
      }
    }
    const nameScope = {
      contexts: jobContexts(wf, plan),
      status: { failed: false, cancelled: false },
      file
    }
    const base = displayName ? evaluateString(displayName, nameScope) : id
    const name =
      matrix && !(displayName && isBasicExpression(displayName))
        ? `${base} ${legLabel(matrix)}`
        : base
    if (matrixCancellation.requested && !holdsWhenCancelled()) {
      session.log.write(name, `cancelled: ${matrixCancellation.reason}`)
      records[i] = {
        id,
        name,
        ...(matrix && { matrix }),
        result: 'cancelled',
        outputs: {},
        steps: [],
        summary: ''
      }
      return
    }
    const record = find(token, 'uses')
      ? await runCallLeg(wf, plan, name, depth)
      : await runJobLeg(wf, plan, name)
    records[i] = record
    if (record.result === 'failure' && failFast && legs.length > 1)
      matrixCancellation.cancel(`fail-fast: ${name} failed, the other legs are cancelled.`)
  }
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < legs.length) await runLeg(next++)
  }
  await Promise.all(Array.from({ length: Math.min(maxParallel, legs.length) }, worker))

  let outputs: Record<string, string> = {}
  for (const record of records) {
    outputs = {
      ...outputs,
      ...Object.fromEntries(Object.entries(record.outputs).filter(([, v]) => v !== ''))
    }
    for (const k of Object.keys(record.outputs)) if (!(k in outputs)) outputs[k] = ''
  }
  const legResults = records.map(r => r.result)
  const result: Result = legResults.includes('failure')
    ? 'failure'
    : legResults.includes('cancelled')
      ? 'cancelled'
      : 'success'
  return { result, outputs, records }
}

/**
 * Where a job's `uses:` points: `./.github/workflows/x.yml` in the calling workflow's
 * repository, `owner/repo/.github/workflows/x.yml@ref` from the remoteWorkflows fixtures;
 * undefined when no fixture answers it.
 */
export function callSource(
  session: Session,
  uses: string,
  caller: { root: string; repository: string; sha: string }
): WorkflowSource | undefined {
  if (uses.startsWith('./')) {
    return {
      file: path.resolve(caller.root, uses.replace(/@.*$/, '')),
      root: caller.root,
      repository: caller.repository,
      sha: caller.sha
    }
  }
  const m = /^([^/]+\/[^/]+\/[^@]+)@(.+)$/.exec(uses)
  const fixtures = session.options.remoteWorkflows ?? {}
  const fixture = m ? (fixtures[uses] ?? fixtures[m[1]]) : undefined
  if (!fixture) return undefined
  return {
    file: fixture.file,
    root: fixture.root,
    repository: fixture.repository,
    sha: fixture.sha
  }
}

function ownerOf(repository: string): string {
  return repository.split('/')[0].toLowerCase()
}

/** A `uses:` job: run the reusable workflow it names with its `with:` and `secrets:`. */
async function runCallLeg(
  wf: WorkflowState,
  plan: JobPlan,
  name: string,
  depth: number
): Promise<JobRecord> {
  const { session } = wf
  const file = wf.loaded.name
  const token = plan.token
  const usesToken = find(token, 'uses')
  const uses = String(literalOf(usesToken))
  const at = where(file, usesToken)
  if (depth + 1 >= MAX_DEPTH)
    throw new HarnessInvalid(
      `${formatLocation(at)}: reusable workflows nest deeper than ${MAX_DEPTH} levels`
    )
  const source = callSource(session, uses, wf.identity)
  if (!source)
    throw new HarnessUnsupported(
      `the remote reusable workflow ${uses} without a fixture`,
      at,
      'add it to remoteWorkflows'
    )
  const contexts = jobContexts(wf, plan)
  const scope = { contexts, status: { failed: false, cancelled: false }, file }
  const withValues = (evaluateToken(find(token, 'with'), scope) ?? {}) as Record<string, Json>
  const secretsToken = find(token, 'secrets')
  let secrets: Record<string, string> = {}
  const inheritSecrets = !!secretsToken && literalOf(secretsToken) === 'inherit'
  // `secrets: inherit` passes the caller's secrets only within one owner (organization or
  // user); across owners the called workflow gets none, without a warning, as on GitHub.
  const sameOwner = ownerOf(wf.identity.repository) === ownerOf(source.repository)
  if (inheritSecrets && !sameOwner) {
    session.log.write(
      name,
      `secrets: inherit from ${wf.identity.repository} to ${source.repository}: another owner, no secrets passed`
    )
  } else if (inheritSecrets) {
    secrets = Object.fromEntries(
      Object.entries((wf.contexts.secrets ?? {}) as Record<string, Json>)
        .filter(([k]) => k.toLowerCase() !== 'github_token')
        .map(([k, v]) => [k, asString(v)])
    )
  } else if (secretsToken) {
    secrets = evaluateStringMap(secretsToken, {
      ...scope,
      contexts: { ...contexts, secrets: wf.contexts.secrets }
    })
  }
  const held = [...wf.held]
  const permissions = find(token, 'permissions')
  if (permissions) {
    session.checks.push({
      kind: 'permissions',
      scope: 'job',
      job: name,
      where: formatLocation(where(file, permissions)),
      permissions: evaluateToken(permissions, scope)
    })
  }
  const concurrencyToken = find(token, 'concurrency')
  const concurrency = evaluateConcurrency(wf, concurrencyToken, contexts)
  const record: JobRecord = {
    id: plan.id,
    name,
    result: 'success',
    outputs: {},
    steps: [],
    summary: ''
  }
  if (plan.matrix) record.matrix = plan.matrix
  if (concurrency && concurrencyToken) {
    if (recordConcurrency(wf, session.checks, 'job', concurrencyToken, concurrency, name)) {
      record.result = 'cancelled'
      record.error = `Canceling since a deadlock for concurrency group '${concurrency.group}' was detected`
      return record
    }
    held.push(concurrency.group)
  }
  const callScope = new Cancellation(plan.cancellation)
  const lease =
    concurrency && concurrencyToken
      ? await session.groups.acquire(
          concurrency.group,
          concurrency.cancelInProgress,
          callScope,
          session.log,
          name
        )
      : undefined
  if (concurrency && !lease) {
    record.result = 'cancelled'
    record.error = callScope.reason || 'The job was canceled.'
    session.log.write(name, `##[error] ${record.error}`)
    return record
  }
  session.log.write(name, `calling ${uses}`)
  let called: WorkflowRun
  try {
    called = await runWorkflowFile(session, source, {
      event: 'workflow_call',
      inputs: withValues,
      secrets,
      inheritSecrets,
      callerGithub: wf.contexts.github as Record<string, Json>,
      held,
      cancellation: callScope,
      depth: depth + 1
    })
  } finally {
    lease?.release()
  }
  record.call = called
  record.result = called.result
  record.outputs = called.outputs
  return record
}
