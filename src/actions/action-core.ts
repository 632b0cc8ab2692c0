/**
 * The part of @actions/core the actions use, as an interface: the entry points pass the real
 * module, tests pass a fake that records every call.
 */

/** The job summary buffer of @actions/core (`core.summary`). */
export interface ActionSummary {
  /** Append text (markdown or HTML) to the buffer. */
  addRaw(text: string, addEOL?: boolean): unknown
  /** Append the buffer to the job summary file and empty it; throws outside Actions. */
  write(): Promise<unknown>
}

/** What the actions call on @actions/core; `import * as core from '@actions/core'` satisfies it. */
export interface ActionCore {
  getInput(name: string): string
  setOutput(name: string, value: string): void
  setSecret(secret: string): void
  setFailed(message: string | Error): void
  info(message: string): void
  warning(message: string | Error): void
  debug(message: string): void
  startGroup(name: string): void
  endGroup(): void
  summary: ActionSummary
}
