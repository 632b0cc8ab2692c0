import { createHash } from 'node:crypto'
import type { SiteConfig } from '../config/model.js'

/** The two slots of a blue/green site. */
export type Slot = 'blue' | 'green'
export const SLOTS: readonly Slot[] = ['blue', 'green']

/** The other slot. */
export function otherSlot(slot: Slot): Slot {
  return slot === 'blue' ? 'green' : 'blue'
}

/** Name of the placeholder virtualenv the slots point at before the first deploy. */
export const EMPTY_RELEASE = '_empty'

/**
 * Every path of a site on its host (shared/DESIGN.md, "A site on its host"). Pure: builds
 * strings from the site root and touches nothing.
 */
export interface SiteLayout {
  root: string
  releases: string
  release(version: string): string
  slots: string
  slot(slot: Slot): string
  /** Working directory of a slot's daemon processes: how their PIDs are found. */
  slotRunDir(slot: Slot): string
  wsgiDir: string
  wsgiScript(slot: Slot): string
  liveMap: string
  /** Single-group mode: the `current` link and its one WSGI script. */
  current: string
  currentScript: string
  shared: string
  snapshots: string
  maintenance: string
  state: string
  journal: string
  lock: string
  lockHolder: string
  siteFile: string
  incoming: string
}

export function siteLayout(root: string): SiteLayout {
  const j = (...parts: string[]) => [root, ...parts].join('/')
  return {
    root,
    releases: j('releases'),
    release: v => j('releases', v),
    slots: j('slots'),
    slot: s => j('slots', s),
    slotRunDir: s => j('run', s),
    wsgiDir: j('wsgi'),
    wsgiScript: s => j('wsgi', `${s}.wsgi`),
    liveMap: j('live.map'),
    current: j('current'),
    currentScript: j('wsgi', 'current.wsgi'),
    shared: j('shared'),
    snapshots: j('snapshots'),
    maintenance: j('maintenance'),
    state: j('.sitecycle'),
    journal: j('.sitecycle', 'journal.jsonl'),
    lock: j('.sitecycle', 'lock'),
    lockHolder: j('.sitecycle', 'lock', 'holder.json'),
    siteFile: j('.sitecycle', 'site.json'),
    incoming: j('.sitecycle', 'incoming')
  }
}

/**
 * Apache-wide unique daemon group name of a site's slot: the site name plus a short hash of
 * its root, so two sites named alike on one Apache never share a group.
 */
export function processGroupName(
  site: Pick<SiteConfig, 'name' | 'root'>,
  slot: Slot | 'current'
): string {
  const hash = createHash('sha256').update(site.root).digest('hex').slice(0, 8)
  return `sitecycle-${site.name}-${hash}-${slot}`
}

/** File name of the vhost sitecycle writes for a site. */
export function vhostFileName(site: Pick<SiteConfig, 'name' | 'root'>): string {
  const hash = createHash('sha256').update(site.root).digest('hex').slice(0, 8)
  return `sitecycle-${site.name}-${hash}.conf`
}
