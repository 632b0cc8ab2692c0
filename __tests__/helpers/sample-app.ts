/**
 * The sample application for tests: prepare its source at a version (optionally broken) and
 * build it into a releases directory. Builds are cached on disk across test files (keyed by
 * the sample's sources, the version and the breakage), so each variant is built once a run.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { buildRelease, type BuiltRelease } from '../../src/releases/build.js'
import { readManifest } from '../../src/releases/manifest.js'
import {
  findSampleApp,
  prepareSampleSource,
  type SampleBreakage
} from '../../src/releases/sample-source.js'
import { normalizeVersion } from '../../src/releases/version.js'

export { findSampleApp, prepareSampleSource, type SampleBreakage }

/** The sample's distribution name. */
export const SAMPLE_PACKAGE = 'sitecycle-sample'
/** The sample's WSGI entry point. */
export const SAMPLE_WSGI = 'sitecycle_sample.wsgi:application'

/** A fresh temporary directory under os.tmpdir(); remove it with removeTempDir. */
export function makeTempDir(prefix = 'sitecycle-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

/** Remove a directory made by makeTempDir. */
export function removeTempDir(dir: string | undefined): Promise<void> {
  return dir ? fs.rm(dir, { recursive: true, force: true }) : Promise.resolve()
}

async function hashTree(dir: string, hash: ReturnType<typeof createHash>, rel = ''): Promise<void> {
  const entries = (await fs.readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name)
  )
  for (const e of entries) {
    if (e.name === '__pycache__' || e.name === 'build' || e.name.endsWith('.egg-info')) continue
    const child = path.join(rel, e.name)
    if (e.isDirectory()) await hashTree(dir, hash, child)
    else if (e.isFile())
      hash
        .update(child)
        .update('\0')
        .update(await fs.readFile(path.join(dir, child)))
  }
}

async function cacheKey(version: string, broken?: SampleBreakage): Promise<string> {
  const hash = createHash('sha256')
  await hashTree(findSampleApp(), hash)
  hash.update(`\0${version}\0${broken ?? ''}`)
  return hash.digest('hex').slice(0, 16)
}

export interface BuildSampleOptions {
  /** PEP 440 version of the build. */
  version: string
  /** Build a deliberately broken sample. */
  broken?: SampleBreakage
  /** Releases directory: the build appears as `<releasesDir>/<version>/`. */
  releasesDir: string
}

/**
 * Build the sample at a version into `<releasesDir>/<version>/` (files, manifest.json,
 * SHA256SUMS), reusing a cached build of the same sources when there is one.
 */
export async function buildSampleRelease(opts: BuildSampleOptions): Promise<BuiltRelease> {
  const version = normalizeVersion(opts.version)
  const cacheRoot = path.join(
    os.tmpdir(),
    'sitecycle-sample-builds',
    await cacheKey(version, opts.broken)
  )
  const cached = path.join(cacheRoot, version)
  try {
    await fs.access(path.join(cached, 'manifest.json'))
  } catch {
    const work = await makeTempDir('sitecycle-sample-src-')
    try {
      const sourceDir = await prepareSampleSource({ version, broken: opts.broken, into: work })
      const outDir = path.join(work, 'out')
      await buildRelease({ sourceDir, outDir, commit: null })
      await fs.mkdir(cacheRoot, { recursive: true })
      // Another jest worker may have filled the cache meanwhile: either copy is as good.
      await fs.rename(path.join(outDir, version), cached).catch(() => undefined)
    } finally {
      await removeTempDir(work)
    }
  }
  const dir = path.join(path.resolve(opts.releasesDir), version)
  await fs.mkdir(opts.releasesDir, { recursive: true })
  await fs.cp(cached, dir, { recursive: true, errorOnExist: true, force: false })
  const manifestPath = path.join(dir, 'manifest.json')
  return { manifest: await readManifest(manifestPath), manifestPath, dir }
}
