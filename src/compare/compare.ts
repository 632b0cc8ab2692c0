/**
 * compare: two sites side by side: their live release, the distributions installed with it, the
 * release files and data files (by sha256), their rendered config (secrets never shown), and
 * their database's schema and per-table row counts and checksums. Read only, no lock. Each site
 * is read in one round trip for its files (host-program.ts) plus its database client.
 */
import { dirname } from 'node:path'
import type { SiteConfig, SitecycleConfig } from '../config/model.js'
import { hostScript } from '../commands/python.js'
import type { DatabaseConfig, TableChecksum } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout } from '../sites/layout.js'
import { readTemplate } from '../sites/render-config.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  compareConfigs,
  secretNamesOfTemplate,
  type ConfigComparison,
  type SiteValues
} from './config-diff.js'
import { schemaOf, type TableSchema } from './database-schema.js'
import { SITE_FACTS_PROGRAM } from './host-program.js'

/** How many paths of each kind a report lists (counts are exact). */
export const COMPARE_LIST_CAP = 100

/** One of the two sites. */
export interface CompareSide {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
}

export interface CompareRequest {
  a: CompareSide
  b: CompareSide
  /** Where secret values are looked up to redact them (default process.env). */
  env?: NodeJS.ProcessEnv
  /** More values never to show (such as the action's config-secrets). */
  secrets?: string[]
  /** Progress, and every secret found is registered with it. */
  reporter?: Reporter
  /** Most paths listed per kind (default {@link COMPARE_LIST_CAP}). */
  cap?: number
}

/** Paths on both sides compared by hash. */
export interface PathComparison {
  same: boolean
  counts: { same: number; changed: number; onlyA: number; onlyB: number }
  /** Paths whose content differs (at most the cap). */
  changed: string[]
  /** Paths only site A has (at most the cap). */
  onlyA: string[]
  onlyB: string[]
}

/** A data folder of each site, by position in `data:`. */
export interface DataComparison extends PathComparison {
  /** The folder on site A (null: site A has fewer data folders). */
  a: string | null
  b: string | null
  /** Whether each folder exists on its host. */
  exists: { a: boolean; b: boolean }
}

/** One table whose schema, row count or checksum differs, or that only one side has. */
export interface TableComparison {
  table: string
  rows: { a: number | null; b: number | null }
  /** `same`, `different`, or `not-comparable` (the engines differ, or the table is on one side). */
  checksum: 'same' | 'different' | 'not-comparable'
  columns: {
    onlyA: string[]
    onlyB: string[]
    /** Columns whose type or nullability differs: `name: type on A → type on B`. */
    changed: string[]
  }
}

export interface DatabaseComparison {
  same: boolean
  engines: { a: string | null; b: string | null }
  /** Tables equal in schema, rows and checksum. */
  sameTables: number
  /** The tables that differ (all of them: tables are few). */
  tables: TableComparison[]
}

/** What one side is. */
export interface SideSummary {
  site: string
  host: string
  root: string
  /** The live release (its directory under releases/), null when none. */
  release: string | null
  /** Its release.json version and sha256 of the release file. */
  version: string | null
  sha256: string | null
}

/** The whole comparison. */
export interface CompareReport {
  a: SideSummary
  b: SideSummary
  /** True when nothing differs. */
  same: boolean
  /** How many differences in all (each package, path, config key and table counts one). */
  differences: number
  release: { same: boolean }
  packages: {
    same: boolean
    /** `name version` of packages only on A, only on B, and those whose version differs. */
    onlyA: string[]
    onlyB: string[]
    changed: { name: string; a: string; b: string }[]
    sameCount: number
  }
  files: PathComparison
  data: DataComparison[]
  config: ConfigComparison
  database: DatabaseComparison | null
}

interface SiteFacts {
  liveSlot: string | null
  release: string | null
  venv: string | null
  record: { version?: string; sha256?: string } | null
  packages: { name: string; version: string }[]
  files: Record<string, string>
  config: string | null
  data: { path: string; exists: boolean; files: Record<string, string> }[]
}

/** Compare two sites. Throws SitecycleError when a host or database cannot be read. */
export async function compareSites(req: CompareRequest): Promise<CompareReport> {
  const env = req.env ?? process.env
  const cap = req.cap ?? COMPARE_LIST_CAP
  const templates = await Promise.all([templateOf(req.a), templateOf(req.b)])
  const secrets = collectSecrets([req.a.site, req.b.site], templates, env, req.secrets ?? [])
  for (const s of secrets) req.reporter?.addSecret(s)
  const redact = (text: string) => redactAll(text, secrets)
  req.reporter?.info(
    `comparing site ${req.a.site.name} on ${req.a.exec.name} with site ${req.b.site.name} on ${req.b.exec.name}`
  )
  const [fa, fb, da, db] = await Promise.all([
    readFacts(req.a),
    readFacts(req.b),
    readDatabase(req.a, env),
    readDatabase(req.b, env)
  ])

  const release = {
    same: fa.record?.version === fb.record?.version && fa.record?.sha256 === fb.record?.sha256
  }
  const packages = comparePackages(fa.packages, fb.packages)
  const files = comparePaths(byReleasePath(fa.files), byReleasePath(fb.files), cap)
  const data: DataComparison[] = []
  for (let i = 0; i < Math.max(fa.data.length, fb.data.length); i++) {
    const x = fa.data[i]
    const y = fb.data[i]
    data.push({
      a: x?.path ?? null,
      b: y?.path ?? null,
      exists: { a: x?.exists ?? false, b: y?.exists ?? false },
      ...comparePaths(x?.files ?? {}, y?.files ?? {}, cap)
    })
  }
  const config = compareConfigs(
    { text: fa.config, template: templates[0], values: siteValues(req.a.site, fa.release) },
    { text: fb.config, template: templates[1], values: siteValues(req.b.site, fb.release) },
    redact
  )
  const database = da || db ? compareDatabases(da, db) : null

  const differences =
    (release.same ? 0 : 1) +
    packages.onlyA.length +
    packages.onlyB.length +
    packages.changed.length +
    countOf(files) +
    data.reduce((n, d) => n + countOf(d) + (d.a === null || d.b === null ? 1 : 0), 0) +
    config.differences.length +
    (config.present.a !== config.present.b ? 1 : 0) +
    (database ? database.tables.length + (database.engines.a !== database.engines.b ? 1 : 0) : 0)
  const side = (s: CompareSide, f: SiteFacts): SideSummary => ({
    site: s.site.name,
    host: s.exec.name,
    root: s.site.root,
    release: f.release,
    version: f.record?.version ?? null,
    sha256: f.record?.sha256 ?? null
  })
  // Every string once more through the redaction: a secret in a file name or a package's
  // metadata must not reach a summary either.
  return redactStrings(
    {
      a: side(req.a, fa),
      b: side(req.b, fb),
      same: differences === 0,
      differences,
      release,
      packages,
      files,
      data,
      config,
      database
    },
    redact
  )
}

/** A copy of `value` with `redact` applied to every string in it (keys included). */
export function redactStrings<T>(value: T, redact: (text: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v)
    if (Array.isArray(v)) return v.map(walk)
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [redact(k), walk(x)]))
    return v
  }
  return walk(value) as T
}

/** The site's config template, read from inside the repository (see readTemplate). */
async function templateOf({ config, site }: CompareSide): Promise<string | null> {
  if (!site.config) return null
  try {
    return await readTemplate(site.config.template, dirname(config.file))
  } catch (e) {
    throw new SitecycleError(`site ${site.name}: ${(e as Error).message}`, 'config')
  }
}

/**
 * Every secret value known from the environment: the template's `{{ secret.* }}` values, the
 * database passwords, index URLs and basic-auth passwords the sites name, and the extra ones.
 */
export function collectSecrets(
  sites: SiteConfig[],
  templates: (string | null)[],
  env: NodeJS.ProcessEnv,
  extra: string[]
): string[] {
  const names = new Set<string>()
  for (const t of templates) for (const n of secretNamesOfTemplate(t ?? '')) names.add(n)
  for (const s of sites) {
    if (s.database?.passwordEnv) names.add(s.database.passwordEnv)
    if (s.pip?.indexUrlEnv) names.add(s.pip.indexUrlEnv)
    if (s.access?.basicAuth?.passwordEnv) names.add(s.access.basicAuth.passwordEnv)
  }
  const values = [...names].map(n => env[n]).filter((v): v is string => typeof v === 'string')
  return [...new Set([...values, ...extra])].filter(v => v.length >= 3)
}

/** `text` with every secret replaced by ***, longest first. */
export function redactAll(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of [...secrets].sort((x, y) => y.length - x.length)) out = out.split(s).join('***')
  return out
}

function siteValues(site: SiteConfig, release: string | null): SiteValues | null {
  if (!release) return null
  return {
    site: { name: site.name, root: site.root, url: site.url },
    release: { version: release, dir: siteLayout(site.root).release(release) }
  }
}

async function readFacts(side: CompareSide): Promise<SiteFacts> {
  const { site, exec } = side
  const r = await exec.tryRun(
    hostScript(side.config.app.python, SITE_FACTS_PROGRAM, [
      site.root,
      site.apache.mode,
      JSON.stringify(site.data ?? [])
    ])
  )
  if (r.code !== 0)
    throw new SitecycleError(
      `compare could not read site ${site.name} at ${site.root} on ${exec.name}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`,
      'host'
    )
  return JSON.parse(r.stdout) as SiteFacts
}

interface DatabaseFacts {
  engine: string
  tables: TableChecksum[]
  schema: TableSchema[]
}

async function readDatabase(
  side: CompareSide,
  env: NodeJS.ProcessEnv
): Promise<DatabaseFacts | null> {
  const settings = side.site.database
  if (!settings) return null
  if (settings.passwordEnv && !env[settings.passwordEnv])
    throw new SitecycleError(
      `the database password of site ${side.site.name} is not set: set the environment variable ${settings.passwordEnv} (sites.${side.site.name}.database.password_env)`,
      'config'
    )
  const db: DatabaseConfig = { ...settings, python: side.config.app.python }
  const engine = getEngine(db.engine)
  const [tables, schema] = await Promise.all([
    engine.checksums(side.exec, db),
    schemaOf(side.exec, db)
  ])
  return { engine: db.engine, tables, schema }
}

function countOf(p: PathComparison): number {
  return p.counts.changed + p.counts.onlyA + p.counts.onlyB
}

/**
 * A release file's path with the version taken out of its `.dist-info` folder
 * (`pkg-1.0.0.dist-info/METADATA` → `pkg-*.dist-info/METADATA`): a package in two versions then
 * shows as its changed files, not as two sets of files each on one side (the versions themselves
 * are compared with the packages).
 */
export function releasePathKey(path: string): string {
  return path.replace(/(^|\/)([^/-]+)-[^/]+\.dist-info\//, '$1$2-*.dist-info/')
}

function byReleasePath(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([p, h]) => [releasePathKey(p), h]))
}

/** Compare two maps of path → hash. */
export function comparePaths(
  a: Record<string, string>,
  b: Record<string, string>,
  cap: number
): PathComparison {
  const changed: string[] = []
  const onlyA: string[] = []
  const onlyB: string[] = []
  let same = 0
  for (const p of Object.keys(a).sort()) {
    if (!Object.hasOwn(b, p)) onlyA.push(p)
    else if (a[p] !== b[p]) changed.push(p)
    else same++
  }
  for (const p of Object.keys(b).sort()) if (!Object.hasOwn(a, p)) onlyB.push(p)
  return {
    same: changed.length + onlyA.length + onlyB.length === 0,
    counts: { same, changed: changed.length, onlyA: onlyA.length, onlyB: onlyB.length },
    changed: changed.slice(0, cap),
    onlyA: onlyA.slice(0, cap),
    onlyB: onlyB.slice(0, cap)
  }
}

/** Distributions by normalized name (PEP 503). */
export function comparePackages(
  a: { name: string; version: string }[],
  b: { name: string; version: string }[]
): CompareReport['packages'] {
  const key = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-')
  const mb = new Map(b.map(p => [key(p.name), p]))
  const ma = new Map(a.map(p => [key(p.name), p]))
  const onlyA: string[] = []
  const onlyB: string[] = []
  const changed: { name: string; a: string; b: string }[] = []
  let sameCount = 0
  for (const [k, p] of [...ma.entries()].sort()) {
    const q = mb.get(k)
    if (!q) onlyA.push(`${p.name} ${p.version}`)
    else if (q.version !== p.version) changed.push({ name: p.name, a: p.version, b: q.version })
    else sameCount++
  }
  for (const [k, q] of [...mb.entries()].sort())
    if (!ma.has(k)) onlyB.push(`${q.name} ${q.version}`)
  return {
    same: onlyA.length + onlyB.length + changed.length === 0,
    onlyA,
    onlyB,
    changed,
    sameCount
  }
}

/** Compare two databases' schemas, row counts and checksums (checksums only within one engine). */
export function compareDatabases(
  a: DatabaseFacts | null,
  b: DatabaseFacts | null
): DatabaseComparison {
  const sameEngine = a !== null && b !== null && a.engine === b.engine
  const rowsA = new Map((a?.tables ?? []).map(t => [t.table, t]))
  const rowsB = new Map((b?.tables ?? []).map(t => [t.table, t]))
  const colsA = new Map((a?.schema ?? []).map(t => [t.table, t.columns]))
  const colsB = new Map((b?.schema ?? []).map(t => [t.table, t.columns]))
  const names = [...new Set([...rowsA.keys(), ...rowsB.keys(), ...colsA.keys(), ...colsB.keys()])]
  const tables: TableComparison[] = []
  let sameTables = 0
  for (const table of names.sort()) {
    const x = rowsA.get(table)
    const y = rowsB.get(table)
    const ca = colsA.get(table) ?? []
    const cb = colsB.get(table) ?? []
    const byName = new Map(cb.map(c => [c.name, c]))
    const columns = {
      onlyA: ca.filter(c => !byName.has(c.name)).map(c => c.name),
      onlyB: cb.filter(c => !ca.some(d => d.name === c.name)).map(c => c.name),
      changed: ca
        .filter(c => {
          const d = byName.get(c.name)
          return d && (d.type !== c.type || d.nullable !== c.nullable)
        })
        .map(c => {
          const d = byName.get(c.name)!
          const show = (k: { type: string; nullable: boolean }) =>
            `${k.type}${k.nullable ? '' : ' not null'}`
          return `${c.name}: ${show(c)} → ${show(d)}`
        })
    }
    const present = x !== undefined && y !== undefined
    const checksum: TableComparison['checksum'] =
      !present || !sameEngine ? 'not-comparable' : x.checksum === y.checksum ? 'same' : 'different'
    const differs =
      !present ||
      x.rows !== y.rows ||
      checksum === 'different' ||
      columns.onlyA.length + columns.onlyB.length + columns.changed.length > 0
    if (!differs) {
      sameTables++
      continue
    }
    tables.push({ table, rows: { a: x?.rows ?? null, b: y?.rows ?? null }, checksum, columns })
  }
  const engines = { a: a?.engine ?? null, b: b?.engine ?? null }
  return { same: tables.length === 0 && engines.a === engines.b, engines, sameTables, tables }
}
