/**
 * Becoming a site's Apache user on its host, for what runs the site's code outside Apache
 * (`sitecycle run`, the after_install hooks): files it makes are the application's, and it can
 * do nothing the application could not.
 */
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/**
 * How the host's user becomes the site's: `argv`, the prefix that runs a command as
 * `user`:`group` (nothing when the host's user is already that user, `setpriv` (util-linux) when
 * it is root); or `uid`, the host's user, who cannot switch.
 */
export type SiteUserSwitch = { argv: string[] } | { uid: string }

/** Finds how to run as the site's user; a user that does not exist on the host is refused. */
export async function siteUserSwitch(exec: Executor, site: SiteConfig): Promise<SiteUserSwitch> {
  const { user, group } = site.apache
  const ids = await exec.tryRun({ argv: ['id', '-u', '--', user] })
  const me = await exec.run({ argv: ['id', '-u'] })
  if (ids.code !== 0)
    throw new SitecycleError(
      `the site's user ${user} (sites.${site.name}.apache.user) does not exist on ${exec.name}`,
      'site'
    )
  const target = ids.stdout.trim()
  const current = me.stdout.trim()
  if (current === target) return { argv: [] }
  if (current === '0')
    return { argv: ['setpriv', `--reuid=${user}`, `--regid=${group}`, '--init-groups', '--'] }
  return { uid: current }
}

/**
 * The argv prefix that runs a command as the site's user (siteUserSwitch). Anyone who cannot
 * switch is told so before anything runs; `what` names what runs (`sitecycle run runs commands`).
 */
export async function asSiteUser(
  exec: Executor,
  site: SiteConfig,
  what = 'sitecycle run runs commands'
): Promise<string[]> {
  const s = await siteUserSwitch(exec, site)
  if ('argv' in s) return s.argv
  const { user } = site.apache
  throw new SitecycleError(
    `${what} as the site's user ${user} on ${exec.name}: run it as root or as ${user} (this is uid ${s.uid})`,
    'site'
  )
}
