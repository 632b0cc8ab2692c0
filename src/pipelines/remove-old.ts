/**
 * `sitecycle remove <site>`: take away a site whose role on its host is `old` (the production an
 * upgrade attempt replaced) once its kept time is over: its vhost (file and enabling link), then
 * its releases, slots, WSGI scripts, shared files and maintenance page. Kept, so that nothing is
 * lost: its snapshots and its journal (`snapshots/`, `.sitecycle/`), and its database (named in
 * the output, to drop by hand when nobody needs it).
 *
 * Apache is not reloaded by default (a graceful restarts every daemon group on it, production's
 * too): it forgets the vhost at its next reload. `reload: true` reloads at once.
 */
import { apacheConfigTest, apacheGraceful } from '../commands/apache.js'
import { removeFile, removeTree } from '../commands/files.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { applyIdentity, readIdentity } from '../sites/identity.js'
import { siteLayout, vhostFileName } from '../sites/layout.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation } from './operation.js'

export interface RemoveRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** Remove before the kept time is over. */
  now?: boolean
  /** Reload Apache afterwards. */
  reload?: boolean
  lockWait?: number
  /** The clock (tests). */
  clock?: () => Date
}

export interface RemoveOutcome {
  site: string
  status: 'removed'
  removed: string[]
  kept: string[]
  /** The database left in place, when the site has one. */
  database?: string
  reloaded: boolean
}

/** Remove an old site (see the module comment). Refuses any site that is not old on its host. */
export async function removeOldSite(req: RemoveRequest): Promise<RemoveOutcome> {
  const { site, exec } = req
  const identity = await readIdentity(exec, site)
  // The site as sitecycle.yml has it (the caller may pass it as its host knows it already).
  const configured = Object.hasOwn(req.config.sites, site.name)
    ? { ...req.config.sites[site.name], host: site.host }
    : site
  const effective = applyIdentity(configured, identity)
  if (effective.role !== 'old')
    throw new SitecycleError(
      `site ${site.name} is not old (${effective !== configured ? 'its host says' : 'sitecycle.yml says'} ${effective.role}): remove takes away only a production an upgrade attempt replaced`,
      'site'
    )
  const now = (req.clock ?? (() => new Date()))()
  if (identity?.removeAfter && !req.now && Date.parse(identity.removeAfter) > now.getTime())
    throw new SitecycleError(
      `site ${site.name} is kept until ${identity.removeAfter} (set when attempt ${identity.attempt} promoted its successor): remove it after that, or now with --now`,
      'site'
    )
  const l = siteLayout(site.root)
  const vhost = `${site.apache.confDir}/${vhostFileName(site)}`
  const link = site.apache.enableDir ? `${site.apache.enableDir}/${vhostFileName(site)}` : undefined
  return withSiteOperation(
    {
      op: 'remove',
      config: req.config,
      site,
      exec,
      reporter: req.reporter,
      lockWait: req.lockWait
    },
    { attempt: identity?.attempt ?? null },
    async () => {
      const removed: string[] = []
      if (link) {
        await exec.run(removeFile(link))
        removed.push(link)
      }
      await exec.run(removeFile(vhost))
      removed.push(vhost)
      let reloaded = false
      if (req.reload) {
        const t = await exec.tryRun(apacheConfigTest(site))
        if (t.code !== 0)
          throw new SitecycleError(
            `apachectl configtest fails without the vhost of site ${site.name}: ${(t.stderr || t.stdout).trim()}`,
            'apache'
          )
        await exec.run(apacheGraceful(site))
        reloaded = true
      }
      const parts = [
        l.releases,
        l.slots,
        l.wsgiDir,
        l.shared,
        l.maintenance,
        l.liveMap,
        l.current,
        `${site.root}/run`
      ]
      await exec.run(removeTree(...parts))
      removed.push(...parts)
      const kept = [l.snapshots, l.journal]
      req.reporter.info(
        `site ${site.name} removed: its vhost and releases are gone; kept ${kept.join(', ')}` +
          (site.database
            ? `; its ${site.database.engine} database ${site.database.name} is left: drop it when nobody needs it`
            : '') +
          (reloaded ? '' : '; Apache forgets the vhost at its next reload')
      )
      return {
        site: site.name,
        status: 'removed' as const,
        removed,
        kept,
        ...(site.database && { database: site.database.name }),
        reloaded,
        journal: { removed: removed.length }
      }
    }
  )
}
