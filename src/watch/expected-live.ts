/**
 * Which release the journal says should be live: what the last operation that ended says it left
 * serving. Pure: journal events in, an answer out.
 */
import type { JournalEvent } from '../sites/journal.js'

/** What the journal says about the live release. */
export interface ExpectedLive {
  /**
   * `known`: an ended operation recorded the live release; `none`: no operation ever recorded one
   * (never deployed); `unfinished`: the last operation has no end (running, or interrupted and
   * not yet recovered), so the links may legitimately be mid-change.
   */
  status: 'known' | 'none' | 'unfinished'
  /** The release the last ended operation left live (null: none). */
  version: string | null
  /** The operation that said so (`deploy 20250101T...-abc123`), or the unfinished one. */
  operation?: string
}

/**
 * Walk the journal: every `end` event carrying `live` (deploy, rollback, and their failures after
 * their undo) sets what should be live; a `start` with no `end` or `recovered` after it makes the
 * answer `unfinished`. Operations that do not touch the links (maintenance, snapshot) change
 * nothing.
 */
export function expectedLiveFromJournal(events: readonly JournalEvent[]): ExpectedLive {
  let expected: ExpectedLive = { status: 'none', version: null }
  const open = new Map<string, JournalEvent>()
  for (const e of events) {
    if (e.event === 'start') open.set(e.id, e)
    else if (e.event === 'end' || e.event === 'recovered') open.delete(e.id)
    if (e.event === 'end' && Object.hasOwn(e, 'live')) {
      const live = e.live
      expected = {
        status: 'known',
        version: typeof live === 'string' ? live : null,
        operation: `${e.op} ${e.id}`
      }
    }
  }
  // The last unfinished operation (a lock held now, or a run killed before its end).
  const unfinished = [...open.values()].pop()
  if (unfinished)
    return { ...expected, status: 'unfinished', operation: `${unfinished.op} ${unfinished.id}` }
  return expected
}
