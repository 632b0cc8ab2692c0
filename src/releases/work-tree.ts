/**
 * Whether the git work tree a release is built from holds only committed content: a release is
 * tagged on a commit, so uncommitted changes or untracked files (not ignored) in the build would
 * make the published files differ from the tag. The release pipeline refuses such a tree unless
 * told to allow it (`--allow-dirty`), and then records it in the manifest.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cmd, type Command } from '../commands/command.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** How many changed paths a refusal names (the manifest keeps up to MAX_RECORDED_CHANGES). */
export const NAMED_CHANGES = 5
/** How many changed paths the manifest of a release built from a dirty tree keeps. */
export const MAX_RECORDED_CHANGES = 50

/** `git rev-parse --show-toplevel` of `dir`. */
export function workTreeTopCommand(dir: string): Command {
  return cmd(['git', '-C', dir, 'rev-parse', '--show-toplevel'])
}

/**
 * `git status` of the whole work tree of `top`, in the stable porcelain format (NUL-separated,
 * paths relative to `top`), untracked folders collapsed, `exclude` (paths relative to `top`) left out.
 */
export function workTreeStatusCommand(top: string, exclude: string[] = []): Command {
  return cmd([
    'git',
    '-C',
    top,
    'status',
    '--porcelain=v1',
    '-z',
    '--untracked-files=normal',
    '--',
    '.',
    ...exclude.map(p => `:(exclude)${p}`)
  ])
}

/** One changed path as `git status --short` shows it: `M pkg/mod.py`, `?? notes.txt`. */
export function parseStatus(output: string): string[] {
  const fields = output.split('\0')
  const changes: string[] = []
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]
    if (f.length < 4) continue
    const code = f.slice(0, 2).trim()
    changes.push(`${code} ${f.slice(3)}`)
    // A rename or copy is followed by its source path.
    if (/[RC]/.test(f.slice(0, 2))) i++
  }
  return changes
}

/**
 * The root of the sitecycle checkout this code runs from (the folder whose package.json is
 * sitecycle's), or undefined. The reusable workflow checks sitecycle out inside the application's
 * work tree; those files are not the application's.
 */
export function sitecycleCheckoutRoot(): string | undefined {
  let dir: string
  try {
    dir = path.dirname(fileURLToPath(import.meta.url))
  } catch {
    return undefined
  }
  for (;;) {
    const pkg = path.join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'sitecycle')
          return dir
      } catch {
        // Not a readable package.json: keep walking up.
      }
    }
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The uncommitted changes of a work tree. */
export interface WorkTreeState {
  /** The work tree's top folder. */
  top: string
  /** Changed paths as `git status --short` shows them (relative to top); empty when clean. */
  changes: string[]
}

/**
 * The uncommitted changes (modified, staged, deleted, untracked and not ignored) of the git work
 * tree holding `dir`, leaving out `ignore` (absolute paths: the release output folder, the
 * sitecycle checkout) where they lie inside it. SitecycleError when `dir` is not in a work tree.
 */
export async function readWorkTree(
  exec: Executor,
  dir: string,
  ignore: string[] = []
): Promise<WorkTreeState> {
  const t = await exec.tryRun(workTreeTopCommand(dir))
  const top = t.stdout.trim()
  if (t.code !== 0 || top === '') {
    throw new SitecycleError(
      `${dir} is not in a git work tree (${t.stderr.trim().split('\n').pop() || 'git rev-parse failed'}): a release is built from a commit`,
      'release'
    )
  }
  const exclude = ignore
    .map(p => path.relative(top, path.resolve(p)))
    .filter(rel => rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel))
  const s = await exec.tryRun(workTreeStatusCommand(top, exclude))
  if (s.code !== 0) {
    throw new SitecycleError(
      `cannot read the state of the work tree ${top} (git status): ${s.stderr.trim().split('\n').pop() ?? ''}`,
      'release'
    )
  }
  return { top, changes: parseStatus(s.stdout) }
}

/** The one-line refusal of a dirty work tree, naming its first few changed paths and the flag. */
export function dirtyTreeMessage(state: WorkTreeState): string {
  const shown = state.changes.slice(0, NAMED_CHANGES).join(', ')
  const more = state.changes.length - NAMED_CHANGES
  return (
    `the work tree ${state.top} has changes that are not committed (${shown}${more > 0 ? `, and ${more} more` : ''}): ` +
    `commit or remove them (or ignore them in .gitignore), or release anyway with --allow-dirty (the release action's allow-dirty input), which the manifest records`
  )
}
