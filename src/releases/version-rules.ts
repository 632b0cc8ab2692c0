/**
 * The rules a release's version must pass, as pure functions: which version a run releases
 * (an explicit one, the tag that started it, or the package's own metadata), which tag names it,
 * and the refusals: a version that is not valid under the project's scheme, one not greater than
 * the newest released, a tag that exists on another commit, a built package whose version is not
 * the decided one. Versions are PEP 440 (Python's own); where a project tags in semver, the
 * `semver` package orders its tags. Everything a store holds is a Python package version, so
 * store versions are always ordered by PEP 440.
 */
import semver from 'semver'
import { SitecycleError } from '../util/errors.js'
import { compareVersions, isValidVersion, normalizeVersion, parseVersion } from './version.js'

/** How tags and versions are spelled and ordered. */
export type VersionScheme = 'pep440' | 'semver'

/** The version settings of a project (from `release:` in sitecycle.yml). */
export interface VersionRules {
  /** Prefix of release tags (`v`: tag `v1.4.0` is version `1.4.0`); may be empty. */
  tagPrefix: string
  scheme: VersionScheme
}

/** Where a decided version came from. */
export type VersionSource = 'input' | 'tag' | 'metadata'

/** The version a run releases, and the tag that names it. */
export interface DecidedVersion {
  /** The version as the scheme writes it (PEP 440 normalised, or semver's canonical form). */
  version: string
  /** The tag: the triggering tag when there is one, else prefix + version. */
  tag: string
  source: VersionSource
}

const PEP440_FORM = 'a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3'
const SEMVER_FORM = 'a semantic version such as 1.4.0 or 1.4.0-rc.1'

function releaseError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

/** The expected form of a version under a scheme, for messages. */
export function versionForm(scheme: VersionScheme): string {
  return scheme === 'semver' ? SEMVER_FORM : PEP440_FORM
}

/**
 * The canonical form of a release version under `scheme`, or a reason it is not one. A release
 * version starts with a digit (the tag prefix is separate), has no local label (`+...` is for
 * builds that are never published) and, under semver, must also be a PEP 440 version, because
 * the Python package has to carry it.
 */
export function tryCanonicalVersion(
  text: string,
  scheme: VersionScheme
): { version: string } | { problem: string } {
  if (typeof text !== 'string' || !/^[0-9]\S*$/.test(text)) {
    return { problem: `'${String(text)}' is not ${versionForm(scheme)}` }
  }
  if (scheme === 'semver') {
    const v = semver.valid(text)
    if (v === null || v !== text.replace(/^=/, '')) {
      return { problem: `'${text}' is not ${SEMVER_FORM}` }
    }
    if (semver.parse(v)?.build.length) {
      return {
        problem: `'${text}' has build metadata (+...), which a release version must not have`
      }
    }
    if (!isValidVersion(v)) {
      return {
        problem: `'${text}' is a semantic version but not a PEP 440 version, so no Python package can carry it; use pre-releases such as 1.4.0-rc.1`
      }
    }
    return { version: v }
  }
  if (!isValidVersion(text)) return { problem: `'${text}' is not ${PEP440_FORM}` }
  const parsed = parseVersion(text)
  if (parsed.local) {
    return {
      problem: `'${text}' has a local label (+${parsed.local}), which is for builds that are never published; release ${normalizeVersion(text).split('+')[0]} instead`
    }
  }
  return { version: parsed.normalized }
}

/** The canonical form of a release version; throws SitecycleError saying what is wrong. */
export function canonicalVersion(text: string, scheme: VersionScheme): string {
  const r = tryCanonicalVersion(text, scheme)
  if ('problem' in r) throw new SitecycleError(`invalid release version: ${r.problem}`, 'input')
  return r.version
}

/** True when `text` is a valid release version under `scheme`. */
export function isValidReleaseVersion(text: string, scheme: VersionScheme): boolean {
  return 'version' in tryCanonicalVersion(text, scheme)
}

/** Order two release versions under `scheme` (both must be valid): <0, 0 or >0. */
export function compareReleaseVersions(a: string, b: string, scheme: VersionScheme): number {
  return scheme === 'semver' ? semver.compare(a, b) : compareVersions(a, b)
}

/** The newest of some versions under `scheme`; undefined when there are none. */
export function newestVersion(
  versions: readonly string[],
  scheme: VersionScheme
): string | undefined {
  let newest: string | undefined
  for (const v of versions) {
    if (newest === undefined || compareReleaseVersions(v, newest, scheme) > 0) newest = v
  }
  return newest
}

/** The tag that names a version: the prefix then the version (`v` + `1.4.0`). */
export function tagForVersion(version: string, rules: VersionRules): string {
  return `${rules.tagPrefix}${version}`
}

/**
 * The version a tag names under the rules, or undefined when the tag does not start with the
 * prefix or what follows is not a valid release version (such tags are not releases).
 */
export function versionOfTag(tag: string, rules: VersionRules): string | undefined {
  if (!tag.startsWith(rules.tagPrefix)) return undefined
  const r = tryCanonicalVersion(tag.slice(rules.tagPrefix.length), rules.scheme)
  return 'version' in r ? r.version : undefined
}

/** The released tags among `tags` (those naming a version), with their versions, newest first. */
export function releaseTags(
  tags: readonly string[],
  rules: VersionRules
): { tag: string; version: string }[] {
  const found: { tag: string; version: string }[] = []
  for (const tag of tags) {
    const version = versionOfTag(tag, rules)
    if (version !== undefined) found.push({ tag, version })
  }
  return found.sort((a, b) => compareReleaseVersions(b.version, a.version, rules.scheme))
}

/** What decides a run's version, in order of precedence. */
export interface VersionInputs {
  /** A version given explicitly (CLI --version, action input). */
  explicit?: string
  /** The tag that started the run (a pushed tag), if any. */
  tag?: string
  /** The version in the package's own metadata (pyproject.toml), if it could be read. */
  metadata?: string
}

/**
 * Decide the version of a run: an explicit version, else the triggering tag's, else the package
 * metadata's. When several are given they must agree (an explicit 1.5.0 on tag v1.4.0 is a
 * mistake, not a choice). Throws SitecycleError naming the values.
 */
export function decideVersion(inputs: VersionInputs, rules: VersionRules): DecidedVersion {
  let tagVersion: string | undefined
  if (inputs.tag !== undefined) {
    if (!inputs.tag.startsWith(rules.tagPrefix)) {
      throw new SitecycleError(
        `tag '${inputs.tag}' does not start with the tag prefix '${rules.tagPrefix}'; expected a tag such as ${tagForVersion('1.4.0', rules)} (release.tag_prefix)`,
        'input'
      )
    }
    const r = tryCanonicalVersion(inputs.tag.slice(rules.tagPrefix.length), rules.scheme)
    if ('problem' in r) {
      throw new SitecycleError(`tag '${inputs.tag}' does not name a release: ${r.problem}`, 'input')
    }
    tagVersion = r.version
  }
  if (inputs.explicit !== undefined) {
    const version = canonicalVersion(inputs.explicit, rules.scheme)
    if (
      tagVersion !== undefined &&
      compareReleaseVersions(version, tagVersion, rules.scheme) !== 0
    ) {
      throw new SitecycleError(
        `the version given (${inputs.explicit}) is not the version of tag '${inputs.tag}' (${tagVersion}); give one of them, or the same version`,
        'input'
      )
    }
    return {
      version,
      tag: inputs.tag ?? tagForVersion(version, rules),
      source: 'input'
    }
  }
  if (tagVersion !== undefined) return { version: tagVersion, tag: inputs.tag!, source: 'tag' }
  if (inputs.metadata !== undefined) {
    const r = tryCanonicalVersion(inputs.metadata, rules.scheme)
    if ('problem' in r) {
      throw new SitecycleError(`the package metadata's version does not fit: ${r.problem}`, 'input')
    }
    return { version: r.version, tag: tagForVersion(r.version, rules), source: 'metadata' }
  }
  throw new SitecycleError(
    'cannot decide the version: give one (--version, or the version input), push a tag such as ' +
      `${tagForVersion('1.4.0', rules)}, or set a static version in pyproject.toml`,
    'input'
  )
}

/** What is already released: tags in the repository and versions in the stores. */
export interface Released {
  /** Every tag of the repository (non-release tags are ignored). */
  tags: readonly string[]
  /** Versions published in each store (PEP 440), keyed by the store's label. */
  stored: Readonly<Record<string, readonly string[]>>
}

/**
 * Refuse a version that is not greater than the newest released: the newest release tag (other
 * than the run's own tag, which may already exist on HEAD when a pushed tag started the run) and
 * the newest version in every store. Returns the newest release tag, for release notes.
 */
export function checkNewerThanReleased(
  decided: DecidedVersion,
  released: Released,
  rules: VersionRules
): { previousTag?: string } {
  const tags = releaseTags(
    released.tags.filter(t => t !== decided.tag),
    rules
  )
  const newestTag = tags[0]
  if (newestTag && compareReleaseVersions(decided.version, newestTag.version, rules.scheme) <= 0) {
    throw releaseError(
      `version ${decided.version} is not newer than ${newestTag.version}, released as tag '${newestTag.tag}'; ` +
        'release a greater version'
    )
  }
  const python = pep440Of(decided.version)
  for (const [label, versions] of Object.entries(released.stored)) {
    const newest = newestVersion(
      versions.filter(v => isValidVersion(v)),
      'pep440'
    )
    if (newest !== undefined && compareVersions(python, newest) <= 0) {
      throw releaseError(
        `version ${decided.version} is not newer than ${newest}, published in ${label}; release a greater version`
      )
    }
  }
  return newestTag ? { previousTag: newestTag.tag } : {}
}

/**
 * Where the run's tag stands: `absent` (this run creates it) or `at-head` (a pushed tag, or a
 * re-run). Refuses a tag that points at another commit: that version was released from other code.
 */
export function checkTagPlacement(
  tag: string,
  tagCommit: string | null,
  head: string
): 'absent' | 'at-head' {
  if (tagCommit === null) return 'absent'
  if (tagCommit === head) return 'at-head'
  throw releaseError(
    `tag '${tag}' already exists on commit ${tagCommit.slice(0, 12)}, not on the commit being released (${head.slice(0, 12)}); ` +
      'release a new version, or delete the tag if it was made by mistake'
  )
}

/** The PEP 440 form of a release version (semver pre-releases such as 1.4.0-rc.1 → 1.4.0rc1). */
export function pep440Of(version: string): string {
  return normalizeVersion(version)
}

/**
 * Refuse a built package whose version (from its METADATA) is not the decided version: the tag
 * would name other code than the files. Compared as PEP 440 (1.4 equals 1.4.0).
 */
export function checkBuiltVersion(decided: string, built: string): void {
  if (!isValidVersion(built) || compareVersions(pep440Of(decided), built) !== 0) {
    throw releaseError(
      `the built package has version ${built}, but this release is ${decided}; ` +
        'set the version in the package (pyproject.toml or its version attribute) to match the tag, then release again'
    )
  }
}
