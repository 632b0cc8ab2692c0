/**
 * The check a restore, sync or clone makes before it uses a snapshot's dump: every byte of the
 * dump read and compared with the sums in the manifest (plain sha256 of each dump file, format 2;
 * the older size-prefixed digest, format 1). Nothing is changed by the check itself.
 */
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { summarizeTree, type TreeSummary } from './files.js'
import { requireBase } from './dump-store.js'
import { MANIFEST_FILE, parseManifest, type SnapshotManifest } from './manifest.js'
import { compareSums, hashSnapshotFiles, parseHashedDirs, runWithProgress } from './sums.js'

/** How a long check reports its progress (optional). */
export interface CheckProgress {
  reporter: Reporter
  /** A file on the host the hashing program may write its progress to (removed at the end). */
  progressPath: string
  /** How often to report, in ms (default 5000; 0: never). */
  intervalMs?: number
}

/**
 * Check a snapshot's dump against its manifest, reading every byte. Throws a SitecycleError
 * naming the dump file (and the snapshot) when a file is missing or its sha256 differs; resolves
 * with a short note (`dump sha256 1a2b3c4d5e6f matches`) otherwise, or when there is no dump.
 */
export async function checkSnapshotDump(
  exec: Executor,
  python: string,
  manifest: SnapshotManifest,
  snapshotDir: string,
  progress?: CheckProgress
): Promise<string> {
  const record = manifest.database
  if (!record) return 'no database in the snapshot'
  const dumpPath = `${snapshotDir}/${record.dump}`
  if (manifest.format === 1 || !record.files) {
    const digest = JSON.parse(
      (await exec.run(summarizeTree(python, 'content', dumpPath))).stdout
    ) as TreeSummary
    if (!digest.exists)
      throw new SitecycleError(
        `the dump ${dumpPath} of snapshot ${manifest.id} is missing`,
        'snapshot'
      )
    if (digest.sha256 !== record.sha256)
      throw new SitecycleError(
        `the dump ${dumpPath} of snapshot ${manifest.id} is corrupt: sha256 ${digest.sha256}, the manifest says ${record.sha256}; nothing was changed`,
        'snapshot'
      )
    return `dump sha256 ${digest.sha256.slice(0, 12)} matches`
  }
  if (record.store?.base) {
    const bad = await checkBaseDump(exec, python, snapshotDir, manifest)
    if (bad.length) throw new SitecycleError(`${bad[0]}; nothing was changed`, 'snapshot')
  }
  const r = await runWithProgress(
    exec,
    hashSnapshotFiles(python, [{ dir: snapshotDir, only: [record.dump] }], progress?.progressPath),
    {
      progressPath: progress?.progressPath,
      intervalMs: progress?.intervalMs ?? 5000,
      reporter: progress?.reporter,
      label: `checking the dump of snapshot ${manifest.id}`
    }
  )
  const [hashed] = parseHashedDirs(r.stdout).dirs
  if (hashed.missing.length)
    throw new SitecycleError(
      `the dump ${dumpPath} of snapshot ${manifest.id} is missing`,
      'snapshot'
    )
  const bad = compareSums(record.files, hashed.files)
  if (bad.length) {
    const m = bad[0]
    const file = `${snapshotDir}/${m.path}`
    const what =
      m.problem === 'changed'
        ? `is corrupt: sha256 ${m.actual}, the manifest says ${m.expected}`
        : m.problem === 'missing'
          ? 'is missing'
          : 'is not in the manifest'
    throw new SitecycleError(
      `the dump file ${file} of snapshot ${manifest.id} ${what}` +
        (bad.length > 1 ? ` (and ${bad.length - 1} more dump files do not match)` : '') +
        '; nothing was changed',
      'snapshot'
    )
  }
  return `dump sha256 ${record.sha256.slice(0, 12)} matches (${hashed.files.length} file${hashed.files.length === 1 ? '' : 's'})`
}

/**
 * The stored dump files of the base a snapshot's deltas need, read against the base's own
 * manifest (the base may be listed or kept hidden under .bases: dump-store.ts). Returns one
 * sentence per problem (none: the base is whole). Throws when the base is missing.
 */
export async function checkBaseDump(
  exec: Executor,
  python: string,
  snapshotDir: string,
  manifest: SnapshotManifest
): Promise<string[]> {
  const baseDir = await requireBase(exec, snapshotDir, manifest)
  const path = `${baseDir}/${MANIFEST_FILE}`
  const text = await exec.readFile(path)
  if (text === undefined) return [`the manifest ${path} of base snapshot is missing`]
  const base = parseManifest(text, `${path} on ${exec.name}`)
  const record = base.database
  if (!record?.files)
    return [`base snapshot ${base.id} of snapshot ${manifest.id} has no per-file sums for its dump`]
  const r = await exec.run(hashSnapshotFiles(python, [{ dir: baseDir, only: [record.dump] }]))
  const [hashed] = parseHashedDirs(r.stdout).dirs
  return compareSums(record.files, hashed.files).map(
    m =>
      `the dump file ${baseDir}/${m.path} of base snapshot ${base.id} (snapshot ${manifest.id} is stored as deltas against it) ` +
      (m.problem === 'changed'
        ? `is corrupt: sha256 ${m.actual}, its manifest says ${m.expected}`
        : m.problem === 'missing'
          ? 'is missing'
          : 'is not in its manifest')
  )
}
