/**
 * Host programs on this machine without an interpreter's start each: one Python process per
 * interpreter path (host/resident-python.py), started at the first program and kept while
 * sitecycle runs, forks a child per program. A program still runs in a process of its own, with
 * the command's environment, working directory, input and exit code, and gets SIGTERM when
 * sitecycle dies; what it saves is the start of `python3 -I -S` and its imports (tens of
 * milliseconds, more on a busy machine), which a rollback's warm switch waits for before users
 * are switched. Only the local executor uses it (over SSH a program is one round trip anyway).
 *
 * `SITECYCLE_RESIDENT_PYTHON=0` turns it off: each program is then its own `python3` process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import type { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import RESIDENT_PYTHON from '../host/resident-python.py'
import { tiedToThisProcess } from '../util/die-with-parent.js'
import type { ProcessResult } from './local-executor.js'
import { TIMEOUT_EXIT_CODE, withTimeoutNote } from './timeout-note.js'

/** What a program run needs besides its text and argv. */
export interface ResidentRunOptions {
  /** The complete environment of the program. */
  env: NodeJS.ProcessEnv
  cwd?: string
  input?: string | Buffer
  /** Where standard output goes as it comes (ended when the program ends); collected otherwise. */
  stdout?: Writable
  /** Where standard error also goes as it comes. */
  stderr?: Writable
  /** SIGKILL after this many milliseconds; the result then has code 124 (as runProcess). */
  timeoutMs?: number
}

interface Pending {
  out: Buffer[]
  err: Buffer[]
  options: ResidentRunOptions
  resolve: (r: ProcessResult) => void
  reject: (e: Error) => void
  timer?: NodeJS.Timeout
  timedOut: boolean
}

/** The argv shape it runs: `<absolute python> -I -S -c <program> args...`. */
export function residentProgram(
  argv: readonly string[]
): { python: string; program: string; args: string[] } | undefined {
  const [python, i, s, c, program, ...args] = argv
  if (i !== '-I' || s !== '-S' || c !== '-c' || program === undefined) return undefined
  if (python === undefined || !python.startsWith('/')) return undefined
  return { python, program, args }
}

/** Whether host programs for `python` may run in a resident process here. */
export function residentPythonUsable(python: string): boolean {
  if (process.env.SITECYCLE_RESIDENT_PYTHON === '0' || process.platform !== 'linux') return false
  let ok = usable.get(python)
  if (ok === undefined) {
    try {
      accessSync(python, constants.X_OK)
      ok = true
    } catch {
      ok = false
    }
    usable.set(python, ok)
  }
  return ok
}
const usable = new Map<string, boolean>()

const servers = new Map<string, ResidentPython>()

/**
 * Start the resident process of `python` now, while this process loads the rest of what it needs,
 * so that its first host program does not wait for an interpreter's start. Does not keep this
 * process alive; does nothing where the resident Python is not used.
 */
export function warmResidentPython(python: string): void {
  if (residentPythonUsable(python)) residentPython(python).warm()
}

/** The resident process of `python` (started at its first program). */
export function residentPython(python: string): ResidentPython {
  let server = servers.get(python)
  if (!server) {
    server = new ResidentPython(python)
    servers.set(python, server)
  }
  return server
}

/** One resident Python process and the programs running in it. */
export class ResidentPython {
  private child: ChildProcessWithoutNullStreams | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private buffered = ''
  private stderrTail = ''

  constructor(readonly python: string) {}

  /** Run `program` with `args` as `python -I -S -c program args...` would. */
  run(
    program: string,
    args: readonly string[],
    options: ResidentRunOptions
  ): Promise<ProcessResult> {
    this.started()
    const id = this.nextId++
    return new Promise<ProcessResult>((resolve, reject) => {
      const p: Pending = { out: [], err: [], options, resolve, reject, timedOut: false }
      this.pending.set(id, p)
      this.holdOpen(true)
      if (options.timeoutMs !== undefined) {
        p.timer = setTimeout(() => {
          p.timedOut = true
          this.send({ op: 'kill', id, signal: 9 })
        }, options.timeoutMs)
      }
      const input = options.input
      this.send({
        op: 'run',
        id,
        code: program,
        args,
        env: Object.fromEntries(
          Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined)
        ),
        cwd: options.cwd ?? null,
        input:
          input === undefined || input.length === 0 ? null : Buffer.from(input).toString('base64')
      })
    })
  }

  /** Start the process if it is not running. */
  warm(): void {
    this.started()
  }

  private started(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return
    const tied = tiedToThisProcess(this.python, ['-I', '-S', '-c', RESIDENT_PYTHON])
    const child = spawn(tied.file, tied.args, { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child = child
    this.buffered = ''
    this.stderrTail = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text: string) => this.received(text))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-2000)
    })
    child.stdin.on('error', () => undefined)
    child.on('error', e => this.ended(child, `could not start: ${e.message}`))
    child.on('close', (code, signal) =>
      this.ended(child, `ended (${signal ?? `exit code ${code}`})`)
    )
    // Idle until a program runs: an idle resident Python does not keep sitecycle alive.
    this.holdOpen(this.pending.size > 0)
  }

  private send(message: object): void {
    this.child?.stdin.write(JSON.stringify(message) + '\n')
  }

  private received(text: string): void {
    const lines = (this.buffered + text).split('\n')
    this.buffered = lines.pop() ?? ''
    for (const line of lines) {
      if (!line) continue
      const m = JSON.parse(line) as { id: number; fd?: 1 | 2; data?: string; exit?: number }
      const p = this.pending.get(m.id)
      if (!p) continue
      if (m.data !== undefined) {
        const b = Buffer.from(m.data, 'base64')
        if (m.fd === 1) {
          if (p.options.stdout) p.options.stdout.write(b)
          else p.out.push(b)
        } else {
          p.err.push(b)
          p.options.stderr?.write(b)
        }
      } else if (m.exit !== undefined) {
        this.pending.delete(m.id)
        if (this.pending.size === 0) this.holdOpen(false)
        void settle(p, m.exit)
      }
    }
  }

  /** The server went away: its programs' results are lost; the next run starts a new one. */
  private ended(child: ChildProcessWithoutNullStreams, how: string): void {
    if (this.child !== child) return
    this.child = undefined
    const tail = this.stderrTail.trim()
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      if (p.timer) clearTimeout(p.timer)
      p.reject(
        new Error(
          `the resident Python (${this.python}, src/host/resident-python.py) ${how} while running a host program${tail ? `: ${tail}` : ''}`
        )
      )
    }
  }

  /** Keep this process alive while programs run; let it end when none does. */
  private holdOpen(hold: boolean): void {
    const child = this.child
    if (!child) return
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as Array<{
      ref?: () => void
      unref?: () => void
    }>) {
      if (hold) handle.ref?.()
      else handle.unref?.()
    }
  }
}

async function settle(p: Pending, exit: number): Promise<void> {
  if (p.timer) clearTimeout(p.timer)
  if (p.options.stdout) {
    p.options.stdout.end()
    await finished(p.options.stdout).catch(() => undefined)
  }
  let stderr: Buffer = Buffer.concat(p.err)
  let code = exit
  if (p.timedOut) {
    code = TIMEOUT_EXIT_CODE
    stderr = withTimeoutNote(stderr, p.options.timeoutMs)
  }
  p.resolve({ code, stdout: Buffer.concat(p.out), stderr, timedOut: p.timedOut })
}
