/**
 * PEP 440 versions: parsing, normalising, ordering, and the small subset of version
 * specifiers that `Requires-Python` uses. Written to match what pip (packaging) decides,
 * so a version sitecycle accepts is one pip will install.
 */
import path from 'node:path'
import { SitecycleError } from '../util/errors.js'

/** A parsed PEP 440 version, every part normalised. */
export interface Version {
  /** Epoch (`2!1.0` → 2); 0 when absent. */
  epoch: number
  /** Release segment, e.g. [1, 4, 0]. */
  release: number[]
  /** Pre-release: `a`, `b` or `rc` (alpha, beta, c, pre, preview are normalised) and its number. */
  pre?: { label: 'a' | 'b' | 'rc'; number: number }
  /** Post-release number (`.post1`, `-1`, `rev1`, `r1`). */
  post?: number
  /** Development release number (`.dev3`). */
  dev?: number
  /** Local version label, lower case, segments joined by `.` (`+ubuntu.1`). */
  local?: string
  /** The normalised form, e.g. `1.0.0-RC1` → `1.0.0rc1`. */
  normalized: string
}

/**
 * What packaging's `\s` matches (Python's str.isspace): JavaScript's `\s` also takes U+FEFF
 * (a byte order mark, which packaging refuses) and leaves out U+001C-U+001F and U+0085.
 */
const SPACE =
  '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*'

// The regular expression of PEP 440 appendix B (as used by packaging), anchored. Letters are
// ASCII only: Python's re.IGNORECASE also lets the Kelvin sign K (U+212A), ſ and ı into a local
// label; sitecycle refuses those on purpose (a version names directories and tags).
const VERSION_PATTERN = new RegExp(
  '^' +
    SPACE +
    'v?' +
    '(?:(?<epoch>[0-9]+)!)?' +
    '(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<pre_n>[0-9]+)?)?' +
    '(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?' +
    '(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?' +
    SPACE +
    '$',
  'i'
)

const PRE_LABELS: Record<string, 'a' | 'b' | 'rc'> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc'
}

function invalidVersion(text: string): SitecycleError {
  return new SitecycleError(
    `invalid version '${text}': expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`,
    'input'
  )
}

function toInt(text: string, whole: string): number {
  const n = Number(text)
  // Segments beyond 2^53 would compare wrongly as numbers; no real version has them.
  if (!Number.isSafeInteger(n)) throw invalidVersion(whole)
  return n
}

/** Parse a PEP 440 version; throws SitecycleError naming the text when it is not one. */
export function parseVersion(text: string): Version {
  const m = typeof text === 'string' ? VERSION_PATTERN.exec(text) : null
  if (!m || !m.groups) throw invalidVersion(String(text))
  const g = m.groups
  const version: Version = {
    epoch: g.epoch ? toInt(g.epoch, text) : 0,
    release: g.release.split('.').map(s => toInt(s, text)),
    normalized: ''
  }
  if (g.pre_l) {
    version.pre = { label: PRE_LABELS[g.pre_l.toLowerCase()], number: toInt(g.pre_n ?? '0', text) }
  }
  if (g.post) version.post = toInt(g.post_n1 ?? g.post_n2 ?? '0', text)
  if (g.dev) version.dev = toInt(g.dev_n ?? '0', text)
  // Numeric segments of the local label are numbers, as in packaging: 1.0+abc.007 is 1.0+abc.7.
  if (g.local)
    version.local = g.local
      .toLowerCase()
      .split(/[-_.]/)
      .map(part => (/^[0-9]+$/.test(part) ? String(toInt(part, text)) : part))
      .join('.')
  version.normalized = formatVersion(version)
  return version
}

function formatVersion(v: Omit<Version, 'normalized'>): string {
  let s = v.epoch ? `${v.epoch}!` : ''
  s += v.release.join('.')
  if (v.pre) s += `${v.pre.label}${v.pre.number}`
  if (v.post !== undefined) s += `.post${v.post}`
  if (v.dev !== undefined) s += `.dev${v.dev}`
  if (v.local) s += `+${v.local}`
  return s
}

/**
 * The longest version sitecycle takes, in characters. PEP 440 sets no bound, but a version names
 * a directory on every host, a tag, a journal field and lines of logs: 64 holds any real one
 * (`2024.12.31.post12.dev3+build.20241231.abcdef0` is 45).
 */
export const MAX_VERSION_LENGTH = 64

/**
 * True when `text` is a PEP 440 version of at most {@link MAX_VERSION_LENGTH} characters whose
 * numbers are safe integers (what {@link parseVersion} takes).
 */
export function isValidVersion(text: string): boolean {
  if (typeof text !== 'string' || text.length > MAX_VERSION_LENGTH) return false
  try {
    parseVersion(text)
    return true
  } catch {
    return false
  }
}

/** The normalised form of a PEP 440 version (`1.0.0-RC1` → `1.0.0rc1`, `v1.0` → `1.0`). */
export function normalizeVersion(text: string): string {
  return parseVersion(text).normalized
}

function asVersion(v: string | Version): Version {
  return typeof v === 'string' ? parseVersion(v) : v
}

function compareNumbers(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function compareRelease(a: number[], b: number[]): number {
  // Trailing zeros do not count: 1.0 == 1.0.0.
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const c = compareNumbers(a[i] ?? 0, b[i] ?? 0)
    if (c) return c
  }
  return 0
}

const PRE_RANK = { a: 0, b: 1, rc: 2 } as const

/** Where the pre-release part sorts: dev-only releases first, final releases last. */
function preKey(v: Version): [number, number, number] {
  if (!v.pre && v.post === undefined && v.dev !== undefined) return [-1, 0, 0]
  if (!v.pre) return [1, 0, 0]
  return [0, PRE_RANK[v.pre.label], v.pre.number]
}

function compareTuple(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareNumbers(a[i], b[i])
    if (c) return c
  }
  return 0
}

function compareLocal(a?: string, b?: string): number {
  if (a === b) return 0
  if (a === undefined) return -1
  if (b === undefined) return 1
  const as = a.split('.')
  const bs = b.split('.')
  for (let i = 0; i < Math.min(as.length, bs.length); i++) {
    const an = /^[0-9]+$/.test(as[i])
    const bn = /^[0-9]+$/.test(bs[i])
    // Numeric segments sort after alphanumeric ones, and compare as numbers.
    if (an && bn) {
      const c = compareNumbers(Number(as[i]), Number(bs[i]))
      if (c) return c
    } else if (an !== bn) {
      return an ? 1 : -1
    } else if (as[i] !== bs[i]) {
      return as[i] < bs[i] ? -1 : 1
    }
  }
  return compareNumbers(as.length, bs.length)
}

/**
 * Order two versions as PEP 440 does: negative when a < b, 0 when equal, positive when a > b.
 * 1.0.dev0 < 1.0a1 < 1.0b1 < 1.0rc1 < 1.0 < 1.0.post1 < 1.0.1, and 1.0 == 1.0.0.
 */
export function compareVersions(a: string | Version, b: string | Version): number {
  const x = asVersion(a)
  const y = asVersion(b)
  return (
    compareNumbers(x.epoch, y.epoch) ||
    compareRelease(x.release, y.release) ||
    compareTuple(preKey(x), preKey(y)) ||
    compareNumbers(x.post ?? -1, y.post ?? -1) ||
    compareNumbers(x.dev ?? Infinity, y.dev ?? Infinity) ||
    compareLocal(x.local, y.local)
  )
}

/** True when the version is a pre-release or a development release. */
export function isPrerelease(v: string | Version): boolean {
  const x = asVersion(v)
  return x.pre !== undefined || x.dev !== undefined
}

/** A release file's name split into its parts. */
export interface ReleaseFileName {
  /** Distribution name as written in the file name. */
  name: string
  /** Version as written in the file name (not normalised). */
  version: string
  kind: 'sdist' | 'wheel'
}

const SDIST_SUFFIXES = ['.tar.gz', '.zip']

/**
 * Split a release file name: `name-1.0.0.tar.gz` (sdist; the name may hold hyphens with
 * older setuptools) or `name-1.0.0-py3-none-any.whl` (wheel). Throws SitecycleError when the
 * name is neither or its version is not PEP 440.
 */
export function parseReleaseFileName(file: string): ReleaseFileName {
  const base = path.basename(file)
  if (base.endsWith('.whl')) {
    const parts = base.slice(0, -'.whl'.length).split('-')
    if (parts.length !== 5 && parts.length !== 6) {
      throw new SitecycleError(
        `'${base}' is not a wheel file name: expected name-version-pytag-abitag-platform.whl`,
        'release'
      )
    }
    if (!isValidVersion(parts[1])) throw invalidVersion(parts[1])
    return { name: parts[0], version: parts[1], kind: 'wheel' }
  }
  const suffix = SDIST_SUFFIXES.find(s => base.endsWith(s))
  const stem = suffix ? base.slice(0, -suffix.length) : ''
  const dash = stem.lastIndexOf('-')
  if (!suffix || dash <= 0 || dash === stem.length - 1) {
    throw new SitecycleError(
      `'${base}' is not a release file name: expected name-version.tar.gz or name-version-py3-none-any.whl`,
      'release'
    )
  }
  const version = stem.slice(dash + 1)
  if (!isValidVersion(version)) throw invalidVersion(version)
  return { name: stem.slice(0, dash), version, kind: 'sdist' }
}

/** The version written in a release file's name (sdist or wheel), as written. */
export function versionFromFilename(file: string): string {
  return parseReleaseFileName(file).version
}

/** A distribution name normalised as PEP 503 does (`Sitecycle_Sample` → `sitecycle-sample`). */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-')
}

// ---- Requires-Python ----------------------------------------------------------------------

const SPECIFIER_PATTERN = /^(~=|===|==|!=|<=|>=|<|>)\s*(\S+)$/

function invalidSpecifier(spec: string, why: string): SitecycleError {
  return new SitecycleError(
    `invalid Requires-Python '${spec}': ${why}; expected specifiers such as >=3.9 or >=3.8,<4`,
    'input'
  )
}

function publicOf(v: Version): Version {
  return v.local ? { ...v, local: undefined } : v
}

function baseRelease(v: Version): Version {
  return { epoch: v.epoch, release: v.release, normalized: '' }
}

/** `==X.*`: the candidate's release starts with the prefix (padded with zeros). */
function matchesPrefix(candidate: Version, prefixText: string, spec: string): boolean {
  if (!/^(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*$/.test(prefixText)) {
    throw invalidSpecifier(spec, `'${prefixText}.*' must be a release prefix such as 3.11.*`)
  }
  const prefix = parseVersion(prefixText)
  if (candidate.epoch !== prefix.epoch) return false
  return prefix.release.every((n, i) => (candidate.release[i] ?? 0) === n)
}

function satisfiesOne(candidate: Version, raw: string, clause: string, spec: string): boolean {
  const m = SPECIFIER_PATTERN.exec(clause)
  if (!m) throw invalidSpecifier(spec, `'${clause}' is not a version specifier`)
  const [, op, target] = m
  // Arbitrary equality compares the text itself, as packaging does.
  if (op === '===') return raw.trim().toLowerCase() === target.toLowerCase()
  if (op === '==' || op === '!=') {
    let equal: boolean
    if (target.endsWith('.*')) {
      equal = matchesPrefix(candidate, target.slice(0, -2), spec)
    } else {
      if (!isValidVersion(target)) throw invalidSpecifier(spec, `'${target}' is not a version`)
      const t = parseVersion(target)
      // Without a local label in the specifier, the candidate's local label is ignored.
      equal = compareVersions(t.local ? candidate : publicOf(candidate), t) === 0
    }
    return op === '==' ? equal : !equal
  }
  if (!isValidVersion(target)) throw invalidSpecifier(spec, `'${target}' is not a version`)
  const t = parseVersion(target)
  if (t.local) throw invalidSpecifier(spec, `'${op}' does not take a local version`)
  const c = publicOf(candidate)
  switch (op) {
    case '~=': {
      if (t.release.length < 2) throw invalidSpecifier(spec, `'~=' needs at least two parts`)
      const prefix = t.release.slice(0, -1).join('.')
      return (
        compareVersions(c, t) >= 0 &&
        matchesPrefix(c, `${t.epoch ? `${t.epoch}!` : ''}${prefix}`, spec)
      )
    }
    case '>=':
      return compareVersions(c, t) >= 0
    case '<=':
      return compareVersions(c, t) <= 0
    case '>':
      if (compareVersions(c, t) <= 0) return false
      // >3.9 does not admit 3.9.post1 (PEP 440), unless the specifier is itself a post-release.
      if (t.post === undefined && c.post !== undefined) {
        return compareVersions(baseRelease(c), baseRelease(t)) !== 0
      }
      return true
    case '<':
      if (compareVersions(c, t) >= 0) return false
      // <3.10 does not admit 3.10rc1, unless the specifier is itself a pre-release.
      if (!isPrerelease(t) && isPrerelease(c)) {
        return compareVersions(baseRelease(c), baseRelease(t)) !== 0
      }
      return true
  }
  return false
}

/**
 * Whether a Python version satisfies a Requires-Python specifier set such as `>=3.9`,
 * `>=3.8,<4`, `~=3.10`, `!=3.11.*` or `==3.11.*`. An empty specifier admits everything.
 * Pre-releases of Python are admitted, as pip does for Requires-Python.
 */
export function satisfiesRequiresPython(spec: string, pythonVersion: string): boolean {
  const candidate = parseVersion(pythonVersion)
  const clauses = spec
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '')
  if (clauses.length === 0 && spec.trim() !== '') throw invalidSpecifier(spec, 'it is empty')
  return clauses.every(clause => satisfiesOne(candidate, pythonVersion, clause, spec))
}
