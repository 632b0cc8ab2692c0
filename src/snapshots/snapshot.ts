/**
 * `sitecycle snapshot`: a point-in-time copy of a site's data under `<root>/snapshots/<id>/`.
 * Holding the site lock: remove what interrupted runs left → dump the database → copy the data
 * folders (unchanged files hard-linked to the previous snapshot) → hash every file (plain
 * sha256; a file that is the previous snapshot's very inode keeps the previous sum) and write
 * SHA256SUMS → write the manifest, last, so a directory without one is known incomplete →
 * apply retention.
 * Any failure removes the new directory; earlier snapshots and the live site are only read.
 * Everything runs through the Executor, so it works the same over SSH.
 */
import type { SitecycleConfig, SiteConfig, SnapshotRetention } from '../config/model.js'
import { SNAPSHOT_DEFAULTS } from '../config/schema.js'
import { commitFile, makeDirs, removeFile, removeTree, renamePath } from '../commands/files.js'
import type {
  DatabaseConfig,
  DatabaseEngine,
  DumpResult,
  TableChecksum
} from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import { CommandError, type Executor } from '../hosts/executor.js'
import { withSiteOperation, type OperationContext } from '../pipelines/operation.js'
import {
  PipelineError,
  runPipeline,
  describePlan,
  type Step,
  type StepReport
} from '../pipelines/pipeline.js'
import { siteLayout } from '../sites/layout.js'
import { isDataFile } from '../sites/shared-links.js'
import { mirrorNeedsOf } from '../sites/mirror-state.js'
import { readSiteState } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  apparentSize,
  diskOf,
  isDiskFull,
  listSeveralSnapshotDirs,
  listSnapshotDirs,
  makeSnapshotDir,
  parseDf,
  parseDu,
  rsyncFileInto,
  rsyncFolder,
  snapshotFolderName,
  summarizeTree,
  type DiskInfo,
  type SnapshotDirEntry,
  type TreeSummary
} from './files.js'
import {
  DUMP_NAME,
  MANIFEST_FORMAT,
  renderManifest,
  sitecycleVersion,
  snapshotPaths,
  type DatabaseRecord,
  type FolderRecord,
  type SnapshotManifest,
  type SnapshotPaths
} from './manifest.js'
import { describeBytes, listSnapshotIds, readManifest, snapshotIdsOf } from './list.js'
import { chooseRetained, snapshotIdFor, type RetentionPolicy } from './retention.js'
import { checksumsOfDump } from './verify.js'
import {
  BASES_DIR,
  chooseDeltaBase,
  DELTA_MEMORY_FACTOR,
  MAX_DELTA_BYTES,
  memAvailable,
  MAX_DELTAS,
  plainStoreRecord,
  SINGLE_DELTA_NAME,
  singleDeltaCommand,
  storeRecord,
  neededBases,
  planRemoval,
  requireZstd,
  STORED_PG_FORMAT,
  storeDump,
  VERIFY_WORK_PREFIX,
  type DumpStore
} from './dump-store.js'
import {
  digestOfDumpFiles,
  parseWrittenSums,
  runWithProgress,
  SUMS_FILE,
  writeSnapshotSums,
  type FileSum,
  type KnownSum
} from './sums.js'

export interface SnapshotRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  lockWait?: number
  /** The clock (tests pass a fake one): names the snapshot and ages the others for retention. */
  now?: () => Date
  /** Where the database password's variable is looked up (default process.env). */
  env?: NodeJS.ProcessEnv
  /** The engine registry (default: databases/registry.ts). */
  engines?: (name: DatabaseConfig['engine']) => DatabaseEngine
  /** How often a long copy reports its progress, in ms (default 5000; 0: never). */
  progressIntervalMs?: number
  /**
   * Called with the plain (uncompressed, `pg_dump -Fd -Z0`) dump directory of a PostgreSQL
   * snapshot once it is written, and its tables' checksums (taken in the dump's own transaction),
   * before it is compressed into the
   * snapshot and removed. A caller that reads the dump at once (a sync, for its scratch copy)
   * hard-links it here rather than decompress the stored one afterwards. Awaited: a failure
   * here fails the snapshot.
   */
  onPlainDump?: (path: string, tables: readonly TableChecksum[]) => Promise<void>
}

/** A snapshot taken. */
export interface SnapshotOutcome {
  status: 'created'
  site: string
  host: string
  id: string
  dir: string
  manifest: SnapshotManifest
  /** Snapshots retention removed. */
  removed: string[]
  /** Incomplete snapshots (of interrupted runs) removed first. */
  removedIncomplete: string[]
  steps: StepReport[]
  operationId: string
}

/** A snapshot that failed; its new directory was removed (unless `undoComplete` is false). */
export class SnapshotFailed extends SitecycleError {
  constructor(
    message: string,
    readonly failedStep: string,
    readonly steps: StepReport[],
    readonly undoComplete: boolean,
    /** The filesystem that filled up, when that is what happened. */
    readonly diskFull?: DiskInfo
  ) {
    super(message, 'snapshot')
    this.name = 'SnapshotFailed'
  }
}

/** The retention policy of a site: its `snapshots:` settings or the defaults. */
export function retentionOf(site: SiteConfig): RetentionPolicy {
  const s: SnapshotRetention = site.snapshots ?? {
    last: SNAPSHOT_DEFAULTS.keepLast,
    daily: SNAPSHOT_DEFAULTS.daily,
    weekly: SNAPSHOT_DEFAULTS.weekly,
    monthly: SNAPSHOT_DEFAULTS.monthly
  }
  return { last: s.last, daily: s.daily, weekly: s.weekly, monthly: s.monthly }
}

interface SnapshotContext {
  req: SnapshotRequest
  op: OperationContext
  exec: Executor
  python: string
  reporter: Reporter
  snapshotsDir: string
  startedAt: Date
  id: string
  paths: SnapshotPaths
  previous?: SnapshotManifest
  created: boolean
  live: string | null
  /** The site's state, read by the first step beside its listing (the lock is held). */
  liveRead?: Promise<string | null>
  database: DatabaseRecord | null
  folders: FolderRecord[]
  removed: string[]
  removedIncomplete: string[]
  /**
   * `snapshots/` and `snapshots/.bases` as listed by the first step, without the incomplete
   * snapshots it removed: retention starts from it (the lock is held all along, so what changed
   * since is what this run did).
   */
  listing?: SnapshotListing
  /** Sums the dump took of its own files as it wrote them (the SQLite copy), for SHA256SUMS. */
  knownSums: KnownSum[]
  /** Bytes the copy needs at most (the sources' sizes), for messages. */
  needBytes: number
  /** The SHA256SUMS written (format 2). */
  sums?: SnapshotManifest['sums']
  manifest?: SnapshotManifest
}

/** The first step's work: incomplete snapshots removed, the listing and the newest manifest kept. */
async function removeIncomplete(c: SnapshotContext): Promise<string | undefined> {
  // With snapshots/.bases, for the retention step at the end: one listing for both.
  const listing = await listSnapshotsAndBases(c.exec, c.python, c.snapshotsDir)
  const ids = snapshotIdsOf(listing.entries)
  const partial = ids.filter(s => !s.complete).map(s => s.id)
  if (partial.length)
    await c.exec.run(removeTree(...partial.map(id => snapshotPaths(c.snapshotsDir, id).dir)))
  c.removedIncomplete = partial
  c.listing = {
    entries: listing.entries.filter(e => !partial.includes(e.name)),
    hidden: listing.hidden
  }
  const complete = ids.filter(s => s.complete)
  const newest = complete[complete.length - 1]
  c.previous = newest && (await readManifest(c.exec, c.snapshotsDir, newest.id))
  return partial.length ? `removed ${partial.join(', ')}` : undefined
}

function snapshotSteps(): Step<SnapshotContext>[] {
  return [
    {
      name: 'remove-incomplete',
      title: 'remove snapshots that interrupted runs left without a manifest',
      run: async c => {
        // The release live now, read beside the listing (two host programs at once) for the
        // read-live step; that step reports its failure, if any.
        const liveRead = readSiteState(c.exec, c.req.site, c.python).then(s => s.live)
        const settled = liveRead.catch(() => null) // handled now; read-live awaits liveRead
        c.liveRead = liveRead
        try {
          return await removeIncomplete(c)
        } catch (e) {
          await settled // not left running behind a failed step
          throw e
        }
      }
    },
    {
      name: 'create-dir',
      title: 'create the snapshot directory',
      run: async c => {
        // One host program: snapshots/ (mode 750) made when missing, then the first free id of
        // this second (a second run in the same second takes the next one).
        const ids = Array.from({ length: 21 }, (_, seq) => snapshotIdFor(c.startedAt, seq))
        const made = await c.exec.tryRun(makeSnapshotDir(c.python, c.snapshotsDir, ids))
        const id = made.stdout.trim()
        if (made.code !== 0 || !ids.includes(id)) {
          const named = /^mkdir: cannot create directory '(.*)': /m.exec(made.stderr)
          throw new CommandError(
            c.exec.name,
            `mkdir ${named ? named[1] : snapshotPaths(c.snapshotsDir, ids[0]).dir}`,
            made.code,
            made.stdout,
            made.stderr
          )
        }
        c.id = id
        c.paths = snapshotPaths(c.snapshotsDir, id)
        c.created = true
        return c.paths.dir
      },
      undo: async c => {
        if (c.created) await c.exec.run(removeTree(c.paths.dir))
      }
    },
    {
      name: 'read-live',
      title: 'note the release live now',
      critical: false,
      run: async c => {
        c.live = await (c.liveRead ?? readSiteState(c.exec, c.req.site, c.python).then(s => s.live))
        return c.live ?? 'no release live'
      }
    },
    {
      name: 'dump-database',
      title: 'dump the database',
      when: c => c.req.site.database !== undefined,
      run: async c => dumpDatabase(c)
    },
    {
      name: 'copy-files',
      title:
        'copy the data folders and shared files, hard-linking files unchanged since the previous snapshot',
      when: c => (c.req.site.data ?? []).length > 0,
      run: async c => copyFolders(c)
    },
    {
      name: 'write-sums',
      title:
        "hash every file (plain sha256; hard-linked files keep the previous snapshot's sum) and write SHA256SUMS",
      run: async c => writeSums(c)
    },
    {
      name: 'write-manifest',
      title: 'write the manifest (the snapshot is complete from here)',
      run: async c => {
        const m = (c.manifest = manifestOf(c))
        // Durably (fsync, rename, fsync of the folder): retention may remove older snapshots next.
        await c.exec.run(commitFile(c.python, c.paths.manifest, renderManifest(m), 0o640))
      }
    },
    {
      name: 'apply-retention',
      title: 'remove snapshots the retention policy no longer keeps',
      critical: false,
      run: async c => {
        c.removed = await applyRetention(
          c.exec,
          c.req.site,
          c.python,
          c.req.now?.() ?? new Date(),
          [c.id],
          c.req.config,
          c.listing && {
            entries: [...c.listing.entries, { name: c.id, complete: true }],
            hidden: c.listing.hidden
          }
        )
        return c.removed.length ? `removed ${c.removed.join(', ')}` : 'nothing to remove'
      }
    }
  ]
}

/** The plan of a snapshot, one line per step (for --dry-run and docs). */
export function snapshotPlan(): string[] {
  return describePlan(snapshotSteps())
}

function manifestOf(c: SnapshotContext): SnapshotManifest {
  return {
    format: MANIFEST_FORMAT,
    id: c.id,
    site: c.req.site.name,
    host: c.exec.name,
    root: c.req.site.root,
    createdAt: c.startedAt.toISOString(),
    finishedAt: (c.req.now?.() ?? new Date()).toISOString(),
    live: c.live,
    sitecycleVersion: sitecycleVersion(),
    previous: c.previous?.id ?? null,
    database: c.database,
    files: {
      count: c.folders.reduce((n, f) => n + f.count, 0),
      bytes: c.folders.reduce((n, f) => n + f.bytes, 0),
      folders: c.folders
    },
    sums: c.sums
  }
}

/**
 * Hash every file of the new snapshot and write its SHA256SUMS; give the dump and each data
 * folder their files' sums in the manifest. A file that is the very inode the previous snapshot
 * holds at the same path (rsync --link-dest linked it) takes the previous sum without being read:
 * the same inode holds the same bytes, and if those bytes were damaged since, the kept sum is
 * the one that shows it (hashing again would record the damage as the truth).
 */
async function writeSums(c: SnapshotContext): Promise<string> {
  const prev = c.previous
  const previous =
    prev?.sums && prev.format >= 2
      ? { dir: snapshotPaths(c.snapshotsDir, prev.id).dir, sumsSha256: prev.sums.sha256 }
      : undefined
  const progressPath = `${siteLayout(c.req.site.root).state}/progress-${c.id}.json`
  const r = await runWithProgress(
    c.exec,
    writeSnapshotSums(c.python, c.paths.dir, previous, progressPath, c.knownSums),
    {
      progressPath,
      intervalMs: c.req.progressIntervalMs ?? 5000,
      reporter: c.reporter,
      label: `hashing the files of snapshot ${c.id}`
    }
  )
  const sums = parseWrittenSums(r.stdout)
  c.sums = { file: SUMS_FILE, sha256: sums.sha256, count: sums.count, bytes: sums.bytes }
  if (c.database) {
    const dump = c.database.dump
    const files = sums.files.filter(f => f.path === dump || f.path.startsWith(`${dump}/`))
    const single = files.length === 1 && files[0].path === dump
    c.database.files = files
    c.database.sha256 = single ? files[0].sha256 : digestOfDumpFiles(files)
    c.database.size = files.reduce((n, f) => n + f.size, 0)
  }
  const byFolder = new Map<string, FileSum[]>(c.folders.map(f => [f.name, []]))
  const names = c.folders.filter(f => !f.missing).map(f => f.name)
  for (const f of sums.files) {
    // The longest folder name the path is under (a data folder may sit inside another).
    const owner = names
      .filter(n => f.path.startsWith(`files/${n}/`) || f.path === `files/${n}`)
      .sort((a, b) => b.length - a.length)[0]
    if (owner !== undefined) byFolder.get(owner)!.push(f)
  }
  for (const f of c.folders) if (!f.missing) f.files = byFolder.get(f.name)
  return (
    `${sums.count} files, ${describeBytes(sums.hashedBytes)} read` +
    (sums.reused
      ? `; ${sums.reused} files (${describeBytes(sums.reusedBytes)}) hard-linked to ${prev!.id} keep its sums`
      : '')
  )
}

function sameChecksums(a: TableChecksum[], b: TableChecksum[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * Dump, with the checksums of exactly what the dump holds. Engines that can take them with the
 * dump read the live database once (postgres: in the dump's own snapshot, while pg_dump runs;
 * sqlite: from the copy). Otherwise (mysql) the checksums are taken before and after: equal, they
 * describe the dump; different (users wrote meanwhile), they are taken from the dump itself,
 * restored into a scratch database.
 */
async function dumpDatabase(c: SnapshotContext): Promise<string> {
  const db: DatabaseConfig = { ...c.req.site.database!, python: c.python }
  const engine = (c.req.engines ?? getEngine)(db.engine)
  let dump: DumpResult
  let tables: TableChecksum[]
  let from: DatabaseRecord['checksumsFrom']
  let measured: number | undefined
  const stored = engine.name === 'postgres' && engine.dumpWithChecksums !== undefined
  const raw = `${c.paths.dir}/database.raw`
  if (stored) await requireZstd(c.exec)
  if (engine.dumpCopy) {
    // sqlite: the copy is the dump; its checksums are read from it when needed.
    const copied = await engine.dumpCopy(c.exec, db, c.paths.dump, c.reporter)
    if (copied.sum) c.knownSums.push({ path: DUMP_NAME, ...copied.sum })
    dump = copied
    tables = copied.tables
    from = 'file'
    measured = copied.databaseSize
  } else if (engine.dumpWithChecksums) {
    // postgres: plain directory format, each table file then stored as zstd (dump-store.ts).
    const checked = stored
      ? await engine.dumpWithChecksums(c.exec, db, raw, c.reporter, {
          directory: true,
          compress: 0
        })
      : await engine.dumpWithChecksums(c.exec, db, c.paths.dump, c.reporter)
    dump = checked
    tables = checked.tables
    from = 'dump'
  } else {
    const before = await engine.checksums(c.exec, db)
    dump = await engine.dump(c.exec, db, c.paths.dump, c.reporter)
    const after = await engine.checksums(c.exec, db)
    tables = after
    from = 'live'
    if (!sameChecksums(before, after)) {
      c.reporter.info('the database changed during the dump: taking checksums from the dump itself')
      tables = await checksumsOfDump(c.exec, engine, db, dump.path, c.reporter)
      from = 'dump'
    }
  }
  let store: DumpStore | undefined
  let note = ''
  if (stored) {
    if (c.req.onPlainDump) await c.req.onPlainDump(raw, tables)
    const chosen = await chooseBase(c, db.engine)
    const r = await c.exec.tryRun(
      storeDump(
        c.python,
        raw,
        c.paths.dump,
        chosen && `${snapshotPaths(c.snapshotsDir, chosen.base).dump}`
      )
    )
    if (r.code !== 0)
      throw new SitecycleError(
        `could not store the dump of database ${db.name} with zstd on ${c.exec.name}: ${r.stderr.trim().split('\n').pop() || `exit code ${r.code}`}`,
        'database'
      )
    const out = JSON.parse(r.stdout) as {
      deltas: string[]
      bases: Record<string, string>
      full: number
      bytes: number
    }
    store = storeRecord(chosen, c.previous?.database?.store, out.deltas, out.bytes, out.bases)
    dump = { path: c.paths.dump, size: 0, format: STORED_PG_FORMAT }
    note = chosen
      ? `; ${out.deltas.length} table files as deltas against ${chosen.base} (${chainNote(chosen.depth, store)}), ${out.full} full`
      : `; ${out.full} table files full (zstd)`
  }
  if (!stored) {
    // sqlite, mysql: one file, kept as written or as a zstd delta against the chain's base.
    const single = await storeSingleFile(c, db.engine, dump.size)
    store = single.store
    note = single.note
    if (single.delta) {
      c.knownSums = c.knownSums.filter(k => k.path !== DUMP_NAME)
      dump = { ...dump, path: `${c.paths.dir}/${SINGLE_DELTA_NAME}` }
    }
  }
  // The dump's size and plain sha256 come with every other file's, in the write-sums step.
  const databaseSize = measured ?? (await engine.size(c.exec, db).catch(() => null))
  c.database = {
    engine: db.engine,
    name: db.name,
    dump: dump.path.startsWith(`${c.paths.dir}/`)
      ? dump.path.slice(c.paths.dir.length + 1)
      : DUMP_NAME,
    format: dump.format,
    size: dump.size,
    sha256: '',
    databaseSize,
    tables,
    checksumsFrom: from,
    ...(store && { store })
  }
  return `${db.engine} ${describeBytes(dump.size)}, ${tables.length} tables${note}`
}

/** Where a delta stands in its chain, for the dump step's note. */
function chainNote(depth: number, store: DumpStore): string {
  return `delta ${depth} of at most ${MAX_DELTAS}; the chain's deltas ${describeBytes(store.chainBytes ?? 0)} against the base's ${describeBytes(store.baseBytes ?? 0)}`
}

/**
 * A single-file dump (sqlite, mysql) at `c.paths.dump`, `size` bytes: a zstd delta against the chain's base
 * when there is one to make it against (chooseBase; both within zstd's window), its plain copy
 * then removed; else kept as it is, a base itself. zstd missing or failing: kept as it is, said.
 */
async function storeSingleFile(
  c: SnapshotContext,
  engine: string,
  size: number
): Promise<{ store: DumpStore; note: string; delta: boolean }> {
  const raw = c.paths.dump
  const chosen = size <= MAX_DELTA_BYTES ? await chooseBase(c, engine) : null
  const baseBytes = c.previous?.database?.store?.baseBytes ?? Infinity
  if (!chosen || baseBytes > MAX_DELTA_BYTES)
    return { store: plainStoreRecord(size), note: '', delta: false }
  const needs = DELTA_MEMORY_FACTOR * Math.max(size, baseBytes)
  const available = memAvailable(await c.exec.readFile('/proc/meminfo').catch(() => undefined))
  if (available !== undefined && available < needs) {
    c.reporter.info(
      `   the dump is kept whole: a delta against snapshot ${chosen.base} needs about ${describeBytes(needs)} of memory, and ${c.exec.name} has ${describeBytes(available)} available`
    )
    return { store: plainStoreRecord(size), note: '; kept whole (memory)', delta: false }
  }
  const out = `${c.paths.dir}/${SINGLE_DELTA_NAME}`
  const base = `${snapshotPaths(c.snapshotsDir, chosen.base).dir}/${DUMP_NAME}`
  const r = await c.exec.tryRun(singleDeltaCommand(base, raw, out))
  if (r.code !== 0) {
    await c.exec.tryRun(removeFile(out)).catch(() => undefined)
    const why = r.stderr.trim().split('\n').pop() || `exit code ${r.code}`
    c.reporter.warn(
      `could not store the dump as a delta against snapshot ${chosen.base} with zstd on ${c.exec.name} (${why}): kept whole`
    )
    return { store: plainStoreRecord(size), note: '; kept whole (zstd failed)', delta: false }
  }
  await c.exec.run(removeFile(raw))
  const bytes = await sizeOf(c.exec, out)
  const store = storeRecord(chosen, c.previous?.database?.store, [SINGLE_DELTA_NAME], bytes)
  return {
    store,
    note: `; stored as a zstd delta of ${describeBytes(bytes)} against ${chosen.base} (${chainNote(chosen.depth, store)})`,
    delta: true
  }
}

/**
 * The base the new snapshot's dump deltas against (dump-store.ts chooseDeltaBase): the previous
 * snapshot's chain, when its base is listed and retention, with the new snapshot counted, keeps it.
 */
async function chooseBase(
  c: SnapshotContext,
  engine: string
): Promise<{ base: string; depth: number } | null> {
  const prev = c.previous
  if (!prev?.database) return null
  const ids = (await listSnapshotIds(c.exec, c.req.site, c.python))
    .filter(s => s.complete)
    .map(s => s.id)
  const mirrors = await mirrorNeedsOf(c.exec, c.req.config, c.req.site)
  const kept = chooseRetained(
    [...ids, c.id],
    { ...retentionOf(c.req.site), mirrors },
    c.req.now?.() ?? new Date()
  ).keep
  return chooseDeltaBase(
    {
      id: prev.id,
      engine: prev.database.engine,
      store: prev.database.store,
      size: prev.database.size
    },
    engine,
    new Set(kept)
  )
}

async function sizeOf(exec: Executor, path: string): Promise<number> {
  const r = await exec.tryRun(apparentSize(path))
  return parseDu(r.stdout)[0]?.bytes ?? 0
}

async function copyFolders(c: SnapshotContext): Promise<string> {
  const site = c.req.site
  let linked = 0
  for (const source of site.data ?? []) {
    const name = snapshotFolderName(site.root, source)
    const target = c.paths.folder(name)
    const file = isDataFile(site, source)
    const kind = file ? ({ kind: 'file' } as const) : {}
    const what = file ? 'shared file' : 'data folder'
    const exists = (await c.exec.tryRun({ argv: ['test', file ? '-f' : '-d', source] })).code === 0
    if (!exists) {
      c.reporter.warn(`${what} ${source} does not exist on ${c.exec.name}: recorded as missing`)
      c.folders.push({ source, name, ...kind, missing: true, count: 0, bytes: 0, listSha256: '' })
      continue
    }
    const prev = c.previous?.files.folders.find(
      f => f.name === name && !f.missing && (f.kind === 'file') === file
    )
    const linkDest =
      prev && c.previous ? snapshotPaths(c.snapshotsDir, c.previous.id).folder(name) : undefined
    if (linkDest) linked++
    const total = await sizeOf(c.exec, source)
    c.needBytes += total
    const parent = target.slice(0, target.lastIndexOf('/'))
    await c.exec.run(makeDirs([parent], '750'))
    const copy = file
      ? rsyncFileInto(source, parent, linkDest && linkDest.slice(0, linkDest.lastIndexOf('/')))
      : rsyncFolder(source, target, linkDest)
    await copyWithProgress(c, copy, target, total, source)
    const s = JSON.parse(
      (await c.exec.run(summarizeTree(c.python, 'list', target))).stdout
    ) as TreeSummary
    c.folders.push({
      source,
      name,
      ...kind,
      missing: false,
      count: s.count,
      bytes: s.bytes,
      listSha256: s.sha256
    })
  }
  const count = c.folders.reduce((n, f) => n + f.count, 0)
  const bytes = c.folders.reduce((n, f) => n + f.bytes, 0)
  return `${count} files, ${describeBytes(bytes)}${linked ? `; unchanged files linked to ${c.previous!.id}` : ''}`
}

/** Run the copy; while it runs, report every interval how far the target has grown. */
async function copyWithProgress(
  c: SnapshotContext,
  command: Parameters<Executor['run']>[0],
  target: string,
  total: number,
  label: string
): Promise<void> {
  const interval = c.req.progressIntervalMs ?? 5000
  let finished = false
  const copy = c.exec.run(command).finally(() => {
    finished = true
  })
  if (interval <= 0) {
    await copy
    return
  }
  copy.catch(() => undefined) // observed below; keeps an early rejection from going unhandled
  while (!finished) {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      copy.catch(() => undefined),
      new Promise(r => {
        timer = setTimeout(r, interval)
      })
    ])
    clearTimeout(timer)
    if (finished) break
    const done = await sizeOf(c.exec, target)
    const pct = total > 0 ? ` (${Math.min(100, Math.round((done / total) * 100))}%)` : ''
    c.reporter.info(`   copying ${label}: ${describeBytes(done)} of ${describeBytes(total)}${pct}`)
  }
  await copy
}

/**
 * Remove the complete snapshots the site's retention policy does not keep (never one in `protect`,
 * never one a mirror of the site needs when `config` is given: snapshots/retention.ts).
 * Returns the ids removed. Removing one never touches the others: shared files are hard links,
 * and a snapshot whose dump a kept snapshot's deltas need (its base: dump-store.ts) is not
 * deleted but moved to `snapshots/.bases/` (no longer listed; its data folders removed) until
 * no kept snapshot needs it. Leftovers of killed runs (`.bases` entries without a manifest,
 * materialised dumps of verify) are removed too.
 */
export async function applyRetention(
  exec: Executor,
  site: SiteConfig,
  python: string,
  now: Date,
  protect: string[] = [],
  config?: SitecycleConfig,
  /** Both directories, when the caller holding the lock knows them (else they are listed). */
  listed?: SnapshotListing
): Promise<string[]> {
  const dir = siteLayout(site.root).snapshots
  const hiddenDir = `${dir}/${BASES_DIR}`
  const { entries, hidden: hiddenEntries } =
    listed ?? (await listSnapshotsAndBases(exec, python, dir))
  const ids = snapshotIdsOf(entries)
    .filter(s => s.complete)
    .map(s => s.id)
  const mirrors = config ? await mirrorNeedsOf(exec, config, site) : []
  const decision = chooseRetained(ids, { ...retentionOf(site), mirrors }, now)
  const remove = decision.remove.filter(id => !protect.includes(id))
  const kept = ids.filter(id => !remove.includes(id))
  const manifests = []
  for (const id of kept) {
    // A manifest that does not parse names no base it could need (and its snapshot cannot be
    // restored by sitecycle anyway): it keeps nothing else.
    const m = await readManifest(exec, dir, id).catch(() => undefined)
    if (m) manifests.push(m)
  }
  const hidden = snapshotIdsOf(hiddenEntries)
  const plan = planRemoval(
    remove,
    hidden.filter(h => h.complete).map(h => h.id),
    neededBases(manifests)
  )
  // Moved first (one rename each): a kill leaves every needed base in one place or the other.
  if (plan.hide.length) await exec.run(makeDirs([hiddenDir], '750'))
  for (const id of plan.hide) {
    const p = snapshotPaths(dir, id)
    const to = snapshotPaths(hiddenDir, id)
    await exec.run(removeTree(to.dir))
    await exec.run(renamePath(p.dir, to.dir))
    await exec.run(removeTree(to.files))
  }
  // The manifest first: a directory interrupted halfway through its removal reads as incomplete.
  for (const id of plan.remove) {
    const p = snapshotPaths(dir, id)
    await exec.run(removeTree(p.manifest))
    await exec.run(removeTree(p.dir))
  }
  const stale = [...plan.dropHidden, ...hidden.filter(h => !h.complete).map(h => h.id)].map(id =>
    snapshotPaths(hiddenDir, id)
  )
  for (const p of stale) await exec.run(removeTree(p.manifest))
  if (stale.length) await exec.run(removeTree(...stale.map(p => p.dir)))
  await removeMaterializedLeftovers(
    exec,
    python,
    dir,
    entries.map(e => e.name)
  )
  return remove
}

/** The entries of `snapshots/` and of `snapshots/.bases` (dump-store.ts). */
export interface SnapshotListing {
  entries: SnapshotDirEntry[]
  hidden: SnapshotDirEntry[]
}

/** List `snapshots/` and `snapshots/.bases` in one host program. */
async function listSnapshotsAndBases(
  exec: Executor,
  python: string,
  dir: string
): Promise<SnapshotListing> {
  const [entries, hidden] = JSON.parse(
    (await exec.run(listSeveralSnapshotDirs(python, [dir, `${dir}/${BASES_DIR}`]))).stdout
  ) as SnapshotDirEntry[][]
  return { entries, hidden }
}

/** Remove what a killed verify left beside the snapshots (the caller holds the site lock). */
export async function removeMaterializedLeftovers(
  exec: Executor,
  python: string,
  snapshotsDir: string,
  /** The directory's entries, when the caller has just listed them (under the lock). */
  listed?: string[]
): Promise<void> {
  const all =
    listed ??
    (
      JSON.parse(
        (await exec.run(listSnapshotDirs(python, snapshotsDir))).stdout
      ) as SnapshotDirEntry[]
    ).map(e => e.name)
  const names = all.filter(n => n.startsWith(VERIFY_WORK_PREFIX))
  if (names.length) await exec.run(removeTree(...names.map(n => `${snapshotsDir}/${n}`)))
}

/** The user-facing sentence for a failed snapshot, naming the full disk when that is the cause. */
async function describeFailure(c: SnapshotContext, e: PipelineError): Promise<SnapshotFailed> {
  const cause = e.cause
  const text =
    cause instanceof CommandError
      ? `${cause.message}\n${cause.stderr}`
      : String(cause instanceof Error ? cause.message : cause)
  const leftover = e.undoComplete
    ? c.created
      ? `the partial snapshot ${c.id} was removed`
      : 'nothing was written'
    : `the partial snapshot ${c.paths?.dir ?? ''} could not be removed: remove it by hand (the next snapshot run also will)`
  if (isDiskFull(text)) {
    const disk = parseDf((await c.exec.tryRun(diskOf(c.snapshotsDir))).stdout)
    const where = disk
      ? `${disk.filesystem} mounted on ${disk.mountedOn} (${describeBytes(disk.sizeBytes)}, ${describeBytes(disk.freeBytes)} free now)`
      : `the filesystem of ${c.snapshotsDir}`
    return new SnapshotFailed(
      `snapshot ${c.id} of site ${c.req.site.name} failed at step '${e.failedStep}': the disk is full: ${where} on ${c.exec.name} holds ${c.snapshotsDir}` +
        (c.needBytes ? ` and the data folders alone take ${describeBytes(c.needBytes)}` : '') +
        `; ${leftover}; earlier snapshots and the live site are untouched. Free space there, lower sites.${c.req.site.name}.snapshots, or move the snapshots to a larger disk`,
      e.failedStep,
      e.reports,
      e.undoComplete,
      disk
    )
  }
  const first = text.split('\n')[0]
  return new SnapshotFailed(
    `snapshot ${c.id} of site ${c.req.site.name} failed at step '${e.failedStep}': ${first}; ${leftover}; earlier snapshots and the live site are untouched`,
    e.failedStep,
    e.reports,
    e.undoComplete
  )
}

/**
 * Take a snapshot of a site (see the module comment). Resolves with the outcome; throws
 * SnapshotFailed (after removing the new directory) or SitecycleError (bad input, lock held).
 */
export async function takeSnapshot(req: SnapshotRequest): Promise<SnapshotOutcome> {
  const { site, exec, reporter } = req
  const db = site.database
  if (db?.passwordEnv) {
    const password = (req.env ?? process.env)[db.passwordEnv]
    if (!password)
      throw new SitecycleError(
        `the database password of site ${site.name} is not set: set the environment variable ${db.passwordEnv} (sites.${site.name}.database.password_env)`,
        'input'
      )
    reporter.addSecret(password)
  }
  if (db) (req.engines ?? getEngine)(db.engine) // an unknown engine fails here, before the host is touched
  const startedAt = req.now?.() ?? new Date()
  return withSiteOperation(
    { op: 'snapshot', config: req.config, site, exec, reporter, lockWait: req.lockWait },
    { snapshot: snapshotIdFor(startedAt) },
    async op => {
      const c: SnapshotContext = {
        req,
        op,
        exec,
        python: req.config.app.python,
        reporter,
        snapshotsDir: siteLayout(site.root).snapshots,
        startedAt,
        id: snapshotIdFor(startedAt),
        paths: snapshotPaths(siteLayout(site.root).snapshots, snapshotIdFor(startedAt)),
        created: false,
        live: null,
        database: null,
        folders: [],
        removed: [],
        removedIncomplete: [],
        knownSums: [],
        needBytes: 0
      }
      let steps: StepReport[]
      try {
        steps = await runPipeline(snapshotSteps(), c, reporter, {
          onEvent: e => op.journal.append({ id: op.opId, op: 'snapshot', event: 'step', ...e })
        })
      } catch (e) {
        if (e instanceof PipelineError) throw await describeFailure(c, e)
        throw e
      }
      return {
        status: 'created' as const,
        site: site.name,
        host: exec.name,
        id: c.id,
        dir: c.paths.dir,
        manifest: c.manifest!,
        removed: c.removed,
        removedIncomplete: c.removedIncomplete,
        steps,
        operationId: op.opId,
        journal: { snapshot: c.id, removed: c.removed }
      }
    }
  ).then(({ journal: _j, ...outcome }) => outcome)
}
