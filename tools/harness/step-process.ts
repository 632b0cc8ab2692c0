/**
 * One step's process: spawned in its own process group (so a timeout kills everything it
 * started), its stdout and stderr read line by line, each line either a workflow command for
 * the runner or text for the log, as the runner reads them.
 */
import { spawn } from 'node:child_process'
import type { Cancellation } from './cancellation.js'
import { parseCommandLine, type WorkflowCommand } from './workflow-commands.js'

const DRAIN_MS = 1000
/** The runner's grace periods when a step is cancelled: SIGINT, then SIGTERM, then a kill. */
const CANCEL_SIGTERM_MS = 7500
const CANCEL_KILL_MS = 2500

/** How a step's process ended. */
export interface StepProcessResult {
  code: number
  /** True when it was killed at its timeout. */
  timedOut: boolean
  /** True when it was interrupted because its job was cancelled. */
  cancelled: boolean
}

export interface StepProcessOptions {
  argv: string[]
  cwd: string
  env: Record<string, string>
  /** Kill after this many milliseconds. */
  timeoutMs?: number
  /**
   * The job's cancellation: as the runner does, SIGINT to the step's entry process, SIGTERM
   * 7.5 s later, the process tree killed 2.5 s after that; once the entry process has ended,
   * whatever it left running is killed.
   */
  cancellation?: Cancellation
  /** A text line of stdout or stderr. */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void
  /** A workflow command (outside a `::stop-commands::` block). */
  onCommand: (command: WorkflowCommand) => void
}

/** Run the process to its end; rejects only when it cannot be started. */
export function runStepProcess(options: StepProcessOptions): Promise<StepProcessResult> {
  return new Promise((resolve, reject) => {
    const [program, ...args] = options.argv
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    let stopToken: string | undefined
    let timedOut = false
    const handle = (line: string, stream: 'stdout' | 'stderr') => {
      const command = parseCommandLine(line)
      if (command && stopToken === undefined && command.name === 'stop-commands') {
        stopToken = command.data
        return
      }
      if (command && stopToken !== undefined && command.name === stopToken) {
        stopToken = undefined
        return
      }
      if (command && stopToken === undefined) options.onCommand(command)
      else options.onLine(line, stream)
    }
    const reader = (stream: 'stdout' | 'stderr') => {
      let buffer = ''
      return {
        data: (chunk: Buffer) => {
          buffer += chunk.toString('utf8')
          let nl: number
          while ((nl = buffer.indexOf('\n')) >= 0) {
            handle(buffer.slice(0, nl).replace(/\r$/, ''), stream)
            buffer = buffer.slice(nl + 1)
          }
        },
        end: () => {
          if (buffer) handle(buffer, stream)
          buffer = ''
        }
      }
    }
    const out = reader('stdout')
    const err = reader('stderr')
    child.stdout.on('data', out.data)
    child.stderr.on('data', err.data)
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true
            try {
              process.kill(-(child.pid as number), 'SIGKILL')
            } catch {
              child.kill('SIGKILL')
            }
          }, options.timeoutMs)
        : undefined
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), signal)
      } catch {
        // already gone
      }
    }
    let cancelled = false
    const cancelTimers: NodeJS.Timeout[] = []
    const stopListening = options.cancellation?.onCancel(() => {
      if (child.exitCode !== null || child.signalCode !== null) return
      cancelled = true
      try {
        process.kill(child.pid as number, 'SIGINT')
      } catch {
        // already gone
      }
      cancelTimers.push(
        setTimeout(() => {
          try {
            process.kill(child.pid as number, 'SIGTERM')
          } catch {
            // already gone
          }
        }, CANCEL_SIGTERM_MS),
        setTimeout(() => killGroup('SIGKILL'), CANCEL_SIGTERM_MS + CANCEL_KILL_MS)
      )
    })
    const stopCancelling = () => {
      stopListening?.()
      for (const t of cancelTimers) clearTimeout(t)
    }
    child.on('error', e => {
      if (timer) clearTimeout(timer)
      stopCancelling()
      reject(e)
    })
    // A daemon the step started may hold the pipes open: after the exit, wait briefly for the
    // output to drain, then finish anyway (the runner does the same).
    let finished = false
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return
      finished = true
      if (timer) clearTimeout(timer)
      stopCancelling()
      out.end()
      err.end()
      child.stdout.destroy()
      child.stderr.destroy()
      resolve({ code: code ?? (signal ? 128 : 1), timedOut, cancelled })
    }
    child.on('exit', (code, signal) => {
      stopCancelling()
      if (cancelled) killGroup('SIGKILL')
      setTimeout(() => finish(code, signal), DRAIN_MS).unref()
    })
    child.on('close', (code, signal) => finish(code, signal))
  })
}
