/**
 * The links a release holds to the site's shared entries (`shared[].link`): made by a deploy
 * inside the release's folder, pointing out of it to `<root>/shared/<path>`. The data is never in
 * the release, so removing a release (prune: `rm -rf`, which does not follow links) removes the
 * link and nothing behind it, and a rollback's release has its own link to the same place.
 */
import { posix } from 'node:path'
import { changeMode, changeTreeOwner, makeDirs, makeLinkAt } from '../commands/files.js'
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** Link each shared entry with a `link:` into release folder `dir`; returns what it linked. */
export async function linkSharedEntries(
  exec: Executor,
  site: SiteConfig,
  dir: string
): Promise<string[]> {
  const linked: string[] = []
  for (const e of site.shared ?? []) {
    if (e.link === undefined) continue
    const link = `${dir}/${e.link}`
    // Already there (a release deployed again): left alone, not unlinked and made again.
    const current = await exec.tryRun({ argv: ['readlink', '--', link] })
    if (current.code === 0 && current.stdout.trim() === e.absolute) continue
    await exec.run(makeDirs([posix.dirname(link)]))
    const r = await exec.tryRun(makeLinkAt(e.absolute, link))
    if (r.code !== 0)
      throw new SitecycleError(
        `cannot link ${link} to the shared ${e.kind} ${e.absolute} (${e.key}.link): ${r.stderr.trim() || `exit code ${r.code}`}; ` +
          `the release already has something there: choose another link path`,
        'deploy'
      )
    linked.push(`${e.link} -> ${e.absolute}`)
  }
  return linked
}

/**
 * Whether data path `path` of the site (`site.data`) is a shared entry of kind file: a snapshot,
 * restore, sync and mirror refresh copy it as one file (rsync without a trailing slash), where
 * the other data paths are folders.
 */
export function isDataFile(site: Pick<SiteConfig, 'shared'>, path: string): boolean {
  return site.shared?.some(e => e.kind === 'file' && e.absolute === path) ?? false
}

/**
 * A copy of a shared folder or file staged by a restore, sync or mirror refresh (`staged`, for the site's
 * `target`) given the Apache user's owner and the entry's mode before it is swapped in: a
 * snapshot keeps the owners of the site it was taken from (numeric ids), which need not be this
 * site's Apache user, and the application must be able to write its data again. A folder that is
 * not a shared entry is left as copied. A chown that fails (not root) warns. Returns a note.
 * (A file entry: the same, on the one file; its mode defaults to 0660.)
 */
export async function ownStagedShared(
  exec: Executor,
  site: SiteConfig,
  target: string,
  staged: string,
  warn: (message: string) => void
): Promise<string | undefined> {
  const entry = site.shared?.find(e => e.absolute === target)
  if (!entry) return undefined
  const owner = `${site.apache.user}:${site.apache.group}`
  const mode = entry.mode.toString(8).padStart(4, '0')
  await exec.run(changeMode(mode, staged))
  const r = await exec.tryRun(changeTreeOwner(owner, staged))
  if (r.code !== 0) {
    warn(
      `could not give the restored ${target} to ${owner} (${r.stderr.trim() || `exit code ${r.code}`}): ` +
        `the application may not write there until \`chown -R ${owner} ${target}\` is run as root`
    )
    return undefined
  }
  return `${entry.path} for ${owner}, mode ${mode}`
}
