/**
 * The directory store for real: the sample application built at 1.0.0 and 2.0.0, published
 * into a store in a temp dir, installed from it by real pip (offline, hermetic) through the
 * simple index and through --find-links; fetched back and checked; a byte changed in a stored
 * file refused by fetch and by deploy before the site's host is touched; republishing the same
 * content is a no-op and other content is refused; unpublish and prune; the notes pages; and
 * the same store on a server reached over SSH.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parseConfig } from '../../src/config/load-config.js'
import type { StoreConfig } from '../../src/config/model.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import type { Command } from '../../src/commands/command.js'
import type { Executor, RunOptions, RunResult } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { deploy, prepareDeploy } from '../../src/pipelines/deploy.js'
import type { BuiltRelease } from '../../src/releases/build.js'
import { createStore } from '../../src/stores/registry.js'
import type { LocalRelease, ReleaseStore } from '../../src/stores/store.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { buildSampleRelease, makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { startSshd, type Sshd } from '../helpers/sshd.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'

let tmp: string
let storeDir: string
let store: ReleaseStore
let built: Record<string, BuiltRelease>
let venv: string
const lines: string[] = []
const reporter = new StreamReporter(l => lines.push(l))
const local = new LocalExecutor()

function localStore(dir: string): ReleaseStore {
  const config: StoreConfig = { type: 'directory', path: dir, host: { kind: 'local' } }
  return createStore(config, { executorFor: () => local, env: process.env })
}

function asLocal(b: BuiltRelease): LocalRelease {
  return { dir: b.dir, name: b.manifest.name, version: b.manifest.version }
}

/** pip as a fresh server has it: no config file, no index or find-links from the environment. */
function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
  for (const name of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_NO_INDEX'])
    delete env[name]
  return env
}

async function pip(...args: string[]): Promise<string> {
  const r = await run(path.join(venv, 'bin', 'python'), ['-m', 'pip', ...args], {
    env: pipEnv()
  })
  return r.stdout + r.stderr
}

async function installedVersion(): Promise<string> {
  const r = await run(path.join(venv, 'bin', 'python'), [
    '-c',
    'import sitecycle_sample; print(sitecycle_sample.__version__)'
  ])
  return r.stdout.trim()
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false
  )
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

beforeAll(async () => {
  tmp = await makeTempDir('sitecycle-dirstore-')
  storeDir = path.join(tmp, 'store')
  built = {}
  const releases = path.join(tmp, 'built')
  const [a, b] = await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  built['1.0.0'] = a
  built['2.0.0'] = b
  // A different build of 1.0.0: same version, other content.
  built['1.0.0-other'] = await buildSampleRelease({
    version: '1.0.0',
    releasesDir: path.join(tmp, 'other'),
    broken: 'health'
  })
  store = localStore(storeDir)
  venv = path.join(tmp, 'venv')
  await run(PYTHON, ['-m', 'venv', venv], { env: pipEnv() })
})

afterAll(async () => {
  await removeTempDir(tmp)
})

describe('a local directory store', () => {
  it('publishes 1.0.0 and 2.0.0: release folders, a PEP 503 index with hashes, notes', async () => {
    const r1 = await store.publish(asLocal(built['1.0.0']), reporter)
    const r2 = await store.publish(asLocal(built['2.0.0']), reporter)
    expect(r1).toEqual({ location: path.join(storeDir, 'releases', '1.0.0'), changed: true })
    expect(r2.changed).toBe(true)
    expect(await store.listVersions()).toEqual(['1.0.0', '2.0.0'])

    const rel = path.join(storeDir, 'releases', '1.0.0')
    expect((await fs.readdir(rel)).sort()).toEqual(
      ['SHA256SUMS', 'manifest.json', ...built['1.0.0'].manifest.files.map(f => f.name)].sort()
    )
    expect((await fs.readdir(path.join(storeDir, 'releases'))).sort()).toEqual(['1.0.0', '2.0.0'])

    const root = await fs.readFile(path.join(storeDir, 'simple', 'index.html'), 'utf8')
    expect(root).toContain('<a href="sitecycle-sample/">sitecycle-sample</a>')
    const pageText = await fs.readFile(
      path.join(storeDir, 'simple', 'sitecycle-sample', 'index.html'),
      'utf8'
    )
    for (const v of ['1.0.0', '2.0.0'])
      for (const f of built[v].manifest.files)
        expect(pageText).toContain(
          `href="../../releases/${v}/${f.name}#sha256=${f.sha256}" data-requires-python="&gt;=3.9">${f.name}</a>`
        )

    const md = await fs.readFile(path.join(storeDir, 'notes.md'), 'utf8')
    expect(md.indexOf('## 2.0.0')).toBeGreaterThan(0)
    expect(md.indexOf('## 2.0.0')).toBeLessThan(md.indexOf('## 1.0.0'))
    expect(md).toContain(`## 1.0.0 (${built['1.0.0'].manifest.built_at.slice(0, 10)})`)
    const html = await fs.readFile(path.join(storeDir, 'notes.html'), 'utf8')
    expect(html).toContain('<section id="v2.0.0">')
    // Nothing is left behind from staging or page writes, and the lock is released.
    const all = await fs.readdir(storeDir, { recursive: true })
    expect(all.filter(n => /\.tmp-|\.publishing-|\.lock/.test(String(n)))).toEqual([])
  })

  it('real pip installs a version offline through the simple index', async () => {
    const out = await pip(
      'install',
      '--index-url',
      `file://${storeDir}/simple`,
      'sitecycle-sample==1.0.0'
    )
    expect(out).toContain('Successfully installed sitecycle-sample-1.0.0')
    expect(await installedVersion()).toBe('1.0.0')
  })

  it('real pip installs a version with --no-index --find-links <store>/releases/<version>', async () => {
    const out = await pip(
      'install',
      '--no-index',
      '--find-links',
      path.join(storeDir, 'releases', '2.0.0'),
      'sitecycle-sample==2.0.0'
    )
    expect(out).toContain('Successfully installed sitecycle-sample-2.0.0')
    expect(await installedVersion()).toBe('2.0.0')
  })

  it('republishing the same content is a no-op; other content under the version is refused', async () => {
    const before = await fs.stat(path.join(storeDir, 'releases', '1.0.0', 'manifest.json'))
    const again = await store.publish(asLocal(built['1.0.0']), reporter)
    expect(again.changed).toBe(false)
    const after = await fs.stat(path.join(storeDir, 'releases', '1.0.0', 'manifest.json'))
    expect(after.mtimeMs).toBe(before.mtimeMs)

    const err = await caught(store.publish(asLocal(built['1.0.0-other']), reporter))
    expect(err).toBeInstanceOf(SitecycleError)
    expect(err.message).toMatch(/version 1\.0\.0 is already published/)
    expect(err.message).toMatch(
      /sitecycle_sample-1\.0\.0-py3-none-any\.whl|sitecycle-sample-1\.0\.0\.tar\.gz/
    )
    const stored = JSON.parse(
      await fs.readFile(path.join(storeDir, 'releases', '1.0.0', 'manifest.json'), 'utf8')
    )
    expect(stored.files).toEqual(built['1.0.0'].manifest.files)
  })

  it('refuses to publish a release whose files do not match their manifest', async () => {
    const copy = path.join(tmp, 'corrupt', '2.0.0')
    await fs.cp(built['2.0.0'].dir, copy, { recursive: true })
    const wheel = built['2.0.0'].manifest.files.find(f => f.kind === 'wheel')!.name
    await fs.appendFile(path.join(copy, wheel), 'x')
    const other = localStore(path.join(tmp, 'other-store'))
    const err = await caught(
      other.publish({ dir: copy, name: 'sitecycle-sample', version: '2.0.0' }, reporter)
    )
    expect(err.message).toMatch(/does not match its manifest/)
    expect(await other.listVersions()).toEqual([])
  })

  it('fetches a version into <intoDir>/<version>/, checked', async () => {
    const into = path.join(tmp, 'fetched')
    const r = await store.fetch('1.0', into, reporter)
    expect(r.version).toBe('1.0.0')
    expect(r.kind).toBe('wheel')
    expect(r.file).toBe(path.join(into, '1.0.0', path.basename(r.file)))
    const wheel = built['1.0.0'].manifest.files.find(f => f.kind === 'wheel')!
    expect(r.sha256).toBe(wheel.sha256)
    expect((await fs.readdir(path.join(into, '1.0.0'))).sort()).toEqual(
      (await fs.readdir(path.join(storeDir, 'releases', '1.0.0'))).sort()
    )
    const missing = await caught(store.fetch('9.9.9', into, reporter))
    expect(missing.message).toMatch(
      /version 9\.9\.9 is not in directory .* it holds 1\.0\.0, 2\.0\.0/
    )
  })

  it('a byte changed in a stored file: fetch refuses it, and deploy refuses before touching the host', async () => {
    const tampered = localStore(path.join(tmp, 'tamper-store'))
    await tampered.publish(asLocal(built['2.0.0']), reporter)
    const sdist = built['2.0.0'].manifest.files.find(f => f.kind === 'sdist')!.name
    const stored = path.join(tmp, 'tamper-store', 'releases', '2.0.0', sdist)
    const bytes = await fs.readFile(stored)
    bytes[bytes.length - 100] ^= 0x01
    await fs.writeFile(stored, bytes)

    const into = path.join(tmp, 'fetch-tampered')
    const err = await caught(tampered.fetch('2.0.0', into, reporter))
    expect(err).toBeInstanceOf(SitecycleError)
    expect(err.message).toMatch(/release 2\.0\.0 in directory .*tamper-store is refused/)
    expect(err.message).toContain(`${sdist} does not match its manifest: sha256 is`)
    // Nothing half-fetched is left.
    expect(await fs.readdir(into)).toEqual([])

    const yaml = `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  v1:
    host: local
    root: ${path.join(tmp, 'site-root')}
    url: http://127.0.0.1:9
`
    const config = parseConfig(yaml, path.join(tmp, 'sitecycle.yml'))
    const host = new RecordingExecutor('local')
    const derr = await caught(
      deploy({
        config,
        site: config.sites.v1,
        exec: host,
        reporter,
        version: '2.0.0',
        store: { type: 'directory', path: path.join(tmp, 'tamper-store'), host: { kind: 'local' } },
        storeDeps: { executorFor: () => local, env: process.env }
      })
    )
    expect(derr.message).toMatch(/is refused: .* does not match its manifest/)
    expect(host.calls).toEqual([])
  })

  it("deploy by version takes the release from the site's store; the fetched copy is removed after", async () => {
    const yaml = `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  v1:
    host: local
    root: ${path.join(tmp, 'site-root')}
    url: http://127.0.0.1:9
`
    const config = parseConfig(yaml, path.join(tmp, 'sitecycle.yml'))
    const site = {
      ...config.sites.v1,
      store: { type: 'directory' as const, path: storeDir, host: { kind: 'local' as const } }
    }
    // The store is on the site's host: it is read through the site's executor.
    const prepared = await prepareDeploy({
      config,
      site,
      exec: local,
      reporter,
      version: '1.0.0'
    })
    expect(prepared.release.version).toBe('1.0.0')
    expect(prepared.release.file.startsWith(os.tmpdir())).toBe(true)
    await expect(fs.access(prepared.release.file)).resolves.toBeUndefined()
    const fetchedRoot = path.dirname(path.dirname(prepared.release.file))
    await prepared.cleanup()
    await expect(fs.access(fetchedRoot)).rejects.toThrow()
    expect(
      lines.some(l => l.includes(`fetching sitecycle-sample 1.0.0 from directory ${storeDir}`))
    ).toBe(true)

    // Without a version and with no releases folder, the store's newest is taken.
    const newest = await prepareDeploy({ config, site, exec: local, reporter })
    expect(newest.release.version).toBe('2.0.0')
    await newest.cleanup()
  })

  it('unpublish removes a version and its index entries; prune keeps the newest', async () => {
    const s = localStore(path.join(tmp, 'prune-store'))
    for (const v of ['1.0.0', '2.0.0']) await s.publish(asLocal(built[v]), reporter)
    await s.unpublish('2.0.0', reporter)
    await s.unpublish('7.0.0', reporter) // not there: nothing happens
    expect(await s.listVersions()).toEqual(['1.0.0'])
    const pageText = await fs.readFile(
      path.join(tmp, 'prune-store', 'simple', 'sitecycle-sample', 'index.html'),
      'utf8'
    )
    expect(pageText).not.toContain('2.0.0')
    expect(pageText).toContain('releases/1.0.0/')
    expect(await fs.readFile(path.join(tmp, 'prune-store', 'notes.md'), 'utf8')).not.toContain(
      '2.0.0'
    )

    await s.publish(asLocal(built['2.0.0']), reporter)
    expect(await s.prune(1, reporter)).toEqual(['1.0.0'])
    expect(await s.listVersions()).toEqual(['2.0.0'])
    expect(await s.prune(1, reporter)).toEqual([])
    await expect(s.prune(0, reporter)).rejects.toThrow(/keep at least 1/)
    expect((await fs.readdir(path.join(tmp, 'prune-store', 'releases'))).sort()).toEqual(['2.0.0'])

    await s.unpublish('2.0.0', reporter)
    // The last version gone: no project page is left, the notes say so.
    expect(await fs.readdir(path.join(tmp, 'prune-store', 'simple'))).toEqual(['index.html'])
    expect(await fs.readFile(path.join(tmp, 'prune-store', 'notes.md'), 'utf8')).toContain(
      'No version is published.'
    )
  })

  it('waits for another holder of its lock, then publishes', async () => {
    const dir = path.join(tmp, 'locked-store')
    const lock = path.join(dir, '.lock')
    const release = path.join(dir, 'releases', '1.0.0')
    await fs.mkdir(lock, { recursive: true })
    await fs.writeFile(path.join(lock, 'holder'), 'pid 1 on elsewhere\n')
    // What happens, in order: every attempt to take the lock and its outcome, what the test saw
    // while the other run held the lock, and when that run let go (after the second refusal).
    const events: string[] = []
    let refusals = 0
    const exec = new (class extends LocalExecutor {
      async tryRun(command: Command, options?: RunOptions): Promise<RunResult> {
        const r = await super.tryRun(command, options)
        if (command.argv.includes(lock) && command.argv[0] === 'sh') {
          events.push(r.code === 0 ? 'lock taken' : 'lock refused')
          if (r.code !== 0 && ++refusals === 2) {
            events.push(`release stored while held: ${await exists(release)}`)
            await fs.rm(lock, { recursive: true })
            events.push('other run let go')
          }
        }
        return r
      }
    })()
    const config: StoreConfig = { type: 'directory', path: dir, host: { kind: 'local' } }
    const s = createStore(config, { executorFor: () => exec, env: process.env })
    const r = await s.publish(asLocal(built['1.0.0']), reporter)
    events.push('published')
    expect(r.changed).toBe(true)
    expect(events).toEqual([
      'lock refused',
      'lock refused',
      'release stored while held: false',
      'other run let go',
      'lock taken',
      'published'
    ])
    expect(await exists(release)).toBe(true)
    expect(await exists(lock)).toBe(false)
    expect(
      lines.some(l => l.includes('waiting for the lock') && l.includes('pid 1 on elsewhere'))
    ).toBe(true)
  })
})

describe('a directory store on a server over SSH', () => {
  let sshd: Sshd
  let remote: Executor
  let remoteDir: string

  beforeAll(async () => {
    sshd = await startSshd()
    remoteDir = path.join(tmp, 'ssh-store')
  })

  afterAll(async () => {
    await remote?.close()
    await sshd?.stop()
  })

  it('publishes, lists, fetches and refuses a changed file', async () => {
    const host = { kind: 'ssh' as const, user: 'root', hostname: '127.0.0.1', port: sshd.port }
    const hosts: string[] = []
    const s = createStore(
      { type: 'directory', path: remoteDir, host },
      {
        executorFor: h => {
          hosts.push(h.kind)
          remote ??= createExecutor(h, {
            keyFile: sshd.keyFile,
            knownHostsFile: sshd.knownHostsFile
          })
          return remote
        },
        env: process.env
      }
    )
    expect(s.label).toBe(`directory ${remoteDir} on ssh://root@127.0.0.1:${sshd.port}`)
    const r = await s.publish(asLocal(built['1.0.0']), reporter)
    expect(r).toEqual({
      location: `ssh://root@127.0.0.1:${sshd.port}${remoteDir}/releases/1.0.0`,
      changed: true
    })
    expect((await s.publish(asLocal(built['1.0.0']), reporter)).changed).toBe(false)
    await s.publish(asLocal(built['2.0.0']), reporter)
    expect(await s.listVersions()).toEqual(['1.0.0', '2.0.0'])
    expect(hosts.every(h => h === 'ssh')).toBe(true)
    // The server is this machine: the files really went through sshd.
    const log = await fs.readFile(sshd.logFile, 'utf8')
    expect(log).toMatch(/Accepted publickey for root/)
    expect(
      await fs.readFile(path.join(remoteDir, 'simple', 'sitecycle-sample', 'index.html'), 'utf8')
    ).toContain('../../releases/2.0.0/')

    const into = path.join(tmp, 'ssh-fetched')
    const fetched = await s.fetch('2.0.0', into, reporter)
    expect(fetched.version).toBe('2.0.0')
    expect(await fs.readFile(fetched.file)).toEqual(
      await fs.readFile(path.join(built['2.0.0'].dir, path.basename(fetched.file)))
    )

    await fs.appendFile(
      path.join(
        remoteDir,
        'releases',
        '1.0.0',
        path.basename(fetched.file).replace('2.0.0', '1.0.0')
      ),
      'x'
    )
    const err = await caught(s.fetch('1.0.0', into, reporter))
    expect(err.message).toMatch(
      /release 1\.0\.0 in directory .* on ssh:\/\/root@127\.0\.0\.1:\d+ is refused/
    )
  })
})
