import type { Writable } from 'node:stream'
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
  /**
   * Reach a TCP port on the host's loopback from this machine (a smoke test against the idle
   * slot, which answers the slot header from loopback only): over SSH a local port forwarded
   * through the shared connection; on this machine the port itself. close() ends the forward.
   */
  forwardPort(hostPort: number): Promise<PortForward>
  /**
   * Append text to a file on the host in one O_APPEND write (created when missing), without
   * starting a process; with `sync`, on disk (the file and its folder fsynced) before it
   * resolves. Optional: executors without it have callers run `tee -a` (or, to sync,
   * `dd ... conv=fsync`: files.ts appendFileDurably) instead.
   */
  appendFile?(remotePath: string, content: string, options?: { sync?: boolean }): Promise<void>
  /**
   * One HTTP GET made from the host itself (e.g. to its loopback), without starting a process.
   * Optional: only an executor that runs on the host (the local one) has it; callers otherwise
   * run a host program. Resolves with the answer whatever its status; rejects when there is none
   * (refused, reset, timed out).
   */
  httpGet?(url: string, options: HttpGetOptions): Promise<HttpAnswer>
}

/** A port of the host's loopback reachable on this machine's 127.0.0.1. */
export interface PortForward {
  /** The port to connect to on 127.0.0.1 here. */
  port: number
  close(): Promise<void>
}

/** How {@link Executor.httpGet} asks. */
export interface HttpGetOptions {
  /** Request headers (e.g. Host, the private slot header). */
  headers: Record<string, string>
  /** Give up (reject) after this many milliseconds. */
  timeoutMs: number
  /** Keep at most this many bytes of the body. */
  maxBytes?: number
}

/** The answer to {@link Executor.httpGet}. */
export interface HttpAnswer {
  status: number
  body: string
  /** The Location header, when the answer has one (a redirect). */
  location?: string
}

export interface RunOptions {
  /** Give up after this many milliseconds (the command is killed). */
  timeoutMs?: number
  /**
   * Pass the command's standard output through as it comes (a one-off command's output shown
   * live): it is written here and ended when the command ends, and the result's stdout is empty.
   */
  stdout?: Writable
  /** Also pass standard error through as it comes (the result still carries it). */
  stderr?: Writable
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
