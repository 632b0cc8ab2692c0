/**
 * The harness's entry point: a Harness holds the settings of a test (github context, secrets,
 * fixtures for remote actions and workflows, environments) and runs workflows and actions with
 * them on this machine, keeping workspaces and runner temp dirs under one temp dir that
 * cleanup() removes.
 */
import { randomBytes } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Json } from './expressions.js'
import { Cancellation } from './cancellation.js'
import { ConcurrencyGroups } from './concurrency.js'
import { runPosts } from './jobs.js'
import { HarnessLog } from './log.js'
import type { ActionRun, HarnessOptions, Trigger, WorkflowRun } from './model.js'
import {
  filteredHostEnv,
  type JobRuntime,
  type ResolvedGithub,
  type Session,
  type StepFrame
} from './runtime.js'
import { runResolvedAction } from './steps.js'
import { loadAction } from './templates.js'
import { runWorkflowFile } from './workflow-run.js'

/** The commit id the github context has when the test gives none. */
export const DEFAULT_SHA = '5ca1ab1e0000000000000000000000000000c0de'
/** The token github.token has when the test gives none (masked like any secret). */
export const DEFAULT_TOKEN = 'ghs_harnessFakeToken0000000000000000'

/** The repository root above a `.github/workflows/x.yml` file, else the file's directory. */
export function repositoryRootOf(file: string): string {
  const abs = path.resolve(file)
  const marker = `${path.sep}.github${path.sep}workflows${path.sep}`
  const i = abs.lastIndexOf(marker)
  return i >= 0 ? abs.slice(0, i) : path.dirname(abs)
}

/** Settings of a single action run (runAction). */
export interface ActionRunOptions {
  /** The step's `with:` values. */
  with?: Record<string, string>
  /** The step's `env:`. */
  env?: Record<string, string>
  /** The step id (GITHUB_ACTION); default `action`. */
  id?: string
  /** GITHUB_ACTION_REPOSITORY / _REF, as for a remote action. */
  repository?: string
  ref?: string
}

export class Harness {
  private ownTemp: string | undefined
  private readonly counter = { value: 0 }
  private readonly groups = new ConcurrencyGroups()

  constructor(readonly options: HarnessOptions = {}) {}

  /** The directory holding workspaces and temp dirs (made on first use). */
  async tempRoot(): Promise<string> {
    if (this.options.tempDir) {
      await fs.mkdir(this.options.tempDir, { recursive: true })
      return this.options.tempDir
    }
    this.ownTemp ??= await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-harness-'))
    return this.ownTemp
  }

  /** Remove the temp dir the harness made (a given tempDir is left alone). */
  async cleanup(): Promise<void> {
    if (this.ownTemp) await fs.rm(this.ownTemp, { recursive: true, force: true })
    this.ownTemp = undefined
  }

  private async session(): Promise<Session> {
    const o = this.options
    const g = o.github ?? {}
    const github: ResolvedGithub = {
      repository: g.repository ?? 'acme/app',
      sha: g.sha ?? DEFAULT_SHA,
      ref: g.ref ?? 'refs/heads/main',
      actor: g.actor ?? 'harness-user',
      token: g.token ?? DEFAULT_TOKEN,
      serverUrl: g.serverUrl ?? 'https://github.com',
      apiUrl: g.apiUrl ?? 'https://api.github.com',
      graphqlUrl: g.graphqlUrl ?? 'https://api.github.com/graphql',
      runId: g.runId ?? String(1e9 + randomBytes(3).readUIntBE(0, 3)),
      runNumber: g.runNumber ?? '1',
      runAttempt: g.runAttempt ?? '1',
      headRef: g.headRef ?? '',
      baseRef: g.baseRef ?? ''
    }
    const log = new HarnessLog(o.onLog)
    log.addMask(github.token)
    for (const v of Object.values(o.secrets ?? {})) log.addMask(v)
    return {
      options: o,
      log,
      checks: [],
      tempRoot: await this.tempRoot(),
      github,
      hostEnv: filteredHostEnv(o.env, o.unsetEnv),
      node: o.node ?? process.execPath,
      counter: this.counter,
      cancellation: new Cancellation(),
      groups: this.groups
    }
  }

  /**
   * Run a workflow file: for a workflow_call (the default when the workflow has that trigger)
   * give `inputs` and `secrets` as a caller would. Resolves with the run whatever its result;
   * throws HarnessUnsupported / HarnessInvalid when it cannot run the workflow faithfully.
   */
  async runWorkflow(file: string, trigger: Trigger = {}): Promise<WorkflowRun> {
    const session = await this.session()
    const signal = trigger.signal
    if (signal) {
      const cancel = () => session.cancellation.cancel('The run was canceled.')
      if (signal.aborted) cancel()
      else signal.addEventListener('abort', cancel, { once: true })
    }
    const repo = this.options.repository
    const root = repo?.root ?? repositoryRootOf(file)
    return runWorkflowFile(
      session,
      {
        file: path.resolve(file),
        root,
        repository: repo?.name ?? session.github.repository,
        sha: repo?.sha ?? session.github.sha
      },
      trigger
    )
  }

  /**
   * Run one action (composite or JavaScript) as the single step of a job, with its post step.
   * The workspace is options.workspace or a fresh directory.
   */
  async runAction(dir: string, run: ActionRunOptions = {}): Promise<ActionRun> {
    const session = await this.session()
    const n = ++this.counter.value
    const base = path.join(session.tempRoot, `action-${n}`)
    const workspace = this.options.workspace ?? path.join(base, 'workspace')
    const runnerTemp = path.join(base, 'temp')
    await fs.mkdir(workspace, { recursive: true })
    await fs.mkdir(runnerTemp, { recursive: true })
    const eventPath = path.join(base, 'event.json')
    await fs.writeFile(eventPath, '{}')
    const action = await loadAction(dir)
    const g = session.github
    const id = run.id ?? 'action'
    const job: JobRuntime = {
      session,
      id: 'action',
      name: 'action',
      workflow: {
        file: action.name,
        filePath: '',
        repository: g.repository,
        sha: g.sha,
        name: 'harness'
      },
      workspace,
      runnerTemp,
      env: {},
      path: [],
      posts: [],
      status: { failed: false, cancelled: false },
      summary: [],
      contexts: {
        github: {
          event_name: 'workflow_dispatch',
          event: {},
          repository: g.repository,
          repository_owner: g.repository.split('/')[0],
          sha: g.sha,
          ref: g.ref,
          token: g.token,
          workspace,
          job: 'action',
          run_id: g.runId,
          server_url: g.serverUrl,
          api_url: g.apiUrl,
          actor: g.actor
        },
        vars: (this.options.vars ?? {}) as Json,
        secrets: {},
        matrix: {},
        needs: {},
        strategy: {},
        runner: { os: 'Linux', arch: 'X64', temp: runnerTemp, name: 'sitecycle-harness' },
        job: { status: 'success' }
      },
      defaults: {},
      eventPath
    }
    const frame: StepFrame = {
      job,
      file: action.name,
      origin: 'action',
      steps: {},
      inputs: {},
      status: job.status,
      inheritedEnv: {},
      composite: false
    }
    const firstLine = session.log.lines.length
    const env = run.env ?? {}
    const name = String((action.root.find('name') as { value?: string } | undefined)?.value ?? id)
    const outcome = await runResolvedAction(
      frame,
      { action, repository: run.repository ?? '', ref: run.ref ?? '', env: {} },
      run.with ?? {},
      env,
      env,
      `action / ${name}`,
      id
    )
    if (!outcome.ok) job.status.failed = true
    const steps = [
      {
        id,
        name,
        outcome: outcome.ok ? ('success' as const) : ('failure' as const),
        conclusion: outcome.ok ? ('success' as const) : ('failure' as const),
        outputs: outcome.outputs,
        condition: 'success()',
        ...(outcome.steps && { steps: outcome.steps }),
        ...(outcome.error && { error: outcome.error })
      },
      ...(await runPosts(frame))
    ]
    return {
      result: job.status.failed ? 'failure' : 'success',
      outputs: outcome.outputs,
      steps,
      summary: job.summary.join('\n'),
      annotations: session.log.annotations,
      log: session.log.lines.slice(firstLine),
      workspace,
      env: job.env,
      path: job.path
    }
  }
}
