/**
 * The hosts of a site: one (`host:`) or several (`hosts:`, deployed one after another by a
 * workflow matrix, the first as the canary). An operation works on one host at a time; these
 * helpers pick it.
 */
import { SitecycleError } from '../util/errors.js'
import { HOST_FORM, hostLabel, tryParseHost } from './host-spec.js'
import type { HostSpec, SiteConfig } from './model.js'

/** Every host of a site, in the order of the config file: the first is the canary of a rolling deploy. */
export function siteHosts(site: SiteConfig): HostSpec[] {
  return site.hosts && site.hosts.length > 0 ? site.hosts : [site.host]
}

/** The hosts of a site as a rolling deploy takes them: the canary first, then the rest. */
export interface HostPlan {
  /** The site's name. */
  site: string
  /** Every host, canonically written (`local` or `ssh://user@host:port`). */
  hosts: string[]
  /** The first host: deployed and verified before any other. */
  canary: string
  /** The other hosts, in order (empty for a site on one host). */
  rest: string[]
}

/** The rolling-deploy order of a site's hosts (what `sitecycle hosts <site> --json` prints). */
export function hostPlan(site: SiteConfig): HostPlan {
  const hosts = siteHosts(site).map(hostLabel)
  return { site: site.name, hosts, canary: hosts[0], rest: hosts.slice(1) }
}

/**
 * The site as seen on one of its hosts: `host` replaced by the one `asked` names (written as in the
 * config; `ssh://deploy@web1` matches `ssh://deploy@web1:22`). With nothing asked, a site on one
 * host is returned as it is, and a site on several is an error: an operation never guesses which.
 * `option` names where the host was asked for in messages (`--host`, `input 'host'`).
 */
export function siteOnHost(
  site: SiteConfig,
  asked: string | undefined,
  option: string
): SiteConfig {
  const hosts = siteHosts(site)
  const listed = hosts.map(hostLabel).join(', ')
  if (asked === undefined || asked.trim() === '') {
    if (hosts.length === 1) return site
    throw new SitecycleError(
      `site ${site.name} has ${hosts.length} hosts (${listed}); name the one to work on with ${option}`,
      'input'
    )
  }
  const parsed = tryParseHost(asked.trim())
  if ('problem' in parsed) {
    throw new SitecycleError(
      `${option} is ${JSON.stringify(asked)}, which is not a host (${parsed.problem}); expected ${HOST_FORM}, one of: ${listed}`,
      'input'
    )
  }
  const match = hosts.find(h => hostLabel(h) === hostLabel(parsed))
  if (!match) {
    throw new SitecycleError(
      `${option} is ${JSON.stringify(asked)}, which is not a host of site ${site.name}; expected one of: ${listed}`,
      'input'
    )
  }
  return { ...site, host: match }
}
