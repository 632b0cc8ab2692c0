/**
 * Builds the sample application for real (python -m build, offline), then resolves and
 * checks the releases: newest by PEP 440, a chosen version, tampered files and mismatched
 * manifests refused. Also runs the built wheel's WSGI application with Debian's Python.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { buildRelease, type BuiltRelease } from '../../src/releases/build.js'
import { digestFile, readManifest, writeManifest } from '../../src/releases/manifest.js'
import { resolveRelease } from '../../src/releases/resolve-release.js'
import { SitecycleError } from '../../src/util/errors.js'
import {
  buildSampleRelease,
  makeTempDir,
  prepareSampleSource,
  removeTempDir
} from '../helpers/sample-app.js'

const PYTHON = '/usr/bin/python3'

let tmp: string
let releases: string
let built: Record<string, BuiltRelease>
let progress: string[]
/** When the builds started: every built_at is at or after it, in build order. */
let buildsStarted: string

beforeAll(async () => {
  tmp = await makeTempDir('sitecycle-build-release-')
  releases = path.join(tmp, 'releases')
  progress = []
  built = {}
  buildsStarted = new Date().toISOString()
  for (const version of ['1.0.0', '2.0.0rc1']) {
    const sourceDir = await prepareSampleSource({ version, into: path.join(tmp, 'src') })
    built[version] = await buildRelease({
      sourceDir,
      outDir: releases,
      commit: version === '1.0.0' ? '0123456789abcdef0123456789abcdef01234567' : undefined,
      onProgress: line => progress.push(line)
    })
  }
})

afterAll(async () => {
  await removeTempDir(tmp)
})

/** Copy one built version into a fresh releases directory, optionally under another name. */
async function copyRelease(version: string, asName = version): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmp, 'copy-'))
  await fs.cp(path.join(releases, version), path.join(dir, asName), { recursive: true })
  return dir
}

async function failure(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(SitecycleError)
  return (err as Error).message
}

/** Call the WSGI application of a wheel (imported from the wheel file itself) with a GET. */
function wsgiGet(
  wheel: string,
  urlPath: string,
  env: Record<string, string> = {}
): { status: string; headers: Record<string, string>; body: string } {
  const script = `
import json, sys
from wsgiref.util import setup_testing_defaults
from sitecycle_sample.wsgi import application
environ = {}
setup_testing_defaults(environ)
environ['PATH_INFO'], _, environ['QUERY_STRING'] = sys.argv[1].partition('?')
seen = {}
def start_response(status, headers):
    seen['status'] = status
    seen['headers'] = dict(headers)
body = b''.join(application(environ, start_response))
print(json.dumps({'status': seen['status'], 'headers': seen['headers'], 'body': body.decode()}))
`
  const out = execFileSync(PYTHON, ['-c', script, urlPath], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PYTHONPATH: wheel,
      PYTHONDONTWRITEBYTECODE: '1',
      ...env
    }
  })
  return JSON.parse(out.toString())
}

describe('buildRelease', () => {
  it('writes each version as <outDir>/<version>/ with its files, manifest and SHA256SUMS', async () => {
    expect((await fs.readdir(releases)).sort()).toEqual(['1.0.0', '2.0.0rc1'])
    expect((await fs.readdir(path.join(releases, '2.0.0rc1'))).sort()).toEqual([
      'SHA256SUMS',
      'manifest.json',
      'sitecycle-sample-2.0.0rc1.tar.gz',
      'sitecycle_sample-2.0.0rc1-py3-none-any.whl'
    ])
    const { manifest, manifestPath, dir } = built['2.0.0rc1']
    expect(dir).toBe(path.join(releases, '2.0.0rc1'))
    expect(manifestPath).toBe(path.join(dir, 'manifest.json'))
    expect(await readManifest(manifestPath)).toEqual(manifest)
    expect(manifest).toMatchObject({
      name: 'sitecycle-sample',
      version: '2.0.0rc1',
      requires_python: '>=3.9',
      commit: null
    })
    // Stamped by this build, in order: after the builds started, after the 1.0.0 built first.
    const stamps = [buildsStarted, built['1.0.0'].manifest.built_at, manifest.built_at]
    expect(stamps.map(t => new Date(t).toISOString())).toEqual(stamps)
    expect([...stamps].sort()).toEqual(stamps)
    expect(manifest.files.map(f => [f.name, f.kind])).toEqual([
      ['sitecycle-sample-2.0.0rc1.tar.gz', 'sdist'],
      ['sitecycle_sample-2.0.0rc1-py3-none-any.whl', 'wheel']
    ])
    for (const f of manifest.files) {
      expect(await digestFile(path.join(dir, f.name))).toEqual({ sha256: f.sha256, size: f.size })
    }
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString()).toBe(
      'sitecycle-sample-2.0.0rc1.tar.gz: OK\nsitecycle_sample-2.0.0rc1-py3-none-any.whl: OK\n'
    )
    expect(built['1.0.0'].manifest.commit).toBe('0123456789abcdef0123456789abcdef01234567')
    expect(
      progress.some(l => l.startsWith('$ /usr/bin/python3 -m build --no-isolation --sdist --wheel'))
    ).toBe(true)
    expect(progress.some(l => l.includes('Successfully built'))).toBe(true)
  })

  it('builds a wheel whose application answers with its version', () => {
    const wheel = path.join(releases, '2.0.0rc1', 'sitecycle_sample-2.0.0rc1-py3-none-any.whl')
    const version = wsgiGet(wheel, '/__version__')
    expect(version).toMatchObject({ status: '200 OK', body: '2.0.0rc1\n' })
    expect(version.headers).toMatchObject({
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Sample-Version': '2.0.0rc1'
    })
    const slow = wsgiGet(wheel, '/slow?ms=20')
    expect(slow).toMatchObject({ status: '200 OK', body: 'slept 20 ms\n' })
    expect(wsgiGet(wheel, '/slow?ms=-5').body).toBe('slept 0 ms\n')
    expect(wsgiGet(wheel, '/slow?ms=soon').status).toBe('400 Bad Request')
    expect(wsgiGet(wheel, '/nowhere').status).toBe('404 Not Found')
  })

  it('builds an application that reads its greeting from SITECYCLE_CONFIG, and a check hook', async () => {
    const wheel = path.join(releases, '1.0.0', 'sitecycle_sample-1.0.0-py3-none-any.whl')
    expect(wsgiGet(wheel, '/').body).toContain('<h1>Hello from sitecycle-sample</h1>')
    const ini = path.join(tmp, 'app.ini')
    await fs.writeFile(ini, '[app]\ngreeting = Bonjour <tout le monde>\n')
    const page = wsgiGet(wheel, '/', { SITECYCLE_CONFIG: ini })
    expect(page.status).toBe('200 OK')
    expect(page.headers['X-Sample-Version']).toBe('1.0.0')
    expect(page.body).toContain('<h1>Bonjour &lt;tout le monde&gt;</h1>')
    expect(page.body).toContain('version 1.0.0')

    const check = (config?: string): { status: number | null; output: string } => {
      const r = spawnSync(PYTHON, ['-m', 'sitecycle_sample.manage', 'check'], {
        env: {
          PYTHONPATH: wheel,
          PYTHONDONTWRITEBYTECODE: '1',
          ...(config ? { SITECYCLE_CONFIG: config } : {})
        }
      })
      return { status: r.status, output: `${r.stdout}${r.stderr}` }
    }
    expect(check(ini).status).toBe(0)
    expect(check()).toEqual({
      status: 1,
      output: "SITECYCLE_CONFIG is not set: it must name the application's .ini file\n"
    })
    expect(check(path.join(tmp, 'missing.ini'))).toMatchObject({
      status: 1,
      output: expect.stringContaining('cannot read config file')
    })
    const noApp = path.join(tmp, 'noapp.ini')
    await fs.writeFile(noApp, '[other]\nx = 1\n')
    expect(check(noApp)).toEqual({
      status: 1,
      output: `config file ${noApp} has no [app] section\n`
    })
  })

  it('refuses to build a version that already exists', async () => {
    const sourceDir = await prepareSampleSource({
      version: '1.0.0',
      into: path.join(tmp, 'src-again')
    })
    const message = await failure(buildRelease({ sourceDir, outDir: releases, commit: null }))
    expect(message).toBe(
      `release 1.0.0 already exists in ${releases}: releases are never rebuilt in place`
    )
    // Nothing half-built is left behind.
    expect((await fs.readdir(releases)).sort()).toEqual(['1.0.0', '2.0.0rc1'])
  })

  it('says what failed when the build itself fails', async () => {
    const sourceDir = await prepareSampleSource({
      version: '3.0.0',
      into: path.join(tmp, 'src-bad')
    })
    await fs.writeFile(path.join(sourceDir, 'pyproject.toml'), '[project\nname = "broken"\n')
    const out = path.join(tmp, 'bad-out')
    const err = await buildRelease({ sourceDir, outDir: out }).catch((e: unknown) => e as Error)
    // A pyproject.toml that is not TOML is named before python -m build runs.
    expect(err).toBeInstanceOf(SitecycleError)
    expect((err as Error).message).toContain(
      `cannot read the [build-system] of ${sourceDir}/pyproject.toml with /usr/bin/python3: tomllib.TOMLDecodeError`
    )
    await expect(fs.readdir(out)).rejects.toThrow('ENOENT')

    // A build that fails in the backend itself: the command, its exit code and output.
    await fs.writeFile(
      path.join(sourceDir, 'pyproject.toml'),
      '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "broken"\nversion = "3.0.0"\n[tool.setuptools]\npackages = ["no_such_package"]\n'
    )
    const failed = (await buildRelease({ sourceDir, outDir: out }).catch(
      (e: unknown) => e
    )) as Error
    expect(failed.name).toBe('CommandError')
    expect(failed.message).toContain('/usr/bin/python3 -m build --no-isolation')
    expect(failed.message).toContain('failed on local with exit code')
    await expect(fs.readdir(out)).rejects.toThrow('ENOENT')
  })
})

describe('prepareSampleSource', () => {
  it('writes the version and the breakage into a copy of the sample', async () => {
    const health = await prepareSampleSource({
      version: '1.0.0-RC1',
      broken: 'health',
      into: path.join(tmp, 'broken')
    })
    expect(path.basename(health)).toBe('sitecycle-sample-1.0.0rc1-broken-health')
    expect(
      await fs.readFile(path.join(health, 'sitecycle_sample', '_version.py'), 'utf8')
    ).toContain('__version__ = "1.0.0rc1"\n')
    const r = wsgiGet(health, '/__version__')
    expect(r.status).toBe('500 Internal Server Error')
    expect(r.headers['X-Sample-Version']).toBe('1.0.0rc1')
    expect(wsgiGet(health, '/').status).toBe('200 OK')

    const broken = await prepareSampleSource({
      version: '1.0.1',
      broken: 'import',
      into: path.join(tmp, 'broken')
    })
    const imp = spawnSync(PYTHON, ['-c', 'import sitecycle_sample.wsgi'], {
      env: { PYTHONPATH: broken, PYTHONDONTWRITEBYTECODE: '1' }
    })
    expect(imp.status).toBe(1)
    expect(imp.stderr.toString()).toContain(
      'RuntimeError: sitecycle_sample 1.0.1 is broken on purpose'
    )
    // The manage hook still imports (only the WSGI module is broken).
    const ok = spawnSync(PYTHON, ['-c', 'import sitecycle_sample.manage'], {
      env: { PYTHONPATH: broken }
    })
    expect(ok.status).toBe(0)
  })

  it('refuses an invalid version', async () => {
    expect(await failure(prepareSampleSource({ version: 'next', into: tmp }))).toContain(
      "invalid version 'next'"
    )
  })
})

describe('resolveRelease', () => {
  it('picks the newest version by PEP 440 when none is asked for, preferring the wheel', async () => {
    const r = await resolveRelease({ path: releases })
    const dir = path.join(releases, '2.0.0rc1')
    expect(r).toEqual({
      name: 'sitecycle-sample',
      version: '2.0.0rc1',
      file: path.join(dir, 'sitecycle_sample-2.0.0rc1-py3-none-any.whl'),
      kind: 'wheel',
      sha256: built['2.0.0rc1'].manifest.files[1].sha256,
      size: built['2.0.0rc1'].manifest.files[1].size,
      manifest: built['2.0.0rc1'].manifest,
      manifestPath: path.join(dir, 'manifest.json'),
      requiresPython: '>=3.9'
    })
  })

  it('picks the asked version, compared as PEP 440', async () => {
    expect((await resolveRelease({ path: releases, version: '1.0.0' })).version).toBe('1.0.0')
    expect((await resolveRelease({ path: releases, version: '1.0' })).version).toBe('1.0.0')
    expect((await resolveRelease({ path: releases, version: 'v2.0.0-RC1' })).version).toBe(
      '2.0.0rc1'
    )
    expect(await failure(resolveRelease({ path: releases, version: '1.5.0' }))).toBe(
      `release 1.5.0 not found in ${releases}: it holds 1.0.0, 2.0.0rc1`
    )
    expect(await failure(resolveRelease({ path: releases, version: 'latest' }))).toContain(
      "invalid version 'latest'"
    )
  })

  it('takes a version directory or a release file directly', async () => {
    const dir = path.join(releases, '1.0.0')
    expect((await resolveRelease({ path: dir })).file).toBe(
      path.join(dir, 'sitecycle_sample-1.0.0-py3-none-any.whl')
    )
    const sdist = path.join(dir, 'sitecycle-sample-1.0.0.tar.gz')
    const r = await resolveRelease({ path: sdist, packageName: 'Sitecycle_Sample' })
    expect(r).toMatchObject({ file: sdist, kind: 'sdist', version: '1.0.0' })
    expect(await failure(resolveRelease({ path: sdist, version: '2.0.0rc1' }))).toBe(
      `manifest ${path.join(dir, 'manifest.json')} is for version 1.0.0, not 2.0.0rc1`
    )
  })

  it('falls back to the sdist when the manifest lists no wheel', async () => {
    const copy = await copyRelease('1.0.0')
    const dir = path.join(copy, '1.0.0')
    const m = await readManifest(path.join(dir, 'manifest.json'))
    await writeManifest(dir, { ...m, files: m.files.filter(f => f.kind === 'sdist') })
    expect(await resolveRelease({ path: copy })).toMatchObject({
      kind: 'sdist',
      file: path.join(dir, 'sitecycle-sample-1.0.0.tar.gz')
    })
  })

  it('refuses a wheel with one byte changed', async () => {
    const copy = await copyRelease('1.0.0')
    const wheel = path.join(copy, '1.0.0', 'sitecycle_sample-1.0.0-py3-none-any.whl')
    const bytes = await fs.readFile(wheel)
    bytes[Math.floor(bytes.length / 2)] ^= 0xff
    await fs.writeFile(wheel, bytes)
    const actual = (await digestFile(wheel)).sha256
    const listed = built['1.0.0'].manifest.files[1].sha256
    expect(await failure(resolveRelease({ path: copy }))).toBe(
      `release file ${wheel} does not match its manifest: sha256 is ${actual}, manifest says ${listed}`
    )
  })

  it('refuses a manifest whose version does not match its directory or its files', async () => {
    const renamed = await copyRelease('1.0.0', '1.0.1')
    expect(await failure(resolveRelease({ path: renamed }))).toBe(
      `manifest ${path.join(renamed, '1.0.1', 'manifest.json')} says version 1.0.0 but its directory is named 1.0.1`
    )
    const dir = path.join(renamed, '1.0.1')
    const m = await readManifest(path.join(dir, 'manifest.json'))
    await writeManifest(dir, { ...m, version: '1.0.1' })
    expect(await failure(resolveRelease({ path: renamed }))).toBe(
      `manifest ${path.join(dir, 'manifest.json')} says version 1.0.1 but its file sitecycle_sample-1.0.0-py3-none-any.whl is version 1.0.0`
    )
  })

  it('refuses a release of another package', async () => {
    expect(await failure(resolveRelease({ path: releases, packageName: 'weave-server' }))).toBe(
      `release in ${path.join(releases, '2.0.0rc1', 'manifest.json')} is sitecycle-sample, not the expected package weave-server`
    )
  })

  it('refuses a missing file and an invalid manifest', async () => {
    const copy = await copyRelease('1.0.0')
    const dir = path.join(copy, '1.0.0')
    await fs.rm(path.join(dir, 'sitecycle_sample-1.0.0-py3-none-any.whl'))
    expect(await failure(resolveRelease({ path: dir }))).toContain(
      'sitecycle_sample-1.0.0-py3-none-any.whl is listed in'
    )
    await fs.writeFile(path.join(dir, 'manifest.json'), '{"name": "sitecycle-sample"}')
    expect(await failure(resolveRelease({ path: dir }))).toContain(
      `manifest ${path.join(dir, 'manifest.json')} is invalid: version:`
    )
    expect(await failure(resolveRelease({ path: path.join(tmp, 'nowhere') }))).toContain(
      'does not exist'
    )
    expect(await failure(resolveRelease({ path: path.join(tmp, 'src') }))).toContain(
      'no release found in'
    )
  })

  it('refuses an unsafe archive even when its manifest matches it', async () => {
    const dir = path.join(tmp, 'evil', '1.0.0')
    await fs.mkdir(dir, { recursive: true })
    const header = Buffer.alloc(512)
    header.write('sitecycle-sample-1.0.0/../../../etc/evil.py', 0, 100)
    header.write('0000644\0', 100)
    header.write('00000000000\0', 124)
    header.write('00000000000\0', 136)
    header.fill(0x20, 148, 156)
    header.write('0', 156)
    header.write('ustar\x0000', 257, 8, 'latin1')
    let sum = 0
    for (const b of header) sum += b
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1')
    const sdist = path.join(dir, 'sitecycle-sample-1.0.0.tar.gz')
    await fs.writeFile(sdist, gzipSync(Buffer.concat([header, Buffer.alloc(1024)])))
    const d = await digestFile(sdist)
    await writeManifest(dir, {
      name: 'sitecycle-sample',
      version: '1.0.0',
      commit: null,
      requires_python: '>=3.9',
      built_at: new Date().toISOString(),
      files: [{ name: 'sitecycle-sample-1.0.0.tar.gz', kind: 'sdist', ...d }]
    })
    expect(await failure(resolveRelease({ path: path.join(tmp, 'evil') }))).toBe(
      `release archive ${sdist} is unsafe: entry 'sitecycle-sample-1.0.0/../../../etc/evil.py' has a '..' segment`
    )
  })
})

describe('buildSampleRelease (test helper)', () => {
  it('builds once and copies the cached build into each releases directory', async () => {
    const a = await buildSampleRelease({
      version: '1.0.0',
      releasesDir: path.join(tmp, 'helper-a')
    })
    const b = await buildSampleRelease({
      version: '1.0.0',
      releasesDir: path.join(tmp, 'helper-b')
    })
    expect(a.dir).toBe(path.join(tmp, 'helper-a', '1.0.0'))
    expect(b.manifest).toEqual(a.manifest)
    const r = await resolveRelease({
      path: path.join(tmp, 'helper-b'),
      packageName: 'sitecycle-sample'
    })
    expect(r).toMatchObject({ version: '1.0.0', kind: 'wheel' })
  })
})
