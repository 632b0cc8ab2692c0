/**
 * The Executor for the machine this job runs on (a self-hosted runner, or cron on the server).
 * Commands are spawned from their argv, never through a shell.
 */
import { spawn } from 'node:child_process'
import { request } from 'node:http'
import { constants as osConstants } from 'node:os'
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { describeCommand, redact, type Command } from '../commands/command.js'
import { tiedStartFailure, tiedToThisProcess } from '../util/die-with-parent.js'
import { residentProgram, residentPython, residentPythonUsable } from './resident-python.js'
import { TIMEOUT_EXIT_CODE, withTimeoutNote } from './timeout-note.js'
import {
  CommandError,
  type Executor,
  type HttpAnswer,
  type HttpGetOptions,
  type PortForward,
  type RunOptions,
  type RunResult
} from './executor.js'

export { TIMEOUT_EXIT_CODE } from './timeout-note.js'

/** How to start one process with {@link runProcess}. */
export interface ProcessOptions {
  /** The complete environment of the process. */
  env?: NodeJS.ProcessEnv
  /** Working directory. */
  cwd?: string
  /** Sent to standard input, which is then closed (always closed, so nothing waits on it). */
  input?: string | Buffer | Readable
  /** Where standard output goes; collected into the result when not given. */
  stdout?: Writable
  /** Where standard error also goes, as it comes (it is collected into the result all the same). */
  stderr?: Writable
  /** Kill the process (SIGKILL) after this many milliseconds; the result then has code 124. */
  timeoutMs?: number
}

/** How a process ended; output as raw bytes. */
export interface ProcessResult {
  code: number
  stdout: Buffer
  stderr: Buffer
  timedOut: boolean
}

/**
 * Spawn `file` with `args` (no shell), feed its stdin, collect its output and wait for it to end.
 * A signal becomes code 128 + signal number, as a shell reports it. Rejects only when the
 * process cannot be started (the error carries Node's `code`, e.g. ENOENT). The process gets
 * SIGTERM if this one dies first (die-with-parent.ts), so a killed run leaves no pip or ssh.
 */
export async function runProcess(
  file: string,
  args: readonly string[],
  options: ProcessOptions = {}
): Promise<ProcessResult> {
  const tied = tiedToThisProcess(file, args)
  const r = await runUntied(tied.file, tied.args, options)
  const failure = tied.tied ? tiedStartFailure(file, r.code, r.stderr.toString()) : undefined
  if (failure) throw failure
  return r
}

function runUntied(
  file: string,
  args: readonly string[],
  options: ProcessOptions
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    let settled = false
    let timer: NodeJS.Timeout | undefined
    let drainTimer: NodeJS.Timeout | undefined

    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      if (timer) clearTimeout(timer)
      if (drainTimer) clearTimeout(drainTimer)
      fn()
    }

    child.on('error', e => settle(() => reject(e)))
    if (options.stdout) child.stdout.pipe(options.stdout)
    else child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => {
      err.push(b)
      options.stderr?.write(b)
    })

    // A command that exits without reading all its input must not crash us with EPIPE.
    child.stdin.on('error', () => undefined)
    const input = options.input
    if (input === undefined) child.stdin.end()
    else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input)
    else {
      input.on('error', e => {
        child.kill('SIGKILL')
        settle(() => reject(e))
      })
      input.pipe(child.stdin)
    }

    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true
        child.kill('SIGKILL')
      }, options.timeoutMs)
    }

    let exitCode: number | null = null
    let exitSignal: NodeJS.Signals | null = null
    const finish = async (): Promise<void> => {
      if (options.stdout) await finished(options.stdout).catch(() => undefined)
      settle(() => {
        let code = exitCode ?? 128 + (exitSignal ? (osConstants.signals[exitSignal] ?? 0) : 0)
        let stderr: Buffer = Buffer.concat(err)
        if (timedOut) {
          code = TIMEOUT_EXIT_CODE
          stderr = withTimeoutNote(stderr, options.timeoutMs)
        }
        resolve({
          code,
          stdout: Buffer.concat(out),
          stderr,
          timedOut
        })
      })
    }
    child.on('exit', (code, signal) => {
      exitCode = code
      exitSignal = signal
      // A grandchild (or a backgrounded ssh master) may keep our pipes open after the process
      // itself has gone; do not wait for it for ever.
      drainTimer = setTimeout(() => {
        if (options.stdout && !options.stdout.writableEnded) {
          child.stdout.unpipe(options.stdout)
          options.stdout.end()
        }
        child.stdout.destroy()
        child.stderr.destroy()
        void finish()
      }, 1000)
    })
    child.on('close', (code, signal) => {
      exitCode = code
      exitSignal = signal
      if (drainTimer) clearTimeout(drainTimer)
      void finish()
    })
  })
}

/** The process environment with `unsetEnv` removed and `env` added. */
export function commandEnv(
  command: Command,
  base: NodeJS.ProcessEnv = process.env
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  for (const name of command.unsetEnv ?? []) delete env[name]
  return { ...env, ...command.env }
}

/** A RunResult with every secret of the command hidden. */
export function redactedResult(
  command: Command,
  code: number,
  stdout: string,
  stderr: string
): RunResult {
  return { code, stdout: redact(stdout, command.redact), stderr: redact(stderr, command.redact) }
}

/** Throw the CommandError for a result that is not a success; secrets are already hidden in it. */
export function throwUnlessSuccess(host: string, command: Command, result: RunResult): RunResult {
  if (result.code !== 0) {
    throw new CommandError(
      host,
      describeCommand(command),
      result.code,
      result.stdout,
      result.stderr
    )
  }
  return result
}

/** Runs commands and moves files on this machine. */
export class LocalExecutor implements Executor {
  readonly name = 'local'

  /** Run a command; throws CommandError when it exits non-zero. Output has `command.redact` hidden. */
  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    return throwUnlessSuccess(this.name, command, await this.tryRun(command, options))
  }

  /**
   * Run a command and return how it ended, with `command.redact` hidden in its output. As a shell
   * would: a program that does not exist gives 127, a working directory that does not exist 1 (as bash, Debian's login shell, reports it over SSH),
   * a timeout 124 (the process is killed).
   */
  async tryRun(command: Command, options: RunOptions = {}): Promise<RunResult> {
    const [file, ...args] = command.argv
    if (file === undefined) throw new Error('Cannot run an empty command (argv is [])')
    const processOptions = {
      cwd: command.cwd,
      env: commandEnv(command),
      input: command.input,
      timeoutMs: options.timeoutMs,
      ...(options.stdout && { stdout: options.stdout }),
      ...(options.stderr && { stderr: options.stderr })
    }
    // A host program (`python3 -I -S -c ...`) runs forked from a resident Python (resident-python.ts).
    const program = residentProgram(command.argv)
    if (program && residentPythonUsable(program.python)) {
      const r = await residentPython(program.python).run(
        program.program,
        program.args,
        processOptions
      )
      return redactedResult(command, r.code, r.stdout.toString(), r.stderr.toString())
    }
    try {
      const r = await runProcess(file, args, processOptions)
      return redactedResult(command, r.code, r.stdout.toString(), r.stderr.toString())
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && command.cwd !== undefined && !(await isDirectory(command.cwd))) {
        return redactedResult(command, 1, '', `cd: ${command.cwd}: No such file or directory\n`)
      }
      if (code === 'ENOENT') return redactedResult(command, 127, '', `${file}: command not found\n`)
      if (code === 'EACCES') return redactedResult(command, 126, '', `${file}: Permission denied\n`)
      throw e
    }
  }

  /** Copy a local file to `remotePath` (parents created; mode applied when given). */
  async put(localPath: string, remotePath: string, mode?: number): Promise<void> {
    await fs.mkdir(path.dirname(remotePath), { recursive: true })
    await fs.copyFile(localPath, remotePath)
    if (mode !== undefined) await fs.chmod(remotePath, mode)
  }

  /** Copy `remotePath` to a local file (parents created). */
  async get(remotePath: string, localPath: string): Promise<void> {
    await fs.mkdir(path.dirname(localPath), { recursive: true })
    await fs.copyFile(remotePath, localPath)
  }

  /**
   * Write content (parents created). With a mode, a new file is created private (0600) and then
   * given the mode, so a secret is never readable by others in between.
   */
  async writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void> {
    await fs.mkdir(path.dirname(remotePath), { recursive: true })
    await fs.writeFile(remotePath, content, mode === undefined ? {} : { mode: 0o600 })
    if (mode !== undefined) await fs.chmod(remotePath, mode)
  }

  /** Read a file as UTF-8; undefined when it does not exist. */
  async readFile(remotePath: string): Promise<string | undefined> {
    try {
      return await fs.readFile(remotePath, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  /** Append in one O_APPEND write (the file created when missing, as `tee -a` would). */
  async appendFile(
    remotePath: string,
    content: string,
    options: { sync?: boolean } = {}
  ): Promise<void> {
    if (!options.sync) {
      await fs.appendFile(remotePath, content)
      return
    }
    const file = await fs.open(remotePath, 'a')
    try {
      await file.write(content)
      await file.sync()
    } finally {
      await file.close()
    }
    // The folder too: the file may have been made by this very write.
    const folder = await fs.open(path.dirname(remotePath), 'r')
    try {
      await folder.sync()
    } finally {
      await folder.close()
    }
  }

  /** One GET from this machine (the host), on a connection of its own (`Connection: close`). */
  httpGet(url: string, options: HttpGetOptions): Promise<HttpAnswer> {
    return httpGetOnce(url, options)
  }

  /** Nothing to release locally. */
  async close(): Promise<void> {}

  /** The host is this machine: its loopback port is reached as it is. */
  async forwardPort(hostPort: number): Promise<PortForward> {
    return { port: hostPort, close: async () => {} }
  }
}

/**
 * One GET on a new connection (no agent, `Connection: close`), the body cut at `maxBytes`
 * (default 4000). Rejects when no answer comes within `timeoutMs`.
 */
export function httpGetOnce(url: string, options: HttpGetOptions): Promise<HttpAnswer> {
  const max = options.maxBytes ?? 4000
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        agent: false,
        headers: { Connection: 'close', ...options.headers },
        timeout: options.timeoutMs
      },
      res => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (b: Buffer) => {
          if (size < max) chunks.push(b)
          size += b.length
        })
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).subarray(0, max).toString('utf8'),
            ...(res.headers.location !== undefined && { location: res.headers.location })
          })
        )
        res.on('error', reject)
      }
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory()
  } catch {
    return false
  }
}
