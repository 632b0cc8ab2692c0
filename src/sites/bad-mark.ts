/**
 * A release marked bad (releases/<version>/BAD, written by a rollback that left it) is not gone
 * back to by accident: a deploy of its version, or a rollback to it, is refused unless the run
 * says `allowBad` (`--allow-bad`, the actions' `allow-bad` input), and then it warns. The mark
 * stays until such a run succeeds: only then is it removed, and the outcome says so.
 */
import { removeTree } from '../commands/files.js'
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { isValidVersion, normalizeVersion } from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { siteLayout } from './layout.js'
import type { InstalledRelease } from './site-state.js'

/** The installed release of `version` (its directory name, or the same PEP 440 version). */
export function findInstalled(
  releases: readonly InstalledRelease[],
  version: string
): InstalledRelease | undefined {
  const want = isValidVersion(version) ? normalizeVersion(version) : undefined
  return releases.find(
    r =>
      r.dir === version ||
      (want !== undefined && isValidVersion(r.dir) && normalizeVersion(r.dir) === want)
  )
}

/** How a run goes to a release: a deploy of it, or a rollback to it. */
export type BadMarkUse = 'deploy' | 'rollback'

/**
 * Refuse a run to `release` when it is marked bad, unless `allowBad`: then warn and return true
 * (the caller removes the mark once the run succeeded, removeBadMark). False when not marked.
 */
export function checkBadMark(
  release: InstalledRelease | undefined,
  site: SiteConfig,
  use: BadMarkUse,
  allowBad: boolean,
  reporter: Reporter
): boolean {
  if (!release?.bad) return false
  const what = use === 'deploy' ? `deploying ${release.dir}` : `rolling back to ${release.dir}`
  if (!allowBad)
    throw new SitecycleError(
      `release ${release.dir} is marked bad on site ${site.name} (a rollback left it; ${siteLayout(site.root).release(release.dir)}/BAD): ` +
        `${use === 'deploy' ? 'deploy a new version' : 'roll back to another release'}, or pass --allow-bad (the action's allow-bad input) to go ahead anyway`,
      'input'
    )
  reporter.warn(
    `${what} on site ${site.name}, although it is marked bad (--allow-bad); the mark is removed only if this ${use} succeeds`
  )
  return true
}

/** Remove the bad mark of release `version` (after a run with allowBad succeeded); the note to report. */
export async function removeBadMark(
  exec: Executor,
  site: SiteConfig,
  version: string
): Promise<string> {
  await exec.run(removeTree(`${siteLayout(site.root).release(version)}/BAD`))
  return `the bad mark of ${version} was removed: it is live and verified (--allow-bad)`
}
