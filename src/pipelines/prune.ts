import type { SiteConfig } from '../config/model.js'
import { removeTree } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout } from '../sites/layout.js'
import { listReleases, readSiteState, type InstalledRelease } from '../sites/site-state.js'

/** Which release directories to remove: beyond the newest `keep` (by install time), never one
 * a slot points at (the live one and the one before it, kept warm for a rollback). Pure. */
export function choosePrunable(
  releases: InstalledRelease[],
  keep: number,
  inSlots: Set<string>
): string[] {
  const complete = releases
    .filter(r => r.complete)
    .sort((a, b) => (b.info?.installedAt ?? '').localeCompare(a.info?.installedAt ?? ''))
  const kept = new Set<string>(inSlots)
  for (const r of complete) {
    if (kept.size >= Math.max(keep, inSlots.size)) break
    kept.add(r.dir)
  }
  return complete.filter(r => !kept.has(r.dir)).map(r => r.dir)
}

/** What a caller holding the site lock already knows, so prune reads nothing again. */
export interface KnownReleases {
  /** The release directories (listReleases). */
  releases: InstalledRelease[]
  /** The releases the slots point at. */
  inSlots: Set<string>
  /** Other paths to remove in the same `rm` (e.g. the operation's upload folder). */
  alsoRemove?: string[]
}

/** Remove the releases choosePrunable names (and `known.alsoRemove`); returns their names.
 * Without `known`, the slots and releases are read from the host first. */
export async function pruneReleases(
  exec: Executor,
  site: SiteConfig,
  python: string,
  known?: KnownReleases
): Promise<string[]> {
  let releases = known?.releases
  let inSlots = known?.inSlots
  if (!releases || !inSlots) {
    const [state, listed] = await Promise.all([
      readSiteState(exec, site, python),
      listReleases(exec, site, python)
    ])
    releases = listed
    inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean) as string[])
  }
  const remove = choosePrunable(releases, site.keepReleases, inSlots)
  const paths = [...remove.map(d => siteLayout(site.root).release(d)), ...(known?.alsoRemove ?? [])]
  if (paths.length) await exec.run(removeTree(...paths))
  return remove
}
