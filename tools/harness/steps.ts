/**
 * Running steps as the runner does: `if:` with the status functions, step `env:`, `shell:`
 * and `working-directory`, `continue-on-error`, `timeout-minutes`, outputs through
 * GITHUB_OUTPUT (and the legacy `::set-output`), and `uses:` of composite actions (their own
 * steps context and `inputs`, outputs mapped from their steps) and JavaScript actions (`node`
 * on their `main` with INPUT_* variables; their `post` registered for the end of the job).
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { resolveAction, type ResolvedAction } from './actions.js'
import { Cancellation } from './cancellation.js'
import { HarnessUnsupported } from './errors.js'
import { nodeForAction } from './node-runtime.js'
import {
  asString,
  evaluateCondition,
  evaluateString,
  evaluateStringMap,
  evaluateToken,
  truthy,
  type Json
} from './expressions.js'
import type { Result, StepRecord } from './model.js'
import {
  executeProcess,
  frameEnv,
  scopeOf,
  type ProcessOutcome,
  type StepFrame
} from './runtime.js'
import {
  entries,
  find,
  items,
  literalOf,
  refuseKey,
  stringOf,
  where,
  type TemplateToken
} from './templates.js'

const SHELLS: Record<string, string[]> = {
  bash: ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '{0}'],
  sh: ['sh', '-e', '{0}'],
  python: ['python3', '{0}']
}
/** The runner's shell when none is given: bash without pipefail. */
const DEFAULT_SHELL = ['bash', '-e', '{0}']
const SCRIPT_EXTENSIONS: Record<string, string> = { python: '.py' }

/** The runner's generated step id: `__run`, `__owner_repo`, `__self`, deduplicated with `_2`. */
function generatedId(step: TemplateToken, used: Set<string>): string {
  const uses = stringOf(find(step, 'uses'))
  let base = '__run'
  if (uses !== undefined) {
    if (uses.startsWith('./') || uses.startsWith('.\\')) base = '__self'
    else base = `__${uses.replace(/@.*$/, '').replace(/[^A-Za-z0-9_-]/g, '_')}`
  }
  let id = base
  for (let n = 2; used.has(id.toLowerCase()); n++) id = `${base}_${n}`
  used.add(id.toLowerCase())
  return id
}

function stepDisplayName(
  step: TemplateToken,
  frame: StepFrame,
  env: Record<string, string>
): string {
  const name = find(step, 'name')
  if (name) return evaluateString(name, scopeOf(frame, env))
  const uses = stringOf(find(step, 'uses'))
  if (uses !== undefined) return `Run ${uses}`
  const run = find(step, 'run')
  const text =
    stringOf(run) ??
    (run && 'expression' in run ? String((run as { expression: string }).expression) : '')
  return `Run ${text.split('\n')[0]}`
}

function timeoutOf(
  token: TemplateToken | undefined,
  frame: StepFrame,
  env: Record<string, string>
): number | undefined {
  if (!token) return undefined
  const minutes = Number(evaluateToken(token, scopeOf(frame, env)))
  return Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : undefined
}

/**
 * Run a list of steps in a frame, in order, and return their records. A failed step (without
 * continue-on-error) marks the frame failed: later steps run only when their `if:` allows it.
 * HarnessUnsupported and HarnessInvalid are thrown through: they stop the whole run.
 */
export async function runSteps(frame: StepFrame, steps: TemplateToken[]): Promise<StepRecord[]> {
  const used = new Set<string>()
  for (const step of steps) {
    const id = stringOf(find(step, 'id'))
    if (id) used.add(id.toLowerCase())
  }
  const records: StepRecord[] = []
  for (const step of steps) {
    for (const key of ['background', 'parallel', 'wait', 'wait-all', 'cancel']) {
      refuseKey(frame.file, step, key, `the step key '${key}:'`)
    }
    const id = stringOf(find(step, 'id')) || generatedId(step, used)
    records.push(await runStep(frame, step, id))
  }
  return records
}

async function runStep(frame: StepFrame, step: TemplateToken, id: string): Promise<StepRecord> {
  const { log } = frame.job.session
  const baseEnv = frameEnv(frame)
  const name = stepDisplayName(step, frame, baseEnv)
  const origin = `${frame.origin} / ${name}`
  const ifToken = find(step, 'if')
  const { condition, result: run } = evaluateCondition(ifToken, scopeOf(frame, baseEnv))
  const uses = stringOf(find(step, 'uses'))
  const record: StepRecord = {
    id,
    name,
    outcome: 'skipped',
    conclusion: 'skipped',
    outputs: {},
    condition,
    ...(uses !== undefined && { uses })
  }
  if (!run) {
    log.write(origin, `skipped: ${condition} is false`)
    frame.steps[id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' }
    return record
  }
  const stepEnv = evaluateStringMap(find(step, 'env'), scopeOf(frame, baseEnv))
  const env = { ...baseEnv, ...stepEnv }
  const scope = scopeOf(frame, env)
  const coeToken = find(step, 'continue-on-error')
  const continueOnError = coeToken ? truthy(evaluateToken(coeToken, scope)) : false
  const timeoutMs = timeoutOf(find(step, 'timeout-minutes'), frame, env)

  let outcome: {
    ok: boolean
    cancelled?: boolean
    error?: string
    outputs: Record<string, string>
    steps?: StepRecord[]
  }
  // When the job is cancelled while this step runs, the runner evaluates the step's if: again
  // and interrupts the step only when it no longer holds.
  const job = frame.job
  const outer = job.stepCancellation
  const own = new Cancellation()
  const stopListening = job.status.cancelled
    ? undefined
    : job.cancellation?.onCancel(reason => {
        if (!evaluateCondition(ifToken, scopeOf(frame, baseEnv)).result) own.cancel(reason)
      })
  job.stepCancellation = own
  try {
    if (find(step, 'run')) {
      outcome = await runScriptStep(frame, step, id, env, origin, timeoutMs)
    } else {
      outcome = await runActionStep(frame, step, id, env, stepEnv, origin, timeoutMs)
    }
  } finally {
    stopListening?.()
    job.stepCancellation = outer
  }
  const result: Result = outcome.cancelled ? 'cancelled' : outcome.ok ? 'success' : 'failure'
  record.outcome = result
  record.conclusion = result === 'failure' && continueOnError ? 'success' : result
  record.outputs = outcome.outputs
  if (outcome.steps) record.steps = outcome.steps
  if (outcome.error) record.error = outcome.error
  if (record.conclusion === 'failure') frame.status.failed = true
  if (!outcome.ok && continueOnError) log.write(origin, 'failed, but continue-on-error is set')
  frame.steps[id] = {
    outputs: record.outputs,
    outcome: record.outcome,
    conclusion: record.conclusion
  }
  return record
}

function shellArgv(
  shell: string | undefined,
  scriptFile: string,
  where0: { file: string; line?: number }
): string[] {
  if (shell === undefined) return DEFAULT_SHELL.map(a => (a === '{0}' ? scriptFile : a))
  const known = SHELLS[shell]
  if (known) return known.map(a => (a === '{0}' ? scriptFile : a))
  if (['pwsh', 'powershell', 'cmd'].includes(shell)) {
    throw new HarnessUnsupported(
      `shell: ${shell}`,
      where0,
      'only bash, sh, python and custom {0} shells run here'
    )
  }
  if (!shell.includes('{0}')) {
    throw new HarnessUnsupported(`shell: ${shell}`, where0, 'a custom shell must contain {0}')
  }
  return shell
    .split(/\s+/)
    .filter(Boolean)
    .map(a => a.replace('{0}', scriptFile))
}

async function runScriptStep(
  frame: StepFrame,
  step: TemplateToken,
  id: string,
  env: Record<string, string>,
  origin: string,
  timeoutMs: number | undefined
): Promise<ProcessOutcome> {
  const job = frame.job
  const scope = scopeOf(frame, env)
  const shellToken = find(step, 'shell')
  const shell = shellToken ? evaluateString(shellToken, scope) : job.defaults.shell
  const script = evaluateString(find(step, 'run'), scope)
  const file = path.join(
    job.runnerTemp,
    `${randomUUID()}${SCRIPT_EXTENSIONS[shell ?? ''] ?? '.sh'}`
  )
  const argv = shellArgv(shell, file, where(frame.file, shellToken ?? find(step, 'run')))
  await fs.writeFile(file, script)
  const wdToken = find(step, 'working-directory')
  const wd = wdToken ? evaluateString(wdToken, scope) : job.defaults.workingDirectory
  const cwd = path.resolve(job.workspace, wd ?? '.')
  try {
    await fs.access(cwd)
  } catch {
    return { ok: false, error: `working-directory ${cwd} does not exist`, outputs: {}, state: {} }
  }
  return executeProcess(job, {
    argv,
    cwd,
    env,
    action: actionVariables(frame, id),
    origin,
    ...(timeoutMs !== undefined && { timeoutMs })
  })
}

function actionVariables(
  frame: StepFrame,
  id: string,
  action?: ResolvedAction
): Record<string, string> {
  const vars: Record<string, string> = { GITHUB_ACTION: id }
  const actionPath = action?.action.dir ?? frame.actionPath
  if (actionPath) vars.GITHUB_ACTION_PATH = actionPath
  const repository = action ? action.repository : frame.actionRepository
  const ref = action ? action.ref : frame.actionRef
  if (repository) vars.GITHUB_ACTION_REPOSITORY = repository
  if (ref) vars.GITHUB_ACTION_REF = ref
  return vars
}

/** The `INPUT_<NAME>` variable of an input: upper case, spaces as underscores. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`
}

/**
 * The inputs an action receives: `with:` values, then each declared input's default (evaluated
 * in the calling step's scope) when not given. Unexpected inputs are warned about, as on GitHub.
 */
function actionInputs(
  frame: StepFrame,
  resolved: ResolvedAction,
  given: Record<string, string>,
  env: Record<string, string>,
  origin: string
): Record<string, string> {
  const declared = entries(find(resolved.action.root, 'inputs'))
  const byLower = new Map(Object.entries(given).map(([k, v]) => [k.toLowerCase(), { k, v }]))
  const inputs: Record<string, string> = {}
  for (const [name, def] of declared) {
    const g = byLower.get(name.toLowerCase())
    if (g) {
      inputs[name] = g.v
      byLower.delete(name.toLowerCase())
      continue
    }
    const dflt = find(def, 'default')
    inputs[name] = dflt ? evaluateString(dflt, scopeOf(frame, env)) : ''
  }
  if (byLower.size > 0) {
    const unexpected = [...byLower.values()].map(x => `'${x.k}'`).join(', ')
    frame.job.session.log.annotate({
      level: 'warning',
      origin,
      message: `Unexpected input(s) ${unexpected}, valid inputs are [${declared.map(([n]) => `'${n}'`).join(', ')}]`
    })
    for (const { k, v } of byLower.values()) inputs[k] = v
  }
  return inputs
}

async function runActionStep(
  frame: StepFrame,
  step: TemplateToken,
  id: string,
  env: Record<string, string>,
  stepEnv: Record<string, string>,
  origin: string,
  timeoutMs: number | undefined
): Promise<ActionOutcome> {
  const job = frame.job
  const usesToken = find(step, 'uses')
  const uses = stringOf(usesToken) as string
  const resolved = await resolveAction(
    uses,
    job.workspace,
    job.session.options.remoteActions ?? {},
    where(frame.file, usesToken)
  )
  if ('missing' in resolved) {
    job.session.log.write(origin, `##[error] ${resolved.missing}`)
    return { ok: false, error: resolved.missing, outputs: {} }
  }
  const given = evaluateStringMap(find(step, 'with'), scopeOf(frame, env))
  return runResolvedAction(frame, resolved, given, env, stepEnv, origin, id, timeoutMs)
}

/** What an action step produced. */
export interface ActionOutcome {
  ok: boolean
  /** The action was interrupted because its job was cancelled. */
  cancelled?: boolean
  error?: string
  outputs: Record<string, string>
  /** A composite action's inner steps. */
  steps?: StepRecord[]
}

/**
 * Run a resolved action with its `with:` values: composite (its steps in a frame of their own)
 * or node (its main, its post registered on the job). `env` is the step's whole env, `stepEnv`
 * its own `env:` (what a composite action's steps inherit).
 */
export async function runResolvedAction(
  frame: StepFrame,
  resolved: ResolvedAction,
  given: Record<string, string>,
  env: Record<string, string>,
  stepEnv: Record<string, string>,
  origin: string,
  id: string,
  timeoutMs?: number
): Promise<ActionOutcome> {
  const inputs = actionInputs(frame, resolved, given, env, origin)
  const runs = find(resolved.action.root, 'runs')
  const using = String(literalOf(find(runs, 'using')) ?? '')
  const at = where(resolved.action.name, find(runs, 'using'))
  if (using === 'composite') {
    return runComposite(frame, resolved, inputs, { ...stepEnv, ...resolved.env }, origin)
  }
  if (/^node\d+$/.test(using)) {
    refuseKey(
      resolved.action.name,
      runs,
      'pre',
      'pre: of JavaScript actions',
      'the runner runs it at job start, before any checkout'
    )
    return runNodeAction(
      frame,
      resolved,
      inputs,
      { ...env, ...resolved.env },
      origin,
      id,
      using,
      timeoutMs
    )
  }
  throw new HarnessUnsupported(
    `actions with 'using: ${using}'`,
    at,
    'only composite and node actions run here'
  )
}

async function runComposite(
  frame: StepFrame,
  resolved: ResolvedAction,
  inputs: Record<string, string>,
  stepEnv: Record<string, string>,
  origin: string
): Promise<ActionOutcome> {
  const inner: StepFrame = {
    job: frame.job,
    file: resolved.action.name,
    origin,
    steps: {},
    inputs: inputs as Json,
    status: { failed: false, cancelled: frame.status.cancelled },
    inheritedEnv: { ...frame.inheritedEnv, ...stepEnv },
    actionPath: resolved.action.dir,
    actionRepository: resolved.repository || frame.actionRepository,
    actionRef: resolved.ref || frame.actionRef,
    composite: true
  }
  const runs = find(resolved.action.root, 'runs')
  const steps = await runSteps(inner, items(find(runs, 'steps')))
  const outputs: Record<string, string> = {}
  const scope = scopeOf(inner, frameEnv(inner))
  for (const [name, def] of entries(find(resolved.action.root, 'outputs'))) {
    outputs[name] = evaluateString(find(def, 'value'), scope)
  }
  const failed = steps.find(s => s.conclusion === 'failure')
  const cancelled = steps.some(s => s.outcome === 'cancelled')
  return {
    ok: !inner.status.failed && !cancelled,
    ...(cancelled && { cancelled }),
    outputs,
    steps,
    ...(failed && {
      error: `step '${failed.name}' failed${failed.error ? `: ${failed.error}` : ''}`
    })
  }
}

async function runNodeAction(
  frame: StepFrame,
  resolved: ResolvedAction,
  inputs: Record<string, string>,
  env: Record<string, string>,
  origin: string,
  id: string,
  using: string,
  timeoutMs: number | undefined
): Promise<ProcessOutcome> {
  const job = frame.job
  const { session } = job
  const runs = find(resolved.action.root, 'runs')
  const main = stringOf(find(runs, 'main')) as string
  const node = nodeForAction(
    Number(using.slice(4)),
    session.options.node,
    where(resolved.action.name, find(runs, 'using'))
  )
  if (node.note) session.log.write(origin, node.note)
  const inputEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(inputs)) inputEnv[inputVariable(k)] = v
  // The runner gives the Actions runtime token to JavaScript actions only, never to run: steps.
  const action = {
    ...actionVariables(frame, id, resolved),
    ...session.options.actionsRuntime?.runtimeFor({
      repository: session.github.repository,
      runId: session.github.runId,
      job: `${job.workflow.filePath}#${job.name}`
    })
  }
  const result = await executeProcess(job, {
    argv: [node.binary, path.resolve(resolved.action.dir, main)],
    cwd: job.workspace,
    env: { ...env, ...inputEnv },
    action,
    origin,
    ...(timeoutMs !== undefined && { timeoutMs })
  })
  const post = stringOf(find(runs, 'post'))
  if (post) {
    const postIf = find(runs, 'post-if')
    const state: Record<string, string> = {}
    for (const [k, v] of Object.entries(result.state)) state[`STATE_${k}`] = v
    const postOrigin = `${frame.origin} / Post ${origin.slice(frame.origin.length + 3)}`
    job.posts.push({
      name: `Post ${origin.slice(frame.origin.length + 3)}`,
      origin: postOrigin,
      condition: postIf ? conditionOfPost(postIf) : 'always()',
      run: () =>
        executeProcess(job, {
          argv: [node.binary, path.resolve(resolved.action.dir, post)],
          cwd: job.workspace,
          env: { ...env, ...inputEnv, ...state },
          action,
          origin: postOrigin
        })
    })
  }
  return result
}

/** `post-if` is evaluated as written (no success() wrapping); `${{ }}` is allowed. */
function conditionOfPost(token: TemplateToken): string {
  if ('expression' in token) return String((token as { expression: string }).expression)
  return asString(literalOf(token) ?? 'always()') || 'always()'
}
