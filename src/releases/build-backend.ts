/**
 * The PEP 517 build backend of a project (pyproject's [build-system]) and how `python -m build`
 * gets it: without isolation when the build Python already has every build requirement (the
 * sample app's setuptools on Debian: offline, nothing to download), else in an isolated
 * environment that pip fills from the source the user configured: pip's own configuration by
 * default, or the folders and index of `release.build`.
 */
import { cmd, type Command } from '../commands/command.js'
import { indexSecrets, PIP_HERMETIC_ENV } from '../commands/python.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import buildBackendProgram from '../host/build-backend.py'

/** pip settings removed when the config names the build's source, so only that source counts. */
const PIP_SOURCE_ENV = ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_NO_INDEX']

/** Where the isolated build environment's packages come from, when the config names it. */
export interface BuildSource {
  /** Folders of wheels (absolute). */
  findLinks: string[]
  /** A package index URL (may hold a secret; passed in the environment and redacted). */
  indexUrl?: string
}

/** A project's [build-system], and which of its requirements the build Python lacks. */
export interface BuildBackend {
  /** `build-backend` (PEP 517's setuptools fallback when pyproject names none). */
  backend: string
  /** `requires`, as written. */
  requires: string[]
  /** The requirements the build Python does not satisfy (empty: it can build without isolation). */
  missing: string[]
}

/**
 * A Python program printing, as JSON, the [build-system] of the project in argv[1] and the
 * requirements this Python does not satisfy (by installed distribution and version).
 */
const BUILD_BACKEND_PROGRAM = buildBackendProgram

/** The command that prints a project's build backend and the requirements `python` lacks. */
export function buildBackendCommand(python: string, sourceDir: string): Command {
  return cmd([python, '-I', '-c', BUILD_BACKEND_PROGRAM, sourceDir])
}

/** Read the build backend of `sourceDir` with `python`; SitecycleError when it cannot be read. */
export async function readBuildBackend(
  exec: Executor,
  python: string,
  sourceDir: string
): Promise<BuildBackend> {
  const r = await exec.tryRun(buildBackendCommand(python, sourceDir))
  if (r.code === 0) {
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as BuildBackend
    } catch {
      // Fall through to the error below.
    }
  }
  const last = r.stderr.trim().split('\n').pop() ?? ''
  throw new SitecycleError(
    `cannot read the [build-system] of ${sourceDir}/pyproject.toml with ${python}: ${last || `exit code ${r.code}`}`,
    'config'
  )
}

/**
 * Whether to build in an isolated environment: `auto` isolates only when the build Python lacks
 * a build requirement. `none` with a missing requirement is refused here, before building.
 */
export function chooseIsolation(
  isolation: 'auto' | 'isolated' | 'none',
  backend: BuildBackend,
  python: string,
  sourceDir: string
): boolean {
  if (isolation === 'isolated') return true
  if (isolation === 'auto') return backend.missing.length > 0
  if (backend.missing.length > 0) {
    throw new SitecycleError(
      `cannot build ${sourceDir} without isolation (release.build.isolation: false): its build backend ${backend.backend} needs ${backend.missing.join(', ')}, which ${python} does not have; ` +
        `install it for ${python}, or set release.build.isolation: auto to build in an isolated environment (from pip's configuration or release.build.find_links)`,
      'config'
    )
  }
  return false
}

/** The environment of `python -m build`: the configured source, or pip's own configuration untouched. */
export function buildEnvironment(
  isolated: boolean,
  source: BuildSource | undefined
): Pick<Command, 'env' | 'unsetEnv' | 'redact'> {
  const base = { PYTHONDONTWRITEBYTECODE: '1' }
  if (!isolated || source === undefined) return { env: base }
  return {
    env: {
      ...base,
      PIP_CONFIG_FILE: PIP_HERMETIC_ENV.PIP_CONFIG_FILE,
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      ...(source.findLinks.length > 0 && { PIP_FIND_LINKS: source.findLinks.join(' ') }),
      ...(source.indexUrl !== undefined
        ? { PIP_INDEX_URL: source.indexUrl }
        : { PIP_NO_INDEX: '1' })
    },
    unsetEnv: PIP_SOURCE_ENV.filter(
      n =>
        !(n === 'PIP_FIND_LINKS' && source.findLinks.length > 0) &&
        !(n === 'PIP_INDEX_URL' && source.indexUrl !== undefined) &&
        !(n === 'PIP_NO_INDEX' && source.indexUrl === undefined)
    ),
    redact: indexSecrets(source.indexUrl)
  }
}

/** Where pip looked for the build requirements, for an error message. */
export function describeBuildSource(source: BuildSource | undefined): string {
  if (source === undefined)
    return "pip's own configuration (its index: https://pypi.org/simple unless pip.conf or PIP_INDEX_URL / PIP_FIND_LINKS say otherwise)"
  const parts = [
    ...(source.findLinks.length ? [source.findLinks.join(', ')] : []),
    ...(source.indexUrl !== undefined ? ['the index of release.build.index_url_env'] : [])
  ]
  return `${parts.join(' and ')}${source.indexUrl === undefined ? ' (offline)' : ''}`
}

/** True when the output of an isolated build says pip could not get a build requirement. */
export function isMissingBuildRequirement(output: string): boolean {
  return /No matching distribution found|Could not find a version that satisfies|Failed to install build dependencies|Missing dependencies/.test(
    output
  )
}

/** The one clear error of a backend that is neither installed nor available from the source. */
export function missingBackendError(
  backend: BuildBackend,
  python: string,
  sourceDir: string,
  source: BuildSource | undefined
): SitecycleError {
  const needs = backend.missing.length
    ? `needs ${backend.missing.join(', ')}, which ${python} does not have,`
    : `needs ${backend.requires.join(', ')}`
  return new SitecycleError(
    `cannot build ${sourceDir}: its build backend ${backend.backend} ${needs} ` +
      `and pip could not get it for an isolated build from ${describeBuildSource(source)}; ` +
      `set release.build.find_links to a folder holding its wheels (or release.build.index_url_env to an index), configure pip's index, or install it for ${python}`,
    'config'
  )
}
