/**
 * A site's identity as its host knows it: the role and public address (url, listen address,
 * ServerName, access) it has now. A site is named neutrally (`v1`, `v2`, ...) because a
 * virtualenv cannot be renamed; when an upgrade attempt promotes a preview, the preview takes
 * production's address and role and the old production takes the preview's address with the role
 * `old`. sitecycle.yml cannot be edited by a run, so the promote records each site's new identity
 * in `<root>/.sitecycle/identity.json`, beside the config values it replaces.
 *
 * The record applies while the site's entry in sitecycle.yml still says what it said at the
 * promote (`configWas`): once somebody updates sitecycle.yml to the new roles and addresses, the
 * config file is the truth again and the record is stale (ignored, and `sitecycle sites` says so).
 */
import type { AccessSettings, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { commitFile } from '../commands/files.js'
import { siteLayout } from './layout.js'

/** The public address of a site: what a promote swaps between production and preview. */
export interface SiteAddress {
  url: string
  /** Apache `listen` (address:port). */
  listen: string
  serverName: string
  /** Who may reach it (basic auth); absent: open to everyone. */
  access?: AccessSettings
}

/** What `identity.json` holds. */
export interface SiteIdentity {
  site: string
  role: SiteConfig['role']
  address: SiteAddress
  /** The role and address sitecycle.yml gave the site when the record was written. */
  configWas: { role: SiteConfig['role']; url: string; listen: string; serverName: string }
  /** When the site took this identity (ISO 8601). */
  since: string
  /** The upgrade attempt that gave it. */
  attempt: string
  /** Role `old`: when the site may be removed (`sitecycle remove`), ISO 8601. */
  removeAfter?: string
}

/** Where the record lives on the host. */
export function identityPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).state}/identity.json`
}

/** The address a site has by its (effective) config. */
export function addressOf(site: SiteConfig): SiteAddress {
  return {
    url: site.url,
    listen: site.apache.listen,
    serverName: site.apache.serverName,
    ...(site.access?.basicAuth && { access: { basicAuth: { ...site.access.basicAuth } } })
  }
}

/** The site with another role and address (pure). */
export function withAddress(
  site: SiteConfig,
  address: SiteAddress,
  role: SiteConfig['role']
): SiteConfig {
  return {
    ...site,
    role,
    url: address.url,
    access: address.access ?? {},
    apache: { ...site.apache, listen: address.listen, serverName: address.serverName }
  }
}

/** Whether the config entry still says what it said when the record was written. */
export function identityApplies(site: SiteConfig, identity: SiteIdentity): boolean {
  const w = identity.configWas
  return (
    identity.site === site.name &&
    w.role === site.role &&
    w.url === site.url &&
    w.listen === site.apache.listen &&
    w.serverName === site.apache.serverName
  )
}

/** The site as its host knows it, given its record (pure): the config's when there is none or it is stale. */
export function applyIdentity(site: SiteConfig, identity: SiteIdentity | undefined): SiteConfig {
  if (!identity || !identityApplies(site, identity)) return site
  return withAddress(site, identity.address, identity.role)
}

/** Read the record; undefined when there is none (or it cannot be parsed: a torn write is not an identity). */
export async function readIdentity(
  exec: Executor,
  site: Pick<SiteConfig, 'root'>
): Promise<SiteIdentity | undefined> {
  const text = await exec.readFile(identityPath(site))
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as SiteIdentity
    return typeof parsed.role === 'string' && parsed.address ? parsed : undefined
  } catch {
    return undefined
  }
}

/** The site as its host knows it (reads the record). */
export async function siteAsOnHost(exec: Executor, site: SiteConfig): Promise<SiteConfig> {
  return applyIdentity(site, await readIdentity(exec, site))
}

/** The record a promote writes for a site (pure). `configSite` is the site as sitecycle.yml has it. */
export function newIdentity(
  configSite: SiteConfig,
  role: SiteConfig['role'],
  address: SiteAddress,
  attempt: string,
  removeAfter?: Date
): SiteIdentity {
  return {
    site: configSite.name,
    role,
    address,
    configWas: {
      role: configSite.role,
      url: configSite.url,
      listen: configSite.apache.listen,
      serverName: configSite.apache.serverName
    },
    since: new Date().toISOString(),
    attempt,
    ...(removeAfter && { removeAfter: removeAfter.toISOString() })
  }
}

/**
 * Write the record durably (host/commit-file.py with the host's `python`: aside, fsync, rename
 * over, fsync of the folder): a promote's new roles survive a power loss, so two sites never both
 * take production's address after one. `undefined` removes it.
 */
export async function writeIdentity(
  exec: Executor,
  site: Pick<SiteConfig, 'root'>,
  identity: SiteIdentity | undefined,
  python: string
): Promise<void> {
  const path = identityPath(site)
  if (identity === undefined) {
    await exec.run({ argv: ['rm', '-f', '--', path] })
    return
  }
  await exec.run(commitFile(python, path, JSON.stringify(identity, null, 2) + '\n', 0o644))
}
