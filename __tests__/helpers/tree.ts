/**
 * A snapshot of a directory tree (every path's type, mode, size, mtime, link target and file
 * hash), to prove that a run changed nothing: take one before, one after, and diff them.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'

/** One path of a tree, as lstat sees it (links are not followed). */
export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'other'
  /** Permission bits and file type, from st_mode. */
  mode: number
  size: number
  /** Modification time in nanoseconds (a directory's changes when an entry is added or removed). */
  mtimeNs: bigint
  /** Target of a symlink. */
  target?: string
  /** sha256 of a regular file's content. */
  sha256?: string
}

/** Relative path (`.` for the root itself) → entry. */
export type TreeSnapshot = Map<string, TreeEntry>

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export interface SnapshotOptions {
  /** Relative paths to leave out (with everything under them), e.g. logs another process writes. */
  ignore?: (rel: string) => boolean
}

/** Snapshot the tree under `root` (the root included). */
export async function snapshotTree(
  root: string,
  options: SnapshotOptions = {}
): Promise<TreeSnapshot> {
  const out: TreeSnapshot = new Map()
  const visit = async (rel: string): Promise<void> => {
    if (rel !== '.' && options.ignore?.(rel)) return
    const abs = rel === '.' ? root : path.join(root, rel)
    const st = await fs.lstat(abs, { bigint: true })
    const base = { mode: Number(st.mode), size: Number(st.size), mtimeNs: st.mtimeNs }
    if (st.isSymbolicLink()) {
      out.set(rel, { type: 'symlink', ...base, target: await fs.readlink(abs) })
    } else if (st.isFile()) {
      out.set(rel, { type: 'file', ...base, sha256: await hashFile(abs) })
    } else if (st.isDirectory()) {
      out.set(rel, { type: 'dir', ...base })
      for (const name of (await fs.readdir(abs)).sort())
        await visit(rel === '.' ? name : path.join(rel, name))
    } else {
      out.set(rel, { type: 'other', ...base })
    }
  }
  await visit('.')
  return out
}

function describeEntry(e: TreeEntry): string {
  const what =
    e.type === 'symlink'
      ? `-> ${e.target}`
      : e.type === 'file'
        ? `${e.size} bytes, sha256 ${e.sha256?.slice(0, 12)}`
        : ''
  return `${e.type} ${(e.mode & 0o7777).toString(8)} ${what} mtime ${e.mtimeNs}`.replace(
    /\s+/g,
    ' '
  )
}

/** The differences between two snapshots, one line each (empty when the trees are alike). */
export function diffTrees(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const lines: string[] = []
  for (const [p, b] of before) {
    const a = after.get(p)
    if (!a) {
      lines.push(`removed ${p} (${describeEntry(b)})`)
      continue
    }
    const changed = (['type', 'mode', 'size', 'mtimeNs', 'target', 'sha256'] as const).filter(
      k => a[k] !== b[k]
    )
    if (changed.length)
      lines.push(
        `changed ${p}: ${changed.join(', ')} (was ${describeEntry(b)}; now ${describeEntry(a)})`
      )
  }
  for (const [p, a] of after) if (!before.has(p)) lines.push(`added ${p} (${describeEntry(a)})`)
  return lines
}
