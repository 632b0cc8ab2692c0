/**
 * A release with dependencies, for real: examples/sample-dep is built into a local folder (as
 * an sdist only, so the wheelhouse must build its wheel offline), a copy of the sample app that
 * depends on it is released with a wheelhouse (pip wheel, offline) and a requirements.lock,
 * published to a directory store, and deployed by version from the store (through the CLI's
 * --store) to a real private Apache site, where the app answers using the dependency. A wheel
 * whose bytes changed is refused by the manifest check before the host is touched; a wheel
 * swapped for another build with its manifest entry fixed up is refused by pip's
 * --require-hashes, and the live release keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { main } from '../../src/cli.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { buildRelease, type BuiltRelease } from '../../src/releases/build.js'
import { digestFile, readManifest, writeManifest } from '../../src/releases/manifest.js'
import { findSampleApp, prepareSampleSource } from '../../src/releases/sample-source.js'
import { buildWheelhouse } from '../../src/releases/wheelhouse.js'
import { createStore } from '../../src/stores/registry.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'
import { OWNER_FILE } from '../../src/util/run-temp-dir.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'
const DEP_WHEEL = 'sitecycle_sample_dep-0.1.0-py3-none-any.whl'
const DEP_REQUIREMENT = 'sitecycle-sample-dep>=0.1'

let tmp: string
let depSdistDir: string
let depWheelDir: string
let releases: string
let storeDir: string
let v1: BuiltRelease
let v2: BuiltRelease
let progress: string[]
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const local = new LocalExecutor()

/** Build a copy of examples/sample-dep (optionally changed) into `outDir/<version>/`. */
async function buildDep(name: string, change?: string): Promise<BuiltRelease> {
  const src = path.join(tmp, name)
  await fs.cp(path.join(path.dirname(findSampleApp()), 'sample-dep'), src, { recursive: true })
  if (change !== undefined)
    await fs.appendFile(path.join(src, 'sitecycle_sample_dep', '__init__.py'), change)
  return buildRelease({ sourceDir: src, outDir: path.join(tmp, `${name}-out`), commit: null })
}

async function buildApp(version: string): Promise<BuiltRelease> {
  const sourceDir = await prepareSampleSource({
    version,
    into: path.join(tmp, 'src'),
    dependencies: [DEP_REQUIREMENT]
  })
  return buildRelease({
    sourceDir,
    outDir: releases,
    commit: null,
    notes: `Release ${version}, with its dependency.`,
    wheelhouse: { findLinks: [depSdistDir] },
    onProgress: l => progress.push(l)
  })
}

beforeAll(async () => {
  tmp = await makeTempDir('sitecycle-wheelhouse-')
  releases = path.join(tmp, 'releases')
  storeDir = path.join(tmp, 'store')
  progress = []
  const dep = await buildDep('dep')
  const sdist = dep.manifest.files.find(f => f.kind === 'sdist')!.name
  depSdistDir = path.join(tmp, 'deps-sdist')
  depWheelDir = path.join(tmp, 'deps-wheel')
  await fs.mkdir(depSdistDir)
  await fs.mkdir(depWheelDir)
  await fs.copyFile(path.join(dep.dir, sdist), path.join(depSdistDir, sdist))
  await fs.copyFile(path.join(dep.dir, DEP_WHEEL), path.join(depWheelDir, DEP_WHEEL))
  v1 = await buildApp('1.0.0')
  v2 = await buildApp('2.0.0')
})

afterAll(async () => {
  await removeTempDir(tmp)
})

describe('a release built with a wheelhouse', () => {
  it('holds the dependency wheel (built offline from its sdist), listed with its hash', async () => {
    expect(v1.manifest.wheelhouse).toHaveLength(1)
    const [w] = v1.manifest.wheelhouse!
    expect(w.name).toBe(DEP_WHEEL)
    expect(await digestFile(path.join(v1.dir, 'wheelhouse', DEP_WHEEL))).toEqual({
      sha256: w.sha256,
      size: w.size
    })
    // The app's own wheel is in the release, not in the wheelhouse.
    expect(await fs.readdir(path.join(v1.dir, 'wheelhouse'))).toEqual([DEP_WHEEL])
    expect(v1.manifest.notes).toBe('Release 1.0.0, with its dependency.')
    expect(progress.some(l => l.includes('pip wheel') && l.includes('--no-index'))).toBe(true)
  })

  it('writes requirements.lock pinning the app wheel and every dependency by hash', async () => {
    const lock = await fs.readFile(path.join(v1.dir, 'requirements.lock'), 'utf8')
    const appWheel = v1.manifest.files.find(f => f.kind === 'wheel')!
    const pins = lock.split('\n').filter(l => l && !l.startsWith('#'))
    expect(pins).toEqual([
      `sitecycle-sample==1.0.0 --hash=sha256:${appWheel.sha256}`,
      `sitecycle-sample-dep==0.1.0 --hash=sha256:${v1.manifest.wheelhouse![0].sha256}`
    ])
    expect(await digestFile(path.join(v1.dir, 'requirements.lock'))).toEqual(
      v1.manifest.requirements_lock
    )
    // SHA256SUMS covers the wheelhouse and the lock, and sha256sum itself agrees.
    const sums = await fs.readFile(path.join(v1.dir, 'SHA256SUMS'), 'utf8')
    expect(sums).toContain(`  wheelhouse/${DEP_WHEEL}\n`)
    expect(sums).toContain('  requirements.lock\n')
    await run('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: v1.dir })
  })

  it('refuses to build when a dependency cannot be found, and never shows the index secret', async () => {
    const appWheel = path.join(v1.dir, v1.manifest.files.find(f => f.kind === 'wheel')!.name)
    const secret = 's3cret-token-4711'
    const seen: string[] = []
    const work = path.join(tmp, 'wh-fail')
    const err = await buildWheelhouse({
      python: PYTHON,
      appWheel,
      appName: 'sitecycle-sample',
      appVersion: '1.0.0',
      dir: path.join(work, 'wheelhouse'),
      lockFile: path.join(work, 'requirements.lock'),
      workDir: path.join(work, 'scratch'),
      findLinks: [],
      indexUrl: `file:///nonexistent/${secret}/simple`,
      onProgress: l => seen.push(l)
    }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(SitecycleError)
    expect((err as Error).message).toMatch(
      /cannot build the wheelhouse of sitecycle-sample 1\.0\.0: pip wheel looked in the index \(\*\*\*\)/
    )
    expect((err as Error).message).toContain('sitecycle-sample-dep')
    expect((err as Error).message).not.toContain(secret)
    expect(seen.join('\n')).not.toContain(secret)
    expect(seen.length).toBeGreaterThan(0)
  })

  it('honours a constraints file, and a hash-pinned lock in hash-checking mode', async () => {
    const appWheel = path.join(v1.dir, v1.manifest.files.find(f => f.kind === 'wheel')!.name)
    const attempt = async (name: string, requirements: string) => {
      const work = path.join(tmp, name)
      await fs.mkdir(work, { recursive: true })
      await fs.writeFile(path.join(work, 'pins.txt'), requirements)
      return buildWheelhouse({
        python: PYTHON,
        appWheel,
        appName: 'sitecycle-sample',
        appVersion: '1.0.0',
        dir: path.join(work, 'wheelhouse'),
        lockFile: path.join(work, 'requirements.lock'),
        workDir: path.join(work, 'scratch'),
        findLinks: [depWheelDir],
        requirements: path.join(work, 'pins.txt')
      })
    }
    // A constraint no available version meets: the pin is applied.
    await expect(attempt('constrained', 'sitecycle-sample-dep==0.2.0\n')).rejects.toThrow(
      /cannot build the wheelhouse/
    )
    const { sha256 } = await digestFile(path.join(depWheelDir, DEP_WHEEL))
    const ok = await attempt('hashed', `sitecycle-sample-dep==0.1.0 --hash=sha256:${sha256}\n`)
    expect(ok.files).toEqual([{ name: DEP_WHEEL, sha256, size: expect.any(Number) }])
    await expect(
      attempt('bad-hash', `sitecycle-sample-dep==0.1.0 --hash=sha256:${'0'.repeat(64)}\n`)
    ).rejects.toThrow(/DO NOT MATCH THE HASHES|Expected sha256/)
  })
})

describe('deploying a release with a wheelhouse', () => {
  let apache: TestApache
  let site: TestSite

  beforeAll(async () => {
    process.env.SAMPLE_SECRET_KEY = 'wheelhouse-secret-0123'
    apache = await startApache()
    site = await makeTestSite({ apache })
    await initSite({ config: site.config, site: site.site, exec: local, reporter: reporter() })
    const store = createStore(
      { type: 'directory', path: storeDir, host: { kind: 'local' } },
      { executorFor: () => local, env: process.env }
    )
    await store.publish({ dir: v1.dir, name: 'sitecycle-sample', version: '1.0.0' }, reporter())
  })

  afterAll(async () => {
    await apache?.stop()
    await site?.cleanup()
  })

  it('the store serves the app and its dependency to pip through the index', async () => {
    const target = path.join(tmp, 'pip-target')
    const env: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
    for (const n of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']) delete env[n]
    await run(
      PYTHON,
      [
        '-m',
        'pip',
        'install',
        '--target',
        target,
        '--index-url',
        `file://${storeDir}/simple`,
        'sitecycle-sample==1.0.0'
      ],
      { env }
    )
    const installed = await fs.readdir(target)
    expect(installed).toEqual(expect.arrayContaining(['sitecycle_sample', 'sitecycle_sample_dep']))
  })

  it('`sitecycle deploy v1 --store DIR --version 1.0.0` installs it offline from the wheelhouse; the app uses the dependency', async () => {
    const out: string[] = []
    const code = await main(
      [
        'deploy',
        'v1',
        '-c',
        path.join(site.dir, 'sitecycle.yml'),
        '--store',
        storeDir,
        '--version',
        '1.0.0',
        '--quiet'
      ],
      s => out.push(s)
    )
    expect(out.join('\n')).toMatch(/deploy deployed: site v1 serves 1\.0\.0/)
    expect(code).toBe(0)
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
    const home = await fetch(`${site.url}/`)
    expect(home.headers.get('x-sample-dep')).toBe('0.1.0')
    expect(await home.text()).toContain('hello from v1 (decorated by sitecycle-sample-dep 0.1.0)')
    // The fetched copy was removed after the deploy (this process's fetch folders: other test
    // files running beside this one deploy 1.0.0 from their own stores at the same time).
    const mine: string[] = []
    for (const n of await fs.readdir(os.tmpdir())) {
      if (!n.startsWith('sitecycle-fetch-')) continue
      const p = path.join(os.tmpdir(), n)
      const owner = await fs.readFile(path.join(p, OWNER_FILE), 'utf8').catch(() => '{}')
      if ((JSON.parse(owner) as { pid?: number }).pid !== process.pid) continue
      if ((await fs.readdir(p).catch(() => [] as string[])).includes('1.0.0')) mine.push(p)
    }
    expect(mine).toEqual([])
  })

  it('a wheelhouse wheel with a changed byte is refused by the manifest check, before the host is touched', async () => {
    const copy = path.join(tmp, 'tamper-byte', '2.0.0')
    await fs.cp(v2.dir, copy, { recursive: true })
    const wheel = path.join(copy, 'wheelhouse', DEP_WHEEL)
    const bytes = await fs.readFile(wheel)
    bytes[Math.floor(bytes.length / 2)] ^= 0x20
    await fs.writeFile(wheel, bytes)
    const host = new RecordingExecutor('local')
    const err = await deploy({
      config: site.config,
      site: site.site,
      exec: host,
      reporter: reporter(),
      release: copy
    }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(SitecycleError)
    expect((err as Error).message).toContain(`wheelhouse/${DEP_WHEEL} does not match its manifest`)
    expect(host.calls).toEqual([])
  })

  it('a wheel swapped for another build, its manifest entry fixed up, is refused by pip --require-hashes; 1.0.0 keeps serving', async () => {
    const other = await buildDep('dep-other', '\nREBUILT = True\n')
    const copy = path.join(tmp, 'tamper-swap', '2.0.0')
    await fs.cp(v2.dir, copy, { recursive: true })
    await fs.copyFile(path.join(other.dir, DEP_WHEEL), path.join(copy, 'wheelhouse', DEP_WHEEL))
    const manifest = await readManifest(path.join(copy, 'manifest.json'))
    const swapped = await digestFile(path.join(copy, 'wheelhouse', DEP_WHEEL))
    expect(swapped.sha256).not.toBe(manifest.wheelhouse![0].sha256)
    manifest.wheelhouse = [{ name: DEP_WHEEL, ...swapped }]
    await writeManifest(copy, manifest) // SHA256SUMS too: only requirements.lock still knows

    const err = await deploy({
      config: site.config,
      site: site.site,
      exec: local,
      reporter: reporter(),
      release: copy
    }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(OperationFailed)
    const f = err as OperationFailed
    expect(f.outcome.failedStep).toBe('install')
    expect(f.outcome.error).toMatch(/DO NOT MATCH THE HASHES/)
    expect(f.outcome.error).toContain(swapped.sha256)
    expect(f.outcome.version).toBe('1.0.0')
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
    await expect(fs.access(path.join(site.root, 'releases', '2.0.0'))).rejects.toThrow()
  })

  it('the same release, untouched, deploys', async () => {
    const o = await deploy({
      config: site.config,
      site: site.site,
      exec: local,
      reporter: reporter(),
      release: v2.dir
    })
    expect(o).toMatchObject({ status: 'deployed', version: '2.0.0', previousVersion: '1.0.0' })
    const install = o.steps.find(s => s.name === 'install')
    expect(install?.note).toMatch(/with 1 dependency from its wheelhouse \(--require-hashes\)/)
    const home = await fetch(`${site.url}/`)
    expect(home.headers.get('x-sample-version')).toBe('2.0.0')
    expect(home.headers.get('x-sample-dep')).toBe('0.1.0')
  })
})
