/**
 * The state the harness keeps while it runs: one Session per harness run (log, checks, temp
 * dirs), one JobRuntime per job (workspace, env grown by GITHUB_ENV, PATH grown by GITHUB_PATH,
 * post steps, summary), one StepFrame per list of steps (a job's, or a composite action's, with
 * its own steps context and status). executeProcess runs one step's process with the runner's
 * environment and file commands and applies what the step wrote.
 */
import { randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { Cancellation } from './cancellation.js'
import type { ConcurrencyGroups } from './concurrency.js'
import type { Contexts, Json, Scope, StatusView } from './expressions.js'
import type { HarnessLog } from './log.js'
import type { HarnessOptions, Result, StaticCheck } from './model.js'
import { runStepProcess } from './step-process.js'
import { FileCommandError, readKeyValueFile, readPathFile } from './workflow-commands.js'

/** The github context settings with every default filled in. */
export interface ResolvedGithub {
  repository: string
  sha: string
  ref: string
  actor: string
  token: string
  serverUrl: string
  apiUrl: string
  graphqlUrl: string
  runId: string
  runNumber: string
  runAttempt: string
  headRef: string
  baseRef: string
}

/** One harness run (a workflow with the workflows it calls, or one action). */
export interface Session {
  options: HarnessOptions
  log: HarnessLog
  checks: StaticCheck[]
  tempRoot: string
  github: ResolvedGithub
  /** The filtered host environment plus options.env. */
  hostEnv: Record<string, string>
  node: string
  /** Makes job directory names unique. */
  counter: { value: number }
  /** The run's cancellation (cancel() on the harness's signal, or by a concurrency group). */
  cancellation: Cancellation
  /** The concurrency groups of every run of the Harness (the repository's, on GitHub). */
  groups: ConcurrencyGroups
}

/** A post step of a JavaScript action, run when the job ends (last registered first). */
export interface PostStep {
  name: string
  origin: string
  condition: string
  run: () => Promise<{ ok: boolean; error?: string }>
}

/** The workflow a job belongs to, for `job.workflow_*` and messages. */
export interface WorkflowIdentity {
  /** Display name of the file (`.github/workflows/x.yml`). */
  file: string
  /** Repository-relative path of the file. */
  filePath: string
  repository: string
  sha: string
  /** The workflow's `name:` (github.workflow). */
  name: string
}

/** One job (or matrix leg) while it runs. */
export interface JobRuntime {
  session: Session
  /** The job's key in `jobs:`. */
  id: string
  /** Display name (with matrix values). */
  name: string
  workflow: WorkflowIdentity
  workspace: string
  runnerTemp: string
  /** Workflow env, job env, then what steps wrote to GITHUB_ENV. */
  env: Record<string, string>
  /** Directories from GITHUB_PATH, newest first. */
  path: string[]
  posts: PostStep[]
  status: StatusView
  summary: string[]
  /** github, vars, secrets, matrix, needs, strategy, runner, job. */
  contexts: Contexts
  /** `defaults.run` of the workflow and the job. */
  defaults: { shell?: string; workingDirectory?: string }
  /** Epoch ms when the job's timeout-minutes run out. */
  deadline?: number
  /** The github event payload file. */
  eventPath: string
  /**
   * Fires when this job is cancelled (its run cancelled and its `if:` no longer holding, or
   * fail-fast of its matrix): the running step's process is interrupted.
   */
  cancellation?: Cancellation
  /**
   * The cancellation of the step running now: fires when the job is cancelled and the step's
   * `if:`, evaluated again, no longer holds (an `always()` step is not interrupted).
   */
  stepCancellation?: Cancellation
}

/** What `steps.<id>` holds. */
export interface StepContext {
  outputs: Record<string, string>
  outcome: Result
  conclusion: Result
}

/** A list of steps being run: a job's, or a composite action's. */
export interface StepFrame {
  job: JobRuntime
  /** The file the steps are written in (messages). */
  file: string
  /** Log prefix of this frame. */
  origin: string
  steps: Record<string, StepContext>
  inputs: Json
  status: StatusView
  /** Env of the step(s) that called this frame (a composite action's caller). */
  inheritedEnv: Record<string, string>
  /** The action's directory, for a composite action's steps (GITHUB_ACTION_PATH). */
  actionPath?: string
  actionRepository?: string
  actionRef?: string
  /** True inside a composite action (shell: is required there). */
  composite: boolean
}

const DENIED_ENV_PREFIXES = ['GITHUB_', 'RUNNER_', 'INPUT_', 'STATE_', 'ACTIONS_']

/** The host environment without the variables a real runner would set or that would leak in. */
export function filteredHostEnv(
  extra: Record<string, string> = {},
  unset: string[] = []
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || DENIED_ENV_PREFIXES.some(p => k.startsWith(p)) || k === 'CI') continue
    if (unset.includes(k)) continue
    out[k] = v
  }
  return { ...out, ...extra }
}

/**
 * Secrets as GitHub stores them: names in upper case (secret names are not case-sensitive;
 * GitHub keeps them upper-cased, and so `toJSON(secrets)` shows them).
 */
export function upperKeys(secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k.toUpperCase(), v]))
}

/** ref_name and ref_type of a full ref. */
export function refParts(ref: string): { name: string; type: string } {
  if (ref.startsWith('refs/tags/')) return { name: ref.slice('refs/tags/'.length), type: 'tag' }
  if (ref.startsWith('refs/heads/'))
    return { name: ref.slice('refs/heads/'.length), type: 'branch' }
  if (ref.startsWith('refs/pull/')) return { name: ref.slice('refs/'.length), type: 'branch' }
  return { name: ref, type: '' }
}

/** The contexts of a step in a frame: the job's, with the frame's inputs and steps and `env`. */
export function scopeOf(frame: StepFrame, env: Record<string, string>): Scope {
  const github = { ...(frame.job.contexts.github as Record<string, Json>) }
  if (frame.actionPath) github.action_path = frame.actionPath
  const job = {
    ...(frame.job.contexts.job as Record<string, Json>),
    status: frame.job.status.cancelled
      ? 'cancelled'
      : frame.job.status.failed
        ? 'failure'
        : 'success'
  }
  // A cancelled job is cancelled in its composite actions' frames too.
  const status =
    frame.job.status.cancelled && !frame.status.cancelled
      ? { ...frame.status, cancelled: true }
      : frame.status
  return {
    file: frame.file,
    status,
    contexts: {
      ...frame.job.contexts,
      github,
      job,
      env,
      inputs: frame.inputs,
      steps: frame.steps as unknown as Json
    }
  }
}

/** The env context of a step before its own `env:`: job env, then the caller's step env. */
export function frameEnv(frame: StepFrame): Record<string, string> {
  return { ...frame.job.env, ...frame.inheritedEnv }
}

/** The runner's variables for a step (set last: a workflow cannot override them). */
export function runnerVariables(job: JobRuntime): Record<string, string> {
  const g = job.session.github
  const ref = refParts(g.ref)
  const github = (job.contexts.github ?? {}) as Record<string, Json>
  const runner = (job.contexts.runner ?? {}) as Record<string, Json>
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: job.workspace,
    GITHUB_REPOSITORY: g.repository,
    GITHUB_REPOSITORY_OWNER: g.repository.split('/')[0],
    GITHUB_RUN_ID: g.runId,
    GITHUB_RUN_NUMBER: g.runNumber,
    GITHUB_RUN_ATTEMPT: g.runAttempt,
    GITHUB_SHA: g.sha,
    GITHUB_REF: g.ref,
    GITHUB_REF_NAME: ref.name,
    GITHUB_REF_TYPE: ref.type,
    GITHUB_REF_PROTECTED: 'false',
    GITHUB_HEAD_REF: g.headRef,
    GITHUB_BASE_REF: g.baseRef,
    GITHUB_EVENT_NAME: String((job.contexts.github as Record<string, Json>).event_name ?? ''),
    GITHUB_EVENT_PATH: job.eventPath,
    GITHUB_SERVER_URL: g.serverUrl,
    GITHUB_API_URL: g.apiUrl,
    GITHUB_GRAPHQL_URL: g.graphqlUrl,
    GITHUB_ACTOR: g.actor,
    GITHUB_ACTOR_ID: '1',
    GITHUB_TRIGGERING_ACTOR: g.actor,
    // The github context's (the caller's, in a called workflow), as the runner sets them.
    GITHUB_WORKFLOW: String(github.workflow ?? job.workflow.name),
    GITHUB_WORKFLOW_REF: String(
      github.workflow_ref ?? `${job.workflow.repository}/${job.workflow.filePath}@${g.ref}`
    ),
    GITHUB_WORKFLOW_SHA: String(github.workflow_sha ?? job.workflow.sha),
    GITHUB_JOB: job.id,
    GITHUB_RETENTION_DAYS: '90',
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'sitecycle-harness',
    RUNNER_ENVIRONMENT: String(runner.environment ?? 'self-hosted'),
    RUNNER_TEMP: job.runnerTemp,
    RUNNER_TOOL_CACHE: path.join(job.session.tempRoot, 'tool-cache'),
    RUNNER_WORKSPACE: path.dirname(job.workspace)
  }
}

/** What one process step produced. */
export interface ProcessOutcome {
  ok: boolean
  error?: string
  outputs: Record<string, string>
  /** GITHUB_STATE / save-state values (for a JavaScript action's post step). */
  state: Record<string, string>
  /** The step was interrupted because its job was cancelled. */
  cancelled?: boolean
}

/** A step's process: how to start it and what to give it. */
export interface ProcessSpec {
  argv: string[]
  cwd: string
  /** Env of the step (job env, caller env, step env) and extra variables (INPUT_*, STATE_*). */
  env: Record<string, string>
  /** GITHUB_ACTION and the GITHUB_ACTION_* variables. */
  action: Record<string, string>
  origin: string
  timeoutMs?: number
}

/**
 * Run a step's process as the runner would: its environment (host, env, runner variables,
 * PATH with GITHUB_PATH entries first), fresh file-command files, workflow commands parsed from
 * its output; then apply GITHUB_ENV, GITHUB_PATH and the summary to the job.
 */
export async function executeProcess(job: JobRuntime, spec: ProcessSpec): Promise<ProcessOutcome> {
  const { log } = job.session
  const dir = path.join(job.runnerTemp, '_runner_file_commands')
  await fs.mkdir(dir, { recursive: true })
  const id = randomUUID()
  const files = {
    GITHUB_OUTPUT: path.join(dir, `set_output_${id}`),
    GITHUB_ENV: path.join(dir, `set_env_${id}`),
    GITHUB_PATH: path.join(dir, `add_path_${id}`),
    GITHUB_STEP_SUMMARY: path.join(dir, `step_summary_${id}`),
    GITHUB_STATE: path.join(dir, `save_state_${id}`)
  }
  for (const f of Object.values(files)) await fs.writeFile(f, '')
  const basePath = spec.env.PATH ?? job.session.hostEnv.PATH ?? '/usr/bin:/bin'
  const env = {
    ...job.session.hostEnv,
    ...spec.env,
    ...runnerVariables(job),
    ...spec.action,
    ...files,
    PATH: [...job.path, basePath].join(path.delimiter)
  }
  const outputs: Record<string, string> = {}
  const state: Record<string, string> = {}
  const errors: string[] = []
  let group = ''
  let timeoutMs = spec.timeoutMs
  if (job.deadline !== undefined) {
    const left = Math.max(0, job.deadline - Date.now())
    timeoutMs = timeoutMs === undefined ? left : Math.min(timeoutMs, left)
  }
  let result: { code: number; timedOut: boolean; cancelled: boolean }
  try {
    result = await runStepProcess({
      argv: spec.argv,
      cwd: spec.cwd,
      env,
      timeoutMs,
      // A step started after its job was cancelled (an always() step) is not interrupted.
      ...(job.stepCancellation && { cancellation: job.stepCancellation }),
      onLine: line => log.write(spec.origin, group ? `  ${line}` : line),
      onCommand: c => {
        switch (c.name) {
          case 'set-output':
            if (c.properties.name) outputs[c.properties.name] = c.data
            break
          case 'save-state':
            if (c.properties.name) state[c.properties.name] = c.data
            break
          case 'add-mask':
            log.addMask(c.data)
            break
          case 'error':
          case 'warning':
          case 'notice':
            log.annotate({
              level: c.name,
              message: c.data,
              origin: spec.origin,
              ...(c.properties.file !== undefined && { file: c.properties.file }),
              ...(c.properties.line !== undefined && { line: Number(c.properties.line) }),
              ...(c.properties.title !== undefined && { title: c.properties.title })
            })
            break
          case 'group':
            group = c.data
            log.write(spec.origin, `▸ ${c.data}`)
            break
          case 'endgroup':
            group = ''
            break
          case 'debug':
          case 'echo':
            break
          case 'set-env':
          case 'add-path':
            errors.push(
              `the '${c.name}' command is disabled on GitHub; use the ${c.name === 'set-env' ? 'GITHUB_ENV' : 'GITHUB_PATH'} file`
            )
            break
          default:
            log.write(spec.origin, `::${c.name}::${c.data}`)
        }
      }
    })
  } catch (e) {
    return {
      ok: false,
      error: `cannot start ${spec.argv[0]}: ${(e as Error).message}`,
      outputs,
      state
    }
  }
  try {
    for (const [k, v] of await readKeyValueFile(files.GITHUB_OUTPUT, 'GITHUB_OUTPUT'))
      outputs[k] = v
    for (const [k, v] of await readKeyValueFile(files.GITHUB_STATE, 'GITHUB_STATE')) state[k] = v
    for (const [k, v] of await readKeyValueFile(files.GITHUB_ENV, 'GITHUB_ENV')) {
      if (k.toUpperCase() === 'NODE_OPTIONS') {
        errors.push(`can't store NODE_OPTIONS using GITHUB_ENV`)
        continue
      }
      job.env[k] = v
    }
    for (const p of await readPathFile(files.GITHUB_PATH)) job.path.unshift(p)
    const summary = await fs.readFile(files.GITHUB_STEP_SUMMARY, 'utf8')
    if (summary) job.summary.push(log.mask(summary))
  } catch (e) {
    if (!(e instanceof FileCommandError)) throw e
    errors.push(e.message)
  }
  if (result.cancelled) {
    log.write(spec.origin, '##[error] The operation was canceled.')
    return { ok: false, cancelled: true, error: 'the step was cancelled', outputs, state }
  }
  if (result.timedOut)
    errors.push(`the step timed out after ${Math.round((timeoutMs ?? 0) / 1000)}s`)
  else if (result.code !== 0) errors.push(`exit code ${result.code}`)
  if (errors.length) {
    const error = errors.join('; ')
    log.write(spec.origin, `##[error] ${error}`)
    return { ok: false, error, outputs, state }
  }
  return { ok: true, outputs, state }
}
