/**
 * The Reporter of the actions: each pipeline step in its own log group, warnings as annotations,
 * every secret masked by the runner (core.setSecret) and replaced by *** in what we print.
 */
import { SecretFilter, type Reporter } from '../util/reporter.js'
import type { ActionCore } from './action-core.js'
import { secretParts } from './secrets.js'

/** Reports progress through @actions/core. */
export class CoreReporter implements Reporter {
  /** The secrets registered so far; `redact` applies it. */
  readonly filter = new SecretFilter()
  private groupOpen = false

  constructor(private readonly core: ActionCore) {}

  info(message: string): void {
    this.core.info(this.redact(message))
  }

  /** A warning annotation on the run. */
  warn(message: string): void {
    this.core.warning(this.redact(message))
  }

  /** Open the step's log group (closing one left open: the runner does not nest groups). */
  stepStart(name: string, title: string): void {
    this.closeGroup()
    this.core.startGroup(this.redact(`${name}: ${title}`))
    this.groupOpen = true
  }

  /** Print how the step ended and close its group; a non-critical failure becomes a warning annotation. */
  stepEnd(name: string, status: string, ms: number, note?: string): void {
    this.core.info(
      this.redact(`${name} ${status} (${(ms / 1000).toFixed(2)}s)${note ? `: ${note}` : ''}`)
    )
    this.closeGroup()
    if (status === 'warning')
      this.core.warning(
        this.redact(`step '${name}' failed, and the operation went on: ${note ?? 'no detail'}`)
      )
  }

  /** Mask a secret in the runner's log (each of its lines too) and in everything printed here. */
  addSecret(secret: string): void {
    for (const part of secretParts(secret)) {
      this.core.setSecret(part)
      this.filter.add(part)
    }
  }

  /** `text` with every registered secret replaced by ***. */
  redact(text: string): string {
    return this.filter.apply(text)
  }

  /** Close the open log group, if any. */
  closeGroup(): void {
    if (!this.groupOpen) return
    this.groupOpen = false
    this.core.endGroup()
  }
}
