/**
 * `sitecycle verify`: prove snapshots intact and restorable. Every byte of every file (the dump
 * and each data file, hard-linked ones included) is read and its sha256 compared with the
 * manifest and the snapshot's SHA256SUMS, whose own sha256 the manifest records; each file that
 * does not match is reported by path and snapshot. The dump is then restored into a scratch
 * database (`<name>__sc_verify_<tag>`, never the site's own) and every table's row count and
 * checksum compared with the manifest; the scratch database is dropped in every case. The data
 * folders' file lists (names, sizes, mtimes, symbolic links) are compared too. Several snapshots
 * can be verified in one run: an inode hard-linked into several of them is read once (the same
 * inode holds the same bytes) and judged against each snapshot's sums.
 *
 * Format 1 snapshots (written before per-file sums) are checked as far as their manifest
 * allows: the dump against its size-prefixed digest, the files by their list only.
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
import { checkBaseDump } from './check-dump.js'
import { VERIFY_WORK_PREFIX, withMaterializedDump } from './dump-store.js'
import { summarizeTree, type TreeSummary } from './files.js'
import { snapshotPaths, type DatabaseRecord, type SnapshotManifest } from './manifest.js'
import { listSnapshots, readManifest } from './list.js'
import {
  compareSums,
  describeMismatch as describeFileMismatch,
  hashSnapshotFiles,
  parseHashedDirs,
  runWithProgress,
  SUMS_FILE,
  type FileSum,
  type HashedDir,
  type SumMismatch
} from './sums.js'
import { bothSettled } from '../util/settled.js'

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

/**
 * The checksums a restored copy of a snapshot's dump must have: the manifest's; or, for a dump
 * that is a copy of the database itself (`checksumsFrom: 'file'`, sqlite), the manifest's tables
 * and row counts with the checksums read from the dump now (its sha256 has guarded it since).
 */
export async function expectedTables(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  record: Pick<DatabaseRecord, 'checksumsFrom' | 'tables' | 'engine'>,
  dumpPath: string
): Promise<TableChecksum[]> {
  if (record.checksumsFrom !== 'file') return record.tables
  if (!engine.checksumsOfCopy)
    throw new SitecycleError(
      `the snapshot's ${record.engine} dump has its checksums in the dump itself, which the ${engine.name} engine cannot read`,
      'database'
    )
  const read = new Map(
    (await engine.checksumsOfCopy(exec, db, dumpPath)).map(t => [t.table, t.checksum])
  )
  return record.tables.map(t => ({ ...t, checksum: read.get(t.table) ?? '' }))
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
  /**
   * Every file's sha256 against the manifest and SHA256SUMS (format 2); null for a format 1
   * snapshot, which has no per-file sums.
   */
  sums: null | {
    /** Files read and compared, and their bytes. */
    checked: number
    bytes: number
    /** SHA256SUMS is there and has the sha256 the manifest records. */
    sumsFileOk: boolean
    /** Each file that does not match, by path relative to the snapshot directory. */
    bad: SumMismatch[]
  }
  /** The manifest format (1: checked as far as it allows, see the module comment). */
  format: number
  /** One line per thing that does not match. */
  problems: string[]
}

/** Snapshots that did not verify: each outcome says what did not match. */
export class VerifyFailed extends SitecycleError {
  /** The first snapshot that did not verify. */
  readonly outcome: VerifyOutcome
  constructor(
    /** Every snapshot verified in the run, those that passed included. */
    readonly outcomes: VerifyOutcome[]
  ) {
    const failed = outcomes.filter(o => o.status === 'failed')
    super(
      failed
        .map(
          o =>
            `snapshot ${o.snapshot} of site ${o.site} does not verify:\n  ${o.problems.join('\n  ')}`
        )
        .join('\n'),
      'verify'
    )
    this.outcome = failed[0]
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
      ok:
        !!e &&
        !!a &&
        e.rows === a.rows &&
        (e.checksum === a.checksum || checksumScheme(e) !== checksumScheme(a))
    }
  })
}

/**
 * The scheme of a table checksum: its prefix (`h1:` postgres, `b2:` sqlite, since checksums hash
 * each row on its own), or '' for the older whole-table digests. Checksums of different schemes
 * cannot be compared: a snapshot taken by an older sitecycle is then checked by its row counts
 * (and its dump's bytes by sha256). Pure.
 */
function checksumScheme(t: TableChecksum): string {
  return /^([a-z0-9]+):/.exec(t.checksum)?.[1] ?? ''
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
  /** How often long hashing reports its progress, in ms (default 5000; 0: never). */
  progressIntervalMs?: number
  /** The engine registry (tests may pass their own). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
}

/**
 * Verify a snapshot (see the module comment). Holds the site lock so retention cannot remove
 * the snapshot meanwhile. Returns the outcome when everything matches; throws VerifyFailed
 * (carrying the outcome) when something does not.
 */
export async function verifySnapshot(req: VerifyRequest): Promise<VerifyOutcome> {
  const id = req.snapshot ?? (await newestSnapshot(req))
  const [outcome] = await verifySnapshots({ ...req, snapshots: [id] })
  return outcome
}

/**
 * Verify several snapshots in one run, under one lock (`snapshots: 'all'`: every complete one).
 * Resolves with the outcomes when all match; throws VerifyFailed carrying every outcome when any
 * does not.
 */
export async function verifySnapshots(
  req: Omit<VerifyRequest, 'snapshot'> & { snapshots: string[] | 'all' }
): Promise<VerifyOutcome[]> {
  const { site, exec, reporter } = req
  const python = req.config.app.python
  const layout = siteLayout(site.root)
  const snapshotsDir = layout.snapshots
  const ids =
    req.snapshots === 'all'
      ? (await listSnapshots(exec, site, python)).filter(s => s.complete).map(s => s.id)
      : req.snapshots
  if (!ids.length)
    throw new SitecycleError(
      `site ${site.name} has no snapshot to verify on ${exec.name}: take one with \`sitecycle snapshot ${site.name}\``,
      'snapshot'
    )
  return withSiteOperation(
    { op: 'verify', config: req.config, site, exec, reporter, lockWait: req.lockWait },
    ids.length === 1 ? { snapshot: ids[0] } : { snapshots: ids },
    async () => {
      const manifests: SnapshotManifest[] = []
      for (const id of ids) {
        const manifest = await readManifest(exec, snapshotsDir, id)
        if (!manifest)
          throw new SitecycleError(
            `no complete snapshot ${id} of site ${site.name} in ${snapshotsDir} on ${exec.name}; see \`sitecycle snapshots ${site.name}\``,
            'snapshot'
          )
        manifests.push(manifest)
      }
      const hashed = await hashAll(req, python, snapshotsDir, manifests)
      const outcomes: VerifyOutcome[] = []
      for (const manifest of manifests) {
        const id = manifest.id
        const paths = snapshotPaths(snapshotsDir, id)
        if (manifest.format === 1)
          reporter.warn(
            `snapshot ${id} has a format 1 manifest (no per-file sums): its dump is checked by its digest and restore, its data files by their list (names, sizes, mtimes) only`
          )
        const problems: string[] = []
        const sums = checkSums(manifest, hashed.get(paths.dir), problems)
        const files = await verifyFiles(exec, python, paths, manifest, problems)
        const database = manifest.database
          ? await verifyDatabase(req, python, paths.dir, manifest, sums, problems)
          : null
        outcomes.push({
          status: problems.length ? 'failed' : 'verified',
          site: site.name,
          host: exec.name,
          snapshot: id,
          database,
          files,
          sums: sums && {
            checked: sums.checked,
            bytes: sums.bytes,
            sumsFileOk: sums.sumsFileOk,
            bad: sums.bad
          },
          format: manifest.format,
          problems
        })
      }
      if (outcomes.some(o => o.status === 'failed')) throw new VerifyFailed(outcomes)
      return {
        status: 'verified',
        outcomes,
        journal: ids.length === 1 ? { snapshot: ids[0] } : { snapshots: ids }
      }
    }
  ).then(r => r.outcomes)
}

/**
 * Read every file of the format 2 snapshots in one host program run (each inode once), with
 * progress; the result by snapshot directory.
 */
async function hashAll(
  req: Omit<VerifyRequest, 'snapshot'>,
  python: string,
  snapshotsDir: string,
  manifests: SnapshotManifest[]
): Promise<Map<string, HashedDir>> {
  const dirs = manifests
    .filter(m => m.format >= 2)
    .map(m => ({ dir: snapshotPaths(snapshotsDir, m.id).dir, sums: true }))
  if (!dirs.length) return new Map()
  const progressPath = `${siteLayout(req.site.root).state}/progress-verify-${scratchTag()}.json`
  const r = await runWithProgress(req.exec, hashSnapshotFiles(python, dirs, progressPath), {
    progressPath,
    intervalMs: req.progressIntervalMs ?? 5000,
    reporter: req.reporter,
    label: `reading every file of ${dirs.length === 1 ? `snapshot ${manifests[0].id}` : `${dirs.length} snapshots`}`
  })
  const out = parseHashedDirs(r.stdout)
  req.reporter.info(
    `read ${out.bytesRead} bytes (each hard-linked file once) to check ${dirs.length} snapshot${dirs.length === 1 ? '' : 's'}`
  )
  return new Map(out.dirs.map(d => [d.dir, d]))
}

interface SumsCheck {
  checked: number
  bytes: number
  sumsFileOk: boolean
  bad: SumMismatch[]
  /** The dump's files all match. */
  dumpOk: boolean
}

/** Compare one format 2 snapshot's files with its manifest and SHA256SUMS; null for format 1. */
function checkSums(
  manifest: SnapshotManifest,
  hashed: HashedDir | undefined,
  problems: string[]
): SumsCheck | null {
  if (manifest.format === 1 || !hashed || !manifest.sums) return null
  const id = manifest.id
  const expected: FileSum[] = [
    ...(manifest.database?.files ?? []),
    ...manifest.files.folders.flatMap(f => f.files ?? [])
  ]
  const listed = hashed.sums!
  let sumsFileOk = listed.exists && listed.sha256 === manifest.sums.sha256
  if (!listed.exists) problems.push(`${SUMS_FILE} in snapshot ${id} is missing`)
  else if (listed.sha256 !== manifest.sums.sha256)
    problems.push(
      `${SUMS_FILE} in snapshot ${id} has sha256 ${listed.sha256}, the manifest says ${manifest.sums.sha256}: it was replaced or edited`
    )
  if (listed.badLines.length) {
    sumsFileOk = false
    problems.push(
      `${SUMS_FILE} in snapshot ${id}: line${listed.badLines.length > 1 ? 's' : ''} ${listed.badLines.join(', ')} not '<sha256>  <path>'`
    )
  }
  const bad = compareSums(expected, hashed.files, listed.exists ? listed.entries : undefined)
  const dump = manifest.database?.dump
  const inDump = (path: string) =>
    dump !== undefined && (path === dump || path.startsWith(`${dump}/`))
  for (const m of bad)
    problems.push(describeFileMismatch(id, m, inDump(m.path) ? 'database dump' : 'file'))
  return {
    checked: hashed.files.length,
    bytes: hashed.files.reduce((n, f) => n + f.size, 0),
    sumsFileOk,
    bad,
    dumpOk: dump === undefined || !bad.some(m => m.path === dump || m.path.startsWith(`${dump}/`))
  }
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
  sums: SumsCheck | null,
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
  let exists = true
  let dumpSha256Ok: boolean
  if (sums) {
    // Format 2: the dump's files were read with every other file (checkSums).
    dumpSha256Ok = sums.dumpOk
    exists = !sums.bad.some(m => m.path === record.dump && m.problem === 'missing')
  } else {
    const digest = JSON.parse(
      (await exec.run(summarizeTree(python, 'content', dumpPath))).stdout
    ) as TreeSummary
    exists = digest.exists
    dumpSha256Ok = digest.exists && digest.sha256 === record.sha256
    if (!digest.exists) problems.push(`database dump ${dumpPath} is missing`)
    else if (!dumpSha256Ok)
      problems.push(
        `database dump ${dumpPath} is corrupt: sha256 ${digest.sha256}, the manifest says ${record.sha256}`
      )
  }
  const tag = scratchTag()
  const scratch = scratchDatabase(configured, tag)
  reporter.info(`restoring ${record.dump} into the scratch database ${scratch.name}`)
  let actual: TableChecksum[] = []
  let expected: TableChecksum[] = record.tables
  let restored = false
  let restoreError: string | undefined
  if (record.store?.base) {
    // A delta is only as good as its base: its stored files are read against its manifest too.
    const bad = await checkBaseDump(exec, python, dir, manifest).catch((e: unknown) => [
      e instanceof Error ? e.message : String(e)
    ])
    for (const b of bad) problems.push(b)
    if (bad.length) dumpSha256Ok = false
  }
  if (exists) {
    try {
      // A stored (zstd) dump is decompressed beside the snapshots for the restore, then removed
      // (a killed verify's copy is removed by the next snapshot's retention).
      actual = await withMaterializedDump(
        exec,
        python,
        dir,
        manifest,
        `${dir.slice(0, dir.lastIndexOf('/'))}/${VERIFY_WORK_PREFIX}${tag}`,
        async path => {
          const [got, want] = await bothSettled(
            checksumsOfDump(exec, engine, configured, path, reporter, tag),
            expectedTables(exec, engine, configured, record, path)
          )
          expected = want
          return got
        }
      )
      restored = true
    } catch (e) {
      restoreError = e instanceof Error ? e.message : String(e)
      problems.push(
        `database dump does not restore: ${restoreError.split('\n').slice(0, 4).join(' ')}`
      )
    }
  }
  const tables = restored ? compareTables(expected, actual) : []
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
