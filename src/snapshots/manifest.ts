/**
 * The snapshot manifest: `<root>/snapshots/<id>/manifest.json`, written last, so a snapshot
 * directory without one is incomplete. It says when, which site and release, the database dump
 * (engine, file, size, sha256, per-table row counts and checksums) and the files (per data
 * folder, or shared file with `kind: file`: count, bytes, hash of the file list). It never holds a secret: the database is named
 * by engine and name only (no host, user or password).
 *
 * Format 2 (this version writes it) adds the plain sha256 (what `sha256sum` prints) of every
 * file: of the dump (each file of a directory-format dump) and of each data folder's files, by
 * path relative to the snapshot directory; and `sums`, the sha256 of the snapshot's SHA256SUMS
 * (see sums.ts), which lists the same files for `sha256sum -c`. Format 1 manifests (older
 * snapshots) are still read: their dump `sha256` is over a `"\0<size>\n"` prefix plus the
 * bytes (SUMMARIZE_TREE's `content` mode) and they have no per-file sums.
 *
 * Format 3 adds `database.store` for a dump kept as zstd files, some of them deltas against a
 * base snapshot's (dump-store.ts); its sums are still the plain sha256 of each stored file.
 */
import { readFileSync } from 'node:fs'
import { z } from '../util/zod.js'
import { SitecycleError } from '../util/errors.js'

export const MANIFEST_FILE = 'manifest.json'
/** The dump inside a snapshot directory (a file or, for some engines, a directory). */
export const DUMP_NAME = 'database.dump'
export const FILES_DIR = 'files'

/** Paths of one snapshot on its host. Pure. */
export interface SnapshotPaths {
  dir: string
  manifest: string
  dump: string
  files: string
  /** A data folder's (or shared file's) copy, by its name under files/ (see snapshotFolderName). */
  folder(name: string): string
}

export function snapshotPaths(snapshotsDir: string, id: string): SnapshotPaths {
  const dir = `${snapshotsDir}/${id}`
  return {
    dir,
    manifest: `${dir}/${MANIFEST_FILE}`,
    dump: `${dir}/${DUMP_NAME}`,
    files: `${dir}/${FILES_DIR}`,
    folder: name => `${dir}/${FILES_DIR}/${name}`
  }
}

/** The newest manifest format, the one snapshots are written in. */
export const MANIFEST_FORMAT = 3

/** A file of the snapshot: path relative to the snapshot directory, size, plain sha256. */
const fileSumSchema = z.object({
  path: z.string(),
  size: z.number(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/)
})

/** A table file of a stored PostgreSQL directory dump: `<dump id>.dat.zst`. */
const STORED_TABLE_FILE = /^[0-9]+\.dat\.zst$/

const tableSchema = z.object({ table: z.string(), rows: z.number(), checksum: z.string() })

const folderSchema = z.object({
  /** Absolute path of the data folder on the host. */
  source: z.string(),
  /** Its name under the snapshot's files/. */
  name: z.string(),
  /** `file`: a shared entry of kind file, copied as that one file; absent: a folder. */
  kind: z.literal('file').optional(),
  /** The folder did not exist when the snapshot was taken. */
  missing: z.boolean(),
  count: z.number(),
  bytes: z.number(),
  /** sha256 of the sorted file list (path, size, mtime). */
  listSha256: z.string(),
  /** Format 2: every regular file of the copy, with its plain sha256. */
  files: z.array(fileSumSchema).optional()
})

const baseSchema = z.object({
  format: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  id: z.string(),
  site: z.string(),
  host: z.string(),
  root: z.string(),
  /** When the snapshot started and finished (ISO 8601, UTC). */
  createdAt: z.string(),
  finishedAt: z.string(),
  /** The release live when the snapshot was taken. */
  live: z.string().nullable(),
  sitecycleVersion: z.string(),
  /** The snapshot whose files were hard-link candidates (--link-dest), if any. */
  previous: z.string().nullable(),
  database: z
    .object({
      engine: z.enum(['postgres', 'mysql', 'sqlite']),
      name: z.string(),
      /** The dump, relative to the snapshot directory. */
      dump: z.string(),
      format: z.string(),
      size: z.number(),
      /**
       * Format 2: the plain sha256 of the dump file (for a directory-format dump, of its lines in
       * SHA256SUMS: see digestOfDumpFiles). Format 1: sha256 over a size prefix plus the bytes.
       */
      sha256: z.string(),
      /** Format 2: each file of the dump, with its plain sha256. */
      files: z.array(fileSumSchema).optional(),
      /** Bytes the live database took. */
      databaseSize: z.number().nullable(),
      tables: z.array(tableSchema),
      /**
       * `live`: taken from the database around the dump and equal before and after it; `dump`:
       * of exactly what the dump holds; `file` (sqlite): the dump is a copy of the database
       * itself, `tables` hold names and row counts only, and the checksums are taken from the dump
       * when needed (verify.ts expectedTables).
       */
      checksumsFrom: z.enum(['live', 'dump', 'file']),
      /**
       * Format 3: the dump's table files are zstd, full or deltas against `base`'s same files;
       * a single-file dump (sqlite, mysql) is kept as written (`none`, a base) or as a zstd delta
       * against its base's (see dump-store.ts). Absent: the dump is read as it is.
       */
      store: z
        .object({
          compression: z.enum(['zstd', 'none']),
          base: z.string().nullable(),
          depth: z.number().int().min(0),
          deltas: z.array(z.string()),
          /** The base's file of each delta whose name differs (dump-store.ts DumpStore). */
          bases: z
            .record(z.string().regex(STORED_TABLE_FILE), z.string().regex(STORED_TABLE_FILE))
            .optional(),
          /** Stored bytes of the base's dump and of the chain's deltas so far (dump-store.ts). */
          baseBytes: z.number().optional(),
          chainBytes: z.number().optional()
        })
        .optional()
    })
    .nullable(),
  files: z.object({
    count: z.number(),
    bytes: z.number(),
    folders: z.array(folderSchema)
  }),
  /** Format 2: the snapshot's SHA256SUMS (dump and data files) and its own sha256. */
  sums: z
    .object({
      file: z.literal('SHA256SUMS'),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      count: z.number(),
      bytes: z.number()
    })
    .optional()
})

/** A format 2 manifest carries every per-file sum; say which is missing. */
function format2Gap(m: z.infer<typeof baseSchema>): (string | number)[] | undefined {
  if (m.format === 1) return undefined
  if (!m.sums) return ['sums']
  if (m.database && !m.database.files) return ['database', 'files']
  const i = m.files.folders.findIndex(f => !f.missing && !f.files)
  return i >= 0 ? ['files', 'folders', i, 'files'] : undefined
}

const manifestSchema = baseSchema.superRefine((m, ctx) => {
  const gap = format2Gap(m)
  if (gap) ctx.addIssue({ code: 'custom', path: gap, message: 'required in format 2' })
})

export type SnapshotManifest = z.infer<typeof manifestSchema>
export type FolderRecord = z.infer<typeof folderSchema>
export type DatabaseRecord = NonNullable<SnapshotManifest['database']>
export type FileSumRecord = z.infer<typeof fileSumSchema>

/** The manifest as written: stable key order, two-space indent, newline at the end. */
export function renderManifest(m: SnapshotManifest): string {
  return `${JSON.stringify(manifestSchema.parse(m), null, 2)}\n`
}

/** Parse a manifest read from `where`; SitecycleError naming it when it is not one. */
export function parseManifest(text: string, where: string): SnapshotManifest {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new SitecycleError(`${where} is not JSON: ${(e as Error).message}`, 'snapshot')
  }
  const parsed = manifestSchema.safeParse(data)
  if (!parsed.success) {
    const first = parsed.error.issues[0]
    throw new SitecycleError(
      `${where} is not a snapshot manifest: ${first.path.join('.') || '(top)'}: ${first.message}`,
      'snapshot'
    )
  }
  return parsed.data
}

let version: string | undefined
/** This sitecycle's version, from the package.json beside src/ or dist/ ('unknown' without one). */
export function sitecycleVersion(): string {
  // src/snapshots/manifest.ts and the bundled dist/cli.js sit at different depths.
  for (const candidate of ['../package.json', '../../package.json']) {
    if (version !== undefined) break
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'sitecycle' && pkg.version) version = pkg.version
    } catch {
      // not there: try the next
    }
  }
  return (version ??= 'unknown')
}
