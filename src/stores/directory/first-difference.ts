/** Whether a release about to be published is the one already published under its version. */
import { listReleasePaths, type ReleaseManifest } from '../../releases/manifest.js'
import { normalizeProjectName } from '../../releases/version.js'

/**
 * The first file in which two releases of the same version differ (by path in the release and
 * sha256), or undefined when their content is the same. The name differs too when the
 * distributions differ.
 */
export function firstDifference(
  existing: ReleaseManifest,
  incoming: ReleaseManifest
): string | undefined {
  if (normalizeProjectName(existing.name) !== normalizeProjectName(incoming.name))
    return `the distribution (${existing.name} is published, this is ${incoming.name})`
  const a = new Map(listReleasePaths(existing).map(f => [f.path, f.sha256]))
  const b = new Map(listReleasePaths(incoming).map(f => [f.path, f.sha256]))
  for (const [p, sha] of b) {
    if (!a.has(p)) return `${p} (not in the published release)`
    if (a.get(p) !== sha) return `${p} (published sha256 ${a.get(p)}, this one ${sha})`
  }
  for (const p of a.keys()) if (!b.has(p)) return `${p} (only in the published release)`
  return undefined
}
