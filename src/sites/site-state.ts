import type { SiteConfig } from '../config/model.js'
import { HEALTH_URI } from '../config/schema.js'
import type { Command } from '../commands/command.js'
import { hostScript } from '../commands/python.js'
import * as scripts from '../commands/host-scripts.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { EMPTY_RELEASE, otherSlot, siteLayout, type Slot } from './layout.js'

/** What a release directory holds, as recorded in its release.json. */
export interface ReleaseRecord {
  version: string
  name: string
  sha256: string
  file: string
  installedAt: string
  operation: string
}

export interface InstalledRelease {
  /** Directory name under releases/ (the version). */
  dir: string
  complete: boolean
  bad: boolean
  info?: ReleaseRecord
}

/** The state of a site on its host, read in one round trip. */
export interface SiteState {
  initialized: boolean
  /** Release directory each slot points at (null when none). */
  slots: Record<Slot, string | null>
  liveSlot: Slot
  idleSlot: Slot
  /** Release the users get (null before the first deploy). */
  live: string | null
  /** Release in the idle slot, kept warm for a rollback (null when none). */
  idle: string | null
  /** Whether the releases the slots point at are completely installed, and marked bad. */
  slotReleases: Record<string, { complete: boolean; bad: boolean }>
}

function real(release: string | null): string | null {
  return release && release !== EMPTY_RELEASE ? release : null
}

/** What READ_STATE prints. */
export interface RawSiteState {
  slots: Record<Slot, string | null>
  live: string | null
  current: string | null
  initialized: boolean
  /** Why this user cannot tell whether the site is initialized (permission denied). */
  unreadable?: string
  releases?: Record<string, { complete: boolean; bad: boolean }>
}

/** The state READ_STATE (or WARM_SWITCH) printed, seen through the site's mode (single mode:
 * the current link stands for the live slot). */
export function siteStateFromRaw(site: SiteConfig, raw: RawSiteState): SiteState {
  if (site.apache.mode === 'single') {
    return {
      initialized: raw.initialized,
      slots: { blue: raw.current, green: null },
      liveSlot: 'blue',
      idleSlot: 'green',
      live: real(raw.current),
      idle: null,
      slotReleases: raw.releases ?? {}
    }
  }
  const liveSlot: Slot = raw.live === 'green' ? 'green' : 'blue'
  const idleSlot = otherSlot(liveSlot)
  return {
    initialized: raw.initialized,
    slots: raw.slots,
    liveSlot,
    idleSlot,
    live: real(raw.slots[liveSlot]),
    idle: real(raw.slots[idleSlot]),
    slotReleases: raw.releases ?? {}
  }
}

/** Read slots and live.map (single mode: the current link stands for the live slot). */
export async function readSiteState(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<SiteState> {
  let raw: RawSiteState
  try {
    const r = await exec.run(hostScript(python, scripts.READ_STATE, [site.root]))
    raw = JSON.parse(r.stdout) as RawSiteState
  } catch (e) {
    const stderr = (e as { stderr?: unknown }).stderr
    const detail = typeof stderr === 'string' && stderr.trim() ? stderr : String(e)
    if ((e as NodeJS.ErrnoException).code === 'EACCES' || /Permission denied/i.test(detail))
      throw unreadableSite(exec, site, detail)
    throw e
  }
  if (raw.unreadable !== undefined) throw unreadableSite(exec, site, raw.unreadable)
  return siteStateFromRaw(site, raw)
}

function unreadableSite(exec: Executor, site: SiteConfig, detail: string): SitecycleError {
  return new SitecycleError(
    `site ${site.name} at ${site.root} on ${exec.name} cannot be read by this user (${detail.trim().split('\n').pop()}): ` +
      `run sitecycle as the user that owns the site, or as root`,
    'host'
  )
}

/** Fail with the command to run when the site was never initialized. */
export function requireInitialized(state: SiteState, site: SiteConfig, exec: Executor): void {
  if (!state.initialized)
    throw new SitecycleError(
      `site ${site.name} is not initialized at ${site.root} on ${exec.name}: run \`sitecycle init ${site.name}\` first`,
      'site'
    )
}

/** The installed releases under releases/, with their records. */
export async function listReleases(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<InstalledRelease[]> {
  type Listing = Record<string, { complete: boolean; info: ReleaseRecord | null; bad: boolean }>
  const dir = siteLayout(site.root).releases
  const raw = JSON.parse(
    (await exec.run(hostScript(python, scripts.LIST_RELEASES, [dir]))).stdout
  ) as Listing
  return Object.entries(raw)
    .filter(([dir]) => dir !== EMPTY_RELEASE && !dir.startsWith('.'))
    .map(([dir, v]) => ({ dir, complete: v.complete, bad: v.bad, info: v.info ?? undefined }))
}

/** Point a slot at a release directory (atomic link swap). */
export async function pointSlot(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot,
  release: string
): Promise<void> {
  const l = siteLayout(site.root)
  const link = site.apache.mode === 'single' ? l.current : l.slot(slot)
  const target = site.apache.mode === 'single' ? `releases/${release}` : `../releases/${release}`
  await exec.run(hostScript(python, scripts.POINT_LINK, [link, target]))
}

/** A slot's daemon group as the group host scripts take it: its run dir (its daemons' working
 * directory), and the link and target that point it at a release. */
function groupArgs(
  site: SiteConfig,
  slot: Slot | 'current',
  pointAt?: string
): { runDir: string; link: string[] } {
  const l = siteLayout(site.root)
  const runDir = slot === 'current' ? `${site.root}/run/current` : l.slotRunDir(slot)
  const link =
    pointAt === undefined
      ? []
      : slot === 'current' || site.apache.mode === 'single'
        ? [l.current, `releases/${pointAt}`]
        : [l.slot(slot), `../releases/${pointAt}`]
  return { runDir, link }
}

/** How long to wait for a group's new daemons: its old ones may finish requests first. */
function restartTimeout(site: SiteConfig): string {
  return String(Math.max(30, site.apache.shutdownTimeout + 15))
}

/**
 * How long to wait for a slot's daemon group when none of its processes runs: Apache's parent
 * respawns daemons that exited (signalled by an earlier restart, e.g. restart-idle just before a
 * failed step, whose undo restarts the group again) on its once-a-second maintenance tick, later
 * on a busy host. Only a group that stays absent this long means Apache does not run it.
 */
export const RESPAWN_GRACE_SECONDS = 10

function noDaemon(exec: Executor, site: SiteConfig, slot: Slot | 'current', why: string): Error {
  return new SitecycleError(
    `no Apache daemon process of site ${site.name} slot ${slot} runs on ${exec.name}: is Apache running with the vhost sitecycle init wrote? (${why})`,
    'host'
  )
}

function restartFailed(site: SiteConfig, slot: Slot | 'current', why: string): Error {
  return new SitecycleError(`restarting slot ${slot} of site ${site.name} failed: ${why}`, 'host')
}

/** The stdout of a group host script, or the error that says what went wrong. */
async function runGroupScript(
  exec: Executor,
  site: SiteConfig,
  slot: Slot | 'current',
  command: Command
): Promise<string> {
  const r = await exec.tryRun(command)
  if (r.code === 3) throw noDaemon(exec, site, slot, r.stderr.trim())
  if (r.code !== 0) throw restartFailed(site, slot, r.stderr.trim())
  return r.stdout.trim()
}

/** Restart a slot's daemon group: SIGINT to its processes, wait for new PIDs (a touch of the
 * script is not enough after a failed import). Returns the new PIDs. */
export async function restartSlotGroup(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot | 'current'
): Promise<string> {
  const { runDir } = groupArgs(site, slot)
  return runGroupScript(
    exec,
    site,
    slot,
    hostScript(python, scripts.RESTART_GROUP, [
      runDir,
      String(site.apache.processes),
      restartTimeout(site),
      String(RESPAWN_GRACE_SECONDS)
    ])
  )
}

/** The first half of {@link restartSlotGroup}: point the slot at `pointAt` and send SIGINT to its
 * daemons in one host program (neither when no daemon of the group runs), without waiting for
 * Apache to respawn them (it does so on its next maintenance tick, within a second). Returns
 * the PIDs signalled, for {@link awaitSlotGroup}. */
export async function signalSlotGroup(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot,
  pointAt: string
): Promise<string> {
  const { runDir, link } = groupArgs(site, slot, pointAt)
  return runGroupScript(
    exec,
    site,
    slot,
    hostScript(python, scripts.SIGNAL_GROUP, [runDir, String(RESPAWN_GRACE_SECONDS), ...link])
  )
}

/** The second half of {@link restartSlotGroup}: wait until the daemons {@link signalSlotGroup}
 * signalled (`old`, its output) are replaced by new ones. Returns the new PIDs. */
export async function awaitSlotGroup(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot,
  old: string
): Promise<string> {
  const { runDir } = groupArgs(site, slot)
  return runGroupScript(
    exec,
    site,
    slot,
    hostScript(python, scripts.AWAIT_GROUP, [
      runDir,
      String(site.apache.processes),
      restartTimeout(site),
      old
    ])
  )
}

/** Rename live.map over with the given slot; with `expectLive`, only if that slot is live now
 * (no other operation switched since the state was read). Returns the slot that was live. */
export async function switchLiveSlot(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot,
  expectLive?: Slot
): Promise<string> {
  const args = [siteLayout(site.root).liveMap, slot, ...(expectLive ? [expectLive] : [])]
  const r = await exec.tryRun(hostScript(python, scripts.SWITCH_MAP, args))
  if (r.code === 4) throw new SitecycleError(`site ${site.name}: ${r.stderr.trim()}`, 'site')
  if (r.code !== 0)
    throw new SitecycleError(
      `switching site ${site.name} to slot ${slot} failed on ${exec.name}: ${r.stderr.trim()}`,
      'host'
    )
  return r.stdout.trim()
}

/** The URL the host itself uses to reach the vhost (loopback, the vhost's port). */
export function loopbackUrl(site: SiteConfig, path: string): string {
  const m = /:(\d+)$/.exec(site.apache.listen)
  const port = m ? m[1] : '80'
  return `http://127.0.0.1:${port}${path}`
}

export interface ProbeResult {
  ok: boolean
  /** The path asked: HEALTH_URI, or the site's health.path of a WSGI script older than it. */
  path: string
  status: number | null
  body: string
  error: string | null
}

/** What a health probe asks: the private route to `slot` (undefined: as a user would), the
 * version the answer must carry, answers in a row needed, seconds to wait. */
export interface ProbeOptions {
  slot?: Slot
  version?: string
  successes?: number
  timeout?: number
}

/**
 * GET sitecycle's health path (HEALTH_URI, answered by the slot's WSGI script with the
 * release's version, and the application's own health path's status when one is set) from the
 * host, one request at a time, until it answers 200 with the expected version `successes` times
 * in a row, or the site's health timeout passes. A slot whose WSGI script is older than that
 * path (written by an earlier sitecycle, until the next deploy rewrites it) answers 404 from
 * the application: its `health.path` (or, unset, /__version__, the default then) is asked
 * instead, as then, the version expected only with `health.expect_version`. `slot` uses the private route to that slot; undefined asks as a user
 * would.
 */
export async function probeHealth(
  exec: Executor,
  site: SiteConfig,
  python: string,
  opts: ProbeOptions
): Promise<ProbeResult> {
  const first = await probePath(exec, site, python, opts, HEALTH_URI, opts.version ?? '')
  if (first.ok || first.status !== 404) return first
  const version = site.health.expectVersion ? (opts.version ?? '') : ''
  const path = site.health.path === HEALTH_URI ? FORMER_HEALTH_PATH : site.health.path
  return probePath(exec, site, python, opts, path, version)
}

/** The default health.path before HEALTH_URI: what a site that set none answered then. */
const FORMER_HEALTH_PATH = '/__version__'

/**
 * GET `path` until it answers 200 (with `version`, unless '') `successes` times in a row. An
 * executor with `httpGet` (the local one) asks from here without starting a process; otherwise
 * the host runs PROBE_HTTP. Both follow the same rules.
 */
async function probePath(
  exec: Executor,
  site: SiteConfig,
  python: string,
  opts: ProbeOptions,
  path: string,
  version: string
): Promise<ProbeResult> {
  const url = loopbackUrl(site, path)
  const timeout = opts.timeout ?? site.health.timeout
  const successes = opts.successes ?? 3
  if (exec.httpGet)
    return {
      path,
      ...(await probeFromHere(exec.httpGet.bind(exec), {
        url,
        host: site.apache.serverName,
        slot: opts.slot ?? '',
        version,
        timeout,
        successes
      }))
    }
  const r = await exec.tryRun(
    hostScript(python, scripts.PROBE_HTTP, [
      url,
      site.apache.serverName,
      opts.slot ?? '',
      version,
      String(timeout),
      String(successes)
    ])
  )
  let last: { status: number | null; body: string; error: string | null } = {
    status: null,
    body: '',
    error: r.stderr.trim()
  }
  try {
    last = JSON.parse(r.stdout.trim().split('\n').pop() ?? '')
  } catch {
    // keep the stderr as the error
  }
  return { ok: r.code === 0, path, ...last }
}

/** PROBE_HTTP's arguments. */
export interface ProbeRequest {
  url: string
  /** The Host header (the vhost's ServerName). */
  host: string
  /** The private route's slot header ('' for the public route). */
  slot: string
  /** The version the body must be, or carry as JSON `version` ('' for any). */
  version: string
  /** Seconds. */
  timeout: number
  successes: number
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Whether a health answer's body is the version (plain, or JSON with `version`). */
export function bodyHasVersion(body: string, version: string): boolean {
  const b = body.trim()
  if (b === version) return true
  try {
    return (JSON.parse(b) as { version?: unknown } | null)?.version === version
  } catch {
    return false
  }
}

/**
 * PROBE_HTTP's loop, run here with `get` (Executor.httpGet): one request at a time, redirects
 * followed (as urllib does, up to 10), `successes` good answers in a row needed; an answer from
 * the application itself that is not good fails after a grace of up to 3 s, a server still
 * starting (no answer, 502-504) is waited for until the timeout.
 */
export async function probeFromHere(
  get: NonNullable<Executor['httpGet']>,
  p: ProbeRequest
): Promise<Omit<ProbeResult, 'path'>> {
  const deadline = Date.now() + p.timeout * 1000
  const headers: Record<string, string> = { Host: p.host, 'User-Agent': 'sitecycle-verify' }
  if (p.slot) headers['X-Sitecycle-Slot'] = p.slot
  let last: Omit<ProbeResult, 'ok' | 'path'> = { status: null, body: '', error: null }
  let ok = 0
  let definite: number | undefined
  for (;;) {
    try {
      let url = p.url
      let a = await get(url, { headers, timeoutMs: 10_000 })
      for (let hops = 0; REDIRECTS.has(a.status) && hops < 10; hops++) {
        const location = a.location
        if (!location) break
        url = new URL(location, url).toString()
        a = await get(url, { headers, timeoutMs: 10_000 })
      }
      last = { status: a.status, body: a.body, error: null }
    } catch (e) {
      last = {
        status: null,
        body: '',
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      }
    }
    const good = last.status === 200 && (!p.version || bodyHasVersion(last.body, p.version))
    ok = good ? ok + 1 : 0
    if (ok >= p.successes) return { ok: true, ...last }
    if (!good && last.status !== null && ![502, 503, 504].includes(last.status)) {
      definite ??= Date.now()
      if (Date.now() - definite >= Math.min(3, p.timeout) * 1000) return { ok: false, ...last }
    } else definite = undefined
    if (Date.now() >= deadline) return { ok: false, ...last }
    await new Promise(r => setTimeout(r, good ? 20 : 250))
  }
}

/** How to stop requiring the version in the application's health answer. */
const EXPECT_VERSION_OFF =
  'if that path does not show the version, set health.expect_version: false to check only its status'

/**
 * One sentence on a failed probe: what answered what, at which path; from HEALTH_URI's JSON,
 * which release the slot serves or what the application's own health path answered.
 */
export function describeProbe(p: ProbeResult, what: string, version?: string): string {
  const at = `${what} (GET ${p.path})`
  if (p.error) return `${at} did not answer: ${p.error}`
  const body = p.body.trim().slice(0, 200).replace(/\s+/g, ' ')
  const health = p.path === HEALTH_URI ? parseHealthAnswer(p.body) : undefined
  if (health?.app && (health.app.status !== 200 || health.app.version === false)) {
    const app = health.app
    if (app.status === null)
      return `${at}: the application's ${app.path} raised ${app.error ?? 'an error'}`
    if (app.status !== 200)
      return `${at}: the application's ${app.path} answered HTTP ${app.status}`
    return `${at}: the application's ${app.path} answered 200 but not version ${health.version} (${EXPECT_VERSION_OFF})`
  }
  if (p.status !== 200) return `${at} answered HTTP ${p.status}${body ? `: ${body}` : ''}`
  if (health) return `${at}: the slot serves release ${health.version}, not ${version}`
  return `${at} answered 200 but not version ${version} (body: ${body}; ${EXPECT_VERSION_OFF})`
}

/** HEALTH_URI's answer (commands/apache.ts renderWsgiScript), or undefined if it is not one. */
interface HealthAnswer {
  version: string
  app?: { path: string; status: number | null; version?: boolean; error?: string }
}

function parseHealthAnswer(body: string): HealthAnswer | undefined {
  try {
    const a = JSON.parse(body) as HealthAnswer | null
    return typeof a?.version === 'string' ? a : undefined
  } catch {
    return undefined
  }
}
