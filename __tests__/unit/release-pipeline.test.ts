/**
 * The release pipeline's step order and undo paths. Git, the tests command and the metadata
 * probe are real (a temporary repository holding the sample app); the stores and GitHub are
 * fakes implementing ReleaseStore and GithubApi that log every call; the build is the sample's
 * real (cached) build, so the manifest and files are real.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { AppConfig, ReleaseConfig } from '../../src/config/model.js'
import type { GithubApi, GithubRelease } from '../../src/github/api.js'
import type { BuildReleaseOptions } from '../../src/releases/build.js'
import { readManifest } from '../../src/releases/manifest.js'
import {
  handoffOf,
  readHandoff,
  ReleaseFailed,
  releasePlan,
  runRelease,
  type ReleaseRequest
} from '../../src/pipelines/release.js'
import type { ResolvedRelease } from '../../src/releases/resolve-release.js'
import type { LocalRelease, PublishResult, ReleaseStore } from '../../src/stores/store.js'
import type { Reporter } from '../../src/util/reporter.js'
import {
  buildSampleRelease,
  makeTempDir,
  prepareSampleSource,
  removeTempDir,
  SAMPLE_PACKAGE,
  SAMPLE_WSGI
} from '../helpers/sample-app.js'

const PASS = `/usr/bin/python3 -c "print('3 passed in 0.01s')"`
const FAIL = `/usr/bin/python3 -c "import sys; print('test_home FAILED'); sys.exit(1)"`

let dir: string
let repo: string
let log: string[]

function git(...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim()
}

const quiet: Reporter = {
  info: () => undefined,
  warn: () => undefined,
  stepStart: () => undefined,
  stepEnd: () => undefined,
  addSecret: () => undefined
}

class FakeStore implements ReleaseStore {
  readonly label: string
  versions: string[]
  constructor(
    name: string,
    opts: { versions?: string[]; failPublish?: boolean; kind?: string } = {}
  ) {
    this.label = name
    this.versions = [...(opts.versions ?? [])]
    this.failPublish = opts.failPublish ?? false
    this.kind = opts.kind ?? 'directory'
  }
  readonly kind: string
  failPublish: boolean
  async publish(release: LocalRelease): Promise<PublishResult> {
    log.push(`publish ${this.label} ${release.version}`)
    expect(existsSync(path.join(release.dir, 'manifest.json'))).toBe(true)
    if (this.failPublish) throw new Error('disk full')
    this.versions.push(release.version)
    return { location: `${this.label}/${release.version}`, changed: true }
  }
  async unpublish(version: string): Promise<void> {
    log.push(`unpublish ${this.label} ${version}`)
    this.versions = this.versions.filter(v => v !== version)
  }
  async listVersions(): Promise<string[]> {
    log.push(`list ${this.label}`)
    return [...this.versions]
  }
  async fetch(): Promise<ResolvedRelease> {
    throw new Error('not used by release')
  }
  async prune(): Promise<string[]> {
    return []
  }
}

class FakeGithub implements GithubApi {
  readonly repository = 'octo/app'
  tags = new Map<string, string>()
  releases: GithubRelease[] = []
  failUpload = false
  private nextId = 1
  async getTagCommit(tag: string) {
    log.push(`gh getTagCommit ${tag}`)
    return this.tags.get(tag) ?? null
  }
  async createTag(tag: string, sha: string) {
    log.push(`gh createTag ${tag} ${sha.slice(0, 7)}`)
    this.tags.set(tag, sha)
  }
  async deleteTag(tag: string) {
    log.push(`gh deleteTag ${tag}`)
    this.tags.delete(tag)
  }
  async generateNotes(tag: string, previousTag?: string, target?: string) {
    log.push(`gh generateNotes ${tag} ${previousTag ?? '-'} ${target?.slice(0, 7) ?? '-'}`)
    return { name: tag, body: '## What changed\n* fix #1' }
  }
  async createRelease(opts: {
    tag: string
    name: string
    body: string
    draft: boolean
    prerelease: boolean
  }) {
    log.push(`gh createRelease ${opts.tag} draft=${opts.draft} prerelease=${opts.prerelease}`)
    const r: GithubRelease = {
      id: this.nextId++,
      tag: opts.tag,
      url: `https://github.com/octo/app/releases/tag/${opts.tag}`,
      draft: true,
      assets: []
    }
    this.releases.push(r)
    this.lastBody = opts.body
    return r
  }
  lastBody = ''
  async uploadAsset(releaseId: number, file: string, name: string) {
    log.push(`gh uploadAsset ${name}`)
    expect(existsSync(file)).toBe(true)
    if (this.failUpload) throw new Error('HTTP 422: already_exists')
    return { id: 1, url: `asset/${name}` }
  }
  async publishRelease(releaseId: number) {
    log.push(`gh publishRelease ${releaseId}`)
    const r = this.releases.find(x => x.id === releaseId)!
    r.draft = false
    return r
  }
  async deleteRelease(releaseId: number) {
    log.push(`gh deleteRelease ${releaseId}`)
    this.releases = this.releases.filter(r => r.id !== releaseId)
  }
  async getReleaseByTag(tag: string) {
    log.push(`gh getReleaseByTag ${tag}`)
    return this.releases.find(r => r.tag === tag && !r.draft) ?? null
  }
  async listReleases() {
    return [...this.releases]
  }
  async downloadAsset() {
    throw new Error('not used by release')
  }
}

function app(tests: string | undefined = PASS): AppConfig {
  return {
    package: SAMPLE_PACKAGE,
    wsgi: SAMPLE_WSGI,
    python: '/usr/bin/python3',
    ...(tests && { tests })
  }
}

function releaseConfig(extra: Partial<ReleaseConfig> = {}): ReleaseConfig {
  return {
    tagPrefix: 'v',
    versionScheme: 'pep440',
    source: repo,
    build: { isolation: 'auto', findLinks: [] },
    outDir: path.join(dir, 'out'),
    stores: [],
    keepVersions: 20,
    ...extra
  }
}

/** The sample's real build (cached), at `version` or at the version the pipeline decided. */
function sampleBuild(version?: string) {
  return async (opts: BuildReleaseOptions) => {
    log.push('build')
    const built = await buildSampleRelease({
      version: version ?? '1.0.0',
      releasesDir: opts.outDir
    })
    return built
  }
}

function request(extra: Partial<ReleaseRequest> = {}): ReleaseRequest {
  return {
    app: app(),
    release: releaseConfig(),
    stores: [],
    reporter: quiet,
    version: '1.0.0',
    build: sampleBuild(),
    ...extra
  }
}

async function failureOf(p: Promise<unknown>): Promise<ReleaseFailed> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(ReleaseFailed)
    return e as ReleaseFailed
  }
  throw new Error('expected the release to fail')
}

function statuses(steps: { name: string; status: string }[]): Record<string, string> {
  return Object.fromEntries(steps.map(s => [s.name, s.status]))
}

let head: string

beforeAll(async () => {
  // Warm the build cache so each test copies instead of building.
  const warm = await makeTempDir('sitecycle-release-warm-')
  await buildSampleRelease({ version: '1.0.0', releasesDir: warm })
  await buildSampleRelease({ version: '0.9.0', releasesDir: warm })
  await removeTempDir(warm)
}, 120_000)

beforeEach(async () => {
  log = []
  dir = await makeTempDir('sitecycle-release-unit-')
  repo = await prepareSampleSource({ version: '1.0.0', into: dir })
  execFileSync('git', ['init', '-q', repo])
  git('add', '-A')
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-q', '-m', 'sample')
  head = git('rev-parse', 'HEAD')
})

afterEach(async () => {
  await removeTempDir(dir)
})

describe('release pipeline: the whole run', () => {
  it('runs the steps in order, tags with git and publishes to every store in turn', async () => {
    const a = new FakeStore('A', { versions: ['0.9.0'] })
    const b = new FakeStore('B')
    const outcome = await runRelease(request({ stores: [a, b], notes: 'Faster pages.' }))

    expect(outcome.steps.map(s => `${s.name}:${s.status}`)).toEqual([
      'check-tree:ok',
      'run-tests:ok',
      'decide-version:ok',
      'check-version:ok',
      'build:ok',
      'manifest:ok',
      'tag:ok',
      'publish:ok',
      'github-release:skipped'
    ])
    expect(log).toEqual(['list A', 'list B', 'build', 'publish A 1.0.0', 'publish B 1.0.0'])
    expect(git('rev-parse', 'refs/tags/v1.0.0^{commit}')).toBe(head)
    expect(outcome).toMatchObject({
      name: SAMPLE_PACKAGE,
      version: '1.0.0',
      tag: 'v1.0.0',
      commit: head,
      tagCreated: true,
      manifestPath: path.join(dir, 'out', '1.0.0', 'manifest.json'),
      published: [
        { store: 'A', location: 'A/1.0.0', changed: true },
        { store: 'B', location: 'B/1.0.0', changed: true }
      ]
    })
    expect(outcome.files.map(f => path.basename(f))).toEqual([
      'sitecycle-sample-1.0.0.tar.gz',
      'sitecycle_sample-1.0.0-py3-none-any.whl'
    ])
    expect((await readManifest(outcome.manifestPath!)).notes).toBe('Faster pages.')
    expect(outcome.steps.find(s => s.name === 'run-tests')?.note).toBe('passed: 3 passed in 0.01s')
  })

  it('tags through the GitHub API and makes the release: draft, assets, notes, then published', async () => {
    git('tag', 'v0.9.0', 'HEAD')
    const gh = new FakeGithub()
    const outcome = await runRelease(request({ github: gh, notes: 'Read me first.' }))
    expect(log).toEqual([
      'gh getTagCommit v1.0.0',
      'build',
      `gh createTag v1.0.0 ${head.slice(0, 7)}`,
      `gh generateNotes v1.0.0 v0.9.0 ${head.slice(0, 7)}`,
      'gh createRelease v1.0.0 draft=true prerelease=false',
      'gh uploadAsset sitecycle-sample-1.0.0.tar.gz',
      'gh uploadAsset sitecycle_sample-1.0.0-py3-none-any.whl',
      'gh uploadAsset manifest.json',
      'gh uploadAsset SHA256SUMS',
      'gh publishRelease 1'
    ])
    expect(gh.lastBody).toBe('Read me first.\n\n## What changed\n* fix #1')
    expect(outcome.releaseUrl).toBe('https://github.com/octo/app/releases/tag/v1.0.0')
    // With a token, no local tag is made.
    expect(git('tag', '--list', 'v1.0.0')).toBe('')
  })

  it('does not make a second GitHub release when a github-release store made one', async () => {
    const gh = new FakeGithub()
    const store = new FakeStore('github-release octo/app', { kind: 'github-release' })
    store.publish = async (release: LocalRelease) => {
      log.push('publish github-release store')
      gh.releases.push({
        id: 7,
        tag: 'v1.0.0',
        url: 'https://github.com/octo/app/releases/tag/v1.0.0',
        draft: false,
        assets: []
      })
      return {
        location: 'https://github.com/octo/app/releases/tag/v1.0.0',
        changed: release.version === '1.0.0'
      }
    }
    const outcome = await runRelease(request({ github: gh, stores: [store] }))
    expect(log.filter(l => l.startsWith('gh createRelease'))).toEqual([])
    expect(log.slice(-2)).toEqual(['publish github-release store', 'gh getReleaseByTag v1.0.0'])
    expect(outcome.releaseUrl).toBe('https://github.com/octo/app/releases/tag/v1.0.0')
  })

  it('takes the version from the package metadata when none is given', async () => {
    const outcome = await runRelease(request({ version: undefined }))
    expect(outcome.steps.find(s => s.name === 'decide-version')?.note).toBe(
      '1.0.0 (from the package metadata), tag v1.0.0'
    )
    expect(outcome.tag).toBe('v1.0.0')
  })

  it('passes the wheelhouse settings to the build, the index URL from its variable as a secret', async () => {
    const seen: BuildReleaseOptions[] = []
    const secrets: string[] = []
    const build = sampleBuild()
    const wheelhouse = {
      findLinks: ['/wheels'],
      requirements: '/src/requirements.lock',
      indexUrlEnv: 'IDX'
    }
    await runRelease(
      request({
        release: releaseConfig({ wheelhouse }),
        env: { IDX: 'https://u:s3cret@index.example.org/simple' },
        reporter: { ...quiet, addSecret: s => secrets.push(s) },
        build: async opts => {
          seen.push(opts)
          return build(opts)
        }
      })
    )
    expect(seen[0].wheelhouse).toEqual({
      findLinks: ['/wheels'],
      requirements: '/src/requirements.lock',
      indexUrl: 'https://u:s3cret@index.example.org/simple'
    })
    expect(secrets).toContain('https://u:s3cret@index.example.org/simple')
    const failure = await failureOf(
      runRelease(request({ release: releaseConfig({ wheelhouse }), env: {} }))
    )
    expect(failure.failedStep).toBe('build')
    expect(failure.message).toContain(
      'release.wheelhouse.index_url_env names IDX, which is not set'
    )
  })

  it('skips the tests when asked, and prints the plan of each stage', async () => {
    const outcome = await runRelease(request({ skipTests: true, app: app(FAIL) }))
    expect(statuses(outcome.steps)['run-tests']).toBe('skipped')
    expect(releasePlan('prepare').map(l => l.split(':')[0].trim())).toEqual([
      '1. check-tree',
      '2. run-tests',
      '3. decide-version',
      '4. check-version',
      '5. build',
      '6. manifest'
    ])
    expect(releasePlan('publish').map(l => l.split(':')[0].trim())).toEqual([
      '1. resume',
      '2. check-version',
      '3. tag',
      '4. publish',
      '5. github-release'
    ])
  })
})

describe('release pipeline: the work tree check', () => {
  it('does not count the release out_dir inside the repository, nor paths the caller ignores', async () => {
    const outDir = path.join(repo, 'dist-releases')
    await fs.mkdir(path.join(outDir, '0.9.0'), { recursive: true })
    await fs.writeFile(path.join(outDir, '0.9.0', 'manifest.json'), '{}')
    await fs.mkdir(path.join(repo, '.sitecycle', 'dist'), { recursive: true })
    await fs.writeFile(path.join(repo, '.sitecycle', 'dist', 'cli.js'), '')
    const outcome = await runRelease(
      request({
        release: releaseConfig({ outDir }),
        ignorePaths: [path.join(repo, '.sitecycle')]
      })
    )
    expect(statuses(outcome.steps)['check-tree']).toBe('ok')
    expect(outcome.dirty).toBe(false)
    expect(outcome.tests).toBe('passed')
  })

  it('refuses a staged rename, a deletion and an untracked folder, naming them; nothing else runs', async () => {
    git('mv', 'README.md', 'READ-ME.md')
    await fs.rm(path.join(repo, 'pyproject.toml'))
    await fs.mkdir(path.join(repo, 'notes'))
    await fs.writeFile(path.join(repo, 'notes', 'todo.txt'), 'x')
    const failure = await failureOf(runRelease(request()))
    expect(failure.failedStep).toBe('check-tree')
    expect(failure.changedNothing).toBe(true)
    expect(failure.message).toContain('R READ-ME.md')
    expect(failure.message).toContain('D pyproject.toml')
    expect(failure.message).toContain('?? notes/')
    expect(failure.message).toContain('--allow-dirty')
    expect(failure.message.split('\n')).toHaveLength(1)
    expect(log).toEqual([])
    expect(git('tag', '--list')).toBe('')
  })
})

describe('release pipeline: refusals and undos', () => {
  it('stops at failing tests before anything is built, listed or tagged', async () => {
    const store = new FakeStore('A')
    const gh = new FakeGithub()
    const failure = await failureOf(
      runRelease(request({ app: app(FAIL), stores: [store], github: gh }))
    )
    expect(failure.failedStep).toBe('run-tests')
    expect(failure.changedNothing).toBe(true)
    expect(failure.message).toContain('the tests failed')
    expect(failure.message).toContain('test_home FAILED')
    expect(log).toEqual([])
    expect(existsSync(path.join(dir, 'out'))).toBe(false)
    expect(statuses(failure.steps)).toMatchObject({
      'run-tests': 'failed',
      build: 'not-run',
      tag: 'not-run'
    })
  })

  it('refuses a tag that exists on another commit, before building', async () => {
    const gh = new FakeGithub()
    gh.tags.set('v1.0.0', 'c'.repeat(40))
    const failure = await failureOf(runRelease(request({ github: gh })))
    expect(failure.failedStep).toBe('check-version')
    expect(failure.message).toContain("tag 'v1.0.0' already exists on commit cccccccccccc")
    expect(log).toEqual(['gh getTagCommit v1.0.0'])
  })

  it('refuses a local tag on another commit too', async () => {
    git('tag', 'v1.0.0', 'HEAD')
    git(
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.org',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'next'
    )
    const failure = await failureOf(runRelease(request()))
    expect(failure.message).toContain("tag 'v1.0.0' already exists on commit")
    expect(log).toEqual([])
  })

  it('refuses a version not newer than one in a store', async () => {
    const failure = await failureOf(
      runRelease(request({ stores: [new FakeStore('A', { versions: ['1.0.0'] })] }))
    )
    expect(failure.failedStep).toBe('check-version')
    expect(failure.message).toContain('version 1.0.0 is not newer than 1.0.0, published in A')
  })

  it('refuses a built package of another version, and removes what it built', async () => {
    const failure = await failureOf(runRelease(request({ build: sampleBuild('0.9.0') })))
    expect(failure.failedStep).toBe('build')
    expect(failure.message).toContain(
      'the built package has version 0.9.0, but this release is 1.0.0'
    )
    expect(await fs.readdir(path.join(dir, 'out'))).toEqual([])
    expect(git('tag', '--list')).toBe('')
  })

  it('undoes earlier stores, the git tag and the build when a store fails to publish', async () => {
    const a = new FakeStore('A')
    const b = new FakeStore('B', { failPublish: true })
    const failure = await failureOf(runRelease(request({ stores: [a, b] })))
    expect(failure.failedStep).toBe('publish')
    expect(failure.undoComplete).toBe(true)
    expect(failure.message).toContain('publishing to B failed: disk full')
    expect(log).toEqual([
      'list A',
      'list B',
      'build',
      'publish A 1.0.0',
      'publish B 1.0.0',
      'unpublish A 1.0.0'
    ])
    expect(a.versions).toEqual([])
    expect(git('tag', '--list')).toBe('')
    expect(await fs.readdir(path.join(dir, 'out'))).toEqual([])
    expect(statuses(failure.steps)).toMatchObject({
      build: 'undone',
      tag: 'undone',
      publish: 'failed'
    })
  })

  it('deletes through the API a tag this run created when publishing fails', async () => {
    const gh = new FakeGithub()
    await failureOf(
      runRelease(request({ github: gh, stores: [new FakeStore('A', { failPublish: true })] }))
    )
    expect(log.slice(-2)).toEqual(['publish A 1.0.0', 'gh deleteTag v1.0.0'])
    expect(gh.tags.size).toBe(0)
  })

  it('keeps a tag it did not create (the pushed tag that started the run)', async () => {
    const gh = new FakeGithub()
    gh.tags.set('v1.0.0', head)
    const failure = await failureOf(
      runRelease(
        request({
          version: undefined,
          tag: 'v1.0.0',
          github: gh,
          stores: [new FakeStore('A', { failPublish: true })]
        })
      )
    )
    expect(failure.failedStep).toBe('publish')
    expect(log.filter(l => l.includes('Tag v1.0.0') && !l.includes('getTagCommit'))).toEqual([])
    expect(gh.tags.get('v1.0.0')).toBe(head)
    expect(failure.steps.find(s => s.name === 'tag')?.note).toBe(
      `tag v1.0.0 is already on ${head.slice(0, 12)}`
    )
  })

  it('deletes the draft release, unpublishes and deletes the tag when an asset upload fails', async () => {
    const gh = new FakeGithub()
    gh.failUpload = true
    const store = new FakeStore('A')
    const failure = await failureOf(runRelease(request({ github: gh, stores: [store] })))
    expect(failure.failedStep).toBe('github-release')
    expect(log.slice(-4)).toEqual([
      'gh uploadAsset sitecycle-sample-1.0.0.tar.gz',
      'gh deleteRelease 1',
      'unpublish A 1.0.0',
      'gh deleteTag v1.0.0'
    ])
    expect(gh.releases).toEqual([])
    expect(store.versions).toEqual([])
  })
})

describe('release pipeline: prepare and publish stages', () => {
  it('prepares without tagging or publishing, then publishes from the handoff', async () => {
    const store = new FakeStore('A')
    const prepared = await runRelease(request({ stage: 'prepare', stores: [store], notes: 'N' }))
    expect(log).toEqual(['list A', 'build'])
    expect(git('tag', '--list')).toBe('')
    const file = path.join(dir, 'handoff.json')
    await fs.writeFile(file, JSON.stringify(handoffOf(prepared, 'N')))
    const handoff = await readHandoff(file)
    expect(handoff).toEqual({
      name: SAMPLE_PACKAGE,
      version: '1.0.0',
      tag: 'v1.0.0',
      commit: head,
      releaseDir: path.join(dir, 'out', '1.0.0'),
      manifestPath: path.join(dir, 'out', '1.0.0', 'manifest.json'),
      notes: 'N'
    })

    log = []
    const gh = new FakeGithub()
    const published = await runRelease(
      request({
        stage: 'publish',
        handoff,
        github: gh,
        stores: [store],
        version: undefined,
        build: undefined
      })
    )
    expect(published.steps.map(s => s.name)).toEqual([
      'resume',
      'check-version',
      'tag',
      'publish',
      'github-release'
    ])
    expect(log.slice(0, 4)).toEqual([
      'list A',
      'gh getTagCommit v1.0.0',
      `gh createTag v1.0.0 ${head.slice(0, 7)}`,
      'publish A 1.0.0'
    ])
    expect(published.files).toHaveLength(2)
    expect(published.releaseUrl).toContain('/releases/tag/v1.0.0')
  })

  it('refuses a handoff file that is not one', async () => {
    const file = path.join(dir, 'handoff.json')
    await fs.writeFile(file, JSON.stringify({ version: '1.0.0' }))
    await expect(readHandoff(file)).rejects.toThrow(
      `the release handoff ${file} lacks name, tag, commit, releaseDir, manifestPath`
    )
    await expect(runRelease(request({ stage: 'publish' }))).rejects.toThrow('needs the handoff')
  })
})
