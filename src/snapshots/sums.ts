/**
 * Plain sha256 of every file of a snapshot, and its `SHA256SUMS`: the file `sha256sum -c`
 * checks when run from the snapshot directory. It lists every regular file under the snapshot
 * directory (the dump, each file of a directory-format dump, each file under files/), by path
 * relative to that directory, in the format GNU sha256sum prints (a name holding a backslash,
 * a newline or a carriage return is escaped and its line starts with a backslash). It leaves
 * out manifest.json and itself; the manifest records the sha256 of SHA256SUMS, so the pair
 * cannot be swapped silently. Symbolic links are not in it (sha256sum would follow them); the
 * manifest's per-folder list hash covers them.
 *
 * The hashing runs on the snapshot's host, as one Python program (SNAPSHOT_SUMS) that reads
 * and writes file names as bytes, so any name a filesystem holds round-trips. It reports its
 * progress into a small JSON file that the caller polls (runWithProgress).
 */
import { createHash } from 'node:crypto'
import { cmd, type Command } from '../commands/command.js'
import { removeTree } from '../commands/files.js'
import { CommandError, type Executor, type RunResult } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import snapshotSumsProgram from '../host/snapshot-sums.py'

export const SUMS_FILE = 'SHA256SUMS'

/** One file of a snapshot: its path relative to the snapshot directory, size and plain sha256. */
export interface FileSum {
  path: string
  size: number
  sha256: string
}

/**
 * Host program. argv: mode, progress file (or `-`), then by mode:
 *
 * - `write <dir> <previous dir|-> <sha256 of the previous SHA256SUMS|-> [<known json>]`: hash
 *   every file of the snapshot `dir` and write `dir/SHA256SUMS` (aside, fsync, rename). A file
 *   that is the very inode the previous snapshot holds at the same path (rsync --link-dest made
 *   it a hard link) takes the previous snapshot's sum instead of being read again, but only when
 *   the previous SHA256SUMS still has the sha256 its manifest records. `known` (KnownSum) gives
 *   files that the program writing them hashed as it wrote them (the SQLite copy): such a file
 *   takes that sum while its lstat has the identity given, and is read otherwise. Prints JSON `{sha256, count, bytes,
 *   hashed, hashedBytes, reused, reusedBytes, files: [[path, size, sha256]...]}`.
 * - `hash <json>`: json is `[{dir, only: [paths] | null, sums: bool}]`. Hashes the files of each
 *   snapshot directory (only those at or under `only`, when given), reading each inode once
 *   across all of them (a hard-linked file has the same bytes wherever it is linked); with
 *   `sums`, also reads and parses its SHA256SUMS. Prints JSON `[{dir, files: [[path, size,
 *   sha256]...], missing: [paths of only not found], sums: null | {exists, sha256, entries:
 *   [[path, sha256]...], badLines: [numbers]}}]` and `bytesRead`.
 *
 * Progress: `{"doneBytes", "totalBytes", "doneFiles", "totalFiles"}` written aside and renamed
 * over the progress file about twice a second; removed at the end. Errors writing it are ignored.
 */
export const SNAPSHOT_SUMS = snapshotSumsProgram

/** What `SNAPSHOT_SUMS write` prints. */
export interface WrittenSums {
  /** sha256 of the SHA256SUMS written. */
  sha256: string
  count: number
  bytes: number
  /** Files read and hashed, and their bytes. */
  hashed: number
  hashedBytes: number
  /** Files whose sum was taken from the previous snapshot (the same inode), and their bytes. */
  reused: number
  reusedBytes: number
  files: FileSum[]
}

/** What `SNAPSHOT_SUMS hash` prints for one snapshot directory. */
export interface HashedDir {
  dir: string
  files: FileSum[]
  /** Paths of `only` that do not exist. */
  missing: string[]
  sums: null | {
    exists: boolean
    /** sha256 of SHA256SUMS as it is on disk. */
    sha256: string
    /** Its entries, parsed: path and sha256. */
    entries: { path: string; sha256: string }[]
    /** Line numbers that are not `<sha256>  <path>`. */
    badLines: number[]
  }
}

/**
 * A file's sum taken by the host program that wrote it (the SQLite copy hashes its file while it
 * syncs it), with the file's identity then: `dev:inode:size:mtime_ns:ctime_ns` of its lstat (a
 * string: nanoseconds do not fit a JSON number). The sum holds while the file has that identity
 * (a write or a rename changes it).
 */
export interface KnownSum {
  /** Relative to the snapshot directory. */
  path: string
  sha256: string
  identity: string
}

/** One snapshot directory to hash: all its files, or only those at or under `only`. */
export interface HashRequest {
  dir: string
  only?: string[]
  /** Also read and parse its SHA256SUMS. */
  sums?: boolean
}

/**
 * `python3 -I -S -c SNAPSHOT_SUMS write <progress|-> <dir> <previous dir|-> <previous sums sha256|-> [<known>]`:
 * hash a snapshot's files (reusing the previous snapshot's sums for the same inodes, and the
 * `known` sums of files still as they were when they were hashed) and write its SHA256SUMS.
 */
export function writeSnapshotSums(
  python: string,
  dir: string,
  previous?: { dir: string; sumsSha256: string },
  progressPath?: string,
  known: KnownSum[] = []
): Command {
  return cmd([
    python,
    '-I',
    '-S',
    '-c',
    SNAPSHOT_SUMS,
    'write',
    progressPath ?? '-',
    dir,
    previous?.dir ?? '-',
    previous?.sumsSha256 ?? '-',
    ...(known.length ? [JSON.stringify(known.map(k => [k.path, k.sha256, k.identity]))] : [])
  ])
}

/** `python3 -I -S -c SNAPSHOT_SUMS hash <progress|-> <json>`: hash snapshot directories' files. */
export function hashSnapshotFiles(
  python: string,
  requests: HashRequest[],
  progressPath?: string
): Command {
  const json = JSON.stringify(
    requests.map(r => ({ dir: r.dir, only: r.only ?? null, sums: r.sums ?? false }))
  )
  return cmd([python, '-I', '-S', '-c', SNAPSHOT_SUMS, 'hash', progressPath ?? '-', json])
}

type Row = [string, number, string]

/** Parse what `SNAPSHOT_SUMS write` printed. */
export function parseWrittenSums(stdout: string): WrittenSums {
  const raw = JSON.parse(stdout) as Omit<WrittenSums, 'files'> & { files: Row[] }
  return { ...raw, files: raw.files.map(rowToSum) }
}

/** Parse what `SNAPSHOT_SUMS hash` printed. */
export function parseHashedDirs(stdout: string): { dirs: HashedDir[]; bytesRead: number } {
  const raw = JSON.parse(stdout) as {
    bytesRead: number
    dirs: (Omit<HashedDir, 'files' | 'sums'> & {
      files: Row[]
      sums: null | (Omit<NonNullable<HashedDir['sums']>, 'entries'> & { entries: string[][] })
    })[]
  }
  return {
    bytesRead: raw.bytesRead,
    dirs: raw.dirs.map(d => ({
      ...d,
      files: d.files.map(rowToSum),
      sums: d.sums && {
        ...d.sums,
        entries: d.sums.entries.map(([path, sha256]) => ({ path, sha256 }))
      }
    }))
  }
}

function rowToSum([path, size, sha256]: Row): FileSum {
  return { path, size, sha256 }
}

/**
 * One SHA256SUMS line, as GNU sha256sum prints it: `<sha256>  <path>\n`, or, for a path holding
 * a backslash, newline or carriage return, `\<sha256>  <escaped path>\n`. Pure.
 */
export function sumsLine(sha256: string, path: string): string {
  if (!/[\\\n\r]/.test(path)) return `${sha256}  ${path}\n`
  const escaped = path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
  return `\\${sha256}  ${escaped}\n`
}

/**
 * The digest the manifest gives a directory-format dump: the sha256 of its files' SHA256SUMS
 * lines, in SHA256SUMS order (`grep ' database.dump/' SHA256SUMS | sha256sum` prints it, for
 * names without backslash or newline). A one-file dump's digest is that file's plain sha256. Pure.
 */
export function digestOfDumpFiles(files: readonly FileSum[]): string {
  const h = createHash('sha256')
  for (const f of files) h.update(sumsLine(f.sha256, f.path))
  return h.digest('hex')
}

/** One file that does not match. */
export interface SumMismatch {
  path: string
  problem: 'changed' | 'missing' | 'unlisted' | 'sums-disagree'
  /** What the manifest (or SHA256SUMS) says. */
  expected?: string
  /** What the file holds now. */
  actual?: string
}

/**
 * Compare the files found in a snapshot with the sums recorded for them: `expected` from the
 * manifest, `listed` from SHA256SUMS (when read). Each path is reported once: changed (its
 * sha256 differs), missing (recorded, not found), unlisted (found, recorded nowhere), or
 * sums-disagree (the manifest and SHA256SUMS give different sums, whatever the file holds).
 * Pure; sorted by path.
 */
export function compareSums(
  expected: readonly FileSum[],
  actual: readonly FileSum[],
  listed?: readonly { path: string; sha256: string }[]
): SumMismatch[] {
  const exp = new Map(expected.map(f => [f.path, f.sha256]))
  const act = new Map(actual.map(f => [f.path, f.sha256]))
  const lst = listed && new Map(listed.map(f => [f.path, f.sha256]))
  const paths = [...new Set([...exp.keys(), ...act.keys(), ...(lst?.keys() ?? [])])].sort()
  const out: SumMismatch[] = []
  for (const path of paths) {
    const e = exp.get(path) ?? lst?.get(path)
    const a = act.get(path)
    const l = lst?.get(path)
    if (lst && exp.get(path) !== l)
      out.push({ path, problem: 'sums-disagree', expected: exp.get(path), actual: l })
    else if (e === undefined) out.push({ path, problem: 'unlisted', actual: a })
    else if (a === undefined) out.push({ path, problem: 'missing', expected: e })
    else if (a !== e) out.push({ path, problem: 'changed', expected: e, actual: a })
  }
  return out
}

/**
 * One sentence per mismatch, naming the file and the snapshot; `what` names the kind of file
 * (`file`, `database dump`). Pure.
 */
export function describeMismatch(snapshot: string, m: SumMismatch, what = 'file'): string {
  const where = `${what} ${m.path} in snapshot ${snapshot}`
  switch (m.problem) {
    case 'changed':
      return `${where} is corrupt: sha256 ${m.actual}, the manifest and ${SUMS_FILE} say ${m.expected}`
    case 'missing':
      return `${where} is missing (the manifest lists it with sha256 ${m.expected})`
    case 'unlisted':
      return `${where} is not in the manifest or ${SUMS_FILE} (sha256 ${m.actual})`
    case 'sums-disagree':
      return `${where}: the manifest says sha256 ${m.expected ?? '(not listed)'}, ${SUMS_FILE} says ${m.actual ?? '(not listed)'}`
  }
}

/** How far a host program has got, as SNAPSHOT_SUMS writes it. */
interface ProgressState {
  doneBytes: number
  totalBytes: number
  doneFiles: number
  totalFiles: number
}

/**
 * Run a command; while it runs, every `intervalMs`, read the progress file it writes on the
 * host and report it as `label: X of Y (N%), i of n files`. With `intervalMs` 0 or no progress
 * path, just run it. The progress file is removed at the end in every case (by the program
 * itself when it ends well, else here).
 */
export async function runWithProgress(
  exec: Executor,
  command: Command,
  opts: { progressPath?: string; intervalMs: number; reporter?: Reporter; label: string }
): Promise<RunResult> {
  const { progressPath, intervalMs, reporter } = opts
  if (!progressPath || intervalMs <= 0 || !reporter) return runSums(exec, command, opts.label)
  let finished = false
  const running = runSums(exec, command, opts.label).finally(() => {
    finished = true
  })
  running.catch(() => undefined) // observed below; keeps an early rejection from going unhandled
  let ok = false
  try {
    while (!finished) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        running.catch(() => undefined),
        new Promise(r => {
          timer = setTimeout(r, intervalMs)
        })
      ])
      clearTimeout(timer)
      if (finished) break
      const text = await exec.readFile(progressPath).catch(() => undefined)
      if (text === undefined) continue
      let p: ProgressState
      try {
        p = JSON.parse(text) as ProgressState
      } catch {
        continue
      }
      reporter.info(`   ${opts.label}: ${describeProgress(p)}`)
    }
    const r = await running
    ok = true
    return r
  } finally {
    // A program that ended well removed the file itself (Progress.done); else remove it here.
    if (!ok)
      await exec.tryRun(removeTree(progressPath, `${progressPath}.tmp`)).catch(() => undefined)
  }
}

/**
 * Run a SNAPSHOT_SUMS command; its failure becomes one sentence naming what was being done,
 * the host and the program's last error line (e.g. `OSError: [Errno 28] No space left on
 * device: ...`), never the program text.
 */
async function runSums(exec: Executor, command: Command, label: string): Promise<RunResult> {
  try {
    return await exec.run(command)
  } catch (e) {
    if (!(e instanceof CommandError)) throw e
    const last = e.stderr.trim().split('\n').pop() || `exit code ${e.code}`
    throw new SitecycleError(`${label} failed on ${exec.name}: ${last}`, 'snapshot')
  }
}

/** `120 MB of 450 MB (27%), 300 of 1200 files`. Pure. */
export function describeProgress(p: ProgressState): string {
  const pct =
    p.totalBytes > 0 ? ` (${Math.min(100, Math.floor((p.doneBytes / p.totalBytes) * 100))}%)` : ''
  return `${mb(p.doneBytes)} of ${mb(p.totalBytes)}${pct}, ${p.doneFiles} of ${p.totalFiles} files`
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`
}
