/**
 * Any PEP 517 build backend, for real (python -m build, pip): a flit_core project and a hatchling
 * project, whose backends Debian's Python does not have, are built into releases in an isolated
 * environment made from a folder of wheels (the shared wheelhouse, SITECYCLE_TEST_WHEELHOUSE,
 * given as release.build.find_links); the sample app (setuptools, which Debian's Python has) is
 * built without isolation, offline. A backend that is neither installed nor available from any
 * source is one clear error naming it and what to set, with no traceback.
 *
 * Through the bundled CLI (`npx rollup -c rollup.config.js --silent` after a src change), a
 * release of the flit_core project exits 2 with that one line until sitecycle.yml names the
 * wheel folder (release.build.find_links), then releases it.
 *
 * pip is hermetic here: PIP_CONFIG_FILE=/dev/null and no PIP_FIND_LINKS / PIP_INDEX_URL, so
 * "pip's own configuration" is PyPI, which is not reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { buildRelease } from '../../src/releases/build.js'
import { readManifest } from '../../src/releases/manifest.js'
import { buildWheelhouse } from '../../src/releases/wheelhouse.js'
import { SitecycleError } from '../../src/util/errors.js'
import type { ReleaseOutcome } from '../../src/pipelines/release.js'
import { describeRun, runCli } from '../helpers/cli.js'
import { REPO } from '../helpers/harness-repo.js'
import { makeTempDir, prepareSampleSource, removeTempDir } from '../helpers/sample-app.js'

const PYTHON = '/usr/bin/python3'
/** Wheels of the build backends (the package index is not reachable from CI). */
const WHEELHOUSE =
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? path.resolve(REPO, '..', 'shared', 'wheelhouse')

let tmp: string
const saved: Record<string, string | undefined> = {}
const PIP_VARS = ['PIP_CONFIG_FILE', 'PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']

/** A project in `tmp/<name>` with this pyproject.toml and a package `<module>`. */
async function project(name: string, module: string, pyproject: string): Promise<string> {
  const dir = path.join(tmp, name)
  await fs.mkdir(path.join(dir, module), { recursive: true })
  await fs.writeFile(path.join(dir, 'pyproject.toml'), pyproject)
  await fs.writeFile(
    path.join(dir, module, '__init__.py'),
    `"""${name}: a test application."""\n\ndef application(environ, start_response):\n    start_response("200 OK", [])\n    return [b"${name}"]\n`
  )
  return dir
}

const flitProject = (name: string) =>
  project(
    name,
    'flitapp',
    [
      '[build-system]',
      'requires = ["flit_core>=3.4,<5"]',
      'build-backend = "flit_core.buildapi"',
      '',
      '[project]',
      'name = "flitapp"',
      'version = "1.2.0"',
      'description = "A flit_core test application"',
      'requires-python = ">=3.9"',
      'dependencies = ["click>=8"]',
      ''
    ].join('\n')
  )

/** The METADATA of the one wheel in a release, read by Python's zipfile. */
function wheelMetadata(wheel: string): string {
  return execFileSync(
    PYTHON,
    [
      '-c',
      'import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nprint(z.read([n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]).decode())',
      wheel
    ],
    { encoding: 'utf8' }
  )
}

async function failure(p: Promise<unknown>): Promise<SitecycleError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(SitecycleError)
  return err as SitecycleError
}

beforeAll(async () => {
  const names = existsSync(WHEELHOUSE) ? await fs.readdir(WHEELHOUSE) : []
  if (!names.some(n => n.startsWith('flit_core-')) || !names.some(n => n.startsWith('hatchling-')))
    throw new Error(
      `no flit_core and hatchling wheels in ${WHEELHOUSE}: set SITECYCLE_TEST_WHEELHOUSE to a folder with the build backends`
    )
  for (const k of PIP_VARS) saved[k] = process.env[k]
  process.env.PIP_CONFIG_FILE = '/dev/null'
  for (const k of PIP_VARS.slice(1)) delete process.env[k]
  tmp = await makeTempDir('sitecycle-build-backends-')
})

afterAll(async () => {
  for (const k of PIP_VARS) {
    if (saved[k] === undefined) delete process.env[k]
    else process.env[k] = saved[k]
  }
  await removeTempDir(tmp)
})

describe('python -m build with any PEP 517 backend', () => {
  it('builds a flit_core project in an isolated environment from the configured wheel folder', async () => {
    const src = await flitProject('flit')
    const progress: string[] = []
    const built = await buildRelease({
      sourceDir: src,
      outDir: path.join(tmp, 'out-flit'),
      commit: null,
      buildSource: { findLinks: [WHEELHOUSE] },
      onProgress: l => progress.push(l)
    })
    expect(progress).toContain(
      `build backend flit_core.buildapi: isolated build (${PYTHON} lacks flit_core>=3.4,<5)`
    )
    expect(progress.some(l => l.includes('python3 -m build --sdist --wheel'))).toBe(true)
    expect(await readManifest(built.manifestPath)).toMatchObject({
      name: 'flitapp',
      version: '1.2.0',
      requires_python: '>=3.9'
    })
    expect(built.manifest.files.map(f => f.name)).toEqual([
      'flitapp-1.2.0.tar.gz',
      'flitapp-1.2.0-py3-none-any.whl'
    ])
    const meta = wheelMetadata(path.join(built.dir, 'flitapp-1.2.0-py3-none-any.whl'))
    expect(meta).toMatch(/^Name: flitapp$/m)
    expect(meta).toMatch(/^Version: 1\.2\.0$/m)
    expect(meta).toMatch(/^Requires-Dist: click>=8$/m)
    expect(meta).toMatch(/^Summary: A flit_core test application$/m)
    // The build left nothing behind in the source tree.
    expect((await fs.readdir(src)).sort()).toEqual(['flitapp', 'pyproject.toml'])
  })

  it('builds a hatchling project the same way', async () => {
    const src = await project(
      'hatch',
      'hatchapp',
      [
        '[build-system]',
        'requires = ["hatchling"]',
        'build-backend = "hatchling.build"',
        '',
        '[project]',
        'name = "hatch-app"',
        'version = "0.3.0"',
        'requires-python = ">=3.9"',
        'dependencies = ["itsdangerous>=2"]',
        '',
        '[tool.hatch.build.targets.wheel]',
        'packages = ["hatchapp"]',
        ''
      ].join('\n')
    )
    const progress: string[] = []
    const built = await buildRelease({
      sourceDir: src,
      outDir: path.join(tmp, 'out-hatch'),
      commit: null,
      buildSource: { findLinks: [WHEELHOUSE] },
      onProgress: l => progress.push(l)
    })
    expect(progress).toContain(
      `build backend hatchling.build: isolated build (${PYTHON} lacks hatchling)`
    )
    expect(built.manifest).toMatchObject({ name: 'hatch-app', version: '0.3.0' })
    const wheel = built.manifest.files.find(f => f.kind === 'wheel')!.name
    expect(wheel).toBe('hatch_app-0.3.0-py3-none-any.whl')
    const meta = wheelMetadata(path.join(built.dir, wheel))
    expect(meta).toMatch(/^Name: hatch-app$/m)
    expect(meta).toMatch(/^Version: 0\.3\.0$/m)
    expect(meta).toMatch(/^Requires-Dist: itsdangerous>=2$/m)
    // The wheel holds the package.
    expect(
      execFileSync(PYTHON, ['-c', 'import hatchapp, sys; sys.stdout.write(hatchapp.__doc__)'], {
        env: { PYTHONPATH: path.join(built.dir, wheel) },
        encoding: 'utf8'
      })
    ).toBe('hatch: a test application.')
  })

  it('builds the setuptools sample without isolation, offline, when the build Python has setuptools', async () => {
    const src = await prepareSampleSource({ version: '4.0.0', into: path.join(tmp, 'sample') })
    const progress: string[] = []
    const built = await buildRelease({
      sourceDir: src,
      outDir: path.join(tmp, 'out-sample'),
      commit: null,
      onProgress: l => progress.push(l)
    })
    expect(
      progress.some(l => l.startsWith('build backend setuptools.build_meta: no isolation'))
    ).toBe(true)
    expect(progress.some(l => l.includes('-m build --no-isolation'))).toBe(true)
    expect(built.manifest.version).toBe('4.0.0')
    // setuptools' build/ and egg-info are gone again.
    expect(existsSync(path.join(src, 'build'))).toBe(false)
    expect((await fs.readdir(src)).some(n => n.endsWith('.egg-info'))).toBe(false)
  })

  it('a backend neither installed nor available from pip is one clear error naming it and what to set', async () => {
    const src = await flitProject('flit-nosource')
    const out = path.join(tmp, 'out-nosource')
    const err = await failure(buildRelease({ sourceDir: src, outDir: out, commit: null }))
    expect(err.kind).toBe('config')
    expect(err.message).toContain(
      `cannot build ${src}: its build backend flit_core.buildapi needs flit_core>=3.4,<5, which ${PYTHON} does not have`
    )
    expect(err.message).toContain("pip's own configuration")
    expect(err.message).toContain('set release.build.find_links')
    expect(err.message).not.toMatch(/Traceback|ModuleNotFoundError/)
    expect(err.message.split('\n')).toHaveLength(1)
    expect(existsSync(out)).toBe(false)

    // From a folder that lacks it: the same error, naming the folder.
    const empty = path.join(tmp, 'empty-wheels')
    await fs.mkdir(empty)
    const offline = await failure(
      buildRelease({
        sourceDir: src,
        outDir: out,
        commit: null,
        buildSource: { findLinks: [empty] }
      })
    )
    expect(offline.message).toContain(`from ${empty} (offline)`)

    // isolation none: refused before building, saying what to set.
    const none = await failure(
      buildRelease({ sourceDir: src, outDir: out, commit: null, isolation: 'none' })
    )
    expect(none.message).toContain('without isolation (release.build.isolation: false)')
    expect(none.message).toContain('set release.build.isolation: auto')
    expect(existsSync(out)).toBe(false)
  })

  it("uses pip's own configuration (PIP_FIND_LINKS here) for the isolated build and the wheelhouse when the config names no source", async () => {
    const src = await flitProject('flit-pipconf')
    process.env.PIP_FIND_LINKS = WHEELHOUSE
    process.env.PIP_NO_INDEX = '1'
    let built
    try {
      built = await buildRelease({
        sourceDir: src,
        outDir: path.join(tmp, 'out-pipconf'),
        commit: null,
        wheelhouse: { findLinks: [] }
      })
    } finally {
      delete process.env.PIP_FIND_LINKS
      delete process.env.PIP_NO_INDEX
    }
    expect(built.manifest).toMatchObject({ name: 'flitapp', version: '1.2.0' })
    // click, the app's dependency, came from pip's find-links into the release's wheelhouse.
    expect(built.manifest.wheelhouse?.map(w => w.name)).toEqual(['click-8.5.0-py3-none-any.whl'])
    expect(await fs.readFile(path.join(built.dir, 'requirements.lock'), 'utf8')).toMatch(
      /^click==8\.5\.0 --hash=sha256:[0-9a-f]{64}$/m
    )

    // With pip configured to no source at all, the wheelhouse says where pip looked.
    const appWheel = path.join(built.dir, 'flitapp-1.2.0-py3-none-any.whl')
    const err = await failure(
      buildWheelhouse({
        python: PYTHON,
        appWheel,
        appName: 'flitapp',
        appVersion: '1.2.0',
        dir: path.join(tmp, 'wh-none', 'wheelhouse'),
        lockFile: path.join(tmp, 'wh-none', 'requirements.lock'),
        workDir: path.join(tmp, 'wh-none', 'work'),
        findLinks: []
      })
    )
    expect(err.message).toContain("pip wheel looked in pip's own configuration")
    expect(err.message).toContain('click')
  })

  it('sitecycle release: exit 2 with one line until release.build.find_links names the wheels, then releases', async () => {
    const repo = await flitProject('flit-repo')
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim()
    const config = (build: string) =>
      fs.writeFile(
        path.join(repo, 'sitecycle.yml'),
        [
          'app:',
          '  package: flitapp',
          '  wsgi: flitapp:application',
          'release:',
          '  out_dir: ../flit-repo-out',
          build,
          'sites:',
          '  v1:',
          '    root: /srv/flitapp/v1',
          '    url: http://127.0.0.1:8080',
          ''
        ].join('\n')
      )
    const commitAll = (m: string) => {
      git('add', '-A')
      git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-q', '-m', m)
    }
    execFileSync('git', ['init', '-q', repo])
    await config('')
    commitAll('flitapp 1.2.0')

    const refused = await runCli(['release', '-c', path.join(repo, 'sitecycle.yml')])
    expect(refused.code).toBe(2)
    const line = refused.stderr.split('\n').find(l => l.includes('cannot build'))
    expect(line).toContain('its build backend flit_core.buildapi needs flit_core>=3.4,<5')
    expect(line).toContain('set release.build.find_links')
    expect(refused.stderr).not.toMatch(/Traceback|ModuleNotFoundError/)
    expect(git('tag', '--list')).toBe('')
    expect(existsSync(path.join(tmp, 'flit-repo-out', '1.2.0'))).toBe(false)

    await config(`  build: { find_links: [${JSON.stringify(WHEELHOUSE)}] }`)
    commitAll('build backend from the wheelhouse')
    const r = await runCli(['release', '-c', path.join(repo, 'sitecycle.yml'), '--json'])
    if (r.code !== 0) throw new Error(describeRun(r))
    const outcome = JSON.parse(r.stdout) as ReleaseOutcome
    expect(outcome).toMatchObject({
      name: 'flitapp',
      version: '1.2.0',
      tag: 'v1.2.0',
      tests: 'none'
    })
    const manifest = await readManifest(outcome.manifestPath!)
    expect(manifest).toMatchObject({
      tests: 'none',
      dirty: false,
      commit: git('rev-parse', 'HEAD')
    })
    expect(manifest.notes).toContain('**No tests configured** (app.tests)')
    expect(wheelMetadata(path.join(outcome.releaseDir!, 'flitapp-1.2.0-py3-none-any.whl'))).toMatch(
      /^Version: 1\.2\.0$/m
    )
  })
})
