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

/** Remove the releases choosePrunable names; returns their names. */
export async function pruneReleases(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<string[]> {
  const state = await readSiteState(exec, site, python)
  const releases = await listReleases(exec, site, python)
  const inSlots = new Set([state.slots.blue, state.slots.green].filter(Boolean) as string[])
  const remove = choosePrunable(releases, site.keepReleases, inSlots)
  if (remove.length)
    await exec.run(removeTree(...remove.map(d => siteLayout(site.root).release(d))))
  return remove
}
