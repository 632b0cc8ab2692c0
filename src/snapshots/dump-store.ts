/**
 * Incremental database dumps (manifest format 3). A PostgreSQL snapshot dumps with
 * `pg_dump -Fd -Z0` (one plain file per table, `N.dat`, and `toc.dat`); the snapshot keeps
 * `toc.dat` (and any other file) as it is and each table file as `N.dat.zst`: either a full zstd
 * file, or a `zstd -1 --long=31 --patch-from=<base's N.dat>` delta against the same file of the
 * chain's base, the last full snapshot before it (bench/README.md: a 1 % change of rows costs
 * under 1 % of a full dump).
 *
 * Chains are short and never broken:
 * - a snapshot is full when the previous one has no such store, was of another engine, is itself
 *   of another engine, its chain's deltas together already outweigh the base (a delta holds
 *   every change since its base, so each is larger than the one before: starting a new chain
 *   when the deltas weigh as much as the base keeps the disk a chain costs near its least), the
 *   chain is at its longest (MAX_DELTAS deltas on one base), or its base is not visible or
 *   would not be kept by retention now; else it deltas against that base;
 * - each delta needs its base only (a star, not a line): a restore applies one delta, and any
 *   snapshot but a base can be removed freely;
 * - retention never deletes a base a kept snapshot needs: it moves it to `snapshots/.bases/<id>`
 *   (hidden from listing, restore and verify by id; its data folders removed), and deletes it
 *   once no kept snapshot names it (see snapshot.ts applyRetention).
 *
 * Reading a stored dump materialises it: each `N.dat.zst` decompressed (through its base for a
 * delta) into a temp directory the caller names and removes, toc.dat copied; pg_restore then
 * reads that directory. Table files over zstd's 2 GiB window are kept full.
 *
 * A single-file dump (sqlite's backup-API copy, mysqldump's SQL) is chained the same way, with
 * its base kept as it was written (`database.dump`, store `compression: none`): a snapshot that
 * can be a delta stores `database.dump.zst`, `zstd -1 --long=31 --patch-from=<base's
 * database.dump>`, and its plain copy is removed. The base costs no compression (a site's first
 * snapshot is as fast as before, and a restore of it reads the copy in place); each delta costs a
 * zstd pass (bench/README.md round 17: a 1 % change of rows of a 111 MB SQLite database, a 0.2 MB
 * delta in about 0.3 s).
 */
import storeDumpProgram from '../host/store-dump.py'
import materializeDumpProgram from '../host/materialize-dump.py'
import { cmd, type Command } from '../commands/command.js'
import { pythonProgram } from '../commands/databases/python-programs.js'
import { makeDirs, removeTree } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { DUMP_NAME, type SnapshotManifest } from './manifest.js'

/**
 * At most this many deltas hang on one full base, however small they are: a month of daily
 * snapshots, so a base (and a fault in it) never serves more than that.
 */
export const MAX_DELTAS = 30
/** A table file larger than this (zstd's largest window, 2 GiB) is stored full. */
export const MAX_DELTA_BYTES = 2 ** 31
/** Where retention keeps the bases kept snapshots still need, under the snapshots directory. */
export const BASES_DIR = '.bases'
/** The prefix of the directories verify materialises a dump into, beside the snapshots. */
export const VERIFY_WORK_PREFIX = '.sc-verify-'
/** The dump format of a stored (zstd, maybe delta) PostgreSQL directory dump. */
export const STORED_PG_FORMAT = 'pg-directory-zstd'
/** The stored name of a single-file dump kept as a delta against its base's `database.dump`. */
export const SINGLE_DELTA_NAME = `${DUMP_NAME}.zst`

/** The `store` record of a format-3 manifest's database. */
export interface DumpStore {
  /** `none`: a single-file dump kept as it was written (a base for later snapshots' deltas). */
  compression: 'zstd' | 'none'
  /** The snapshot whose dump the deltas apply to (a full one), or null: this one is full. */
  base: string | null
  /** 0 for a full snapshot, else its position after the base (1 to MAX_DELTAS). */
  depth: number
  /** The files of the dump directory stored as deltas against the base's file of the same table. */
  deltas: string[]
  /**
   * The base's file each delta was made against, where its name differs from the delta's (the
   * same table under another dump id: after a restore, or a new object before the tables).
   * Absent: every delta against the base's file of the same name.
   */
  bases?: Record<string, string>
  /** The stored bytes of the base's dump (this one's, when full). Absent in older manifests. */
  baseBytes?: number
  /** The stored bytes of the chain's deltas up to this one (0 when full). Absent in older ones. */
  chainBytes?: number
}

/** The previous snapshot, as the choice of a base sees it. */
export interface PreviousDump {
  id: string
  engine: string
  store?: DumpStore
  /** The stored bytes of its dump. */
  size?: number
}

/** The store record of a new snapshot, from its choice of base, the previous one and its size. */
export function storeRecord(
  chosen: { base: string; depth: number } | null,
  previous: DumpStore | undefined,
  deltas: string[],
  bytes: number,
  bases: Record<string, string> = {}
): DumpStore {
  return {
    compression: 'zstd',
    base: chosen?.base ?? null,
    depth: chosen?.depth ?? 0,
    deltas,
    ...(Object.keys(bases).length > 0 && { bases }),
    baseBytes: chosen ? (previous?.baseBytes ?? 0) : bytes,
    chainBytes: chosen ? (previous?.chainBytes ?? 0) + bytes : 0
  }
}

/**
 * A delta is made only when the host has this many times the larger of the two files available
 * (MemAvailable): zstd --patch-from held about 3 times the file's size to make one and 2 times to
 * apply one (bench/README.md round 17). Below that the file is stored whole: a snapshot must not
 * push the host's own services out of memory.
 */
export const DELTA_MEMORY_FACTOR = 4

/** MemAvailable of a `/proc/meminfo` text, in bytes; undefined when it says none. Pure. */
export function memAvailable(meminfo: string | undefined): number | undefined {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo ?? '')
  return m ? Number(m[1]) * 1024 : undefined
}

/** The store record of a single-file dump kept as it was written, `bytes` long: a base. */
export function plainStoreRecord(bytes: number): DumpStore {
  return { compression: 'none', base: null, depth: 0, deltas: [], baseBytes: bytes, chainBytes: 0 }
}

/** `zstd -1 --long=31 --patch-from=base raw -o out`: a single-file dump as a delta against base. */
export function singleDeltaCommand(base: string, raw: string, out: string): Command {
  return cmd(['zstd', '-q', '-1', '--long=31', `--patch-from=${base}`, raw, '-o', out])
}

/** `zstd -d --long=31 --patch-from=base delta -o out`: the plain dump back from its delta. */
export function singleUndeltaCommand(base: string, delta: string, out: string): Command {
  return cmd(['zstd', '-q', '-d', '--long=31', `--patch-from=${base}`, delta, '-o', out])
}

/**
 * Which base a new snapshot deltas against, and its depth; null: store it full. Full when there
 * is no previous stored dump of the same engine; when the chain's deltas, with one more as large
 * as the last, would outweigh the base; when the chain is at MAX_DELTAS; or when the base is not
 * among `keptNow` (visible and kept by retention with the new snapshot counted). Pure.
 */
export function chooseDeltaBase(
  previous: PreviousDump | undefined,
  engine: string,
  keptNow: ReadonlySet<string>
): { base: string; depth: number } | null {
  if (!previous?.store || previous.engine !== engine) return null
  const base = previous.store.base ?? previous.id
  const depth = previous.store.depth + 1
  if (depth > MAX_DELTAS || !keptNow.has(base)) return null
  const { baseBytes, chainBytes } = previous.store
  const last = previous.store.base === null ? 0 : (previous.size ?? 0)
  if (baseBytes !== undefined && chainBytes !== undefined && chainBytes + last > baseBytes)
    return null
  return { base, depth }
}

/** The bases the given (kept) snapshots need. Pure. */
export function neededBases(
  manifests: readonly Pick<SnapshotManifest, 'id' | 'database'>[]
): Set<string> {
  const out = new Set<string>()
  for (const m of manifests) {
    const base = m.database?.store?.base
    if (base) out.add(base)
  }
  return out
}

/**
 * What retention does with each snapshot it would remove: `hide` (a kept snapshot's base: moved
 * to .bases), `remove`; and which hidden bases no kept snapshot needs any more. Pure.
 */
export function planRemoval(
  remove: readonly string[],
  hidden: readonly string[],
  needed: ReadonlySet<string>
): { hide: string[]; remove: string[]; dropHidden: string[] } {
  return {
    hide: remove.filter(id => needed.has(id)),
    remove: remove.filter(id => !needed.has(id)),
    dropHidden: hidden.filter(id => !needed.has(id))
  }
}

/**
 * Host program, argv: raw dump dir, stored dump dir (made), base's stored dump dir or '', largest
 * delta source in bytes. Moves each file of the raw dump into the stored one: `N.dat` compressed
 * (a delta against the base's `N.dat.zst`, decompressed aside for the time of one file, when the
 * base has one and both are within the window; else full), anything else as it is. Removes the
 * raw dir. Prints {"deltas": [...], "full": n, "bytes": stored bytes}.
 */
export const STORE_DUMP_PROGRAM = storeDumpProgram

/**
 * Host program, argv: stored dump dir, base's stored dump dir or '', JSON {delta file: the base's
 * file it was made against}, output dir (made). Writes the plain dump: `N.dat.zst` decompressed
 * (a delta through its base file, decompressed aside first), other files copied. Prints
 * {"bytes": the bytes written}.
 */
export const MATERIALIZE_DUMP_PROGRAM = materializeDumpProgram

/** `python STORE_DUMP_PROGRAM raw out base limit` */
export function storeDump(python: string, raw: string, out: string, base: string | null): Command {
  return pythonProgram(python, STORE_DUMP_PROGRAM, [raw, out, base ?? '', String(MAX_DELTA_BYTES)])
}

/** `python MATERIALIZE_DUMP_PROGRAM stored base deltas out` */
export function materializeDumpCommand(
  python: string,
  stored: string,
  base: string | null,
  deltas: readonly string[],
  out: string,
  bases: Readonly<Record<string, string>> = {}
): Command {
  return pythonProgram(python, MATERIALIZE_DUMP_PROGRAM, [
    stored,
    base ?? '',
    JSON.stringify(Object.fromEntries(deltas.map(d => [d, bases[d] ?? d]))),
    out
  ])
}

/** Fail with a message naming the host when zstd is not installed there. */
export async function requireZstd(exec: Executor): Promise<void> {
  const r = await exec.tryRun(cmd(['zstd', '--version'])).catch(() => ({ code: 127 }))
  if (r.code !== 0)
    throw new SitecycleError(
      `zstd is not installed on ${exec.name}: database snapshots are stored with it (install the Debian package zstd there: apt-get install zstd)`,
      'database'
    )
}

/** The parent of a snapshot directory (a snapshots directory, or a sync's work directory). */
function parentOf(snapshotDir: string): string {
  return snapshotDir.slice(0, snapshotDir.lastIndexOf('/'))
}

/**
 * The directory of base snapshot `base` of the snapshot at `snapshotDir`: its sibling when it is
 * still listed, else the hidden copy retention keeps under .bases; undefined when neither has a
 * manifest.
 */
export async function locateBase(
  exec: Executor,
  snapshotDir: string,
  base: string
): Promise<string | undefined> {
  const parent = parentOf(snapshotDir)
  for (const dir of [`${parent}/${base}`, `${parent}/${BASES_DIR}/${base}`]) {
    const r = await exec.tryRun(cmd(['test', '-f', `${dir}/manifest.json`]))
    if (r.code === 0) return dir
  }
  return undefined
}

/** The base of a stored dump, found, or an error naming both snapshots. */
export async function requireBase(
  exec: Executor,
  snapshotDir: string,
  manifest: SnapshotManifest
): Promise<string> {
  const base = manifest.database!.store!.base!
  const dir = await locateBase(exec, snapshotDir, base)
  if (!dir)
    throw new SitecycleError(
      `snapshot ${manifest.id} is stored as deltas against snapshot ${base}, which is missing on ${exec.name} (neither ${parentOf(snapshotDir)}/${base} nor ${parentOf(snapshotDir)}/${BASES_DIR}/${base})`,
      'snapshot'
    )
  return dir
}

/** Whether a manifest's dump is stored (zstd) and must be materialised before it is read. */
export function isStoredDump(manifest: SnapshotManifest): boolean {
  return manifest.database?.store?.compression === 'zstd'
}

/**
 * The dump of a snapshot as pg_restore (or the engine) reads it: the stored path itself for an
 * older dump; for a stored one, materialised into `into` (made; the caller removes it with
 * {@link removeMaterialized}, also on failure). A kill leaves `into` for whoever cleans its
 * parent.
 */
export async function materializeDump(
  exec: Executor,
  python: string,
  snapshotDir: string,
  manifest: SnapshotManifest,
  into: string
): Promise<string> {
  const record = manifest.database!
  if (!isStoredDump(manifest)) return `${snapshotDir}/${record.dump}`
  if (record.format !== STORED_PG_FORMAT)
    return materializeSingle(exec, snapshotDir, manifest, into)
  const baseDir = record.store!.base ? await requireBase(exec, snapshotDir, manifest) : null
  await exec.run(removeTree(into))
  const out = `${into}/${record.dump.split('/').pop()}`
  const r = await exec.tryRun(
    materializeDumpCommand(
      python,
      `${snapshotDir}/${record.dump}`,
      baseDir && `${baseDir}/${record.dump}`,
      record.store!.deltas,
      out,
      record.store!.bases
    )
  )
  if (r.code !== 0) {
    await exec.tryRun(removeTree(into)).catch(() => undefined)
    if (r.code === 4) await requireZstd(exec)
    throw new SitecycleError(
      `could not decompress the dump of snapshot ${manifest.id} on ${exec.name}` +
        (record.store!.base ? ` (deltas against snapshot ${record.store!.base})` : '') +
        `: ${r.stderr.trim().split('\n').pop() || `exit code ${r.code}`}`,
      'snapshot'
    )
  }
  return out
}

/**
 * A single-file dump stored as a delta (`database.dump.zst`), decompressed through its base's
 * `database.dump` into `into/database.dump`.
 */
async function materializeSingle(
  exec: Executor,
  snapshotDir: string,
  manifest: SnapshotManifest,
  into: string
): Promise<string> {
  const record = manifest.database!
  if (record.dump !== SINGLE_DELTA_NAME || !record.store!.base)
    throw new SitecycleError(
      `snapshot ${manifest.id} names its dump ${record.dump} stored with zstd; a ${record.engine} dump is stored as ${DUMP_NAME}, or as ${SINGLE_DELTA_NAME} with a base`,
      'snapshot'
    )
  const baseDir = await requireBase(exec, snapshotDir, manifest)
  await exec.run(removeTree(into))
  await exec.run(makeDirs([into], '700'))
  const out = `${into}/${DUMP_NAME}`
  const r = await exec.tryRun(
    singleUndeltaCommand(`${baseDir}/${DUMP_NAME}`, `${snapshotDir}/${record.dump}`, out)
  )
  if (r.code !== 0) {
    await exec.tryRun(removeTree(into)).catch(() => undefined)
    if (r.code === 127) await requireZstd(exec)
    throw new SitecycleError(
      `could not decompress the dump of snapshot ${manifest.id} on ${exec.name} (a delta against snapshot ${record.store!.base}): ${zstdMessage(r.stderr) || `exit code ${r.code}`}`,
      'snapshot'
    )
  }
  return out
}

/** zstd's last message, without the file name it begins with (`name : error ...`). */
function zstdMessage(stderr: string): string {
  const last = stderr.trim().split('\n').pop() ?? ''
  return last.replace(/^[^\n]*? : (?=[a-z])/i, '')
}

/** Remove a materialised dump (quietly: the caller may already be failing). */
export async function removeMaterialized(exec: Executor, into: string): Promise<void> {
  await exec.tryRun(removeTree(into)).catch(() => undefined)
}

/** Materialise, run `use` on the plain dump's path, remove the materialised copy whatever happens. */
export async function withMaterializedDump<T>(
  exec: Executor,
  python: string,
  snapshotDir: string,
  manifest: SnapshotManifest,
  into: string,
  use: (dumpPath: string) => Promise<T>
): Promise<T> {
  try {
    const path = await materializeDump(exec, python, snapshotDir, manifest, into)
    return await use(path)
  } finally {
    if (isStoredDump(manifest)) await removeMaterialized(exec, into)
  }
}
