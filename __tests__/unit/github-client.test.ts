/**
 * The GitHub client and the github-release store's publish, through a fetch that checks every
 * request against GitHub's OpenAPI description (helpers/github-openapi.ts): the order of calls,
 * retries of 5xx and network failures, the 422 of a duplicate asset, a tag on another commit,
 * and a failed publish that leaves no visible release behind.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { GithubApi } from '../../src/github/api.js'
import { createGithubApi } from '../../src/github/client.js'
import { GithubError } from '../../src/github/github-error.js'
import { digestFile, writeManifest } from '../../src/releases/manifest.js'
import { createGithubReleaseStore } from '../../src/stores/github-release-store.js'
import type { StoreDeps } from '../../src/stores/registry.js'
import type { LocalRelease } from '../../src/stores/store.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { FakeGithub } from '../helpers/github-openapi.js'

let fake: FakeGithub
let api: GithubApi
let tmp: string
const lines: string[] = []
const reporter = new StreamReporter(line => lines.push(line))

beforeEach(async () => {
  fake = new FakeGithub()
  api = createGithubApi({
    token: fake.token,
    repository: fake.repository,
    fetch: fake.fetch,
    retries: 2,
    retryDelayMs: 0
  })
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-gh-client-'))
  lines.length = 0
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
  // Every request made in the test matched GitHub's description.
  fake.assertClean()
})

async function writeFile(name: string, content: string | Buffer): Promise<string> {
  const file = path.join(tmp, name)
  await fs.writeFile(file, content)
  return file
}

/** A small release folder (no Python needed): an sdist, a wheel, a wheelhouse file, manifest, SHA256SUMS. */
async function releaseFolder(
  version: string,
  commit: string | null,
  salt = ''
): Promise<LocalRelease> {
  const dir = path.join(tmp, 'releases', version)
  await fs.mkdir(path.join(dir, 'wheelhouse'), { recursive: true })
  const sdist = `sitecycle_sample-${version}.tar.gz`
  const wheel = `sitecycle_sample-${version}-py3-none-any.whl`
  await fs.writeFile(path.join(dir, sdist), `sdist ${version}${salt}`)
  await fs.writeFile(path.join(dir, wheel), `wheel ${version}${salt}`)
  await fs.writeFile(path.join(dir, 'wheelhouse', 'dep-1.0-py3-none-any.whl'), 'dependency')
  const files = []
  for (const [name, kind] of [
    [sdist, 'sdist'],
    [wheel, 'wheel']
  ] as const) {
    files.push({ name, kind, ...(await digestFile(path.join(dir, name))) })
  }
  await writeManifest(dir, {
    name: 'sitecycle-sample',
    version,
    commit,
    requires_python: '>=3.9',
    built_at: '2024-05-01T12:00:00Z',
    files
  })
  return { dir, name: 'sitecycle-sample', version }
}

function storeWith(github: GithubApi, env: NodeJS.ProcessEnv = {}) {
  const deps: StoreDeps = {
    executorFor: () => {
      throw new Error('no hosts here')
    },
    github,
    env
  }
  return createGithubReleaseStore({ type: 'github-release', tokenEnv: 'GITHUB_TOKEN' }, deps)
}

describe('tags', () => {
  it('reads a lightweight tag, peels an annotated one, and answers null for a missing one', async () => {
    const a = fake.addCommit('a')
    const b = fake.addCommit('b')
    fake.addTag('v1.0.0', a)
    fake.addTag('v1.1.0', b, { annotated: true })
    expect(await api.getTagCommit('v1.0.0')).toBe(a)
    expect(await api.getTagCommit('v1.1.0')).toBe(b)
    expect(await api.getTagCommit('v9')).toBeNull()
    expect(fake.operations()).toEqual(['git/get-ref', 'git/get-ref', 'git/get-tag', 'git/get-ref'])
  })

  it('creates a tag, accepts creating it again on the same commit, and deletes it (twice is fine)', async () => {
    const a = fake.addCommit('a')
    await api.createTag('v1.0.0', a)
    expect(fake.tagCommit('v1.0.0')).toBe(a)
    expect(fake.calls[0].body).toEqual({ ref: 'refs/tags/v1.0.0', sha: a })
    await api.createTag('v1.0.0', a)
    await api.deleteTag('v1.0.0')
    expect(fake.tagCommit('v1.0.0')).toBeUndefined()
    await api.deleteTag('v1.0.0')
    expect(fake.operations()).toEqual([
      'git/create-ref',
      'git/create-ref',
      'git/get-ref',
      'git/delete-ref',
      'git/delete-ref',
      'git/get-ref'
    ])
  })

  it('refuses a tag that exists on another commit, naming both commits', async () => {
    const a = fake.addCommit('a')
    const b = fake.addCommit('b')
    fake.addTag('v1.0.0', a)
    const err = await api.createTag('v1.0.0', b).catch(e => e)
    expect(err).toBeInstanceOf(GithubError)
    expect(err.message).toBe(
      `tag v1.0.0 already exists in acme/weave on commit ${a}, not on ${b}: choose a new version, or delete the tag if it was made by mistake`
    )
    expect(fake.tagCommit('v1.0.0')).toBe(a)
  })
})

describe('releases and assets', () => {
  it('asks GitHub for generated notes since the previous tag', async () => {
    const a = fake.addCommit('a')
    fake.addTag('v1.0.0', a)
    fake.addTag('v1.1.0', fake.addCommit('b'))
    const notes = await api.generateNotes('v1.1.0', 'v1.0.0')
    expect(notes.name).toBe('v1.1.0')
    expect(notes.body).toContain('https://github.com/acme/weave/compare/v1.0.0...v1.1.0')
    expect(fake.calls.map(c => [c.operationId, c.body])).toEqual([
      ['repos/generate-release-notes', { tag_name: 'v1.1.0', previous_tag_name: 'v1.0.0' }]
    ])
  })

  it('a draft is invisible by tag until it is published', async () => {
    const draft = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: 'notes',
      draft: true,
      prerelease: false
    })
    expect(draft).toMatchObject({ tag: 'v1.0.0', draft: true, assets: [] })
    expect(await api.getReleaseByTag('v1.0.0')).toBeNull()
    expect((await api.listReleases()).map(r => [r.id, r.draft])).toEqual([[draft.id, true]])
    const published = await api.publishRelease(draft.id)
    expect(published).toMatchObject({
      id: draft.id,
      draft: false,
      url: 'https://github.com/acme/weave/releases/tag/v1.0.0'
    })
    expect((await api.getReleaseByTag('v1.0.0'))?.id).toBe(draft.id)
    // Publishing made the tag on the default branch's head (no target given).
    expect(fake.tagCommit('v1.0.0')).toBe(fake.headCommit)
  })

  it('uploads to uploads.github.com and downloads back through the redirect', async () => {
    const release = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: true,
      prerelease: false
    })
    const file = await writeFile('app.whl', Buffer.from([0, 1, 2, 255]))
    const asset = await api.uploadAsset(release.id, file, 'app-1.0.0-py3-none-any.whl')
    const upload = fake.calls.find(c => c.operationId === 'repos/upload-release-asset')!
    expect(new URL(upload.url).origin).toBe('https://uploads.github.com')
    expect(upload.query).toEqual({ name: 'app-1.0.0-py3-none-any.whl' })
    await api.downloadAsset(asset.id, path.join(tmp, 'back.whl'))
    expect(await fs.readFile(path.join(tmp, 'back.whl'))).toEqual(Buffer.from([0, 1, 2, 255]))
    expect(fake.operations().slice(-2)).toEqual(['repos/get-release-asset', 'download'])
  })

  it('takes a 422 duplicate asset of the same size as already uploaded, and refuses another size', async () => {
    const release = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: true,
      prerelease: false
    })
    const file = await writeFile('a.tar.gz', 'twelve bytes')
    const first = await api.uploadAsset(release.id, file, 'a.tar.gz')
    const again = await api.uploadAsset(release.id, file, 'a.tar.gz')
    expect(again.id).toBe(first.id)
    expect(fake.calls.slice(-2).map(c => [c.operationId, c.status])).toEqual([
      ['repos/upload-release-asset', 422],
      ['repos/get-release', 200]
    ])
    const bigger = await writeFile('b.tar.gz', 'thirteen bytes')
    await expect(api.uploadAsset(release.id, bigger, 'a.tar.gz')).rejects.toThrow(
      `GitHub API: could not upload a.tar.gz to the release ${release.id} in acme/weave: an asset a.tar.gz of 12 bytes is already there and ${bigger} has 14; delete the asset or the draft release and publish again`
    )
    expect(fake.releaseOfTag('v1.0.0')!.assets.map(a => a.bytes.toString())).toEqual([
      'twelve bytes'
    ])
  })

  it('lists every release across pages', async () => {
    for (let i = 0; i < 130; i++) {
      fake.releases.push({
        id: i + 1,
        tagName: `v0.${i}`,
        targetCommitish: 'main',
        name: null,
        body: null,
        draft: false,
        prerelease: false,
        createdAt: '2024-01-01T00:00:00Z',
        publishedAt: '2024-01-01T00:00:00Z',
        assets: []
      })
    }
    const all = await api.listReleases()
    expect(all).toHaveLength(130)
    expect(all[0].tag).toBe('v0.129')
    expect(fake.calls.map(c => [c.operationId, c.query])).toEqual([
      ['repos/list-releases', { per_page: 100 }],
      ['repos/list-releases', { per_page: 100, page: 2 }]
    ])
  })
})

describe('retries and errors', () => {
  it('retries a 5xx answer and succeeds', async () => {
    fake.failNext('repos/create-release', { status: 502, times: 2 })
    const release = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: true,
      prerelease: false
    })
    expect(release.draft).toBe(true)
    expect(fake.calls.map(c => [c.operationId, c.status])).toEqual([
      ['repos/create-release', 502],
      ['repos/create-release', 502],
      ['repos/create-release', 201]
    ])
    expect(fake.releases).toHaveLength(1)
  })

  it('retries a network failure', async () => {
    fake.failNext('repos/get-release-by-tag', { network: true })
    expect(await api.getReleaseByTag('v1')).toBeNull()
    expect(fake.calls.map(c => c.status)).toEqual(['network-error', 404])
  })

  it('an upload whose answer was lost is retried, and its 422 duplicate is taken as done', async () => {
    const release = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: true,
      prerelease: false
    })
    fake.failNext('repos/upload-release-asset', { status: 504, afterApplying: true })
    await api.uploadAsset(release.id, await writeFile('x.whl', 'wheel'), 'x.whl')
    expect(fake.calls.slice(1).map(c => [c.operationId, c.status])).toEqual([
      ['repos/upload-release-asset', 504],
      ['repos/upload-release-asset', 422],
      ['repos/get-release', 200]
    ])
    expect(fake.releaseOfTag('v1.0.0')!.assets).toHaveLength(1)
  })

  it('gives up after the configured retries with a sentence naming the request and status', async () => {
    fake.failNext('repos/create-release', { status: 503, times: 3 })
    const err = await api
      .createRelease({ tag: 'v1.0.0', name: 'v1.0.0', body: '', draft: true, prerelease: false })
      .catch(e => e)
    expect(err).toBeInstanceOf(GithubError)
    expect(err).toBeInstanceOf(SitecycleError)
    expect(err.status).toBe(503)
    expect(err.message).toBe(
      'GitHub API: could not create the draft release v1.0.0 in acme/weave: POST https://api.github.com/repos/acme/weave/releases answered 503 Server Error; GitHub failed on its side: try again later'
    )
    expect(fake.calls).toHaveLength(3)
  })

  it('does not retry a 4xx, and says what to do about a bad token without printing it', async () => {
    const bad = createGithubApi({
      token: 'ghs_wrongtoken',
      repository: fake.repository,
      fetch: fake.fetch,
      retries: 2,
      retryDelayMs: 0
    })
    const err = await bad.listReleases().catch(e => e)
    expect(err.message).toBe(
      'GitHub API: could not list the releases in acme/weave: GET https://api.github.com/repos/acme/weave/releases answered 401 Bad credentials; the token is missing, expired or revoked: pass a valid token'
    )
    expect(err.message).not.toContain('ghs_')
    expect(fake.calls).toHaveLength(1)
  })

  it.each([409, 429, 499])(
    'does not retry a %i either, and retries a 501 and a 599',
    async status => {
      fake.failNext('repos/create-release', { status, times: 1 })
      const draft = { tag: 'v1.0.0', name: 'v1.0.0', body: '', draft: true, prerelease: false }
      expect((await api.createRelease(draft).catch(e => e)).status).toBe(status)
      fake.failNext('repos/create-release', { status: 501, times: 1 })
      fake.failNext('repos/create-release', { status: 599, times: 1 })
      expect((await api.createRelease(draft)).draft).toBe(true)
      expect(fake.calls.map(c => c.status)).toEqual([status, 501, 599, 201])
    }
  )

  it('refuses a malformed repository and an empty token before any request', () => {
    expect(() => createGithubApi({ token: 't', repository: 'acme', fetch: fake.fetch })).toThrow(
      "GitHub repository 'acme' is not of the form owner/repo (e.g. acme/weave)"
    )
    expect(() =>
      createGithubApi({ token: '', repository: 'acme/weave', fetch: fake.fetch })
    ).toThrow(/no GitHub token given for acme\/weave/)
    expect(fake.calls).toEqual([])
  })
})

describe('publishing a release (github-release store)', () => {
  it('checks, drafts, uploads every file, then publishes in that order', async () => {
    const commit = fake.addCommit('release')
    fake.addTag('v0.9.0', fake.addCommit('old'))
    fake.releases.push({
      id: 1,
      tagName: 'v0.9.0',
      targetCommitish: 'main',
      name: 'v0.9.0',
      body: '',
      draft: false,
      prerelease: false,
      createdAt: '2024-01-01T00:00:00Z',
      publishedAt: '2024-01-01T00:00:00Z',
      assets: []
    })
    fake.addTag('v1.0.0', commit)
    const release = await releaseFolder('1.0.0', commit)

    const result = await storeWith(api).publish(release, reporter)

    expect(result).toEqual({
      location: 'https://github.com/acme/weave/releases/tag/v1.0.0',
      changed: true
    })
    expect(fake.operations()).toEqual([
      'repos/get-release-by-tag',
      'repos/list-releases',
      'git/get-ref',
      'repos/generate-release-notes',
      'repos/create-release',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/update-release'
    ])
    expect(fake.calls.find(c => c.operationId === 'repos/generate-release-notes')!.body).toEqual({
      tag_name: 'v1.0.0',
      previous_tag_name: 'v0.9.0'
    })
    expect(fake.calls.find(c => c.operationId === 'repos/create-release')!.body).toMatchObject({
      tag_name: 'v1.0.0',
      draft: true,
      prerelease: false,
      name: 'v1.0.0'
    })
    // The body of the release is GitHub's generated notes.
    expect(fake.releaseOfTag('v1.0.0')!.body).toContain('compare/v0.9.0...v1.0.0')
    expect(
      fake.calls.filter(c => c.operationId === 'repos/upload-release-asset').map(c => c.query!.name)
    ).toEqual([
      'sitecycle_sample-1.0.0-py3-none-any.whl',
      'sitecycle_sample-1.0.0.tar.gz',
      'wheelhouse-dep-1.0-py3-none-any.whl',
      'SHA256SUMS',
      'manifest.json'
    ])
    expect(fake.calls.at(-1)!.body).toEqual({ draft: false })
    expect(fake.releaseOfTag('v1.0.0')).toMatchObject({ draft: false })
  })

  it('a prerelease version becomes a GitHub prerelease; without a tag, the manifest commit is the target', async () => {
    const commit = fake.addCommit('rc')
    await storeWith(api).publish(await releaseFolder('2.0.0rc1', commit), reporter)
    expect(fake.calls.find(c => c.operationId === 'repos/create-release')!.body).toMatchObject({
      tag_name: 'v2.0.0rc1',
      prerelease: true,
      target_commitish: commit
    })
    expect(fake.calls.find(c => c.operationId === 'repos/generate-release-notes')!.body).toEqual({
      tag_name: 'v2.0.0rc1',
      target_commitish: commit
    })
    expect(fake.tagCommit('v2.0.0rc1')).toBe(commit)
  })

  it('uses SITECYCLE_TAG_PREFIX for the tag', async () => {
    const commit = fake.addCommit('x')
    fake.addTag('release-1.0.0', commit)
    await storeWith(api, { SITECYCLE_TAG_PREFIX: 'release-' }).publish(
      await releaseFolder('1.0.0', commit),
      reporter
    )
    expect(fake.releaseOfTag('release-1.0.0')).toMatchObject({ draft: false })
  })

  it('refuses when the tag is on another commit than the build, before drafting anything', async () => {
    const built = fake.addCommit('built')
    const tagged = fake.addCommit('tagged')
    fake.addTag('v1.0.0', tagged)
    await expect(
      storeWith(api).publish(await releaseFolder('1.0.0', built), reporter)
    ).rejects.toThrow(
      `tag v1.0.0 in acme/weave is on commit ${tagged}, but release 1.0.0 was built from ${built}: build the release from the tagged commit, or choose a new version`
    )
    expect(fake.operations()).not.toContain('repos/create-release')
    expect(fake.releases).toEqual([])
  })

  it('5xx beyond the retries during upload: the error names the upload, and the draft is deleted', async () => {
    const commit = fake.addCommit('c')
    fake.addTag('v1.0.0', commit)
    // The first asset goes up; the second fails three times: more than the two retries.
    fake.failNext('repos/upload-release-asset', { skip: 1, status: 502, times: 3 })
    const store = storeWith(api)
    const err = await store.publish(await releaseFolder('1.0.0', commit), reporter).catch(e => e)
    expect(err).toBeInstanceOf(GithubError)
    expect(err.message).toMatch(
      /^GitHub API: could not upload sitecycle_sample-1.0.0.tar.gz to the release \d+ in acme\/weave: POST https:\/\/uploads.github.com\/repos\/acme\/weave\/releases\/\d+\/assets answered 502 Server Error; GitHub failed on its side: try again later$/
    )
    expect(fake.calls.slice(-6).map(c => `${c.operationId} ${c.status}`)).toEqual([
      'repos/create-release 201',
      'repos/upload-release-asset 201',
      'repos/upload-release-asset 502',
      'repos/upload-release-asset 502',
      'repos/upload-release-asset 502',
      'repos/delete-release 204'
    ])
    expect(fake.operations()).not.toContain('repos/update-release')
    expect(fake.releases).toEqual([])
    // Nothing was ever visible: the store lists no version.
    expect(await store.listVersions()).toEqual([])
  })

  it('removes a draft left by an interrupted run before drafting again', async () => {
    const commit = fake.addCommit('c')
    fake.addTag('v1.0.0', commit)
    const stale = await api.createRelease({
      tag: 'v1.0.0',
      name: 'v1.0.0',
      body: '',
      draft: true,
      prerelease: false
    })
    await storeWith(api).publish(await releaseFolder('1.0.0', commit), reporter)
    expect(fake.releases.map(r => r.id)).not.toContain(stale.id)
    expect(fake.releases).toHaveLength(1)
    expect(lines.join('\n')).toContain(
      `removing the draft release ${stale.id} of v1.0.0 left by an earlier run`
    )
  })
})
