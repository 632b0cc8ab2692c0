/**
 * The github-release store end to end against the fake GitHub (every request checked against
 * GitHub's OpenAPI description): a real built sample release is published, fetched back and
 * passes resolveRelease; a tampered asset is refused; the same version is never replaced with
 * other content; unpublish removes only what this run published; prune keeps the newest.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createGithubApi } from '../../src/github/client.js'
import type { GithubApi } from '../../src/github/api.js'
import { readManifest, writeManifest } from '../../src/releases/manifest.js'
import { createGithubReleaseStore } from '../../src/stores/github-release-store.js'
import type { StoreDeps } from '../../src/stores/registry.js'
import type { LocalRelease, ReleaseStore } from '../../src/stores/store.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { FakeGithub, type FakeRelease } from '../helpers/github-openapi.js'
import {
  buildSampleRelease,
  makeTempDir,
  removeTempDir,
  SAMPLE_PACKAGE
} from '../helpers/sample-app.js'

let work: string
let built: LocalRelease
let fake: FakeGithub
let api: GithubApi
const lines: string[] = []
const reporter = new StreamReporter(line => lines.push(line))

beforeAll(async () => {
  work = await makeTempDir('sitecycle-gh-store-')
  const release = await buildSampleRelease({
    version: '1.0.0',
    releasesDir: path.join(work, 'built')
  })
  // A dependency's wheel, as the wheelhouse step leaves it.
  await fs.mkdir(path.join(release.dir, 'wheelhouse'))
  await fs.writeFile(
    path.join(release.dir, 'wheelhouse', 'sample_dep-0.1.0-py3-none-any.whl'),
    'not really a wheel'
  )
  built = { dir: release.dir, name: SAMPLE_PACKAGE, version: '1.0.0' }
})

afterAll(() => removeTempDir(work))

beforeEach(() => {
  fake = new FakeGithub()
  api = createGithubApi({
    token: fake.token,
    repository: fake.repository,
    fetch: fake.fetch,
    retries: 1,
    retryDelayMs: 0
  })
  lines.length = 0
})

afterEach(() => fake.assertClean())

function store(github: GithubApi | null = api, env: NodeJS.ProcessEnv = {}): ReleaseStore {
  const deps: StoreDeps = {
    executorFor: () => {
      throw new Error('no hosts here')
    },
    github: github ?? undefined,
    env
  }
  return createGithubReleaseStore({ type: 'github-release', tokenEnv: 'GITHUB_TOKEN' }, deps)
}

/** relative path → content of every file under dir. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      out[path.relative(dir, path.join(e.parentPath, e.name))] = (
        await fs.readFile(path.join(e.parentPath, e.name))
      ).toString('base64')
  }
  return out
}

async function copyRelease(to: string): Promise<LocalRelease> {
  await fs.cp(built.dir, to, { recursive: true })
  return { ...built, dir: to }
}

describe('github-release store', () => {
  it('publishes a built release and fetches it back, checked by resolveRelease', async () => {
    fake.addTag('v1.0.0', fake.addCommit('release'))
    const s = store()
    expect(s.label).toBe('github-release acme/weave')
    const published = await s.publish(built, reporter)
    expect(published.changed).toBe(true)
    const manifest = await readManifest(path.join(built.dir, 'manifest.json'))
    expect(
      fake
        .releaseOfTag('v1.0.0')!
        .assets.map(a => a.name)
        .sort()
    ).toEqual(
      [
        ...manifest.files.map(f => f.name),
        'SHA256SUMS',
        'manifest.json',
        'wheelhouse-sample_dep-0.1.0-py3-none-any.whl'
      ].sort()
    )
    expect(manifest.files.map(f => f.kind).sort()).toEqual(['sdist', 'wheel'])
    expect(await s.listVersions()).toEqual(['1.0.0'])

    const into = path.join(work, 'fetched-ok')
    const resolved = await store().fetch('1.0.0', into, reporter)
    expect(resolved).toMatchObject({
      name: SAMPLE_PACKAGE,
      version: '1.0.0',
      kind: 'wheel',
      file: path.join(into, '1.0.0', 'sitecycle_sample-1.0.0-py3-none-any.whl')
    })
    // The folder comes back exactly as it was built, wheelhouse/ included, nothing else beside it.
    expect(await tree(path.join(into, '1.0.0'))).toEqual(await tree(built.dir))
    expect(await fs.readdir(into)).toEqual(['1.0.0'])
  })

  it('refuses a tampered asset and leaves nothing behind', async () => {
    fake.addTag('v1.0.0', fake.addCommit('release'))
    await store().publish(built, reporter)
    const wheel = 'sitecycle_sample-1.0.0-py3-none-any.whl'
    fake.tamperAsset('v1.0.0', wheel, bytes => {
      bytes[bytes.length - 30] ^= 0x01
      return bytes
    })
    const into = path.join(work, 'fetched-tampered')
    await expect(store().fetch('1.0.0', into, reporter)).rejects.toThrow(
      new RegExp(
        `release file ${path.join(into, '1.0.0', wheel).replace(/[.]/g, '\\.')} does not match its manifest: sha256 is [0-9a-f]{64}, manifest says [0-9a-f]{64}`
      )
    )
    expect(await fs.readdir(into)).toEqual([])
  })

  it('publishing the same version again changes nothing; other content under it is refused', async () => {
    fake.addTag('v1.0.0', fake.addCommit('release'))
    await store().publish(built, reporter)
    const before = fake.calls.length
    expect(await store().publish(built, reporter)).toEqual({
      location: 'https://github.com/acme/weave/releases/tag/v1.0.0',
      changed: false
    })
    expect(fake.operations().slice(before)).toEqual([
      'repos/get-release-by-tag',
      'repos/get-release-asset',
      'download'
    ])

    // A rebuild of the same version: same names and sizes, another manifest.
    const rebuilt = await copyRelease(path.join(work, 'rebuilt', '1.0.0'))
    const manifestPath = path.join(rebuilt.dir, 'manifest.json')
    const text = await fs.readFile(manifestPath, 'utf8')
    await fs.writeFile(manifestPath, text.replace(/"built_at": "\d{4}/, '"built_at": "2031'))
    expect((await fs.stat(manifestPath)).size).toBe(text.length)
    await expect(store().publish(rebuilt, reporter)).rejects.toThrow(
      'v1.0.0 is already published in acme/weave with other content (its manifest.json differs); a published version is never replaced: publish a new version'
    )
    await fs.writeFile(path.join(rebuilt.dir, 'wheelhouse', 'extra-1.0-py3-none-any.whl'), 'x')
    await expect(store().publish(rebuilt, reporter)).rejects.toThrow(
      /other content \(it has no asset wheelhouse-extra-1.0-py3-none-any.whl\)/
    )
    expect(fake.releases).toHaveLength(1)
  })

  it('a version that is not there is named with what the store holds', async () => {
    fake.addTag('v1.0.0', fake.addCommit('release'))
    await store().publish(built, reporter)
    await expect(
      store().fetch('1.2.0', path.join(work, 'fetched-missing'), reporter)
    ).rejects.toThrow(
      'version 1.2.0 is not published in github-release acme/weave (no release of tag v1.2.0); it holds 1.0.0'
    )
  })

  it('unpublish removes only what this store published, and the tag when publishing made it', async () => {
    const commit = fake.addCommit('untagged')
    const release = await copyRelease(path.join(work, 'with-commit', '1.0.0'))
    const manifest = await readManifest(path.join(release.dir, 'manifest.json'))
    await writeManifest(release.dir, { ...manifest, commit })
    const publisher = store()
    await publisher.publish(release, reporter)
    expect(fake.tagCommit('v1.0.0')).toBe(commit)

    await store().unpublish('1.0.0', reporter)
    expect(lines).toContain(
      'warning: not removing v1.0.0 from github-release acme/weave: this run did not publish it'
    )
    expect(fake.releases).toHaveLength(1)

    await publisher.unpublish('1.0.0', reporter)
    expect(fake.releases).toEqual([])
    expect(fake.tagCommit('v1.0.0')).toBeUndefined()
  })

  it('unpublish keeps a tag that existed before', async () => {
    const commit = fake.addCommit('tagged')
    fake.addTag('v1.0.0', commit)
    const publisher = store()
    await publisher.publish(built, reporter)
    await publisher.unpublish('1.0.0', reporter)
    expect(fake.releases).toEqual([])
    expect(fake.tagCommit('v1.0.0')).toBe(commit)
  })

  it('prune keeps the newest versions in PEP 440 order and leaves drafts and other tags alone', async () => {
    const release = (id: number, tagName: string, draft = false): FakeRelease => ({
      id,
      tagName,
      targetCommitish: 'main',
      name: tagName,
      body: '',
      draft,
      prerelease: false,
      createdAt: '2024-01-01T00:00:00Z',
      publishedAt: draft ? null : '2024-01-01T00:00:00Z',
      assets: []
    })
    fake.releases.push(
      release(1, 'v1.10.0'),
      release(2, 'v1.2.0'),
      release(3, 'v0.9'),
      release(4, 'nightly'),
      release(5, 'v2.0.0rc1'),
      release(6, 'v3.0.0', true)
    )
    const s = store()
    expect(await s.listVersions()).toEqual(['0.9', '1.2.0', '1.10.0', '2.0.0rc1'])
    expect(await s.prune(2, reporter)).toEqual(['0.9', '1.2.0'])
    expect(fake.releases.map(r => r.tagName).sort()).toEqual([
      'nightly',
      'v1.10.0',
      'v2.0.0rc1',
      'v3.0.0'
    ])
    await expect(s.prune(0, reporter)).rejects.toThrow('prune keeps at least 1 version, got 0')
  })

  it('builds its client from the environment, and says which setting is missing', async () => {
    await expect(store(null, {}).listVersions()).rejects.toThrow(
      /needs a repository: set `repository: owner\/name` on the store, or run where GITHUB_REPOSITORY is set/
    )
    await expect(store(null, { GITHUB_REPOSITORY: 'acme/weave' }).listVersions()).rejects.toThrow(
      "the github-release store for acme/weave needs a token in the environment variable GITHUB_TOKEN, which is not set: pass a token with 'contents: write' there"
    )
    expect(fake.calls).toEqual([])
  })
})
