/**
 * An Executor for unit tests of pipelines: runs nothing, records every call in order, answers
 * commands as programmed, and keeps files in memory so a pipeline that writes then reads sees
 * its write.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { cmd, type Command } from '../commands/command.js'
import { type Executor, type PortForward, type RunOptions, type RunResult } from './executor.js'
import { redactedResult, throwUnlessSuccess } from './local-executor.js'

/** One call made on a RecordingExecutor, in the order made. */
export interface RecordedCall {
  type: 'run' | 'put' | 'get' | 'writeFile' | 'readFile' | 'forwardPort'
  /** forwardPort: the host's port. */
  port?: number
  /** run: the command's argv. */
  argv?: string[]
  /** run: the whole command (env, cwd, input ...). */
  command?: Command
  /** run: the options given. */
  options?: RunOptions
  /** run: the result it answered (before any CommandError was thrown). */
  result?: RunResult
  /** put, get, writeFile, readFile: the path on the host. */
  path?: string
  /** put, get: the local path. */
  localPath?: string
  /** put, writeFile: what was written; readFile: what was read (undefined when missing). */
  content?: string
  /** put, writeFile: the mode given. */
  mode?: number
}

/** What a programmed command answers: part of a result, or a function of the command (which may throw). */
export type Response = Partial<RunResult> | ((command: Command) => Partial<RunResult>)

/** A matcher for {@link RecordingExecutor.respond}: the argv starts with these words. */
export function argvStartsWith(...prefix: string[]): (c: Command) => boolean {
  return c => prefix.every((word, i) => c.argv[i] === word)
}

/** Records calls instead of running them. */
export class RecordingExecutor implements Executor {
  /** Every call, in order. */
  readonly calls: RecordedCall[] = []
  /** Files on the pretend host, by path: seeded by tests, changed by put and writeFile. */
  readonly files = new Map<string, string>()
  /** Modes given to put and writeFile, by path. */
  readonly modes = new Map<string, number>()
  private readonly responses: { matcher: (c: Command) => boolean; response: Response }[] = []

  constructor(readonly name: string = 'recording') {}

  /**
   * Program the answer to matching commands; the first matching rule wins, so add specific rules
   * first. Unmatched commands exit 0 with empty output. Returns this, for chaining.
   */
  respond(matcher: (c: Command) => boolean, result: Response): this {
    this.responses.push({ matcher, response: result })
    return this
  }

  /** Like respond(), but the rule goes before every earlier one (to override a default). */
  respondFirst(matcher: (c: Command) => boolean, result: Response): this {
    this.responses.unshift({ matcher, response: result })
    return this
  }

  /** The argv of every run and tryRun call, in order. */
  commands(): string[][] {
    return this.calls.filter(c => c.type === 'run').map(c => c.argv ?? [])
  }

  /** Record the command and answer as programmed; throws CommandError on a non-zero code. */
  async run(command: Command, options?: RunOptions): Promise<RunResult> {
    return throwUnlessSuccess(this.name, command, await this.tryRun(command, options))
  }

  /** Record the command and answer as programmed, whatever the code. Output has `command.redact` hidden. */
  async tryRun(command: Command, options?: RunOptions): Promise<RunResult> {
    const call: RecordedCall = { type: 'run', argv: [...command.argv], command }
    if (options !== undefined) call.options = options
    this.calls.push(call)
    const rule = this.responses.find(r => r.matcher(command))
    const answer =
      typeof rule?.response === 'function' ? rule.response(command) : (rule?.response ?? {})
    const result = redactedResult(
      command,
      answer.code ?? 0,
      answer.stdout ?? '',
      answer.stderr ?? ''
    )
    call.result = result
    // Passed through as a real executor would: stdout written and ended, then not in the result.
    if (options?.stderr && result.stderr) options.stderr.write(result.stderr)
    if (options?.stdout) {
      options.stdout.end(result.stdout)
      return { ...result, stdout: '' }
    }
    return result
  }

  /** Record the copy and keep the local file's content (as UTF-8) at `remotePath`. */
  async put(localPath: string, remotePath: string, mode?: number): Promise<void> {
    const content = await fs.readFile(localPath, 'utf8')
    this.calls.push(withMode({ type: 'put', localPath, path: remotePath, content }, mode))
    this.store(remotePath, content, mode)
  }

  /** Record the copy and write the in-memory file to `localPath`; CommandError when it is missing. */
  async get(remotePath: string, localPath: string): Promise<void> {
    this.calls.push({ type: 'get', path: remotePath, localPath })
    const content = this.files.get(remotePath)
    if (content === undefined) {
      const command = cmd(['cat', '--', remotePath])
      throwUnlessSuccess(
        this.name,
        command,
        redactedResult(command, 1, '', `cat: ${remotePath}: No such file or directory\n`)
      )
      return
    }
    await fs.mkdir(path.dirname(localPath), { recursive: true })
    await fs.writeFile(localPath, content)
  }

  /** Record the write and keep the content in memory. */
  async writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void> {
    const text = content.toString()
    this.calls.push(withMode({ type: 'writeFile', path: remotePath, content: text }, mode))
    this.store(remotePath, text, mode)
  }

  /** Record the read and answer from memory; undefined when nothing was written or seeded there. */
  async readFile(remotePath: string): Promise<string | undefined> {
    const content = this.files.get(remotePath)
    this.calls.push({ type: 'readFile', path: remotePath, content })
    return content
  }

  /** Nothing to release. */
  async close(): Promise<void> {}

  /** Recorded; the port is answered as it is. */
  async forwardPort(hostPort: number): Promise<PortForward> {
    this.calls.push({ type: 'forwardPort', port: hostPort })
    return { port: hostPort, close: async () => {} }
  }

  private store(remotePath: string, content: string, mode: number | undefined): void {
    this.files.set(remotePath, content)
    if (mode !== undefined) this.modes.set(remotePath, mode)
  }
}

function withMode(call: RecordedCall, mode: number | undefined): RecordedCall {
  return mode === undefined ? call : { ...call, mode }
}
