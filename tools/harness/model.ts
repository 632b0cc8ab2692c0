/**
 * The harness's settings and what it reports: the results of steps, jobs and runs, and the
 * checks (environments, approvals, concurrency groups, permissions) it records as it enforces
 * them.
 */
import type { Json } from './expressions.js'
import type { Annotation } from './log.js'

/** A step's or job's result, as GitHub names them. */
export type Result = 'success' | 'failure' | 'cancelled' | 'skipped'

/** A remote action answered from a local directory holding its action.yml. */
export interface RemoteActionFixture {
  /** Directory with action.yml; run like a local action. */
  dir: string
  /** Variables added to the environment of the fixture's processes only. */
  env?: Record<string, string>
}

/** A remote reusable workflow answered from a local file. */
export interface RemoteWorkflowFixture {
  /** The workflow file on this machine. */
  file: string
  /** Root of its repository on this machine (for its own `./.github/workflows/…` calls). */
  root: string
  /** Its repository (`owner/repo`) and commit, for `job.workflow_repository` / `job.workflow_sha`. */
  repository: string
  sha: string
}

/** A GitHub environment's protection rules and its own secrets and variables. */
export interface EnvironmentSettings {
  /** Required reviewers: a job using the environment would wait for one of them. */
  reviewers?: string[]
  /** Wait timer in minutes (GitHub allows 0 to 43200, 30 days); counted in the run, never slept. */
  waitTimer?: number
  /** Branches or tags allowed to deploy (deployment branch policy), as glob patterns. */
  allowedRefs?: string[]
  secrets?: Record<string, string>
  vars?: Record<string, string>
}

/** The repository the workflow files belong to ("this repository" of `job.workflow_*`). */
export interface WorkflowRepository {
  /** Its root on this machine (`./.github/workflows/…` job calls resolve here). */
  root: string
  /** `owner/repo`; default: github.repository. */
  name?: string
  /** Commit; default: github.sha. */
  sha?: string
}

/** The github context's settings; the rest is derived (ref_name, ref_type, repository_owner ...). */
export interface GithubSettings {
  /** The repository the run belongs to (the caller's, for a reusable workflow). Default `acme/app`. */
  repository?: string
  /** Default: a fixed fake commit id. */
  sha?: string
  /** Default `refs/heads/main`. */
  ref?: string
  actor?: string
  /** github.token (masked in the log). Default: a fake token. */
  token?: string
  serverUrl?: string
  /** GITHUB_API_URL: point it at a local server (see startGithubForwarder) for API calls. */
  apiUrl?: string
  graphqlUrl?: string
  runId?: string
  runNumber?: string
  runAttempt?: string
  headRef?: string
  baseRef?: string
  /** github.workflow (the workflow's name); default: its `name:` or file path. */
  workflow?: string
}

/** Everything a Harness is built with. */
export interface HarnessOptions {
  /** The repository the workflow files belong to. Default: found above the workflow file. */
  repository?: WorkflowRepository
  github?: GithubSettings
  /** `secrets` of a run that is not a workflow_call (a workflow_call gets the trigger's). */
  secrets?: Record<string, string>
  vars?: Record<string, string>
  /** Remote actions by `owner/repo[/path]` (any ref) or `owner/repo[/path]@ref` (that ref only). */
  remoteActions?: Record<string, RemoteActionFixture>
  /** Remote reusable workflows by `owner/repo/.github/workflows/x.yml` (any ref) or with `@ref`. */
  remoteWorkflows?: Record<string, RemoteWorkflowFixture>
  /** Environments' protection rules, secrets and variables, by name. */
  environments?: Record<string, EnvironmentSettings>
  /**
   * Answer an approval a job would wait for (required reviewers); default: approved. A rejection
   * fails the job before any step, as on GitHub. A promise keeps the job waiting (its run holding
   * its concurrency groups) until it settles; cancelling the run cancels the waiting job.
   */
  approve?: (request: ApprovalRequest) => boolean | Promise<boolean>
  /** Variables added to every step's environment (over the filtered host environment). */
  env?: Record<string, string>
  /** Host variables removed from every step's environment (e.g. PIP_INDEX_URL). */
  unsetEnv?: string[]
  /** The node binary JavaScript actions run with (default: the one running the harness). */
  node?: string
  /**
   * A fixed workspace for every job (a self-hosted runner's, kept between jobs). Default: a
   * fresh, empty one per job, as on a GitHub-hosted runner.
   */
  workspace?: string
  /** Where the harness keeps workspaces and runner temp dirs (default: a new dir under os.tmpdir()). */
  tempDir?: string
  /** Each log line, masked, as it is written. */
  onLog?: (line: string) => void
  /**
   * The repository's default GITHUB_TOKEN permissions (Settings > Actions > Workflow
   * permissions), granted to a job that names none: `restricted` (contents and packages read,
   * the default here) or `permissive` (read and write on every scope).
   */
  defaultTokenPermissions?: 'permissive' | 'restricted'
  /**
   * The Actions runtime (such as the fake results service of artifact-service.ts): its
   * variables (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL) are given to JavaScript actions only,
   * as the runner does; `run:` steps, composite ones included, never see them. Default: none.
   */
  actionsRuntime?: ActionsRuntimeProvider
}

/** Issues the runtime variables of one job of a workflow run. */
export interface ActionsRuntimeProvider {
  /** `job` names the job within the run (the same for every step of one job). */
  runtimeFor(job: { repository: string; runId: string; job: string }): Record<string, string>
}

/** A job waiting for an environment's required reviewers. */
export interface ApprovalRequest {
  job: string
  environment: string
  reviewers: string[]
  waitTimer: number
}

/** What starts a run. */
export interface Trigger {
  /** The event (default `workflow_call` when the workflow has that trigger, else `push`). */
  event?: string
  /** The event payload (github.event); default `{}` plus inputs for workflow_dispatch. */
  payload?: Record<string, Json>
  /** Inputs of a workflow_call or workflow_dispatch, typed as the caller passes them. */
  inputs?: Record<string, Json>
  /** Secrets of a workflow_call (only declared ones are accepted) or of the run. */
  secrets?: Record<string, string>
  /** Run only these jobs (default: all); the others count as given in `needs`. */
  jobs?: string[]
  /**
   * The GITHUB_TOKEN permissions the caller job grants a workflow_call run (as written in YAML:
   * `read-all`, `write-all` or a mapping): its jobs may not ask for more. Default: no caller
   * to check against.
   */
  permissions?: Json
  /**
   * Cancel the run when this signal aborts, as the Cancel workflow button does: running jobs
   * whose `if:` no longer holds are cancelled (their step interrupted, then only `always()` /
   * `cancelled()` steps and post steps run), jobs not started are cancelled.
   */
  signal?: AbortSignal
  /** Results of jobs that are not run, for `needs.<job>.outputs` / `.result`. */
  needs?: Record<string, { result: Result; outputs?: Record<string, string> }>
}

/** One step as it ran. */
export interface StepRecord {
  /** The step id (given, or generated as the runner does: `__run`, `__actions_checkout` ...). */
  id: string
  name: string
  outcome: Result
  /** `success` for a failed step with continue-on-error. */
  conclusion: Result
  outputs: Record<string, string>
  /** The `uses:` of an action step. */
  uses?: string
  /** The inner steps of a composite action. */
  steps?: StepRecord[]
  /** The condition that was evaluated (after the runner's `success() && (…)` wrapping). */
  condition: string
  /** Why it failed (exit code, a file command error ...). */
  error?: string
  /** True for a post step of a JavaScript action. */
  post?: boolean
}

/** What the harness records about a job without enforcing it. */
export type StaticCheck =
  | {
      kind: 'environment'
      job: string
      where: string
      name: string
      url?: string
      /** Required reviewers the job waits for (empty: none configured). */
      reviewers: string[]
      waitTimer: number
      /** The approve callback's answer when reviewers are configured. */
      approved?: boolean
    }
  | {
      kind: 'concurrency'
      /** `workflow` for the workflow-level group, else the job. */
      scope: 'workflow' | 'job'
      job?: string
      where: string
      group: string
      cancelInProgress: boolean
      /** The group is already held by a caller of this workflow: GitHub cancels the job. */
      deadlock: boolean
    }
  | {
      kind: 'permissions'
      scope: 'workflow' | 'job'
      job?: string
      where: string
      permissions: Json
    }

/** One job (or one matrix leg) as it ran. */
export interface JobRecord {
  /** The job's key in `jobs:`. */
  id: string
  /** Display name: `name:` or the key, with the matrix values for a leg. */
  name: string
  matrix?: Record<string, Json>
  result: Result
  outputs: Record<string, string>
  steps: StepRecord[]
  /** The job summary (GITHUB_STEP_SUMMARY of all steps), masked. */
  summary: string
  /** The run of the reusable workflow a `uses:` job called. */
  call?: WorkflowRun
  environment?: { name: string; url?: string }
  /** The job's workspace (GITHUB_WORKSPACE). */
  workspace?: string
  /** Why it failed outside a step (rejected approval, deadlock ...). */
  error?: string
  /** Minutes its environment's wait timer held the job before it started (counted, not slept). */
  waitTimerMinutes?: number
}

/** A workflow run: its jobs, outputs, checks and log. */
export interface WorkflowRun {
  file: string
  result: Result
  /** `on.workflow_call.outputs`, evaluated. */
  outputs: Record<string, string>
  /** Every job and matrix leg, in the order run. */
  jobs: JobRecord[]
  checks: StaticCheck[]
  annotations: Annotation[]
  log: string[]
  /** Why the run failed before any job started (GitHub's "The workflow is not valid. ..."). */
  error?: string
  /**
   * The wait timers its jobs waited, in minutes, called workflows' jobs included: each job's
   * timer counted once (legs side by side count each), none of it slept.
   */
  waitTimerMinutes: number
}

/** A single action run as a one-step job. */
export interface ActionRun {
  result: Result
  outputs: Record<string, string>
  /** The action's step, its inner steps (composite) and post steps. */
  steps: StepRecord[]
  summary: string
  annotations: Annotation[]
  log: string[]
  workspace: string
  /** The job env after the run (GITHUB_ENV written by the action). */
  env: Record<string, string>
  /** Directories the action added with GITHUB_PATH, newest first. */
  path: string[]
}
