/**
 * `sitecycle sites`: every site of the config with its role, host, live release, last sync and
 * last snapshot: the life cycle at a glance (preview → production → old). Read only; a host
 * that cannot be reached is reported on its row, not as a failure of the whole list.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { hostLabel } from '../config/load-config.js'
import type { Executor } from '../hosts/executor.js'
import { Journal } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import { applyIdentity, readIdentity } from '../sites/identity.js'
import { readSiteState } from '../sites/site-state.js'
import { listSnapshots } from '../snapshots/list.js'

export interface SiteRow {
  site: string
  role: SiteConfig['role']
  host: string
  url: string
  initialized: boolean
  live: string | null
  /** When the site was last synced from its `from` site (a preview), ISO 8601. */
  lastSync: string | null
  /** The newest complete snapshot: its id and when it was taken. */
  lastSnapshot: { id: string; takenAt: string } | null
  /**
   * The role and URL sitecycle.yml gives the site, when its host knows better (an upgrade attempt
   * promoted it or replaced it: sites/identity.ts); absent otherwise.
   */
  configSays?: { role: SiteConfig['role']; url: string }
  /** Role old: when `sitecycle remove` may take it. */
  removeAfter?: string
  /** Why the row is incomplete (e.g. the host did not answer). */
  error?: string
}

/** One row per site, in config order. */
export async function listSites(
  config: SitecycleConfig,
  executorFor: (site: SiteConfig) => Executor
): Promise<SiteRow[]> {
  const rows: SiteRow[] = []
  for (const site of Object.values(config.sites)) {
    const row: SiteRow = {
      site: site.name,
      role: site.role,
      host: hostLabel(site.host),
      url: site.url,
      initialized: false,
      live: null,
      lastSync: null,
      lastSnapshot: null
    }
    try {
      const exec = executorFor(site)
      const identity = await readIdentity(exec, site)
      const effective = applyIdentity(site, identity)
      if (effective !== site) {
        row.role = effective.role
        row.url = effective.url
        row.configSays = { role: site.role, url: site.url }
        if (identity?.removeAfter) row.removeAfter = identity.removeAfter
      }
      const state = await readSiteState(exec, site, config.app.python)
      row.initialized = state.initialized
      row.live = state.live
      if (state.initialized) {
        const ops = await new Journal(exec, siteLayout(site.root).journal).operations()
        const sync = ops
          .filter(o => o.op === 'sync' && o.end && !/fail/.test(String(o.end.status)))
          .pop()
        row.lastSync = sync ? String(sync.end?.at ?? sync.start.at) : null
        const snaps = (await listSnapshots(exec, site, config.app.python)).filter(s => s.complete)
        const newest = snaps.sort((a, b) => a.takenAt.localeCompare(b.takenAt)).pop()
        row.lastSnapshot = newest ? { id: newest.id, takenAt: newest.takenAt } : null
      }
    } catch (e) {
      row.error = e instanceof Error ? e.message.split('\n')[0] : String(e)
    }
    rows.push(row)
  }
  return rows
}

/** The rows as an aligned table. */
export function formatSites(rows: SiteRow[]): string {
  const head = ['site', 'role', 'live', 'last sync', 'last snapshot', 'host']
  const body = rows.map(r => [
    r.site,
    r.role + (r.configSays ? ` (sitecycle.yml: ${r.configSays.role})` : ''),
    r.initialized ? (r.live ?? 'none') : r.error ? '?' : 'not initialized',
    r.lastSync ? r.lastSync.replace(/\.\d+Z$/, 'Z') : '-',
    r.lastSnapshot ? r.lastSnapshot.id : '-',
    r.host + (r.error ? ` (${r.error})` : '')
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map(b => b[i].length)))
  return (
    [head, ...body]
      .map(cols => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
      .join('\n') +
    (rows.some(r => r.configSays)
      ? '\n\nAn upgrade attempt changed the roles marked (sitecycle.yml: ...): update sitecycle.yml to match.'
      : '')
  )
}
