/**
 * Reloading Apache for a change of vhosts (a promote, which gives two sites each other's address).
 * `apachectl graceful` restarts every daemon group, so it never runs during a deploy; a promote
 * does it once, while both of its sites are frozen (users get the maintenance page, served by
 * Apache itself, not by a daemon). After the graceful, wait until every daemon group of the sites
 * runs in new processes: until then an old process may still answer with the old vhost's group.
 */
import { apacheGraceful } from '../commands/apache.js'
import { LIST_GROUP } from '../commands/host-scripts.js'
import { hostScript } from '../commands/python.js'
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { SLOTS, siteLayout } from './layout.js'

/** The run directories of a site's daemon groups (how their processes are found). */
export function daemonRunDirs(site: SiteConfig): string[] {
  const l = siteLayout(site.root)
  return site.apache.mode === 'blue-green'
    ? SLOTS.map(s => l.slotRunDir(s))
    : [`${site.root}/run/current`]
}

/** The PIDs of each daemon group of the site, by run directory. */
export async function daemonPids(
  exec: Executor,
  site: SiteConfig,
  python: string
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const dir of daemonRunDirs(site)) {
    const r = await exec.run(hostScript(python, LIST_GROUP, [dir]))
    out[dir] = r.stdout.trim().split(/\s+/).filter(Boolean)
  }
  return out
}

/**
 * `apachectl graceful`, then wait (up to `timeoutMs`) until every daemon group of `sites` runs,
 * in processes none of which ran before. Throws a SitecycleError naming the group that did not.
 */
export async function reloadApache(
  exec: Executor,
  sites: SiteConfig[],
  python: string,
  timeoutMs = 30_000
): Promise<void> {
  const before = new Map<string, Set<string>>()
  for (const site of sites)
    for (const [dir, pids] of Object.entries(await daemonPids(exec, site, python)))
      before.set(dir, new Set(pids))
  await exec.run(apacheGraceful(sites[0]))
  const deadline = Date.now() + timeoutMs
  for (const site of sites) {
    for (const dir of daemonRunDirs(site)) {
      for (;;) {
        const r = await exec.run(hostScript(python, LIST_GROUP, [dir]))
        const pids = r.stdout.trim().split(/\s+/).filter(Boolean)
        const old = before.get(dir) ?? new Set<string>()
        if (pids.length && !pids.some(p => old.has(p))) break
        if (Date.now() > deadline)
          throw new SitecycleError(
            `after apachectl graceful, the daemon processes of site ${site.name} (${dir}) did not restart within ${Math.round(timeoutMs / 1000)}s: see ${site.root}/shared/logs/error.log`,
            'apache'
          )
        await new Promise(res => setTimeout(res, 100))
      }
    }
  }
}
