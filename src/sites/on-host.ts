/**
 * What the host scripts (src/commands/host-scripts.ts) do, done in this process with node's fs
 * when the executor runs on the host itself (Executor.runsOnHost): no process to start. Each
 * function names the script it stands for and behaves as it does (the host-scripts integration
 * tests run both on the same cases). Synchronous calls on purpose: each is a handful of system
 * calls, and on a host busy serving users every hop through node's thread pool waits for a CPU.
 */
import * as fs from 'node:fs'
import { basename, dirname } from 'node:path'
import type { RawSiteState } from './site-state.js'
import { siteLayout, type Slot } from './layout.js'

/** The ids of the operations a journal's text has started and not ended (nor recovered), as
 * Journal.operations() and WARM_SWITCH read it: torn or foreign lines are skipped. */
export function unfinishedOperations(text: string): string[] {
  const closed = new Map<unknown, boolean>()
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    let e: { id?: unknown; event?: unknown } | null
    try {
      e = JSON.parse(line) as { id?: unknown; event?: unknown } | null
    } catch {
      continue
    }
    if (typeof e !== 'object' || e === null || Array.isArray(e)) continue
    if (!closed.has(e.id)) {
      if (e.event === 'start') closed.set(e.id, false)
    } else if (e.event === 'end' || e.event === 'recovered') closed.set(e.id, true)
  }
  return [...closed].filter(([, done]) => !done).map(([id]) => String(id))
}

/** A file's text; '' when it does not exist. */
export function readOrEmpty(path: string): string {
  try {
    return fs.readFileSync(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw e
  }
}

/** READ_STATE, here. */
export function readStateHere(root: string): RawSiteState {
  const l = siteLayout(root)
  const exists = (p: string) => fs.existsSync(p)
  const linked = (p: string) => {
    try {
      return basename(fs.readlinkSync(p))
    } catch {
      return null
    }
  }
  const out: RawSiteState = {
    slots: { blue: null, green: null },
    live: null,
    current: null,
    initialized: false,
    releases: {}
  }
  for (const slot of ['blue', 'green'] as const) {
    const release = linked(l.slot(slot))
    out.slots[slot] = release
    if (release)
      out.releases![release] = {
        complete: exists(`${l.release(release)}/release.json`),
        bad: exists(`${l.release(release)}/BAD`)
      }
  }
  out.current = linked(l.current)
  for (const text of readOrEmpty(l.liveMap).split('\n')) {
    const parts = text.trim().split(/\s+/)
    if (parts.length === 2 && parts[0] === 'live') out.live = parts[1]
  }
  out.initialized = exists(l.siteFile)
  return out
}

/** The compare and swap of a switch failed: another slot is live than the one expected. */
export class LiveSlotChanged extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LiveSlotChanged'
  }
}

/** SWITCH_MAP's switch_map, here: `live <slot>` written aside and synced, its mtime made later
 * than the old map's, renamed over, the folder synced. Throws when `expect` is not live. */
export function switchMapHere(path: string, slot: Slot, expect?: Slot): string {
  let old: string | null = null
  let oldMtime: bigint | undefined
  try {
    oldMtime = fs.statSync(path, { bigint: true }).mtimeNs
    for (const text of fs.readFileSync(path, 'utf8').split('\n')) {
      const parts = text.trim().split(/\s+/)
      if (parts.length === 2 && parts[0] === 'live') old = parts[1]
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
  }
  if (expect !== undefined && (old ?? 'blue') !== expect)
    throw new LiveSlotChanged(
      `the live slot is ${old}, not ${expect}: another operation changed the site`
    )
  const tmp = `${path}.tmp.${process.pid}`
  const fd = fs.openSync(tmp, 'w', 0o644)
  try {
    fs.writeSync(fd, `live ${slot}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.chmodSync(tmp, 0o644)
  if (oldMtime !== undefined) {
    const mtime = fs.statSync(tmp, { bigint: true }).mtimeNs
    if (mtime / 1000n <= oldMtime / 1000n) {
      const bumped = Number(oldMtime) / 1e9 + 1
      fs.utimesSync(tmp, bumped, bumped)
    }
  }
  fs.renameSync(tmp, path)
  const dir = fs.openSync(dirname(path), 'r')
  try {
    fs.fsyncSync(dir)
  } finally {
    fs.closeSync(dir)
  }
  return old ?? ''
}

/** LIST_RELEASES, here: release name -> complete (release.json readable as JSON), its record, bad. */
export function listReleasesHere(
  releasesDir: string
): Record<string, { complete: boolean; info: unknown; bad: boolean }> {
  const out: Record<string, { complete: boolean; info: unknown; bad: boolean }> = {}
  let names: string[]
  try {
    names = fs.readdirSync(releasesDir).sort()
  } catch {
    return out
  }
  for (const name of names) {
    const p = `${releasesDir}/${name}`
    try {
      if (!fs.lstatSync(p).isDirectory()) continue
    } catch {
      continue
    }
    let info: unknown = null
    try {
      info = JSON.parse(fs.readFileSync(`${p}/release.json`, 'utf8'))
    } catch {
      // not installed completely
    }
    out[name] = { complete: info !== null, info, bad: fs.existsSync(`${p}/BAD`) }
  }
  return out
}

/** POINT_LINK, here: the link made aside and renamed over the old one. */
export function pointLinkHere(link: string, target: string): void {
  const tmp = `${link}.tmp.${process.pid}`
  fs.rmSync(tmp, { force: true })
  fs.symlinkSync(target, tmp)
  fs.renameSync(tmp, link)
}

/** The PIDs of a daemon group's processes, as group_pids in the group host scripts: those whose
 * working directory is the group's run dir. */
export function groupPidsHere(rundir: string): Set<number> {
  let real: string
  try {
    real = fs.realpathSync(rundir)
  } catch {
    real = rundir
  }
  const out = new Set<number>()
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (fs.readlinkSync(`/proc/${name}/cwd`) === real) out.add(Number(name))
    } catch {
      // gone, or not ours to read
    }
  }
  return out
}

/** SIGNAL_GROUP, here: the link pointed (when given) and SIGINT sent to the group's daemons,
 * waiting up to `graceSeconds` for one to run (Apache may be respawning the group). Returns the
 * PIDs signalled; none when no daemon came (then the link is left alone). */
export async function signalGroupHere(
  rundir: string,
  graceSeconds: number,
  link?: string,
  target?: string
): Promise<number[]> {
  const deadline = Date.now() + graceSeconds * 1000
  let old = [...groupPidsHere(rundir)]
  while (!old.length && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 20))
    old = [...groupPidsHere(rundir)]
  }
  old.sort((a, b) => a - b)
  if (!old.length) return []
  if (link !== undefined && target !== undefined) pointLinkHere(link, target)
  for (const pid of old) {
    try {
      process.kill(pid, 'SIGINT')
    } catch {
      // exited meanwhile
    }
  }
  return old
}

/** AWAIT_GROUP, here: waits until `want` new daemons run and none of `old`; returns the new
 * PIDs, or null at the timeout. */
export async function awaitGroupHere(
  rundir: string,
  want: number,
  timeoutSeconds: number,
  old: ReadonlySet<number>
): Promise<number[] | null> {
  const deadline = Date.now() + timeoutSeconds * 1000
  while (Date.now() < deadline) {
    const now = groupPidsHere(rundir)
    const fresh = [...now].filter(p => !old.has(p)).sort((a, b) => a - b)
    if (fresh.length >= want && ![...now].some(p => old.has(p))) return fresh
    await new Promise(r => setTimeout(r, 20))
  }
  return null
}
