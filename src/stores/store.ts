/**
 * Release stores: where releases live between the release job and the deploy. A registry
 * keyed by name (STYLE.md habit 9): adding a store is one file and one line in registry.ts.
 *
 * A release on the local machine is a folder `<dir>/<version>/` holding the sdist, the wheel,
 * manifest.json, SHA256SUMS and, when the app has dependencies, `wheelhouse/` (their wheels,
 * listed with hashes in the manifest). Every store publishes such a folder and fetches it back
 * into the same shape, checked against its manifest, so the deploy pipeline takes it as it is.
 */
import type { ResolvedRelease } from '../releases/resolve-release.js'
import type { Reporter } from '../util/reporter.js'

/** A release folder on this machine, as built by buildRelease(). */
export interface LocalRelease {
  /** `<dir>/<version>/`: the files, manifest.json, SHA256SUMS (and wheelhouse/). */
  dir: string
  name: string
  version: string
}

export interface PublishResult {
  /** Where it went, for outputs and summaries (a path, a URL, an artifact name). */
  location: string
  /** False when the same version with the same content was there already (nothing changed). */
  changed: boolean
}

export interface ReleaseStore {
  /** Registry name: `directory`, `github-release`, `actions-artifact`. */
  readonly kind: string
  /** Human description for messages, e.g. `directory /srv/releases on ssh://deploy@web1:22`. */
  readonly label: string
  /**
   * Publish a release. Atomic: a half-published version is never visible. Publishing a version
   * that exists with the same content is a no-op; with other content it is refused.
   */
  publish(release: LocalRelease, reporter: Reporter): Promise<PublishResult>
  /** Remove a version this run published (the undo of publish); never one published before. */
  unpublish(version: string, reporter: Reporter): Promise<void>
  /** Published versions, oldest first (PEP 440 order). */
  listVersions(): Promise<string[]>
  /**
   * Fetch a version into `<intoDir>/<version>/` and check it against its manifest (sha256 and
   * size of every file; archive paths). Throws SitecycleError on a mismatch.
   */
  fetch(version: string, intoDir: string, reporter: Reporter): Promise<ResolvedRelease>
  /** Remove all but the newest `keep` versions; returns the removed ones. */
  prune(keep: number, reporter: Reporter): Promise<string[]>
}
