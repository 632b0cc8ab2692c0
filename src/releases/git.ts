/**
 * Git, as the release pipeline uses it on the runner: the commit being released, the release tags
 * and where they point, and creating or deleting a lightweight tag when no GitHub token is given.
 * The builders return argv values (no I/O); the helpers run them through an Executor.
 */
import { cmd, type Command } from '../commands/command.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** `git rev-parse` of the commit checked out in `dir`. */
export function currentCommitCommand(dir: string): Command {
  return cmd(['git', '-C', dir, 'rev-parse', '--verify', 'HEAD^{commit}'])
}

/** The commit a tag points at (annotated tags peeled); exits 1 with no output when it does not exist. */
export function tagCommitCommand(dir: string, tag: string): Command {
  return cmd(['git', '-C', dir, 'rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`])
}

/** Every tag with the commit it points at, one `<tag> <object> <peeled commit>` line each. */
export function listTagsCommand(dir: string): Command {
  return cmd([
    'git',
    '-C',
    dir,
    'for-each-ref',
    '--format=%(refname:strip=2) %(objectname) %(*objectname)',
    'refs/tags/'
  ])
}

/** Create the lightweight tag `tag` at `commit` (fails when it exists). */
export function createTagCommand(dir: string, tag: string, commit: string): Command {
  return cmd(['git', '-C', dir, 'tag', '--no-sign', tag, commit])
}

/** Delete the tag `tag`. */
export function deleteTagCommand(dir: string, tag: string): Command {
  return cmd(['git', '-C', dir, 'tag', '--delete', tag])
}

/**
 * Whether `tag` is a name git accepts for a tag (the rules of `git check-ref-format`), so that no
 * tag name can be read as an option or reach outside refs/tags/.
 */
export function isValidTagName(tag: string): boolean {
  return (
    tag.length > 0 &&
    tag.length <= 200 &&
    !tag.startsWith('-') &&
    !tag.startsWith('/') &&
    !tag.endsWith('/') &&
    !tag.endsWith('.') &&
    !tag.endsWith('.lock') &&
    !tag.includes('..') &&
    !tag.includes('//') &&
    !tag.includes('@{') &&
    tag !== '@' &&
    !tag.split('/').some(part => part.startsWith('.')) &&
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is excluded
    !/[\x00-\x20\x7f~^:?*[\\]/.test(tag)
  )
}

/** Throw a SitecycleError when `tag` is not a valid tag name. */
export function checkTagName(tag: string): string {
  if (!isValidTagName(tag)) {
    throw new SitecycleError(
      `'${tag}' is not a valid git tag name; expected a name such as v1.4.0 (no spaces, '..', ~ ^ : ? * [ or \\)`,
      'input'
    )
  }
  return tag
}

/** One tag and the commit it points at. */
export interface GitTag {
  name: string
  /** The commit (for an annotated tag, the commit it points at, not the tag object). */
  commit: string
}

/** Parse the output of {@link listTagsCommand}. */
export function parseTagList(output: string): GitTag[] {
  const tags: GitTag[] = []
  for (const line of output.split('\n')) {
    const [name, object, peeled] = line.trim().split(' ')
    if (!name || !object) continue
    tags.push({ name, commit: peeled || object })
  }
  return tags
}

function gitFailure(what: string, dir: string, stderr: string): SitecycleError {
  const tail = stderr.trim().split('\n').slice(-3).join(' ')
  return new SitecycleError(`cannot ${what} in ${dir}: ${tail || 'git failed'}`, 'release')
}

/** The commit checked out in `dir`; SitecycleError when it is not a git work tree with a commit. */
export async function currentCommit(exec: Executor, dir: string): Promise<string> {
  const r = await exec.tryRun(currentCommitCommand(dir))
  const sha = r.stdout.trim()
  if (r.code !== 0 || !/^[0-9a-f]{40,64}$/.test(sha)) {
    throw gitFailure('find the commit to release (git rev-parse HEAD)', dir, r.stderr)
  }
  return sha
}

/** The commit `tag` points at, or null when there is no such tag. */
export async function tagCommit(exec: Executor, dir: string, tag: string): Promise<string | null> {
  const r = await exec.tryRun(tagCommitCommand(dir, checkTagName(tag)))
  const sha = r.stdout.trim()
  if (r.code === 0 && /^[0-9a-f]{40,64}$/.test(sha)) return sha
  if (r.code === 1 && sha === '') return null
  throw gitFailure(`look up tag '${tag}'`, dir, r.stderr)
}

/** Every tag of the repository in `dir`, with the commit each points at. */
export async function listTags(exec: Executor, dir: string): Promise<GitTag[]> {
  const r = await exec.tryRun(listTagsCommand(dir))
  if (r.code !== 0) throw gitFailure('list the tags', dir, r.stderr)
  return parseTagList(r.stdout)
}

/** Create the lightweight tag `tag` at `commit`. */
export async function createTag(
  exec: Executor,
  dir: string,
  tag: string,
  commit: string
): Promise<void> {
  const r = await exec.tryRun(createTagCommand(dir, checkTagName(tag), commit))
  if (r.code !== 0) throw gitFailure(`create tag '${tag}'`, dir, r.stderr)
}

/** Delete the tag `tag`. */
export async function deleteTag(exec: Executor, dir: string, tag: string): Promise<void> {
  const r = await exec.tryRun(deleteTagCommand(dir, checkTagName(tag)))
  if (r.code !== 0) throw gitFailure(`delete tag '${tag}'`, dir, r.stderr)
}
