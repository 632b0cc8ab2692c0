/**
 * Loading sitecycle.yml: YAML → schema (schema.ts) → the SitecycleConfig model (model.ts).
 * Every problem is reported with file, line and column, all of them at once.
 */
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { homedir } from 'node:os'
import path from 'node:path'
import { LineCounter, parseDocument, type YAMLError } from 'yaml'
import { ConfigError } from '../util/errors.js'
import {
  configError,
  describeValue,
  keyOffsetOf,
  offsetOf,
  problemsFromIssues,
  type ConfigProblem,
  type SourceMap
} from './config-problems.js'
// A pure leaf module (no imports): the config check and retention itself share one horizon.
import { retentionHorizonSeconds } from '../snapshots/retention.js'
import { splitCommandLine } from './command-line.js'
import { hostLabel } from './host-spec.js'
import { siteHosts } from './site-hosts.js'
import type { StaticEntry } from './static-files.js'
import { sharedNamesUsed, usesDatabaseUrl, type AppEnvEntry } from './app-env.js'
import type {
  AlertsConfig,
  ApacheSettings,
  ReleaseConfig,
  SiteConfig,
  SharedEntry,
  SitecycleConfig,
  StoreConfig
} from './model.js'
import {
  ACCESS_DEFAULTS,
  configSchema,
  RELEASE_DEFAULTS,
  SITE_NAME,
  SNAPSHOT_DEFAULTS,
  SITE_NAME_FORM,
  sharedEntryName,
  type RawConfig,
  type RawRelease,
  type RawSite,
  type RawStore
} from './schema.js'

export { hostLabel, parseHost } from './host-spec.js'

/** How many nodes aliases may expand to in a config file: a real one uses a few. */
const MAX_ALIAS_COUNT = 1000

/**
 * Parse and validate the text of a config file. `file` names it in messages; relative paths in
 * it are resolved against its directory. Throws ConfigError listing every problem, one per
 * line, each as `<file>:<line>:<col>: <dotted.path>: <what is wrong>; expected <form>`.
 */
export function parseConfig(text: string, file: string): SitecycleConfig {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false })
  const source: SourceMap = { doc, lines }
  if (doc.errors.length > 0) {
    throw configError(
      file,
      source,
      doc.errors.map(e => ({ offset: e.pos[0], path: [], ...describeYamlError(e) }))
    )
  }
  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  } catch (e) {
    // The yaml library refuses an alias bomb (aliases of aliases, expanding exponentially).
    throw configError(file, source, [
      {
        offset: 0,
        path: [],
        what: `its aliases expand too far (${e instanceof Error ? e.message : String(e)})`,
        expected: `YAML whose aliases (*name) expand to at most ${MAX_ALIAS_COUNT} nodes`
      }
    ])
  }
  if (data === null || data === undefined) {
    throw configError(file, source, [
      { offset: 0, path: [], what: 'the file is empty', expected: 'a mapping with app and sites' }
    ])
  }

  const problems = checkSiteNames(data, source)
  const parsed = configSchema.safeParse(data)
  if (!parsed.success) problems.push(...problemsFromIssues(parsed.error.issues, data, source))
  if (!parsed.success || problems.length > 0) throw configError(file, source, problems)

  const config = toModel(parsed.data, path.resolve(file))
  const overlaps = [
    ...checkHostLists(data, config, source),
    ...checkRootsApart(config, source),
    ...checkDataFolders(config, source),
    ...checkDataSources(config, source),
    ...checkMirrorLags(config, source),
    ...checkHooksFreeze(config, source),
    ...checkEnvDatabase(config, source),
    ...checkSharedLists(parsed.data, source),
    ...checkSharedEntries(config, source),
    ...checkHookLines(config, source)
  ]
  if (overlaps.length > 0) throw configError(file, source, overlaps)
  return config
}

/**
 * Read and parse a config file (see parseConfig). Relative paths in it are resolved against the
 * file's directory. Throws ConfigError naming the path when it cannot be read.
 */
export async function loadConfig(file: string): Promise<SitecycleConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(error)
    const shown = path.resolve(file) === file ? file : `${file} (${path.resolve(file)})`
    throw new ConfigError(
      `cannot read the config file ${shown}: ${why}; expected a readable sitecycle.yml`,
      file
    )
  }
  return parseConfig(text, file)
}

/** The site called `name`; ConfigError listing the known sites when there is none. */
export function getSite(config: SitecycleConfig, name: string): SiteConfig {
  const site = Object.hasOwn(config.sites, name) ? config.sites[name] : undefined
  if (!site) {
    throw new ConfigError(
      `unknown site '${name}' in ${config.file}; known sites: ${Object.keys(config.sites).join(', ')}`,
      config.file
    )
  }
  return site
}

function describeYamlError(error: YAMLError): { what: string; expected?: string } {
  if (error.code === 'DUPLICATE_KEY')
    return { what: 'invalid YAML: duplicate key', expected: 'each key once per mapping' }
  if (error.code === 'MULTIPLE_DOCS') {
    return { what: 'invalid YAML: a second document', expected: 'a single YAML document' }
  }
  return { what: `invalid YAML: ${error.message}` }
}

/** Site names must fit Apache process-group names and paths; there must be at least one site. */
function checkSiteNames(data: unknown, source: SourceMap): ConfigProblem[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return []
  const sites = (data as Record<string, unknown>).sites
  if (sites === null || typeof sites !== 'object' || Array.isArray(sites)) return []
  const names = Object.keys(sites)
  if (names.length === 0) {
    return [
      {
        offset: offsetOf(source, ['sites']),
        path: ['sites'],
        what: 'no sites',
        expected: 'at least one site'
      }
    ]
  }
  return names
    .filter(name => !SITE_NAME.test(name))
    .map(name => ({
      offset: keyOffsetOf(source, ['sites', name]),
      path: ['sites'],
      what: `bad site name ${describeValue(name)}`,
      expected: SITE_NAME_FORM
    }))
}

/**
 * A site on several hosts: `hosts:` instead of `host:` (not both), each host once, and only
 * ssh:// hosts (`local` is the runner's own machine: a list cannot hold it twice over).
 */
function checkHostLists(
  data: unknown,
  config: SitecycleConfig,
  source: SourceMap
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const rawSites = (data as { sites: Record<string, Record<string, unknown>> }).sites
  for (const site of Object.values(config.sites)) {
    if (!site.hosts) continue
    if (Object.hasOwn(rawSites[site.name], 'host')) {
      problems.push({
        offset: keyOffsetOf(source, ['sites', site.name, 'host']),
        path: ['sites', site.name, 'host'],
        what: 'both host and hosts are given',
        expected: 'host for a site on one host, or hosts for a site on several'
      })
    }
    const seen = new Set<string>()
    site.hosts.forEach((host, i) => {
      const label = hostLabel(host)
      const where = ['sites', site.name, 'hosts', i]
      if (seen.has(label)) {
        problems.push({
          offset: offsetOf(source, where),
          path: where,
          what: `${label} is listed twice`,
          expected: 'each host once'
        })
      } else if (host.kind === 'local' && site.hosts!.length > 1) {
        problems.push({
          offset: offsetOf(source, where),
          path: where,
          what: 'local in a list of several hosts',
          expected: 'ssh://user@host[:port] hosts only (local is the machine the job runs on)'
        })
      }
      seen.add(label)
    })
  }
  return problems
}

/** Two sites on one host may neither share a root nor have one root inside the other. */
function checkRootsApart(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const sites = Object.values(config.sites)
  sites.forEach((site, i) => {
    for (const earlier of sites.slice(0, i)) {
      const earlierHosts = new Set(siteHosts(earlier).map(hostLabel))
      const shared = siteHosts(site).find(h => earlierHosts.has(hostLabel(h)))
      if (!shared) continue
      const relation =
        site.root === earlier.root
          ? 'is also the root of'
          : isInside(site.root, earlier.root)
            ? 'is inside the root of'
            : isInside(earlier.root, site.root)
              ? 'contains the root of'
              : undefined
      if (!relation) continue
      problems.push({
        offset: offsetOf(source, ['sites', site.name, 'root']),
        path: ['sites', site.name, 'root'],
        what: `${describeValue(site.root)} ${relation} site ${earlier.name} on ${hostLabel(shared)}`,
        expected: 'a root of its own for each site on the same host'
      })
      return
    }
  })
  return problems
}

function isInside(child: string, parent: string): boolean {
  return child.startsWith(`${parent}/`)
}

function toModel(raw: RawConfig, file: string): SitecycleConfig {
  const dir = path.dirname(file)
  const local = (p: string) => resolveLocalPath(p, dir)
  const sites: Record<string, SiteConfig> = {}
  for (const [name, site] of Object.entries(raw.sites))
    sites[name] = toSite(name, site, local, raw.app.env, raw.app.static, raw.app.shared)
  return {
    file,
    app: {
      package: raw.app.package,
      wsgi: raw.app.wsgi,
      python: raw.app.python,
      ...(raw.app.tests !== undefined && { tests: raw.app.tests }),
      ...(raw.app.env !== undefined && { env: raw.app.env }),
      ...(raw.app.static !== undefined && { static: raw.app.static })
    },
    ssh: {
      ...(raw.ssh?.key_file !== undefined && { keyFile: local(raw.ssh.key_file) }),
      ...(raw.ssh?.known_hosts !== undefined && { knownHostsFile: local(raw.ssh.known_hosts) })
    },
    ...(raw.release && { release: toRelease(raw.release, dir) }),
    ...(raw.alerts && { alerts: toAlerts(raw.alerts) }),
    sites
  }
}

function toAlerts(raw: NonNullable<RawConfig['alerts']>): AlertsConfig {
  const email = raw.email
  return {
    githubIssues: raw.github_issues,
    ...(email && {
      email: {
        smtpHost: email.smtp_host,
        smtpPort: email.smtp_port,
        starttls: email.starttls,
        ...(email.user !== undefined && { user: email.user }),
        ...(email.password_env !== undefined && { passwordEnv: email.password_env }),
        from: email.from,
        to: email.to
      }
    })
  }
}

/**
 * The release settings of a config file in `configDir` with every default applied: what
 * `sitecycle release` uses when the file has no `release:` section.
 */
export function defaultReleaseConfig(configDir: string): ReleaseConfig {
  const source = path.resolve(configDir)
  return {
    tagPrefix: RELEASE_DEFAULTS.tagPrefix,
    versionScheme: RELEASE_DEFAULTS.versionScheme,
    source,
    build: { isolation: RELEASE_DEFAULTS.isolation, findLinks: [] },
    outDir: path.join(source, RELEASE_DEFAULTS.outDir),
    stores: [],
    keepVersions: RELEASE_DEFAULTS.keepVersions
  }
}

function toRelease(raw: RawRelease, dir: string): ReleaseConfig {
  const local = (p: string) => resolveLocalPath(p, dir)
  const source = raw.source !== undefined ? local(raw.source) : dir
  const wheelhouse = raw.wheelhouse
  return {
    tagPrefix: raw.tag_prefix,
    versionScheme: raw.version_scheme,
    source,
    build: {
      isolation:
        raw.build?.isolation !== undefined && raw.build.isolation !== 'auto'
          ? raw.build.isolation
            ? 'isolated'
            : 'none'
          : raw.no_isolation !== undefined
            ? raw.no_isolation
              ? 'none'
              : 'isolated'
            : 'auto',
      findLinks: (raw.build?.find_links ?? []).map(local),
      ...(raw.build?.index_url_env !== undefined && { indexUrlEnv: raw.build.index_url_env })
    },
    outDir:
      raw.out_dir !== undefined ? local(raw.out_dir) : path.join(source, RELEASE_DEFAULTS.outDir),
    ...(wheelhouse && {
      wheelhouse: {
        ...(wheelhouse.requirements !== undefined && {
          requirements: resolveLocalPath(wheelhouse.requirements, source)
        }),
        findLinks: wheelhouse.find_links.map(local),
        ...(wheelhouse.index_url_env !== undefined && { indexUrlEnv: wheelhouse.index_url_env })
      }
    }),
    stores: raw.stores.map(store => toStore(store, local)),
    keepVersions: raw.keep_versions
  }
}

function toStore(raw: RawStore, local: (p: string) => string): StoreConfig {
  switch (raw.type) {
    case 'directory':
      return {
        type: 'directory',
        // On an SSH host the path is the server's; on this machine it may be relative or ~/.
        path:
          raw.host.kind === 'ssh'
            ? path.posix.normalize(raw.path).replace(/(?<=.)\/+$/, '')
            : local(raw.path),
        host: raw.host
      }
    case 'github-release':
      return {
        type: 'github-release',
        ...(raw.repository !== undefined && { repository: raw.repository }),
        tokenEnv: raw.token_env
      }
    case 'actions-artifact':
      return {
        type: 'actions-artifact',
        name: raw.name,
        ...(raw.retention_days !== undefined && { retentionDays: raw.retention_days })
      }
  }
}

/** `app.env` with the site's own `env` over it, each entry knowing where it is written. */
function siteEnv(
  name: string,
  appEnv: Record<string, string> | undefined,
  own: Record<string, string> | undefined
): AppEnvEntry[] | undefined {
  if (appEnv === undefined && own === undefined) return undefined
  const entries = new Map<string, AppEnvEntry>()
  for (const [n, value] of Object.entries(appEnv ?? {}))
    entries.set(n, { name: n, value, key: `app.env.${n}` })
  for (const [n, value] of Object.entries(own ?? {}))
    entries.set(n, { name: n, value, key: `sites.${name}.env.${n}` })
  return [...entries.values()]
}

/**
 * `app.static` with the site's own `static` over it (a prefix the site gives takes its folder),
 * longest prefix first so that Apache tries `/static/admin/` before `/static/`.
 */
function siteStatic(
  name: string,
  appStatic: Record<string, string> | undefined,
  own: Record<string, string> | undefined
): StaticEntry[] | undefined {
  const entries = new Map<string, StaticEntry>()
  for (const [prefix, folder] of Object.entries(appStatic ?? {}))
    entries.set(prefix, { prefix, folder, key: `app.static.${prefix}` })
  for (const [prefix, folder] of Object.entries(own ?? {}))
    entries.set(prefix, { prefix, folder, key: `sites.${name}.static.${prefix}` })
  if (!entries.size) return undefined
  return [...entries.values()].sort(
    (a, b) => b.prefix.length - a.prefix.length || a.prefix.localeCompare(b.prefix)
  )
}

type RawSharedEntry = NonNullable<RawSite['shared']>[number]

/** Default modes of shared entries: the Apache user's and group's, no one else's. */
export const SHARED_MODES = { folder: 0o770, file: 0o660 } as const

/** `app.shared` with the site's own `shared` over it (an entry of the same path replaces the app's). */
function siteShared(
  name: string,
  root: string,
  appShared: RawSharedEntry[] | undefined,
  own: RawSharedEntry[] | undefined
): SharedEntry[] | undefined {
  if (appShared === undefined && own === undefined) return undefined
  const entries = new Map<string, SharedEntry>()
  const add = (raw: RawSharedEntry, key: string) =>
    entries.set(raw.path, {
      path: raw.path,
      absolute: `${root}/shared/${raw.path}`,
      kind: raw.kind,
      mode: raw.mode ?? SHARED_MODES[raw.kind],
      name: raw.name ?? sharedEntryName(raw.path),
      ...(raw.url !== undefined && { url: raw.url }),
      ...(raw.link !== undefined && { link: raw.link }),
      snapshot: raw.snapshot ?? true,
      key
    })
  appShared?.forEach((e, i) => add(e, `app.shared[${i}]`))
  own?.forEach((e, i) => add(e, `sites.${name}.shared[${i}]`))
  return [...entries.values()]
}

function toSite(
  name: string,
  raw: RawSite,
  local: (p: string) => string,
  appEnv?: Record<string, string>,
  appStatic?: Record<string, string>,
  appShared?: RawSharedEntry[]
): SiteConfig {
  const env = siteEnv(name, appEnv, raw.env)
  const statics = siteStatic(name, appStatic, raw.static)
  const shared = siteShared(name, raw.root, appShared, raw.shared)
  const snapshots = snapshotSettings(raw)
  // A file that is the sqlite database itself is snapshotted as the database, not as data.
  const sqliteFile = snapshots.database?.engine === 'sqlite' ? snapshots.database.name : undefined
  const sharedData = (shared ?? [])
    .filter(e => e.snapshot && e.absolute !== sqliteFile)
    .map(e => e.absolute)
    .filter(p => !(snapshots.data ?? []).includes(p))
  if (sharedData.length) snapshots.data = [...(snapshots.data ?? []), ...sharedData]
  return {
    name,
    role: raw.role,
    host: raw.hosts?.[0] ?? raw.host,
    ...(raw.hosts && { hosts: raw.hosts }),
    root: raw.root,
    url: raw.url,
    ...(env && { env }),
    ...(statics && { static: statics }),
    ...(shared && { shared }),
    health: {
      path: raw.health.path,
      expectVersion: raw.health.expect_version,
      timeout: raw.health.timeout
    },
    ...(raw.config && { config: { template: local(raw.config.template), env: raw.config.env } }),
    hooks: {
      afterInstall: raw.hooks.after_install,
      ...(raw.hooks.freeze && { freeze: true })
    },
    keepReleases: raw.keep_releases,
    ...(raw.releases !== undefined && { releases: local(raw.releases) }),
    ...(raw.store !== undefined && { store: toStore(raw.store, local) }),
    ...(raw.pip !== undefined && { pip: { indexUrlEnv: raw.pip.index_url_env } }),
    preflight: { minFreeMb: raw.preflight.min_free_mb },
    apache: toApache(raw.apache, new URL(raw.url)),
    ...snapshots,
    ...accessSettings(raw),
    ...(raw.from !== undefined && { from: raw.from }),
    ...(raw.lag !== undefined && { lag: raw.lag }),
    ...(raw.anonymize !== undefined && { anonymize: local(raw.anonymize) })
  }
}

/**
 * access (basic auth, on by default for preview and mirror sites) and the maintenance page;
 * each left out when it says nothing beyond the defaults (an open site, no `maintenance:`).
 */
function accessSettings(raw: RawSite): Pick<SiteConfig, 'access' | 'maintenance'> {
  const auth = raw.access?.basic_auth ?? (raw.role === 'preview' || raw.role === 'mirror')
  const basicAuth =
    auth === false
      ? undefined
      : auth === true
        ? { user: ACCESS_DEFAULTS.user, passwordEnv: ACCESS_DEFAULTS.passwordEnv }
        : { user: auth.user, passwordEnv: auth.password_env }
  const m = raw.maintenance
  return {
    ...(basicAuth && { access: { basicAuth } }),
    ...(m && { maintenance: { allow: m.allow, retryAfter: m.retry_after } })
  }
}

/** database, data (resolved against the root) and snapshots (retention) of a site. */
function snapshotSettings(raw: RawSite): Pick<SiteConfig, 'database' | 'data' | 'snapshots'> {
  const db = raw.database
  return {
    ...(db && {
      database: {
        engine: db.engine,
        name: db.name,
        ...(db.host !== undefined && { host: db.host }),
        ...(db.port !== undefined && { port: db.port }),
        ...(db.user !== undefined && { user: db.user }),
        ...(db.password_env !== undefined && { passwordEnv: db.password_env }),
        ...(db.admin && {
          admin: {
            user: db.admin.user,
            ...(db.admin.password_env !== undefined && { passwordEnv: db.admin.password_env })
          }
        }),
        ...(db.reader && {
          reader: {
            user: db.reader.user,
            ...(db.reader.password_env !== undefined && { passwordEnv: db.reader.password_env })
          }
        })
      }
    }),
    ...(raw.data && {
      data: raw.data.map(d => (d.startsWith('/') ? d : path.posix.join(raw.root, d)))
    }),
    ...(raw.snapshots && {
      snapshots: {
        last: raw.snapshots.keep_last,
        daily: raw.snapshots.daily,
        weekly: raw.snapshots.weekly,
        monthly: raw.snapshots.monthly
      }
    })
  }
}

/**
 * `from:` names another site of the file; `lag:` belongs to mirrors only. (A mirror without them
 * can still be initialized and deployed; `sitecycle mirror` asks for them.)
 */
function checkDataSources(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const names = Object.keys(config.sites)
  for (const site of Object.values(config.sites)) {
    const at = (key: string) => ['sites', site.name, key]
    if (site.from !== undefined && (site.from === site.name || !names.includes(site.from)))
      problems.push({
        offset: offsetOf(source, at('from')),
        path: at('from'),
        what:
          site.from === site.name
            ? 'the site itself'
            : `${describeValue(site.from)} is not a site of this file`,
        expected: `another site: ${names.filter(n => n !== site.name).join(', ') || '(none)'}`
      })
    if (site.lag !== undefined && site.role !== 'mirror')
      problems.push({
        offset: keyOffsetOf(source, at('lag')),
        path: at('lag'),
        what: `lag is for mirror sites, and this one has role ${site.role}`,
        expected: 'role: mirror with lag, or no lag'
      })
    const reader = site.database?.reader
    if (reader && site.role !== 'mirror')
      problems.push({
        offset: keyOffsetOf(source, ['sites', site.name, 'database', 'reader']),
        path: ['sites', site.name, 'database', 'reader'],
        what: `reader is for mirror sites (their application reads only), and this one has role ${site.role}`,
        expected: 'role: mirror with database.reader, or no reader'
      })
    else if (reader && reader.user === site.database?.user)
      problems.push({
        offset: offsetOf(source, ['sites', site.name, 'database', 'reader', 'user']),
        path: ['sites', site.name, 'database', 'reader', 'user'],
        what: `${reader.user} is also the database's user, which owns the mirror's tables and can write them`,
        expected: `another login than ${reader.user}, such as ${reader.user}_reader`
      })
  }
  return problems
}

/** `86400` → `1d`, `90000` → `1d1h`: a duration in the config's own units. */
export function formatDuration(seconds: number): string {
  const parts: string[] = []
  let rest = seconds
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1]
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) parts.push(`${n}${unit}`)
    rest -= n * size
  }
  return parts.join('') || '0s'
}

/**
 * A mirror's lag must be within its source's snapshot retention (snapshots/retention.ts,
 * retentionHorizonSeconds): beyond it the source's policy deletes the snapshots the mirror would
 * show, and the mirror would wait forever. Retention keeps what a mirror within it needs.
 */
function checkMirrorLags(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const site of Object.values(config.sites)) {
    if (site.role !== 'mirror' || !site.lag || site.from === undefined) continue
    const from = Object.hasOwn(config.sites, site.from) ? config.sites[site.from] : undefined
    if (!from || from === site) continue // reported by checkDataSources
    const s = from.snapshots ?? {
      last: SNAPSHOT_DEFAULTS.keepLast,
      daily: SNAPSHOT_DEFAULTS.daily,
      weekly: SNAPSHOT_DEFAULTS.weekly,
      monthly: SNAPSHOT_DEFAULTS.monthly
    }
    const horizon = retentionHorizonSeconds(s)
    if (site.lag.seconds <= horizon) continue
    const days = Math.ceil(site.lag.seconds / 86400)
    const policy = `sites.${from.name}.snapshots (daily: ${s.daily}, weekly: ${s.weekly}, monthly: ${s.monthly}${from.snapshots ? '' : ', the defaults'})`
    problems.push({
      offset: offsetOf(source, ['sites', site.name, 'lag']),
      path: ['sites', site.name, 'lag'],
      what:
        `${site.lag.text} is longer than site ${from.name} keeps snapshots: ${policy} ` +
        (horizon > 0
          ? `keeps none surely older than ${formatDuration(horizon)}`
          : 'keeps no snapshot surely older than a day (keep_last keeps the newest, whatever their age)'),
      expected: `${horizon > 0 ? `a lag of at most ${formatDuration(horizon)}, or ` : ''}sites.${from.name}.snapshots.daily of at least ${days + 1} (or weekly of ${Math.ceil(days / 7) + 1}, monthly of ${Math.ceil(days / 28) + 1})`
    })
  }
  return problems
}

/** `{{ database.url }}` in a site's env (its own or app.env's) needs that site's `database:`. */
function checkEnvDatabase(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  return Object.values(config.sites).flatMap(site =>
    site.database
      ? []
      : (site.env ?? [])
          .filter(e => usesDatabaseUrl(e.value))
          .map(e => {
            const where = e.key.split('.')
            return {
              offset: offsetOf(source, where),
              path: where,
              what: `{{ database.url }} is used for site ${site.name}, which has no database`,
              expected: `a database: mapping for site ${site.name} (engine and name), or no {{ database.url }}`
            }
          })
  )
}

/** `app.shared[2]` → ['app', 'shared', 2] */
function keyPath(key: string): (string | number)[] {
  return key
    .split(/\.|(?=\[)/)
    .map(part => (/^\[\d+\]$/.test(part) ? Number(part.slice(1, -1)) : part))
}

/** In one `shared:` list, each path once and no entry inside another (one owner, one mode each). */
function checkSharedLists(raw: RawConfig, source: SourceMap): ConfigProblem[] {
  const lists: [(string | number)[], RawSharedEntry[] | undefined][] = [
    [['app', 'shared'], raw.app.shared],
    ...Object.entries(raw.sites).map(
      ([name, site]): [(string | number)[], RawSharedEntry[] | undefined] => [
        ['sites', name, 'shared'],
        site.shared
      ]
    )
  ]
  const problems: ConfigProblem[] = []
  for (const [at, list] of lists) {
    list?.forEach((entry, i) => {
      const other = list
        .slice(0, i)
        .find(
          e => e.path === entry.path || isInside(entry.path, e.path) || isInside(e.path, entry.path)
        )
      if (!other) return
      const where = [...at, i]
      problems.push({
        offset: offsetOf(source, where),
        path: where,
        what:
          other.path === entry.path
            ? `${describeValue(entry.path)} is listed twice`
            : `${describeValue(entry.path)} and ${describeValue(other.path)} are one inside the other`,
        expected: 'each shared path once, none inside another'
      })
    })
  }
  return problems
}

/**
 * A site's shared entries (app's and its own together): names and url prefixes each once, no
 * prefix over the health path, and every `{{ shared.NAME }}` of its env naming one of them.
 */
function checkSharedEntries(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const site of Object.values(config.sites)) {
    const entries = site.shared ?? []
    entries.forEach((entry, i) => {
      const where = keyPath(entry.key)
      const before = entries.slice(0, i)
      const sameName = before.find(e => e.name === entry.name)
      if (sameName)
        problems.push({
          offset: offsetOf(source, where),
          path: where,
          what: `its name ${entry.name} is also the name of ${sameName.path} (${sameName.key}) for site ${site.name}`,
          expected: 'a name: of its own for one of them'
        })
      if (entry.url === undefined) return
      const url = entry.url
      const sameUrl = before.find(
        e => e.url !== undefined && (url.startsWith(e.url) || e.url.startsWith(url))
      )
      const reason = sameUrl
        ? `${url} overlaps ${sameUrl.url} (${sameUrl.key}) for site ${site.name}`
        : `${site.health.path}/`.startsWith(url)
          ? `${url} holds the health path ${site.health.path} of site ${site.name}`
          : undefined
      if (reason)
        problems.push({
          offset: offsetOf(source, [...where, 'url']),
          path: [...where, 'url'],
          what: reason,
          expected: 'a url prefix of its own, apart from the health path'
        })
    })
    for (const e of site.env ?? []) {
      for (const name of sharedNamesUsed(e.value)) {
        if (entries.some(entry => entry.name === name)) continue
        const where = e.key.split('.')
        problems.push({
          offset: offsetOf(source, where),
          path: where,
          what: `{{ shared.${name} }} names no shared entry of site ${site.name}`,
          expected: entries.length
            ? `one of ${entries.map(x => x.name).join(', ')}`
            : `a shared: entry named ${name} (app.shared or sites.${site.name}.shared)`
        })
      }
    }
  }
  return problems
}

/** `hooks.freeze` protects a database: the site must have one (`database:`) to dump and restore. */
function checkHooksFreeze(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  return Object.values(config.sites)
    .filter(site => site.hooks.freeze && !site.database)
    .map(site => {
      const where = ['sites', site.name, 'hooks', 'freeze']
      return {
        offset: keyOffsetOf(source, where),
        path: where,
        what: 'freeze is on, but the site has no database to dump before its hooks',
        expected: `a database: mapping for site ${site.name} (engine and name), or no freeze`
      }
    })
}

/**
 * Every hook must split into argv without a shell (no |, &, ;, <, >, $ or `, no unclosed quote):
 * refused here, when the config is loaded, not at the hooks step after the install.
 */
function checkHookLines(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const site of Object.values(config.sites)) {
    site.hooks.afterInstall.forEach((line, i) => {
      const where = ['sites', site.name, 'hooks', 'after_install', i]
      try {
        splitCommandLine(line, '')
      } catch (e) {
        problems.push({
          offset: offsetOf(source, where),
          path: where,
          what: (e as Error).message.replace(/^: /, ''),
          expected: 'a command line run without a shell, such as python -m app.manage migrate'
        })
      }
    })
  }
  return problems
}

/** A data folder may not be the site root, hold it, or lie in its snapshots/ or .sitecycle/. */
function checkDataFolders(config: SitecycleConfig, source: SourceMap): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const site of Object.values(config.sites)) {
    site.data?.forEach((folder, i) => {
      const inside = ['snapshots', '.sitecycle'].find(
        d => folder === `${site.root}/${d}` || isInside(folder, `${site.root}/${d}`)
      )
      const what =
        folder === site.root || isInside(site.root, folder)
          ? `${describeValue(folder)} holds the site root`
          : inside
            ? `${describeValue(folder)} is inside the site's ${inside}/`
            : undefined
      if (!what) return
      const where = ['sites', site.name, 'data', i]
      problems.push({
        offset: offsetOf(source, where),
        path: where,
        what,
        expected: 'a data folder of its own, such as shared/uploads'
      })
    })
  }
  return problems
}

function toApache(raw: RawSite['apache'], url: URL): ApacheSettings {
  return {
    listen: raw.listen ?? defaultListen(url),
    serverName: raw.server_name ?? url.hostname,
    confDir: raw.conf_dir,
    ...(raw.enable_dir !== null && { enableDir: raw.enable_dir }),
    ctl: raw.ctl,
    user: raw.user,
    group: raw.group,
    processes: raw.processes,
    threads: raw.threads,
    shutdownTimeout: raw.shutdown_timeout,
    mode: raw.mode
  }
}

/** `<host if an IP literal, else *>:<port, or 80/443>`, from the site's URL. */
function defaultListen(url: URL): string {
  const bare = url.hostname.replace(/^\[|\]$/g, '')
  const isIpLiteral = isIP(bare) !== 0
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return `${isIpLiteral ? url.hostname : '*'}:${port}`
}

/** Expand ~ to HOME, and resolve a relative path against the config file's directory. */
function resolveLocalPath(p: string, dir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(process.env.HOME || homedir(), p.slice(1))
  return path.resolve(dir, p)
}
