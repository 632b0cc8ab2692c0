import type { Command } from '../commands/command.js'

/** What a finished command printed and how it ended. */
export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/**
 * One interface for every host: the local machine, a server over SSH, or a recorder in tests.
 * Pipelines take an Executor as a parameter and never know which one they hold.
 */
export interface Executor {
  /** `local` or `ssh://user@host:port`; used in messages. */
  readonly name: string
  /** Run a command; throws CommandError when it exits non-zero. */
  run(command: Command, options?: RunOptions): Promise<RunResult>
  /** Run a command; returns the result whatever the exit code (throws only if it cannot start). */
  tryRun(command: Command, options?: RunOptions): Promise<RunResult>
  /** Copy a local file to the host (mode applied when given). */
  put(localPath: string, remotePath: string, mode?: number): Promise<void>
  /** Copy a file from the host to a local path. */
  get(remotePath: string, localPath: string): Promise<void>
  /** Write content to a file on the host (created or replaced; not atomic: write aside and rename). */
  writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void>
  /** Read a file on the host; undefined when it does not exist. */
  readFile(remotePath: string): Promise<string | undefined>
  /** Release connections (SSH master) and temporary files. */
  close(): Promise<void>
}

export interface RunOptions {
  /** Give up after this many milliseconds (the command is killed). */
  timeoutMs?: number
}

/** A command that exited non-zero: carries host, command, exit code and the tail of stderr. */
export class CommandError extends Error {
  constructor(
    readonly host: string,
    readonly commandLine: string,
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string
  ) {
    const tail = stderr.trim().split('\n').slice(-8).join('\n')
    super(`${commandLine} failed on ${host} with exit code ${code}${tail ? `:\n${tail}` : ''}`)
    this.name = 'CommandError'
  }
}
