/**
 * Running the real, bundled CLI (`node dist/cli.js`) as a child process, the way an operator or
 * cron runs it: its exit code or the signal that ended it, and its stdout and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * The bundled CLI (rebuild with `npx rollup -c rollup.config.js --silent` after a src change).
 * SITECYCLE_TEST_CLI points the tests at another build, e.g. a deliberately broken copy to check
 * that they notice.
 */
export const CLI_PATH =
  process.env.SITECYCLE_TEST_CLI ?? fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** How a CLI run ended. */
export interface CliResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null
  /** The signal that ended the process (e.g. SIGKILL), or null when it exited. */
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** True when the run outlived `timeoutMs` and was killed by this helper. */
  timedOut: boolean
}

export interface CliOptions {
  /** Variables added to the environment; `undefined` removes one (e.g. a secret). */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Kill the run's process group after this many milliseconds (default 120000). */
  timeoutMs?: number
}

/** A CLI run in progress. */
export interface RunningCli {
  child: ChildProcess
  /** The CLI process's pid; also its process group id (it is started as a group leader). */
  pid: number
  /** Settles when the process has ended and its output is read. */
  result: Promise<CliResult>
  /** Send a signal to the CLI and every process it started (pip, hooks ...). */
  killGroup(signal?: NodeJS.Signals): void
  /** What the CLI wrote on stderr (its progress) so far. */
  stderrSoFar(): string
}

/**
 * Variables the developer's machine may carry that would change what the CLI does: pip
 * settings (pip runs hermetically, as on a fresh server), fault hooks, SSH keys, and the
 * identity of a GitHub run.
 */
const SCRUBBED = [
  'PIP_FIND_LINKS',
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'SITECYCLE_FAULT_KILL_AFTER',
  'SITECYCLE_FAULT_FAIL_AT',
  'SITECYCLE_SSH_KEY',
  'GITHUB_ACTOR',
  'GITHUB_RUN_ID',
  'NODE_OPTIONS'
]

/** The environment a CLI run gets: this process's, scrubbed, plus `extra`. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
  for (const k of SCRUBBED) delete env[k]
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

/** Start `node dist/cli.js <args>` in its own process group; see RunningCli. */
export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: options.cwd,
    env: cliEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  })
  if (child.pid === undefined) throw new Error(`could not start ${CLI_PATH}`)
  const pid = child.pid
  const killGroup = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    try {
      process.kill(-pid, signal)
    } catch {
      // the group is gone already
    }
  }
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup('SIGKILL')
  }, options.timeoutMs ?? 120000)
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', e => {
      clearTimeout(timer)
      reject(e)
    })
    // 'close' (not 'exit'): the output pipes are drained by then.
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, timedOut })
    })
  })
  return { child, pid, result, killGroup, stderrSoFar: () => stderr }
}

/** Run `node dist/cli.js <args>` to its end. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).result
}

/** One line describing a run, for assertion messages. */
export function describeRun(r: CliResult): string {
  // stderr first: a CI log cut short still shows the error line and the step that failed.
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}\n--- stderr\n${r.stderr}\n--- stdout\n${r.stdout}`
}

/** Throw, showing the run's output, unless it exited with `code`. */
export function expectExit(r: CliResult, code: number): void {
  if (r.code !== code || r.signal !== null)
    throw new Error(`expected exit ${code}, got ${describeRun(r)}`)
}
