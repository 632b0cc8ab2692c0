/**
 * `sitecycle release` for real: a temporary git repository holding the sample app and its
 * sitecycle.yml; the configured tests command runs, the version is decided from the package
 * metadata, a pushed tag or an explicit version, the sample is built with python -m build, the
 * manifest is written, git tags the commit (no token) and a directory store is filled, which pip
 * then installs from offline. Refusals leave nothing behind: the same or a lower version, a
 * built version that is not the decided one, failing tests.
 *
 * A work tree with uncommitted changes is refused (exit 2, nothing built or tagged) unless
 * --allow-dirty, which the manifest and the notes record, as they record --skip-tests.
 *
 * Through the pipeline function, and through the bundled CLI (`node dist/cli.js release`;
 * rebuild it with `npx rollup -c rollup.config.js --silent` after a src change).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { loadConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { ReleaseFailed, runRelease, type ReleaseOutcome } from '../../src/pipelines/release.js'
import { readManifest } from '../../src/releases/manifest.js'
import { createStore } from '../../src/stores/registry.js'
import type { ReleaseStore } from '../../src/stores/store.js'
import type { Reporter } from '../../src/util/reporter.js'
import { describeRun, runCli } from '../helpers/cli.js'
import { makeTempDir, prepareSampleSource, removeTempDir } from '../helpers/sample-app.js'

const PYTHON = '/usr/bin/python3'

let tmp: string
let repo: string
let storeDir: string
let testsMarker: string
const progress: string[] = []

const reporter: Reporter = {
  info: m => progress.push(m),
  warn: m => progress.push(`warning: ${m}`),
  stepStart: name => progress.push(`-> ${name}`),
  stepEnd: (name, status) => progress.push(`   ${name} ${status}`),
  addSecret: () => undefined
}

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim()
}

function commit(message: string): string {
  git('add', '-A')
  git(
    '-c',
    'user.name=t',
    '-c',
    'user.email=t@example.org',
    'commit',
    '-q',
    '--allow-empty',
    '-m',
    message
  )
  return git('rev-parse', 'HEAD')
}

async function setVersion(version: string): Promise<void> {
  await fs.writeFile(
    path.join(repo, 'sitecycle_sample', '_version.py'),
    `__version__ = ${JSON.stringify(version)}\n`
  )
}

/** The sitecycle.yml of the repository: its tests command records that it ran, or fails. */
async function writeConfig(tests: 'pass' | 'fail'): Promise<void> {
  const program =
    tests === 'pass'
      ? `import pathlib; pathlib.Path('${testsMarker}').write_text('ran')`
      : "import sys; print('test_home FAILED'); sys.exit(1)"
  await fs.writeFile(
    path.join(repo, 'sitecycle.yml'),
    [
      'app:',
      '  package: sitecycle-sample',
      '  wsgi: sitecycle_sample.wsgi:application',
      `  tests: ${JSON.stringify(`${PYTHON} -c "${program}"`)}`,
      'release:',
      '  out_dir: ../out',
      '  stores:',
      '    - { type: directory, path: ../store }',
      'sites:',
      '  v1:',
      '    root: /srv/sample/v1',
      '    url: http://127.0.0.1:8080',
      ''
    ].join('\n')
  )
}

async function release(
  extra: { version?: string; tag?: string; notes?: string } = {}
): Promise<{ outcome: ReleaseOutcome; config: SitecycleConfig; store: ReleaseStore }> {
  const config = await loadConfig(path.join(repo, 'sitecycle.yml'))
  const stores = config.release!.stores.map(s =>
    createStore(s, { executorFor: h => createExecutor(h, {}), env: process.env })
  )
  const outcome = await runRelease({
    app: config.app,
    release: config.release!,
    stores,
    reporter,
    ...extra
  })
  return { outcome, config, store: stores[0] }
}

async function failure(extra: { version?: string; tag?: string } = {}): Promise<ReleaseFailed> {
  try {
    await release(extra)
  } catch (e) {
    if (e instanceof ReleaseFailed) return e
    throw e
  }
  throw new Error('expected the release to be refused')
}

async function storeVersions(): Promise<string[]> {
  const config = await loadConfig(path.join(repo, 'sitecycle.yml'))
  const store = createStore(config.release!.stores[0], {
    executorFor: h => createExecutor(h, {}),
    env: process.env
  })
  return store.listVersions()
}

beforeAll(async () => {
  tmp = await makeTempDir('sitecycle-release-it-')
  testsMarker = path.join(tmp, 'tests-ran')
  repo = await prepareSampleSource({ version: '1.0.0', into: tmp })
  storeDir = path.join(tmp, 'store')
  execFileSync('git', ['init', '-q', repo])
  await writeConfig('pass')
  commit('sample 1.0.0')
})

afterAll(async () => {
  await removeTempDir(tmp)
})

describe('sitecycle release (pipeline)', () => {
  it('releases the version of the package metadata: tests, build, manifest, git tag, directory store', async () => {
    const head = git('rev-parse', 'HEAD')
    const { outcome } = await release({ notes: 'First release.' })
    expect(await fs.readFile(testsMarker, 'utf8')).toBe('ran')
    expect(outcome).toMatchObject({
      name: 'sitecycle-sample',
      version: '1.0.0',
      tag: 'v1.0.0',
      commit: head,
      tagCreated: true
    })
    expect(outcome.steps.find(s => s.name === 'decide-version')?.note).toContain(
      'from the package metadata'
    )
    expect(git('rev-parse', 'refs/tags/v1.0.0^{commit}')).toBe(head)

    const manifest = await readManifest(outcome.manifestPath!)
    expect(manifest).toMatchObject({
      name: 'sitecycle-sample',
      version: '1.0.0',
      commit: head,
      notes: 'First release.',
      tests: 'passed',
      dirty: false
    })
    expect(manifest.dirty_changes).toBeUndefined()
    expect(outcome.files.map(f => path.basename(f))).toEqual(manifest.files.map(f => f.name))
    for (const f of outcome.files) expect(existsSync(f)).toBe(true)

    expect(await storeVersions()).toEqual(['1.0.0'])
    expect(outcome.published).toHaveLength(1)
    expect(outcome.published[0].changed).toBe(true)

    // pip installs the released version from the store, offline, by name and version.
    const target = path.join(tmp, 'installed')
    const env: NodeJS.ProcessEnv = { ...process.env, PIP_CONFIG_FILE: '/dev/null' }
    for (const k of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']) delete env[k]
    const pip = spawnSync(
      PYTHON,
      [
        '-m',
        'pip',
        'install',
        '-q',
        '--no-deps',
        '--target',
        target,
        '--index-url',
        `file://${storeDir}/simple`,
        'sitecycle-sample==1.0.0'
      ],
      { env, encoding: 'utf8' }
    )
    expect(pip.stderr).not.toMatch(/ERROR/)
    expect(pip.status).toBe(0)
    expect(
      await fs.readFile(path.join(target, 'sitecycle_sample', '_version.py'), 'utf8')
    ).toContain('1.0.0')
  })

  it('refuses the same version again, and a lower one, with nothing changed', async () => {
    const again = await failure()
    expect(again.failedStep).toBe('check-version')
    expect(again.message).toContain('version 1.0.0 is not newer than 1.0.0')

    const lower = await failure({ version: '0.9.0' })
    expect(lower.failedStep).toBe('check-version')
    expect(lower.message).toContain('version 0.9.0 is not newer than 1.0.0')

    expect(git('tag', '--list')).toBe('v1.0.0')
    expect(await storeVersions()).toEqual(['1.0.0'])
    expect(await fs.readdir(path.join(tmp, 'out'))).toEqual(['1.0.0'])
  })

  it('releases a pushed tag without making or removing a tag', async () => {
    await setVersion('1.1.0')
    const head = commit('1.1.0')
    git('tag', 'v1.1.0', head)
    const { outcome } = await release({ tag: 'v1.1.0' })
    expect(outcome).toMatchObject({
      version: '1.1.0',
      tag: 'v1.1.0',
      tagCreated: false,
      commit: head
    })
    expect(await storeVersions()).toEqual(['1.0.0', '1.1.0'])
  })

  it('refuses an explicit version the package does not carry, leaving no tag and no build', async () => {
    await setVersion('1.1.1')
    commit('1.1.1')
    const refused = await failure({ version: '1.2.0' })
    expect(refused.failedStep).toBe('build')
    expect(refused.message).toContain(
      'the built package has version 1.1.1, but this release is 1.2.0'
    )
    expect(git('tag', '--list', 'v1.2.0')).toBe('')
    expect((await fs.readdir(path.join(tmp, 'out'))).sort()).toEqual(['1.0.0', '1.1.0'])
    expect(await storeVersions()).toEqual(['1.0.0', '1.1.0'])
  })

  it('stops at failing tests: nothing built, tagged or published', async () => {
    await writeConfig('fail')
    await setVersion('1.2.0')
    commit('1.2.0, tests failing')
    const refused = await failure()
    expect(refused.failedStep).toBe('run-tests')
    expect(refused.message).toContain('test_home FAILED')
    expect(git('tag', '--list', 'v1.2.0')).toBe('')
    expect((await fs.readdir(path.join(tmp, 'out'))).sort()).toEqual(['1.0.0', '1.1.0'])
    expect(await storeVersions()).toEqual(['1.0.0', '1.1.0'])
  })
})

describe('sitecycle release (CLI)', () => {
  it('releases an explicit version, then refuses it a second time with exit code 2', async () => {
    await writeConfig('pass')
    const head = commit('1.2.0, tests fixed')
    const config = path.join(repo, 'sitecycle.yml')
    const first = await runCli([
      'release',
      '-c',
      config,
      '--version',
      '1.2.0',
      '--notes',
      'Third.',
      '--json'
    ])
    expect(first.code).toBe(0)
    const outcome = JSON.parse(first.stdout) as ReleaseOutcome
    expect(outcome).toMatchObject({
      version: '1.2.0',
      tag: 'v1.2.0',
      tagCreated: true,
      commit: head
    })
    expect(first.stderr).toContain('-> run-tests')
    expect(git('rev-parse', 'refs/tags/v1.2.0^{commit}')).toBe(head)
    expect(await storeVersions()).toEqual(['1.0.0', '1.1.0', '1.2.0'])

    const second = await runCli(['release', '-c', config, '--version', '1.2.0'])
    expect(second.code).toBe(2)
    expect(second.stderr).toContain('version 1.2.0 is not newer than 1.2.0')
    expect(describeRun(second)).toContain('check-version')
  })
})

describe('honest releases', () => {
  it('refuses a dirty work tree before anything runs: exit 2, one line naming the paths and --allow-dirty', async () => {
    await setVersion('1.3.0')
    commit('1.3.0')
    await fs.appendFile(path.join(repo, 'README.md'), '\nAn edit nobody committed.\n')
    await fs.writeFile(path.join(repo, 'scratch.txt'), 'not committed\n')
    await fs.rm(testsMarker, { force: true })
    const outBefore = (await fs.readdir(path.join(tmp, 'out'))).sort()

    const refused = await failure()
    expect(refused.failedStep).toBe('check-tree')
    expect(refused.changedNothing).toBe(true)

    const config = path.join(repo, 'sitecycle.yml')
    const r = await runCli(['release', '-c', config])
    expect(r.code).toBe(2)
    const line = r.stderr.split('\n').find(l => l.includes('not committed'))
    expect(line).toBeDefined()
    expect(line).toContain(`the work tree ${repo} has changes that are not committed`)
    expect(line).toContain('M README.md')
    expect(line).toContain('?? scratch.txt')
    expect(line).toContain('--allow-dirty')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // Nothing ran, nothing was built, tagged or published.
    expect(existsSync(testsMarker)).toBe(false)
    expect(git('tag', '--list', 'v1.3.0')).toBe('')
    expect((await fs.readdir(path.join(tmp, 'out'))).sort()).toEqual(outBefore)
    expect(await storeVersions()).toEqual(['1.0.0', '1.1.0', '1.2.0'])
  })

  it('--allow-dirty releases it and records it in the manifest and the notes; --skip-tests too', async () => {
    const head = git('rev-parse', 'HEAD')
    const config = path.join(repo, 'sitecycle.yml')
    const r = await runCli([
      'release',
      '-c',
      config,
      '--allow-dirty',
      '--skip-tests',
      '--notes',
      'Hot fix.',
      '--json'
    ])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('releasing from a work tree with 2 uncommitted change(s)')
    const outcome = JSON.parse(r.stdout) as ReleaseOutcome
    expect(outcome).toMatchObject({
      version: '1.3.0',
      commit: head,
      tests: 'skipped',
      dirty: true
    })
    expect(existsSync(testsMarker)).toBe(false)
    const manifest = await readManifest(outcome.manifestPath!)
    expect(manifest).toMatchObject({ commit: head, dirty: true, tests: 'skipped' })
    expect(manifest.dirty_changes).toEqual(['M README.md', '?? scratch.txt'])
    expect(manifest.notes).toContain('Hot fix.')
    expect(manifest.notes).toContain(
      `**Built from a work tree with uncommitted changes** (--allow-dirty): commit ${head.slice(0, 12)} plus M README.md, ?? scratch.txt.`
    )
    expect(manifest.notes).toContain('**Tests skipped** (--skip-tests)')
    // The store's release notes page shows it too.
    const notesPage = await fs.readFile(path.join(storeDir, 'notes.md'), 'utf8')
    expect(notesPage).toContain('**Built from a work tree with uncommitted changes**')
    expect(notesPage).toContain('**Tests skipped**')
    expect(git('rev-parse', 'refs/tags/v1.3.0^{commit}')).toBe(head)
  })
})
