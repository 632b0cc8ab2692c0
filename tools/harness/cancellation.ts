/**
 * Cancellation as GitHub propagates it: a run's cancellation reaches its jobs (and the runs of
 * the workflows they call), a matrix's reaches its legs (fail-fast), a job's reaches the
 * process of the step it is running. Each level is a Cancellation linked to its parent.
 */

export class Cancellation {
  private state: { reason: string } | undefined
  private readonly listeners = new Set<(reason: string) => void>()

  /** A cancellation that also fires when `parent` does. */
  constructor(parent?: Cancellation) {
    parent?.onCancel(reason => this.cancel(reason))
  }

  get requested(): boolean {
    return this.state !== undefined
  }

  get reason(): string {
    return this.state?.reason ?? ''
  }

  /** Cancel (the first reason wins) and tell every listener. */
  cancel(reason: string): void {
    if (this.state) return
    this.state = { reason }
    for (const l of [...this.listeners]) l(reason)
  }

  /** Call `fn` when cancelled (at once when already); returns the function removing it. */
  onCancel(fn: (reason: string) => void): () => void {
    if (this.state) {
      fn(this.state.reason)
      return () => undefined
    }
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}
