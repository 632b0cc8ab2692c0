/**
 * A fake @actions/core for the actions' unit tests: inputs from a record, every other call
 * recorded so tests can assert on outputs, secrets, log lines, the failure and the job summary.
 */
import type { ActionCore, ActionSummary } from '../../src/actions/action-core.js'

/** One log call, in the order the action made it: the core function's name and its text. */
export type Logged = [kind: 'info' | 'warning' | 'debug' | 'startGroup' | 'endGroup', text: string]

/** @actions/core as the actions see it, recording every call. */
export class FakeCore implements ActionCore {
  /** Every `setOutput`, by output name. */
  readonly outputs = new Map<string, string>()
  /** Every `setSecret`, in order. */
  readonly secrets: string[] = []
  /** Every info, warning, debug and group call, in order (`endGroup` with empty text). */
  readonly log: Logged[] = []
  /** The `info` messages. */
  readonly infos: string[] = []
  /** The `warning` messages, as strings. */
  readonly warnings: string[] = []
  /** The `debug` messages. */
  readonly debugs: string[] = []
  /** The names given to `startGroup`. */
  readonly groups: string[] = []
  /** The message of the last `setFailed`, if any. */
  failed: string | undefined
  /** The text of each `summary.write()`: what was added with `addRaw` since the last write. */
  readonly summaries: string[] = []
  private buffer = ''
  readonly summary: ActionSummary = {
    addRaw: (text: string) => {
      this.buffer += text
      return this.summary
    },
    write: async () => {
      this.summaries.push(this.buffer)
      this.buffer = ''
      return this.summary
    }
  }

  /** @param inputs the action's inputs by name; a missing one reads as '' */
  constructor(readonly inputs: Record<string, string>) {}

  getInput(name: string): string {
    return this.inputs[name] ?? ''
  }
  setOutput(name: string, value: string): void {
    this.outputs.set(name, value)
  }
  setSecret(secret: string): void {
    this.secrets.push(secret)
  }
  setFailed(message: string | Error): void {
    this.failed = String(message)
  }
  info(message: string): void {
    this.infos.push(message)
    this.log.push(['info', message])
  }
  warning(message: string | Error): void {
    this.warnings.push(String(message))
    this.log.push(['warning', String(message)])
  }
  debug(message: string): void {
    this.debugs.push(message)
    this.log.push(['debug', message])
  }
  startGroup(name: string): void {
    this.groups.push(name)
    this.log.push(['startGroup', name])
  }
  endGroup(): void {
    this.log.push(['endGroup', ''])
  }

  /** Everything written where a reader could see it: logs, outputs, summaries. */
  visible(): string {
    return [...this.log.map(l => l[1]), ...this.outputs.values(), ...this.summaries].join('\n')
  }
}
