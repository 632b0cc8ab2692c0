/**
 * The wheelhouse of a release: its dependencies as wheels, built at release time with
 * `pip wheel` (offline from folders of wheels and sdists, or from an index), recorded with
 * their hashes, plus a requirements.lock that pins the app wheel and every dependency by
 * version and sha256. At deploy time `pip install --no-index --require-hashes -r
 * requirements.lock` installs exactly these files, so a deploy never needs an index.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { describeCommand, redact } from '../commands/command.js'
import { pipCheckLock, pipWheelhouse, type WheelhouseSources } from '../commands/python.js'
import { CommandError } from '../hosts/executor.js'
import { LocalExecutor } from '../hosts/local-executor.js'
import { SitecycleError } from '../util/errors.js'
import { checkArchive } from './archive-check.js'
import { digestFile, REQUIREMENTS_LOCK_FILE, type WheelhouseFile } from './manifest.js'
import { normalizeProjectName, normalizeVersion, parseReleaseFileName } from './version.js'

/** How a release's wheelhouse is built (`release.wheelhouse` in sitecycle.yml, made absolute). */
export interface WheelhouseSettings {
  /**
   * A requirements or constraints file pinning the dependencies. A file with `--hash=` lines is
   * a lock (e.g. `pip-compile --generate-hashes`): pip then builds in hash-checking mode from it.
   * A file without hashes pins versions as constraints.
   */
  requirements?: string
  /**
   * Folders of wheels and sdists to build from (offline unless `indexUrl` is given). With none
   * and no `indexUrl`, pip uses its own configuration (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS).
   */
  findLinks: string[]
  /** A package index URL, possibly holding a secret: passed in the environment and redacted. */
  indexUrl?: string
}

export interface BuildWheelhouseOptions extends WheelhouseSettings {
  /** Python with pip (the runner's, /usr/bin/python3). */
  python: string
  /** The app's built wheel. */
  appWheel: string
  /** The app's distribution name and version (from the wheel's METADATA). */
  appName: string
  appVersion: string
  /** Folder to fill with the dependency wheels (created; must not exist or be empty). */
  dir: string
  /** requirements.lock is written here. */
  lockFile: string
  /** Scratch folder for the app's hash-pinned requirement and the dry-run target. */
  workDir: string
  /** Build sdists with the machine's setuptools and wheel (default true). */
  noBuildIsolation?: boolean
  /** Receives each line pip prints (secrets redacted). */
  onProgress?: (line: string) => void
}

export interface BuiltWheelhouse {
  /** The dependency wheels, sorted by name (the app wheel is not among them). */
  files: WheelhouseFile[]
  /** Absolute path of requirements.lock. */
  lockFile: string
  /** sha256 and size of requirements.lock. */
  lock: { sha256: string; size: number }
}

/** One pinned line of requirements.lock. */
export interface LockEntry {
  name: string
  version: string
  sha256: string
}

/**
 * The text of requirements.lock: `name==version --hash=sha256:<hex>`, one line per
 * distribution, the app first, then its dependencies by normalised name.
 */
export function formatRequirementsLock(app: LockEntry, dependencies: LockEntry[]): string {
  const line = (e: LockEntry): string =>
    `${normalizeProjectName(e.name)}==${normalizeVersion(e.version)} --hash=sha256:${e.sha256}\n`
  const deps = [...dependencies].sort((a, b) =>
    normalizeProjectName(a.name).localeCompare(normalizeProjectName(b.name))
  )
  return (
    `# Written by sitecycle: the release and every dependency, pinned by version and sha256.\n` +
    `# Install offline with: pip install --no-index --require-hashes --find-links . --find-links wheelhouse -r ${REQUIREMENTS_LOCK_FILE}\n` +
    [app, ...deps].map(line).join('')
  )
}

/** True when a requirements file pins hashes (a lock), so pip must run in hash-checking mode. */
export function hasHashes(text: string): boolean {
  return text
    .split('\n')
    .map(line => line.replace(/(^|\s)#.*$/, ''))
    .some(line => /(^|\s)--hash[=\s]/.test(line))
}

async function readRequirements(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (err) {
    throw new SitecycleError(
      `cannot read the wheelhouse requirements file ${file}: ${(err as Error).message}`,
      'config'
    )
  }
}

/**
 * Build the wheelhouse of an app wheel: `pip wheel` of its dependencies into `dir`, each wheel
 * checked (a safe archive) and hashed, then requirements.lock written, then proven installable
 * offline with `pip install --dry-run --no-index --require-hashes`. Throws SitecycleError when a
 * dependency cannot be found (naming where pip looked) or the lock does not resolve.
 */
export async function buildWheelhouse(opts: BuildWheelhouseOptions): Promise<BuiltWheelhouse> {
  const exec = new LocalExecutor()
  const appWheelName = path.basename(opts.appWheel)
  await fs.mkdir(opts.dir, { recursive: true })
  await fs.mkdir(opts.workDir, { recursive: true })

  const sources: WheelhouseSources = {
    findLinks: opts.findLinks.map(d => path.resolve(d)),
    ...(opts.indexUrl !== undefined && { indexUrl: opts.indexUrl }),
    noBuildIsolation: opts.noBuildIsolation ?? true
  }
  let targets = [opts.appWheel]
  if (opts.requirements !== undefined) {
    const requirements = path.resolve(opts.requirements)
    if (hasHashes(await readRequirements(requirements))) {
      // In hash-checking mode every requirement needs a hash, the app wheel too; and only
      // requirements (not constraints) count as pins there.
      const appRequirement = path.join(opts.workDir, 'app-requirement.txt')
      const { sha256 } = await digestFile(opts.appWheel)
      await fs.writeFile(appRequirement, `${opts.appWheel} --hash=sha256:${sha256}\n`)
      sources.requirements = [requirements, appRequirement]
      targets = []
    } else {
      sources.constraints = requirements
    }
  }

  const command = pipWheelhouse(opts.python, opts.dir, targets, sources)
  opts.onProgress?.(`$ ${describeCommand(command)}`)
  const result = await exec.tryRun(command)
  for (const line of `${result.stdout}${result.stderr}`.split('\n'))
    if (line.trim()) opts.onProgress?.(line)
  if (result.code !== 0) {
    const where =
      opts.indexUrl !== undefined
        ? `the index (${redact(opts.indexUrl, command.redact)})${sources.findLinks.length ? ` and ${sources.findLinks.join(', ')}` : ''}`
        : sources.findLinks.length
          ? `${sources.findLinks.join(', ')} (offline)`
          : "pip's own configuration (no release.wheelhouse.find_links or index_url_env is set; pip's index is https://pypi.org/simple unless pip.conf or PIP_INDEX_URL / PIP_FIND_LINKS say otherwise)"
    const tail = result.stderr.trim().split('\n').slice(-6).join('\n')
    throw new SitecycleError(
      `cannot build the wheelhouse of ${opts.appName} ${opts.appVersion}: pip wheel looked in ${where} and failed` +
        `${tail ? `:\n${tail}` : ''}\nAdd the folder holding the missing dependency to release.wheelhouse.find_links, or set an index (release.wheelhouse.index_url_env, or pip's own configuration).`,
      'release'
    )
  }

  // pip copies the app wheel itself into the wheel dir; it is in the release already.
  await fs.rm(path.join(opts.dir, appWheelName), { force: true })
  const names = (await fs.readdir(opts.dir)).sort()
  const files: WheelhouseFile[] = []
  const deps: LockEntry[] = []
  for (const name of names) {
    const file = path.join(opts.dir, name)
    if (!name.endsWith('.whl')) {
      throw new SitecycleError(
        `pip wheel left ${name} in the wheelhouse of ${opts.appName} ${opts.appVersion}: only wheels belong there`,
        'release'
      )
    }
    const parsed = parseReleaseFileName(name)
    if (normalizeProjectName(parsed.name) === normalizeProjectName(opts.appName)) {
      throw new SitecycleError(
        `the wheelhouse of ${opts.appName} ${opts.appVersion} holds ${name}, another build of the app itself: ` +
          `a dependency requires ${opts.appName}; remove that cycle`,
        'release'
      )
    }
    await checkArchive(file)
    const digest = await digestFile(file)
    files.push({ name, ...digest })
    deps.push({ name: parsed.name, version: parsed.version, sha256: digest.sha256 })
  }

  const app = { name: opts.appName, version: opts.appVersion, ...(await digestFile(opts.appWheel)) }
  await fs.writeFile(opts.lockFile, formatRequirementsLock(app, deps), { mode: 0o644 })

  const check = pipCheckLock(
    opts.python,
    opts.lockFile,
    [path.dirname(opts.appWheel), opts.dir],
    path.join(opts.workDir, 'dry-run-target')
  )
  const checked = await exec.tryRun(check)
  if (checked.code !== 0) {
    throw new SitecycleError(
      `the wheelhouse of ${opts.appName} ${opts.appVersion} does not install offline from its ${REQUIREMENTS_LOCK_FILE}:\n` +
        new CommandError('local', describeCommand(check), checked.code, '', checked.stderr).message,
      'release'
    )
  }
  return { files, lockFile: opts.lockFile, lock: await digestFile(opts.lockFile) }
}
