/**
 * The fast half of a rollback to the release kept warm in the idle slot: lock, journal start,
 * and the switch of live.map in one host program (WARM_SWITCH), so that users are back on the
 * old release after one process start (or one SSH round trip) instead of five. On an executor
 * that runs on the host itself the same steps run in this process with node's fs: no process
 * to start at all, which matters most when the host's CPUs are busy serving.
 */
import * as fs from 'node:fs'
import type { SiteConfig } from '../config/model.js'
import { hostScript } from '../commands/python.js'
import { WARM_SWITCH } from '../commands/host-scripts.js'
import type { Executor } from '../hosts/executor.js'
import { EMPTY_RELEASE, otherSlot, siteLayout, type Slot } from './layout.js'
import type { LockHolder } from './lock.js'
import { readOrEmpty, readStateHere, switchMapHere, unfinishedOperations } from './on-host.js'
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
 * Run WARM_SWITCH on the site's host (blue-green sites only), or its steps here when the
 * executor runs on the host. Throws only when the program could not run or printed no result;
 * the lock may then be held by `holder`.
 */
export async function tryWarmSwitch(
  exec: Executor,
  site: SiteConfig,
  python: string,
  req: WarmSwitchRequest
): Promise<WarmSwitchResult> {
  if (exec.runsOnHost) return warmSwitchHere(site, req)
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

/**
 * WARM_SWITCH's steps in this process, for an executor that runs on the host: the same lock
 * folder and holder file, the same reading of the journal, the same decisions, journal lines
 * and compare-and-swap rename of live.map. Synchronous calls on purpose: this is the whole of
 * the time until users are back on the old release, and a host busy serving them would make
 * each hop through node's thread pool wait for a CPU.
 */
export async function warmSwitchHere(
  site: SiteConfig,
  req: WarmSwitchRequest
): Promise<WarmSwitchResult> {
  const started = Date.now()
  const l = siteLayout(site.root)
  const attempt = `${l.state}/lock.${req.opId}`
  try {
    fs.mkdirSync(attempt)
  } catch (e) {
    return { result: 'busy', reason: `cannot make ${attempt}: ${errorText(e)}` }
  }
  const holderFile = `${attempt}/holder.json`
  try {
    fs.writeFileSync(holderFile, JSON.stringify(req.holder, null, 2) + '\n', { mode: 0o600 })
    fs.chmodSync(holderFile, 0o644)
  } catch (e) {
    // No space, say: the full path's lock names the problem.
    fs.rmSync(attempt, { recursive: true, force: true })
    return { result: 'busy', reason: `cannot write ${holderFile}: ${errorText(e)}` }
  }
  try {
    fs.renameSync(attempt, l.lock)
  } catch {
    fs.rmSync(attempt, { recursive: true, force: true })
    return { result: 'busy', reason: 'the lock is held' }
  }
  let journalStarted = false
  try {
    const unfinished = unfinishedOperations(readOrEmpty(l.journal))
    const raw = readStateHere(site.root)
    const state = siteStateFromRaw(site, raw)
    const fallback = (reason: string): WarmSwitchResult => ({ result: 'fallback', reason, state })
    if (unfinished.length)
      return fallback(`the journal has an unfinished operation (${unfinished.join(', ')})`)
    const liveSlot: Slot = raw.live === 'green' ? 'green' : 'blue'
    const idleSlot = otherSlot(liveSlot)
    const real = (r: string | null) => (r && r !== EMPTY_RELEASE ? r : null)
    const live = real(raw.slots[liveSlot])
    const idle = real(raw.slots[idleSlot])
    const info = idle ? raw.releases?.[idle] : undefined
    if (!raw.initialized) return fallback('the site is not initialized')
    if (idle === null || idle === live || !info?.complete || info.bad)
      return fallback('no good release is warm in the idle slot')
    if (req.accept.length && !req.accept.includes(idle))
      return fallback('the requested version is not the one warm in the idle slot')
    const line = (event: Record<string, unknown>) =>
      fs.appendFileSync(
        l.journal,
        JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n'
      )
    line({ ...req.start, target: idle, liveSlot, live, idle })
    journalStarted = true
    switchMapHere(l.liveMap, idleSlot, liveSlot)
    const ms = Date.now() - started
    try {
      line({
        id: req.opId,
        op: req.start.op,
        event: 'step',
        step: 'switch',
        phase: 'run',
        status: 'ok',
        ms,
        note: `${live ?? 'none'} -> ${idle}`
      })
    } catch {
      // users are on the release: the end line will say so
    }
    return { result: 'switched', state, target: idle, liveSlot, idleSlot, ms }
  } catch (e) {
    return { result: 'error', error: errorText(e), started: journalStarted }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
