/**
 * The sample application (examples/sample-app) prepared as a source tree at a chosen version,
 * optionally broken on purpose: used by the tests, the demo and the benchmarks.
 */
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SitecycleError } from '../util/errors.js'
import { normalizeVersion } from './version.js'

/** How a prepared sample is broken: `health` (/__version__ answers 500) or `import` (wsgi import fails). */
export type SampleBreakage = 'health' | 'import'

export interface PrepareSampleOptions {
  /** PEP 440 version written into sitecycle_sample/_version.py (normalised). */
  version: string
  /** Break the build on purpose. */
  broken?: SampleBreakage
  /** Directory under which the source tree is created. */
  into: string
  /** The repository's examples/ directory; found from the working directory when omitted. */
  examplesDir?: string
  /**
   * Requirements written into pyproject's `dependencies` (e.g. `sitecycle-sample-dep>=0.1`);
   * the copy's folder name then ends in `-with-deps`. The sample itself has none.
   */
  dependencies?: string[]
}

const SAMPLE_DIR = 'sample-app'
const SKIPPED = new Set(['build', 'dist', '__pycache__', '.pytest_cache'])

function moduleDir(): string | undefined {
  try {
    return path.dirname(fileURLToPath(import.meta.url))
  } catch {
    return undefined
  }
}

function walkUpFor(start: string): string | undefined {
  let dir = path.resolve(start)
  for (;;) {
    const candidate = path.join(dir, 'examples', SAMPLE_DIR)
    if (existsSync(path.join(candidate, 'pyproject.toml'))) return candidate
    const parent = path.dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/**
 * The sample application's directory: `<examplesDir>/sample-app` when given, else the first
 * `examples/sample-app` found walking up from the working directory, then from this module
 * (which works both from src/ and from the bundled dist/cli.js).
 */
export function findSampleApp(examplesDir?: string): string {
  if (examplesDir) {
    const dir = path.resolve(examplesDir, SAMPLE_DIR)
    if (!existsSync(path.join(dir, 'pyproject.toml'))) {
      throw new SitecycleError(
        `no sample application in ${examplesDir}: ${dir}/pyproject.toml is missing`
      )
    }
    return dir
  }
  const here = moduleDir()
  const found = walkUpFor(process.cwd()) ?? (here ? walkUpFor(here) : undefined)
  if (!found) {
    throw new SitecycleError(
      `cannot find examples/${SAMPLE_DIR} above ${process.cwd()}: run from the sitecycle repository or pass examplesDir`
    )
  }
  return found
}

/** Replace pyproject's `dependencies = []` line with the given requirements. */
async function writeDependencies(pyproject: string, deps: string[]): Promise<void> {
  for (const d of deps) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?\s*([<>=!~]=?[^"\\]*)?$/.test(d))
      throw new SitecycleError(
        `invalid dependency '${d}': expected a requirement such as name>=1.0`
      )
  }
  const text = await fs.readFile(pyproject, 'utf8')
  const line = /^dependencies = \[\]$/m
  if (!line.test(text))
    throw new SitecycleError(`${pyproject} has no 'dependencies = []' line to fill in`)
  await fs.writeFile(
    pyproject,
    text.replace(line, `dependencies = [${deps.map(d => JSON.stringify(d)).join(', ')}]`)
  )
}

function pythonString(value: string): string {
  return JSON.stringify(value)
}

/**
 * Copy the sample application into `<into>/sitecycle-sample-<version>[-broken-<how>]`
 * (replacing an earlier copy there), write its version and breakage, and return that
 * directory: a source tree ready for buildRelease.
 */
export async function prepareSampleSource(opts: PrepareSampleOptions): Promise<string> {
  const version = normalizeVersion(opts.version)
  if (opts.broken !== undefined && opts.broken !== 'health' && opts.broken !== 'import') {
    throw new SitecycleError(`invalid breakage '${String(opts.broken)}': expected health or import`)
  }
  const from = findSampleApp(opts.examplesDir)
  const deps = opts.dependencies ?? []
  const dest = path.resolve(
    opts.into,
    `sitecycle-sample-${version}${opts.broken ? `-broken-${opts.broken}` : ''}${deps.length ? '-with-deps' : ''}`
  )
  await fs.rm(dest, { recursive: true, force: true })
  await fs.mkdir(opts.into, { recursive: true })
  await fs.cp(from, dest, {
    recursive: true,
    filter: src => {
      const base = path.basename(src)
      return !SKIPPED.has(base) && !base.endsWith('.egg-info') && !base.endsWith('.pyc')
    }
  })
  if (deps.length) await writeDependencies(path.join(dest, 'pyproject.toml'), deps)
  const pkg = path.join(dest, 'sitecycle_sample')
  await fs.writeFile(
    path.join(pkg, '_version.py'),
    `"""The release's version; written by prepareSampleSource."""\n\n__version__ = ${pythonString(version)}\n`
  )
  await fs.writeFile(
    path.join(pkg, '_broken.py'),
    `"""How this build is broken, for tests of failed deploys; written by prepareSampleSource."""\n\n` +
      `BROKEN = ${opts.broken ? pythonString(opts.broken) : 'None'}\n`
  )
  return dest
}
