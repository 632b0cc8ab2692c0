/**
 * Concurrency groups across the runs of one Harness, as GitHub keeps them per repository: in a
 * group at most one run (or job) is in progress and one pending; a newer request replaces the
 * pending one (which ends cancelled), and with `cancel-in-progress: true` it also cancels the
 * one in progress. Group names compare without case.
 *
 * Documented behaviour imitated (docs.github.com, "Control the concurrency of workflows and
 * jobs"): "When a concurrent job or workflow is queued, if another job or workflow using the
 * same concurrency group in the repository is in progress, the queued job or workflow will be
 * pending. Any existing pending job or workflow in the same concurrency group, if it exists,
 * will be canceled and the new queued job or workflow will take its place. To also cancel any
 * currently running job or workflow in the same concurrency group, specify
 * cancel-in-progress: true."
 */
import type { Cancellation } from './cancellation.js'
import type { HarnessLog } from './log.js'

interface Request {
  cancellation: Cancellation
  settle: (acquired: boolean) => void
  stopListening?: () => void
}

interface Group {
  holder?: Request
  pending?: Request
}

/** A taken group: release() lets the pending request in. */
export interface GroupLease {
  release(): void
}

export class ConcurrencyGroups {
  private readonly groups = new Map<string, Group>()

  /**
   * Take `group` for a run or job whose cancellation is `cancellation`: resolves with a lease
   * once it is in progress, or undefined when it was replaced while pending (or cancelled).
   */
  acquire(
    group: string,
    cancelInProgress: boolean,
    cancellation: Cancellation,
    log: HarnessLog,
    origin: string
  ): Promise<GroupLease | undefined> {
    const key = group.toLowerCase()
    let g = this.groups.get(key)
    if (!g) {
      g = {}
      this.groups.set(key, g)
    }
    const entry = g
    const canceled = `Canceling since a higher priority waiting request for '${group}' exists`
    return new Promise(resolve => {
      const request: Request = {
        cancellation,
        settle: acquired => {
          request.stopListening?.()
          if (!acquired) {
            resolve(undefined)
            return
          }
          resolve({
            release: () => {
              if (entry.holder !== request) return
              entry.holder = entry.pending
              entry.pending = undefined
              entry.holder?.settle(true)
              if (!entry.holder) this.groups.delete(key)
            }
          })
        }
      }
      if (!entry.holder) {
        entry.holder = request
        request.settle(true)
        return
      }
      if (entry.pending) {
        const replaced = entry.pending
        entry.pending = undefined
        replaced.cancellation.cancel(canceled)
        replaced.settle(false)
      }
      entry.pending = request
      log.write(
        origin,
        `Waiting for the concurrency group '${group}': another run or job holds it (pending)`
      )
      if (cancelInProgress) entry.holder.cancellation.cancel(canceled)
      request.stopListening = cancellation.onCancel(() => {
        if (entry.pending !== request) return
        entry.pending = undefined
        request.settle(false)
      })
    })
  }
}
