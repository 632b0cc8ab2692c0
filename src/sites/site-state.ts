import type { SiteConfig } from '../config/model.js'
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

/** Read slots and live.map (single mode: the current link stands for the live slot). */
export async function readSiteState(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<SiteState> {
  const r = await exec.run(hostScript(python, scripts.READ_STATE, [site.root]))
  const raw = JSON.parse(r.stdout) as {
    slots: Record<Slot, string | null>
    live: string | null
    current: string | null
    initialized: boolean
    releases?: Record<string, { complete: boolean; bad: boolean }>
  }
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
  const r = await exec.run(
    hostScript(python, scripts.LIST_RELEASES, [siteLayout(site.root).releases])
  )
  const raw = JSON.parse(r.stdout) as Record<
    string,
    { complete: boolean; info: ReleaseRecord | null; bad: boolean }
  >
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

/** Restart a slot's daemon group: SIGINT to its processes, wait for new PIDs (a touch of the
 * script is not enough after a failed import). Returns the new PIDs. */
export async function restartSlotGroup(
  exec: Executor,
  site: SiteConfig,
  python: string,
  slot: Slot | 'current'
): Promise<string> {
  const l = siteLayout(site.root)
  const runDir = slot === 'current' ? `${site.root}/run/current` : l.slotRunDir(slot)
  const timeout = String(Math.max(30, site.apache.shutdownTimeout + 15))
  const r = await exec.tryRun(
    hostScript(python, scripts.RESTART_GROUP, [runDir, String(site.apache.processes), timeout])
  )
  if (r.code === 3)
    throw new SitecycleError(
      `no Apache daemon process of site ${site.name} slot ${slot} runs on ${exec.name}: is Apache running with the vhost sitecycle init wrote? (${r.stderr.trim()})`,
      'host'
    )
  if (r.code !== 0)
    throw new SitecycleError(
      `restarting slot ${slot} of site ${site.name} failed: ${r.stderr.trim()}`,
      'host'
    )
  return r.stdout.trim()
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
  status: number | null
  body: string
  error: string | null
}

/**
 * GET the health path from the host, one request at a time, until it answers 200 with the
 * expected version `successes` times in a row, or the site's health timeout passes. `slot`
 * uses the private route to that slot; undefined asks as a user would.
 */
export async function probeHealth(
  exec: Executor,
  site: SiteConfig,
  python: string,
  opts: { slot?: Slot; version?: string; successes?: number; timeout?: number }
): Promise<ProbeResult> {
  const r = await exec.tryRun(
    hostScript(python, scripts.PROBE_HTTP, [
      loopbackUrl(site, site.health.path),
      site.apache.serverName,
      opts.slot ?? '',
      site.health.expectVersion ? (opts.version ?? '') : '',
      String(opts.timeout ?? site.health.timeout),
      String(opts.successes ?? 3)
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
  return { ok: r.code === 0, ...last }
}

/** One sentence on a failed probe. */
export function describeProbe(p: ProbeResult, what: string, version?: string): string {
  if (p.error) return `${what} did not answer: ${p.error}`
  const body = p.body.trim().slice(0, 200).replace(/\s+/g, ' ')
  if (p.status !== 200) return `${what} answered HTTP ${p.status}${body ? `: ${body}` : ''}`
  return `${what} answered 200 but not version ${version} (body: ${body})`
}
