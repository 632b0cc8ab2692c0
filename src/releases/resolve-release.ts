/**
 * Finding the release to deploy and proving it is the one that was built: its manifest is
 * valid, names the expected package and a version matching the file and directory names,
 * the file's sha256 and size match, and the archive is safe to unpack. A release with a
 * wheelhouse has every dependency wheel and its requirements.lock checked the same way.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { SitecycleError } from '../util/errors.js'
import { checkArchive } from './archive-check.js'
import { checkWheelMetadata } from './wheel-metadata.js'
import {
  digestFile,
  listReleasePaths,
  MANIFEST_FILE,
  parseSha256Sums,
  readManifest,
  REQUIREMENTS_LOCK_FILE,
  SHA256SUMS_FILE,
  WHEELHOUSE_DIR,
  type ReleaseFile,
  type ReleaseManifest,
  type WheelhouseFile
} from './manifest.js'
import {
  compareVersions,
  isValidVersion,
  normalizeProjectName,
  normalizeVersion,
  parseReleaseFileName
} from './version.js'

export interface ResolveReleaseOptions {
  /**
   * A release file (its manifest.json beside it), a directory holding manifest.json, or a
   * directory of releases laid out as `<dir>/<version>/manifest.json`.
   */
  path: string
  /** The version wanted (compared normalised); the newest when omitted. */
  version?: string
  /** The distribution the release must be (compared PEP 503-normalised). */
  packageName?: string
}

/** A release that passed every check, ready to be installed. */
export interface ResolvedRelease {
  /** Distribution name, from the manifest. */
  name: string
  /** Version, from the manifest. */
  version: string
  /** Absolute path of the file to install. */
  file: string
  kind: 'wheel' | 'sdist'
  /** sha256 of the file (checked against the manifest). */
  sha256: string
  /** Size of the file in bytes (checked against the manifest). */
  size: number
  manifest: ReleaseManifest
  /** Absolute path of manifest.json. */
  manifestPath: string
  /** The package's Requires-Python, or null when it declares none. */
  requiresPython: string | null
  /** The release's dependencies, checked, when it was built with a wheelhouse. */
  wheelhouse?: ResolvedWheelhouse
}

/** A release's wheelhouse on this machine, every file checked against the manifest. */
export interface ResolvedWheelhouse {
  /** Absolute path of the `wheelhouse/` folder. */
  dir: string
  /** The dependency wheels, as the manifest lists them (may be empty: no dependencies). */
  files: WheelhouseFile[]
  /** Absolute path of requirements.lock (`name==version --hash=sha256:...` per line). */
  lockFile: string
}

function releaseError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

async function statOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.stat(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** The version directories (`<dir>/<version>/manifest.json`) of a releases directory. */
export async function listReleaseVersions(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir, { withFileTypes: true })
  const versions: string[] = []
  for (const entry of names) {
    // Hidden names are releases still being written (see buildRelease).
    if (!entry.isDirectory() || entry.name.startsWith('.') || !isValidVersion(entry.name)) continue
    if (await statOrUndefined(path.join(dir, entry.name, MANIFEST_FILE))) versions.push(entry.name)
  }
  return versions.sort(compareVersions)
}

/** Choose the manifest to read and, when the path named a file, that file. */
async function locate(
  opts: ResolveReleaseOptions
): Promise<{ manifestPath: string; file?: string; versionDir?: string }> {
  const target = path.resolve(opts.path)
  const stat = await statOrUndefined(target)
  if (!stat) throw releaseError(`release path ${target} does not exist`)
  if (stat.isFile())
    return { manifestPath: path.join(path.dirname(target), MANIFEST_FILE), file: target }
  if (!stat.isDirectory())
    throw releaseError(`release path ${target} is neither a file nor a directory`)
  const direct = path.join(target, MANIFEST_FILE)
  if (await statOrUndefined(direct)) return { manifestPath: direct }

  const versions = await listReleaseVersions(target)
  if (versions.length === 0) {
    throw releaseError(
      `no release found in ${target}: expected ${MANIFEST_FILE} there or <version>/${MANIFEST_FILE} below it`
    )
  }
  let chosen: string | undefined
  if (opts.version !== undefined) {
    const wanted = normalizeVersion(opts.version)
    chosen = versions.find(v => compareVersions(v, wanted) === 0)
    if (!chosen) {
      throw releaseError(
        `release ${opts.version} not found in ${target}: it holds ${versions.join(', ')}`
      )
    }
  } else {
    chosen = versions[versions.length - 1]
  }
  return { manifestPath: path.join(target, chosen, MANIFEST_FILE), versionDir: chosen }
}

function pickFile(manifest: ReleaseManifest, manifestPath: string, file?: string): ReleaseFile {
  if (file) {
    const listed = manifest.files.find(f => f.name === path.basename(file))
    if (!listed)
      throw releaseError(`release file ${file} is not listed in its manifest ${manifestPath}`)
    return listed
  }
  // A wheel installs without building; the sdist is the fallback.
  const picked =
    manifest.files.find(f => f.kind === 'wheel') ?? manifest.files.find(f => f.kind === 'sdist')
  if (!picked) throw releaseError(`manifest ${manifestPath} lists no sdist or wheel`)
  return picked
}

function checkNames(
  manifest: ReleaseManifest,
  manifestPath: string,
  listed: ReleaseFile,
  opts: ResolveReleaseOptions,
  versionDir?: string
): void {
  const version = manifest.version
  if (opts.version !== undefined && compareVersions(opts.version, version) !== 0) {
    throw releaseError(
      `manifest ${manifestPath} is for version ${manifest.version}, not ${opts.version}`
    )
  }
  if (versionDir !== undefined && compareVersions(versionDir, version) !== 0) {
    throw releaseError(
      `manifest ${manifestPath} says version ${manifest.version} but its directory is named ${versionDir}`
    )
  }
  if (
    opts.packageName !== undefined &&
    normalizeProjectName(opts.packageName) !== normalizeProjectName(manifest.name)
  ) {
    throw releaseError(
      `release in ${manifestPath} is ${manifest.name}, not the expected package ${opts.packageName}`
    )
  }
  const fromName = parseReleaseFileName(listed.name)
  if (compareVersions(fromName.version, version) !== 0) {
    throw releaseError(
      `manifest ${manifestPath} says version ${manifest.version} but its file ${listed.name} is version ${fromName.version}`
    )
  }
  if (normalizeProjectName(fromName.name) !== normalizeProjectName(manifest.name)) {
    throw releaseError(
      `manifest ${manifestPath} is for ${manifest.name} but lists the file ${listed.name}`
    )
  }
}

async function checkSha256Sums(dir: string, listed: ReleaseFile): Promise<void> {
  const sumsPath = path.join(dir, SHA256SUMS_FILE)
  let text: string
  try {
    text = await fs.readFile(sumsPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const sum = parseSha256Sums(text, sumsPath).get(listed.name)
  if (sum !== undefined && sum !== listed.sha256) {
    throw releaseError(
      `${sumsPath} gives ${listed.name} the sha256 ${sum}, but the manifest says ${listed.sha256}`
    )
  }
}

/** Check one file against its expected sha256 and size; throws naming the file and the difference. */
async function checkDigest(
  filePath: string,
  expected: { sha256: string; size: number },
  manifestPath: string
): Promise<void> {
  let digest: { sha256: string; size: number }
  try {
    digest = await digestFile(filePath)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw releaseError(`release file ${filePath} is listed in ${manifestPath} but missing`)
    }
    throw err
  }
  if (digest.sha256 !== expected.sha256) {
    throw releaseError(
      `release file ${filePath} does not match its manifest: sha256 is ${digest.sha256}, manifest says ${expected.sha256}`
    )
  }
  if (digest.size !== expected.size) {
    throw releaseError(
      `release file ${filePath} does not match its manifest: size is ${digest.size} bytes, manifest says ${expected.size}`
    )
  }
}

/** Entries of SHA256SUMS that disagree with the manifest are refused (a missing SHA256SUMS is allowed). */
async function checkSha256SumsAgree(
  dir: string,
  expected: { path: string; sha256: string }[]
): Promise<void> {
  const sumsPath = path.join(dir, SHA256SUMS_FILE)
  let text: string
  try {
    text = await fs.readFile(sumsPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const sums = parseSha256Sums(text, sumsPath)
  for (const e of expected) {
    const sum = sums.get(e.path)
    if (sum !== undefined && sum !== e.sha256) {
      throw releaseError(
        `${sumsPath} gives ${e.path} the sha256 ${sum}, but the manifest says ${e.sha256}`
      )
    }
  }
}

/**
 * Check every file a manifest lists in `dir` (sdist, wheel, wheelhouse wheels, requirements.lock):
 * present, with the manifest's sha256 and size, and agreeing with SHA256SUMS. Used on a release
 * fetched from a store, where any file may have been changed. Throws SitecycleError naming the file.
 */
export async function verifyReleaseFiles(dir: string, manifest: ReleaseManifest): Promise<void> {
  const manifestPath = path.join(dir, MANIFEST_FILE)
  const paths = listReleasePaths(manifest)
  for (const f of paths) await checkDigest(path.join(dir, f.path), f, manifestPath)
  await checkSha256SumsAgree(dir, paths)
}

/** Check the wheelhouse and requirements.lock of a release that has one. */
async function resolveWheelhouse(
  dir: string,
  manifest: ReleaseManifest,
  manifestPath: string
): Promise<ResolvedWheelhouse | undefined> {
  if (!manifest.wheelhouse || !manifest.requirements_lock) return undefined
  const whDir = path.join(dir, WHEELHOUSE_DIR)
  const expected: { path: string; sha256: string }[] = []
  for (const w of manifest.wheelhouse) {
    const file = path.join(whDir, w.name)
    await checkDigest(file, w, manifestPath)
    await checkArchive(file)
    expected.push({ path: `${WHEELHOUSE_DIR}/${w.name}`, sha256: w.sha256 })
  }
  const lockFile = path.join(dir, REQUIREMENTS_LOCK_FILE)
  await checkDigest(lockFile, manifest.requirements_lock, manifestPath)
  expected.push({ path: REQUIREMENTS_LOCK_FILE, sha256: manifest.requirements_lock.sha256 })
  await checkSha256SumsAgree(dir, expected)
  return { dir: whDir, files: manifest.wheelhouse, lockFile }
}

/**
 * Find a release and check it: the manifest is valid; its version is PEP 440 and matches the
 * file's name (and the version directory's); its name matches `packageName`; the file's
 * sha256 and size match the manifest; the archive is safe; with a wheelhouse, every wheel in it
 * and requirements.lock match the manifest too. Prefers the wheel, else the sdist.
 * Throws SitecycleError naming what is wrong and where.
 */
export async function resolveRelease(opts: ResolveReleaseOptions): Promise<ResolvedRelease> {
  const { manifestPath, file, versionDir } = await locate(opts)
  const manifest = await readManifest(manifestPath)
  const listed = pickFile(manifest, manifestPath, file)
  checkNames(manifest, manifestPath, listed, opts, versionDir)

  const dir = path.dirname(manifestPath)
  const filePath = path.join(dir, listed.name)
  let digest: { sha256: string; size: number }
  try {
    digest = await digestFile(filePath)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw releaseError(`release file ${filePath} is listed in ${manifestPath} but missing`)
    }
    throw err
  }
  if (digest.sha256 !== listed.sha256) {
    throw releaseError(
      `release file ${filePath} does not match its manifest: sha256 is ${digest.sha256}, manifest says ${listed.sha256}`
    )
  }
  if (digest.size !== listed.size) {
    throw releaseError(
      `release file ${filePath} does not match its manifest: size is ${digest.size} bytes, manifest says ${listed.size}`
    )
  }
  await checkSha256Sums(dir, listed)
  await checkArchive(filePath)
  if (listed.kind === 'wheel')
    await checkWheelMetadata(filePath, {
      name: manifest.name,
      version: manifest.version,
      manifestPath
    })
  const wheelhouse = await resolveWheelhouse(dir, manifest, manifestPath)

  return {
    name: manifest.name,
    version: manifest.version,
    file: filePath,
    kind: listed.kind,
    sha256: digest.sha256,
    size: digest.size,
    manifest,
    manifestPath,
    requiresPython: manifest.requires_python,
    ...(wheelhouse && { wheelhouse })
  }
}
