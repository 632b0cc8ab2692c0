/**
 * Building a release on the runner: `python -m build` makes the sdist and the wheel, without
 * isolation when the build Python has the project's build backend, else in an isolated
 * environment from pip's configuration or the configured source (build-backend.ts); optionally a wheelhouse of the dependencies with
 * its requirements.lock, then the files, manifest.json and SHA256SUMS appear together as
 * `<outDir>/<version>/` by one rename, so no half-built release is seen.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describeCommand, type Command } from '../commands/command.js'
import { CommandError } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { LocalExecutor } from '../hosts/local-executor.js'
import { checkArchive } from './archive-check.js'
import { checkIsPackage } from './package-check.js'
import {
  buildEnvironment,
  chooseIsolation,
  isMissingBuildRequirement,
  missingBackendError,
  readBuildBackend,
  type BuildSource
} from './build-backend.js'
import { readWheelMetadata } from './wheel-metadata.js'
import {
  digestFile,
  REQUIREMENTS_LOCK_FILE,
  WHEELHOUSE_DIR,
  writeManifest,
  type ReleaseFile,
  type ReleaseManifest
} from './manifest.js'
import { normalizeVersion, parseReleaseFileName } from './version.js'
import { buildWheelhouse, type BuiltWheelhouse, type WheelhouseSettings } from './wheelhouse.js'

/** The Python used to build when none is given: Debian's, by full path. */
export const DEFAULT_BUILD_PYTHON = '/usr/bin/python3'

export interface BuildReleaseOptions {
  /** The project's source directory (holding pyproject.toml). */
  sourceDir: string
  /** Directory of releases; the release is written to `<outDir>/<version>/`. */
  outDir: string
  /** Python interpreter (default /usr/bin/python3); needs the `build`, setuptools and wheel modules. */
  python?: string
  /** Git commit recorded in the manifest; found with `git rev-parse HEAD` when omitted; null when unknown. */
  commit?: string | null
  /**
   * Build a wheelhouse of the release's dependencies into `<release>/wheelhouse/` and write
   * `<release>/requirements.lock` (relative paths are taken from `sourceDir`). Absent: no wheelhouse.
   */
  wheelhouse?: WheelhouseSettings
  /** Release notes (Markdown) recorded in the manifest. */
  notes?: string
  /** Receives each line the build prints. */
  onProgress?: (line: string) => void
  /**
   * `auto` (default): without isolation when `python` has every build requirement of the
   * project (offline), else isolated; `isolated`: always; `none`: never.
   */
  isolation?: 'auto' | 'isolated' | 'none'
  /** Where an isolated build gets its backend; absent: pip's own configuration. */
  buildSource?: BuildSource
}

export interface BuiltRelease {
  manifest: ReleaseManifest
  /** Absolute path of `<outDir>/<version>/manifest.json`. */
  manifestPath: string
  /** Absolute path of `<outDir>/<version>/`. */
  dir: string
}

/**
 * The argv that builds an sdist and a wheel into outDir: without isolation (offline), or isolated
 * with the build requirements from `source` (absent: pip's own configuration, untouched).
 */
export function pythonBuildCommand(
  python: string,
  sourceDir: string,
  outDir: string,
  noIsolation = true,
  source?: BuildSource
): Command {
  return {
    argv: [
      python,
      '-m',
      'build',
      ...(noIsolation ? ['--no-isolation'] : []),
      '--sdist',
      '--wheel',
      '--outdir',
      outDir,
      sourceDir
    ],
    cwd: sourceDir,
    ...buildEnvironment(!noIsolation, source)
  }
}

interface ProcessResult {
  code: number
  stdout: string
  stderr: string
}

/** Run a command on this machine (argv, no shell), feeding output lines to onLine. */
function runLocal(command: Command, onLine?: (line: string) => void): Promise<ProcessResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...command.env }
  for (const name of command.unsetEnv ?? []) delete env[name]
  return new Promise((resolve, reject) => {
    const child = spawn(command.argv[0], command.argv.slice(1), {
      cwd: command.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const out: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] }
    const partial = { stdout: '', stderr: '' }
    const feed = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      const text = chunk.toString('utf8')
      out[stream].push(text)
      if (!onLine) return
      const lines = (partial[stream] + text).split('\n')
      partial[stream] = lines.pop() ?? ''
      for (const line of lines) onLine(line)
    }
    child.stdout.on('data', (c: Buffer) => feed('stdout', c))
    child.stderr.on('data', (c: Buffer) => feed('stderr', c))
    child.on('error', reject)
    child.on('close', code => {
      if (onLine) for (const rest of [partial.stdout, partial.stderr]) if (rest) onLine(rest)
      resolve({ code: code ?? 1, stdout: out.stdout.join(''), stderr: out.stderr.join('') })
    })
  })
}

async function gitHead(dir: string): Promise<string | null> {
  try {
    const r = await runLocal({ argv: ['git', '-C', dir, 'rev-parse', 'HEAD'] })
    const sha = r.stdout.trim()
    return r.code === 0 && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null
  } catch {
    return null
  }
}

/** What setuptools leaves in a source tree when it builds: `build/` and `*.egg-info` folders. */
async function buildLeftovers(sourceDir: string): Promise<Set<string>> {
  const found = new Set<string>()
  for (const dir of [sourceDir, path.join(sourceDir, 'src')]) {
    let names: string[]
    try {
      names = await fs.readdir(dir)
    } catch {
      continue
    }
    for (const n of names)
      if (n === 'build' || n.endsWith('.egg-info')) found.add(path.join(dir, n))
  }
  return found
}

/**
 * Remove the by-products this build left in the source tree (those that were not there before),
 * so the work tree stays as it was committed and the next release finds it clean.
 */
async function removeBuildLeftovers(sourceDir: string, before: Set<string>): Promise<void> {
  for (const p of await buildLeftovers(sourceDir))
    if (!before.has(p)) await fs.rm(p, { recursive: true, force: true })
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p)
    return true
  } catch {
    return false
  }
}

/**
 * Build the sdist and wheel of `sourceDir` and publish them with manifest.json and SHA256SUMS
 * as `<outDir>/<version>/`. Refuses to replace an existing release of that version.
 */
export async function buildRelease(opts: BuildReleaseOptions): Promise<BuiltRelease> {
  const sourceDir = path.resolve(opts.sourceDir)
  const outDir = path.resolve(opts.outDir)
  await checkIsPackage(sourceDir)
  const python = opts.python ?? DEFAULT_BUILD_PYTHON
  const backend = await readBuildBackend(new LocalExecutor(), python, sourceDir)
  const isolated = chooseIsolation(opts.isolation ?? 'auto', backend, python, sourceDir)
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-build-'))
  const leftBefore = await buildLeftovers(sourceDir)
  let staging: string | undefined
  try {
    const command = pythonBuildCommand(python, sourceDir, workDir, !isolated, opts.buildSource)
    opts.onProgress?.(
      `build backend ${backend.backend}: ${isolated ? `isolated build (${backend.missing.length ? `${python} lacks ${backend.missing.join(', ')}` : 'release.build.isolation: true'})` : `no isolation (${python} has ${backend.requires.join(', ') || 'it'})`}`
    )
    opts.onProgress?.(`$ ${describeCommand(command)}`)
    // An isolated build's output is held back until the end: when pip cannot get the backend,
    // build's traceback is noise and the one error below says what to do.
    const heldBack: string[] = []
    let result: ProcessResult
    try {
      result = await runLocal(command, isolated ? line => heldBack.push(line) : opts.onProgress)
    } catch (err) {
      throw new SitecycleError(`cannot run ${python}: ${(err as Error).message}`, 'release')
    } finally {
      await removeBuildLeftovers(sourceDir, leftBefore)
    }
    const missingBackend =
      result.code !== 0 &&
      isolated &&
      isMissingBuildRequirement(`${result.stdout}\n${result.stderr}`)
    if (!missingBackend) for (const line of heldBack) opts.onProgress?.(line)
    if (result.code !== 0) {
      if (missingBackend) throw missingBackendError(backend, python, sourceDir, opts.buildSource)
      if (/No module named build\b/.test(result.stderr)) {
        throw new SitecycleError(
          `${python} has no 'build' module: install it (apt-get install python3-build) to build releases`,
          'release'
        )
      }
      throw new CommandError(
        'local',
        describeCommand(command),
        result.code,
        result.stdout,
        result.stderr
      )
    }

    const built = await fs.readdir(workDir)
    const wheels = built.filter(n => n.endsWith('.whl'))
    const sdists = built.filter(n => n.endsWith('.tar.gz'))
    if (wheels.length !== 1 || sdists.length !== 1) {
      throw new SitecycleError(
        `python -m build in ${sourceDir} made ${built.join(', ') || 'nothing'}; expected one sdist and one wheel`,
        'release'
      )
    }
    const wheelPath = path.join(workDir, wheels[0])
    const sdistPath = path.join(workDir, sdists[0])
    const meta = await readWheelMetadata(wheelPath)
    const version = normalizeVersion(meta.version)
    for (const name of [wheels[0], sdists[0]]) {
      if (normalizeVersion(parseReleaseFileName(name).version) !== version) {
        throw new SitecycleError(
          `built file ${name} does not carry the version ${meta.version} of its METADATA`,
          'release'
        )
      }
    }
    await checkArchive(sdistPath)
    await checkArchive(wheelPath)

    let wheelhouse: BuiltWheelhouse | undefined
    if (opts.wheelhouse) {
      const w = opts.wheelhouse
      wheelhouse = await buildWheelhouse({
        python,
        appWheel: wheelPath,
        appName: meta.name,
        appVersion: version,
        dir: path.join(workDir, WHEELHOUSE_DIR),
        lockFile: path.join(workDir, REQUIREMENTS_LOCK_FILE),
        workDir: path.join(workDir, '.wheelhouse-work'),
        findLinks: w.findLinks.map(d => path.resolve(sourceDir, d)),
        ...(w.requirements !== undefined && {
          requirements: path.resolve(sourceDir, w.requirements)
        }),
        ...(w.indexUrl !== undefined && { indexUrl: w.indexUrl }),
        onProgress: opts.onProgress
      })
    }

    const files: ReleaseFile[] = []
    for (const [name, kind] of [
      [sdists[0], 'sdist'],
      [wheels[0], 'wheel']
    ] as const) {
      files.push({ name, kind, ...(await digestFile(path.join(workDir, name))) })
    }
    const manifest: ReleaseManifest = {
      name: meta.name,
      version,
      commit: opts.commit === undefined ? await gitHead(sourceDir) : opts.commit,
      requires_python: meta.requiresPython,
      built_at: new Date().toISOString(),
      files,
      ...(opts.notes !== undefined && { notes: opts.notes }),
      ...(wheelhouse && { wheelhouse: wheelhouse.files, requirements_lock: wheelhouse.lock })
    }

    const dir = path.join(outDir, version)
    if (await exists(dir)) {
      throw new SitecycleError(
        `release ${version} already exists in ${outDir}: releases are never rebuilt in place`,
        'release'
      )
    }
    await fs.mkdir(outDir, { recursive: true })
    // Hidden staging names are skipped by listReleaseVersions, so readers never see them.
    staging = await fs.mkdtemp(path.join(outDir, `.building-${version}-`))
    for (const f of files) await fs.copyFile(path.join(workDir, f.name), path.join(staging, f.name))
    if (wheelhouse) {
      const whDir = path.join(staging, WHEELHOUSE_DIR)
      await fs.mkdir(whDir, { mode: 0o755 })
      for (const f of wheelhouse.files)
        await fs.copyFile(path.join(workDir, WHEELHOUSE_DIR, f.name), path.join(whDir, f.name))
      await fs.copyFile(wheelhouse.lockFile, path.join(staging, REQUIREMENTS_LOCK_FILE))
    }
    await writeManifest(staging, manifest)
    try {
      await fs.rename(staging, dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EEXIST' || code === 'ENOTEMPTY') {
        throw new SitecycleError(
          `release ${version} already exists in ${outDir}: another build made it first`,
          'release'
        )
      }
      throw err
    }
    staging = undefined
    await fs.chmod(dir, 0o755)
    return { manifest, manifestPath: path.join(dir, 'manifest.json'), dir }
  } finally {
    await fs.rm(workDir, { recursive: true, force: true })
    if (staging) await fs.rm(staging, { recursive: true, force: true })
  }
}
