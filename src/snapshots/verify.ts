/**
 * `sitecycle verify`: prove a snapshot restorable. The dump is checked against its sha256,
 * restored into a scratch database (`<name>__sc_verify_<tag>`, never the site's own), and every
 * table's row count and checksum compared with the manifest; the scratch database is dropped in
 * every case. The files' lists are hashed again and compared too.
 */
import { randomBytes } from 'node:crypto'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { DatabaseConfig, DatabaseEngine, TableChecksum } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout } from '../sites/layout.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation } from '../pipelines/operation.js'
import { summarizeTree, type TreeSummary } from './files.js'
import { snapshotPaths, type SnapshotManifest } from './manifest.js'
import { listSnapshots, readManifest } from './list.js'

/** The scratch database a verify (or a checksum of a dump) restores into. */
export function scratchDatabase(db: DatabaseConfig, tag: string): DatabaseConfig {
  if (!/^[a-z0-9]{1,16}$/.test(tag)) throw new Error(`bad scratch tag ${tag}`)
  const suffix = `__sc_verify_${tag}`
  if (db.engine === 'sqlite') return { ...db, name: `${db.name}${suffix}` }
  // PostgreSQL names stop at 63 bytes, MySQL's at 64: keep the suffix, shorten the name.
  return { ...db, name: `${db.name.slice(0, 63 - suffix.length)}${suffix}` }
}

/** A short random tag for a scratch database. */
export function scratchTag(): string {
  return randomBytes(4).toString('hex')
}

/**
 * Restore a dump into a fresh scratch database, take its checksums and drop it (also when the
 * restore fails).
 */
export async function checksumsOfDump(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  dumpPath: string,
  reporter: Reporter,
  tag = scratchTag()
): Promise<TableChecksum[]> {
  const scratch = scratchDatabase(db, tag)
  try {
    await engine.restore(exec, scratch, dumpPath, reporter)
    return await engine.checksums(exec, scratch)
  } finally {
    await dropQuietly(exec, engine, scratch, reporter)
  }
}

async function dropQuietly(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  reporter: Reporter
): Promise<void> {
  try {
    if (await engine.exists(exec, db)) await engine.drop(exec, db)
  } catch (e) {
    reporter.warn(
      `could not drop the scratch database ${db.name}: ${e instanceof Error ? e.message : e}; drop it by hand`
    )
  }
}

/** One table compared: what the manifest says and what the restored dump holds. */
export interface TableComparison {
  table: string
  expected?: TableChecksum
  actual?: TableChecksum
  ok: boolean
}

/** The result of verifying one snapshot. */
export interface VerifyOutcome {
  status: 'verified' | 'failed'
  site: string
  host: string
  snapshot: string
  database: null | {
    engine: string
    scratch: string
    dumpSha256Ok: boolean
    restored: boolean
    restoreError?: string
    tables: TableComparison[]
  }
  files: { name: string; ok: boolean; expected: string; actual: string }[]
  /** One line per thing that does not match. */
  problems: string[]
}

/** A snapshot that did not verify: the outcome says what did not match. */
export class VerifyFailed extends SitecycleError {
  constructor(readonly outcome: VerifyOutcome) {
    super(
      `snapshot ${outcome.snapshot} of site ${outcome.site} does not verify:\n  ${outcome.problems.join('\n  ')}`,
      'verify'
    )
    this.name = 'VerifyFailed'
  }
}

/** Compare two checksum lists table by table. Pure. */
export function compareTables(
  expected: readonly TableChecksum[],
  actual: readonly TableChecksum[]
): TableComparison[] {
  const names = [...new Set([...expected, ...actual].map(t => t.table))].sort()
  return names.map(table => {
    const e = expected.find(t => t.table === table)
    const a = actual.find(t => t.table === table)
    return {
      table,
      ...(e && { expected: e }),
      ...(a && { actual: a }),
      ok: !!e && !!a && e.rows === a.rows && e.checksum === a.checksum
    }
  })
}

function describeMismatch(c: TableComparison): string {
  if (!c.actual) return `table ${c.table}: in the manifest, missing from the restored dump`
  if (!c.expected) return `table ${c.table}: in the restored dump, not in the manifest`
  if (c.expected.rows !== c.actual.rows)
    return `table ${c.table}: ${c.actual.rows} rows restored, the manifest says ${c.expected.rows}`
  return `table ${c.table}: checksum ${c.actual.checksum} restored, the manifest says ${c.expected.checksum}`
}

export interface VerifyRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** The snapshot id (default: the newest complete one). */
  snapshot?: string
  lockWait?: number
  /** The engine registry (tests may pass their own). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
}

/**
 * Verify a snapshot (see the module comment). Holds the site lock so retention cannot remove
 * the snapshot meanwhile. Returns the outcome when everything matches; throws VerifyFailed
 * (carrying the outcome) when something does not.
 */
export async function verifySnapshot(req: VerifyRequest): Promise<VerifyOutcome> {
  const { site, exec, reporter } = req
  const python = req.config.app.python
  const snapshotsDir = siteLayout(site.root).snapshots
  const id = req.snapshot ?? (await newestSnapshot(req))
  const paths = snapshotPaths(snapshotsDir, id)
  return withSiteOperation(
    { op: 'verify', config: req.config, site, exec, reporter, lockWait: req.lockWait },
    { snapshot: id },
    async () => {
      const manifest = await readManifest(exec, snapshotsDir, id)
      if (!manifest)
        throw new SitecycleError(
          `no complete snapshot ${id} of site ${site.name} in ${snapshotsDir} on ${exec.name}; see \`sitecycle snapshots ${site.name}\``,
          'snapshot'
        )
      const problems: string[] = []
      const files = await verifyFiles(exec, python, paths, manifest, problems)
      const database = manifest.database
        ? await verifyDatabase(req, python, paths.dir, manifest, problems)
        : null
      const outcome: VerifyOutcome = {
        status: problems.length ? 'failed' : 'verified',
        site: site.name,
        host: exec.name,
        snapshot: id,
        database,
        files,
        problems
      }
      if (problems.length) throw new VerifyFailed(outcome)
      return { ...outcome, journal: { snapshot: id } }
    }
  ).then(({ journal: _journal, ...outcome }: VerifyOutcome & { journal?: unknown }) => outcome)
}

async function newestSnapshot(req: VerifyRequest): Promise<string> {
  const all = await listSnapshots(req.exec, req.site, req.config.app.python)
  const complete = all.filter(s => s.complete)
  if (!complete.length)
    throw new SitecycleError(
      `site ${req.site.name} has no snapshot to verify on ${req.exec.name}: take one with \`sitecycle snapshot ${req.site.name}\``,
      'snapshot'
    )
  return complete[complete.length - 1].id
}

async function verifyFiles(
  exec: Executor,
  python: string,
  paths: ReturnType<typeof snapshotPaths>,
  manifest: SnapshotManifest,
  problems: string[]
): Promise<VerifyOutcome['files']> {
  const out: VerifyOutcome['files'] = []
  for (const f of manifest.files.folders) {
    if (f.missing) continue
    const r = await exec.run(summarizeTree(python, 'list', paths.folder(f.name)))
    const s = JSON.parse(r.stdout) as TreeSummary
    const ok = s.exists && s.sha256 === f.listSha256 && s.count === f.count && s.bytes === f.bytes
    if (!ok)
      problems.push(
        s.exists
          ? `files ${f.name}: ${s.count} files, ${s.bytes} bytes, list hash ${s.sha256.slice(0, 12)}; the manifest says ${f.count} files, ${f.bytes} bytes, ${f.listSha256.slice(0, 12)}`
          : `files ${f.name}: missing from the snapshot`
      )
    out.push({ name: f.name, ok, expected: f.listSha256, actual: s.sha256 })
  }
  return out
}

async function verifyDatabase(
  req: VerifyRequest,
  python: string,
  dir: string,
  manifest: SnapshotManifest,
  problems: string[]
): Promise<VerifyOutcome['database']> {
  const { exec, reporter, site } = req
  const record = manifest.database!
  const configured: DatabaseConfig | undefined = site.database && { ...site.database, python }
  if (!configured)
    throw new SitecycleError(
      `snapshot ${manifest.id} holds a ${record.engine} dump but site ${site.name} has no database in ${req.config.file}: add sites.${site.name}.database so verify knows where to restore a scratch copy`,
      'config'
    )
  if (configured.engine !== record.engine)
    throw new SitecycleError(
      `snapshot ${manifest.id} holds a ${record.engine} dump but site ${site.name} now uses ${configured.engine}`,
      'snapshot'
    )
  const engine = (req.engines ?? getEngine)(record.engine)
  const dumpPath = `${dir}/${record.dump}`
  const digest = JSON.parse(
    (await exec.run(summarizeTree(python, 'content', dumpPath))).stdout
  ) as TreeSummary
  const dumpSha256Ok = digest.exists && digest.sha256 === record.sha256
  if (!digest.exists) problems.push(`database dump ${dumpPath} is missing`)
  else if (!dumpSha256Ok)
    problems.push(
      `database dump ${dumpPath} is corrupt: sha256 ${digest.sha256}, the manifest says ${record.sha256}`
    )
  const tag = scratchTag()
  const scratch = scratchDatabase(configured, tag)
  reporter.info(`restoring ${record.dump} into the scratch database ${scratch.name}`)
  let actual: TableChecksum[] = []
  let restored = false
  let restoreError: string | undefined
  if (digest.exists) {
    try {
      actual = await checksumsOfDump(exec, engine, configured, dumpPath, reporter, tag)
      restored = true
    } catch (e) {
      restoreError = e instanceof Error ? e.message : String(e)
      problems.push(
        `database dump does not restore: ${restoreError.split('\n').slice(0, 4).join(' ')}`
      )
    }
  }
  const tables = restored ? compareTables(record.tables, actual) : []
  for (const t of tables) if (!t.ok) problems.push(describeMismatch(t))
  return {
    engine: record.engine,
    scratch: scratch.name,
    dumpSha256Ok,
    restored,
    ...(restoreError !== undefined && { restoreError }),
    tables
  }
}
