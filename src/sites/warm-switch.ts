/**
 * The fast half of a rollback to the release kept warm in the idle slot: lock, journal start,
 * and the switch of live.map in one host program (WARM_SWITCH), so that users are back on the
 * old release after one process start (or one SSH round trip) instead of five.
 */
import type { SiteConfig } from '../config/model.js'
import { hostScript } from '../commands/python.js'
import { WARM_SWITCH } from '../commands/host-scripts.js'
import type { Executor } from '../hosts/executor.js'
import type { Slot } from './layout.js'
import type { LockHolder } from './lock.js'
import { siteStateFromRaw, type RawSiteState, type SiteState } from './site-state.js'

/** What {@link tryWarmSwitch} did. */
export type WarmSwitchResult =
  /** The lock was not taken (held by another run, or no .sitecycle): nothing changed. */
  | { result: 'busy'; reason: string }
  /** The lock is held for the caller and nothing else changed: take the full path. */
  | { result: 'fallback'; reason: string; state: SiteState }
  /** Users are on `target`; the lock is held, the start and switch lines are in the journal. */
  | {
      result: 'switched'
      state: SiteState
      target: string
      liveSlot: Slot
      idleSlot: Slot
      /** Milliseconds from the program's start to the switch. */
      ms: number
    }
  /** The lock is held and users were not switched; `started`: the start line is written. */
  | { result: 'error'; error: string; started: boolean }

export interface WarmSwitchRequest {
  /** This operation's id (the lock attempt's folder and the journal lines carry it). */
  opId: string
  holder: LockHolder
  /** The journal start line's fields (id, op, event, site, actor, run, ...); the program adds
   * `at`, `target`, `liveSlot`, `live` and `idle`. */
  start: Record<string, unknown>
  /** Names the idle slot's release may have to be taken (a requested version); [] for any. */
  accept: string[]
}

/**
 * Run WARM_SWITCH on the site's host (blue-green sites only). Throws only when the program could not run or printed no result;
 * the lock may then be held by `holder`.
 */
export async function tryWarmSwitch(
  exec: Executor,
  site: SiteConfig,
  python: string,
  req: WarmSwitchRequest
): Promise<WarmSwitchResult> {
  const r = await exec.run(
    hostScript(python, WARM_SWITCH, [
      site.root,
      req.opId,
      JSON.stringify(req.holder, null, 2) + '\n',
      JSON.stringify(req.start),
      JSON.stringify(req.accept)
    ])
  )
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown> & {
    result: WarmSwitchResult['result']
    state?: RawSiteState
  }
  if (out.state !== undefined)
    return { ...out, state: siteStateFromRaw(site, out.state) } as WarmSwitchResult
  return out as WarmSwitchResult
}
