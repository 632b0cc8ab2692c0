/**
 * A snapshot's files: each data folder copied with rsync into `<snapshot>/files/<name>`, with
 * `--link-dest` at the previous snapshot's copy so unchanged files are hard links, not copies.
 * Pure builders: argv arrays and small host programs (taking their inputs as argv), no I/O.
 * The copy runs ON the site's host (both paths are there), so it works the same over SSH.
 */
import { posix } from 'node:path'
import { cmd, type Command } from '../commands/command.js'
import { hostScript } from '../commands/python.js'
import summarizeTreeProgram from '../host/summarize-tree.py'
import listSnapshotDirsProgram from '../host/list-snapshot-dirs.py'
import makeSnapshotDirProgram from '../host/make-snapshot-dir.py'

/**
 * Where a data folder goes under a snapshot's `files/`: its path relative to the site root
 * (`shared/uploads`), or `_absolute/<path>` for a folder outside the root. The same folder gets
 * the same name in every snapshot, which is what lets `--link-dest` find its previous copy.
 */
export function snapshotFolderName(root: string, folder: string): string {
  if (folder.startsWith(`${root}/`)) return folder.slice(root.length + 1)
  return posix.join('_absolute', folder.replace(/^\/+/, ''))
}

/**
 * `rsync -a --delete --numeric-ids [--link-dest=<previous>] <source>/ <target>/`: a copy of
 * `source` at `target`; files equal (size, mtime, mode, owner) to those in `linkDest` become
 * hard links to them. `linkDest` must be absolute (rsync reads a relative one against the target).
 */
export function rsyncFolder(source: string, target: string, linkDest?: string): Command {
  if (linkDest !== undefined && !linkDest.startsWith('/'))
    throw new Error(`--link-dest must be an absolute path, got ${linkDest}`)
  return cmd([
    'rsync',
    '-a',
    '--delete',
    '--numeric-ids',
    // Compare modification times to the nanosecond: a file rewritten with the same size in the
    // same second as the previous snapshot must not be hard-linked to the old copy.
    '--modify-window=-1',
    ...(linkDest !== undefined ? [`--link-dest=${linkDest}`] : []),
    '--',
    `${source}/`,
    `${target}/`
  ])
}

/**
 * `rsync -a --numeric-ids [--link-dest=<previous dir>] <source> <target dir>/`: a copy of the
 * single file `source` into `targetDir` under its own name; hard-linked to `linkDestDir`'s file of
 * that name when equal (size, mtime, mode, owner). For a shared entry of kind file; the
 * directory form keeps rsync's basis lookup (`--link-dest`) on the same name.
 */
export function rsyncFileInto(source: string, targetDir: string, linkDestDir?: string): Command {
  if (linkDestDir !== undefined && !linkDestDir.startsWith('/'))
    throw new Error(`--link-dest must be an absolute path, got ${linkDestDir}`)
  return cmd([
    'rsync',
    '-a',
    '--numeric-ids',
    '--modify-window=-1',
    ...(linkDestDir !== undefined ? [`--link-dest=${linkDestDir}`] : []),
    '--',
    source,
    `${targetDir}/`
  ])
}

/**
 * `rsync -a --numeric-ids <source> <target>`: a copy (never a hard link) of the single file
 * `source` at path `target`, as a restore stages a shared file beside the site's.
 */
export function rsyncFileTo(source: string, target: string): Command {
  return cmd(['rsync', '-a', '--numeric-ids', '--', source, target])
}

/** `du -s -b <path>`: apparent bytes under a path, each hard-linked file counted once. */
export function apparentSize(path: string): Command {
  return cmd(['du', '-s', '-b', '--', path])
}

/**
 * `du -s -b <paths...>` in one run: a file hard-linked from several paths is counted only at the
 * first, so for snapshots listed oldest first each line is the space that snapshot adds.
 */
export function incrementalSizes(paths: string[]): Command {
  return cmd(['du', '-s', '-b', '--', ...paths])
}

/** `df -P -B1 <path>`: the filesystem a path is on, its mount point and free bytes. */
export function diskOf(path: string): Command {
  return cmd(['df', '-P', '-B1', '--', path])
}

/** Parse `du -s -b` output into bytes per path, in the order printed. */
export function parseDu(stdout: string): { path: string; bytes: number }[] {
  return stdout
    .split('\n')
    .map(line => /^(\d+)\t(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(m => ({ bytes: Number(m[1]), path: m[2] }))
}

/** What `df -P` says about the filesystem holding a path. */
export interface DiskInfo {
  filesystem: string
  mountedOn: string
  sizeBytes: number
  freeBytes: number
}

/** Parse `df -P -B1` output (header plus one line). */
export function parseDf(stdout: string): DiskInfo | undefined {
  const line = stdout.trim().split('\n')[1]
  const m = line && /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+(.+)$/.exec(line)
  if (!m) return undefined
  return {
    filesystem: m[1],
    sizeBytes: Number(m[2]),
    freeBytes: Number(m[4]),
    mountedOn: m[5]
  }
}

/**
 * Host program, argv: mode (`list` or `content`), path. Prints JSON `{exists, count, bytes,
 * sha256}` for a file or a tree. `list`: sha256 of the sorted lines `path NUL size NUL mtime`
 * (what rsync compares; cheap); `content`: sha256 over each file's path and bytes (for a dump).
 * Symbolic links count as entries with their target; nothing is followed.
 */
export const SUMMARIZE_TREE = summarizeTreeProgram

/** What SUMMARIZE_TREE prints. */
export interface TreeSummary {
  exists: boolean
  count: number
  bytes: number
  sha256: string
}

/** `python3 -I -S -c SUMMARIZE_TREE <mode> <path>` */
export function summarizeTree(python: string, mode: 'list' | 'content', path: string): Command {
  return cmd([python, '-I', '-S', '-c', SUMMARIZE_TREE, mode, path])
}

/**
 * Host program, argv: snapshots dir (or several). Prints JSON: each entry's name and whether it
 * holds a manifest.json (a snapshot without one is incomplete); for several dirs, one such list
 * per dir, in their order (a dir that does not exist lists nothing).
 */
export const LIST_SNAPSHOT_DIRS = listSnapshotDirsProgram

/** An entry of a snapshots dir as LIST_SNAPSHOT_DIRS prints it. */
export interface SnapshotDirEntry {
  name: string
  complete: boolean
}

/** `python3 -I -S -c LIST_SNAPSHOT_DIRS <snapshots dir>` */
export function listSnapshotDirs(python: string, snapshotsDir: string): Command {
  return cmd([python, '-I', '-S', '-c', LIST_SNAPSHOT_DIRS, snapshotsDir])
}

/** `python3 -I -S -c LIST_SNAPSHOT_DIRS <dir>...`: prints one list of entries per dir. */
export function listSeveralSnapshotDirs(python: string, dirs: string[]): Command {
  return cmd([python, '-I', '-S', '-c', LIST_SNAPSHOT_DIRS, ...dirs])
}

/**
 * Host program, argv: snapshots dir, candidate names. Makes the snapshots dir when missing (0750),
 * then the first candidate that does not exist (exclusive mkdir), and prints its name; otherwise
 * mkdir's message, exit 1.
 */
export const MAKE_SNAPSHOT_DIR = makeSnapshotDirProgram

/** `python3 -I -S -c MAKE_SNAPSHOT_DIR <snapshots dir> <name>...` */
export function makeSnapshotDir(python: string, snapshotsDir: string, names: string[]): Command {
  return hostScript(python, MAKE_SNAPSHOT_DIR, [snapshotsDir, ...names])
}

/** Whether a command's error output says the disk (or a quota) is full. */
export function isDiskFull(text: string): boolean {
  return /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT|database or disk is full|disk full/i.test(
    text
  )
}
