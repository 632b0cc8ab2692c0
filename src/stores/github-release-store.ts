/**
 * The `github-release` store: a version is the GitHub release of the tag `<prefix><version>`,
 * its files are the release's assets. The prefix is `v` unless SITECYCLE_TAG_PREFIX says
 * otherwise (the release pipeline sets it from `release.tagPrefix`).
 *
 * Publishing creates a DRAFT release (invisible to users and to getReleaseByTag), uploads every
 * file of the release folder (wheelhouse files flattened to `wheelhouse-<file>`, manifest.json
 * last), then publishes the draft in one request; on any failure the draft is deleted, so a
 * half-published version is never visible. Fetching downloads the assets into
 * `<intoDir>/<version>/` and checks them with resolveRelease.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { StoreConfig } from '../config/model.js'
import type { GithubApi, GithubRelease } from '../github/api.js'
import { createGithubApi, sameCommit } from '../github/client.js'
import {
  digestFile,
  MANIFEST_FILE,
  readManifest,
  type ReleaseManifest
} from '../releases/manifest.js'
import { resolveRelease, type ResolvedRelease } from '../releases/resolve-release.js'
import {
  compareVersions,
  isPrerelease,
  isValidVersion,
  normalizeVersion
} from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { flattenReleaseFolder, unflattenName, type FlatReleaseFile } from './release-folder.js'
import type { StoreDeps } from './registry.js'
import type { LocalRelease, PublishResult, ReleaseStore } from './store.js'

/** Environment variable naming the tag prefix (default `v`: tag `v1.4.0` is version 1.4.0). */
export const TAG_PREFIX_ENV = 'SITECYCLE_TAG_PREFIX'
/** The tag prefix when SITECYCLE_TAG_PREFIX is not set. */
export const DEFAULT_TAG_PREFIX = 'v'

type GithubStoreConfig = Extract<StoreConfig, { type: 'github-release' }>

function storeError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

/** Build the github-release store. The GitHub client is made on first use (deps.github, else from the token). */
export function createGithubReleaseStore(config: StoreConfig, deps: StoreDeps): ReleaseStore {
  if (config.type !== 'github-release')
    throw new SitecycleError(`createGithubReleaseStore got a ${config.type} store`, 'config')
  return new GithubReleaseStore(config, deps)
}

class GithubReleaseStore implements ReleaseStore {
  readonly kind = 'github-release'
  readonly label: string
  private readonly tagPrefix: string
  private api: GithubApi | undefined
  /** Versions this store published in this run: release id, and whether publishing made the tag. */
  private readonly publishedHere = new Map<string, { releaseId: number; madeTag: boolean }>()

  constructor(
    private readonly config: GithubStoreConfig,
    private readonly deps: StoreDeps
  ) {
    this.api = deps.github
    this.tagPrefix = deps.env[TAG_PREFIX_ENV] ?? DEFAULT_TAG_PREFIX
    const repository =
      deps.github?.repository ??
      config.repository ??
      deps.env.GITHUB_REPOSITORY ??
      '(repository not set)'
    this.label = `github-release ${repository}`
  }

  private github(): GithubApi {
    if (this.api) return this.api
    const repository = this.config.repository ?? this.deps.env.GITHUB_REPOSITORY
    if (!repository) {
      throw new SitecycleError(
        'the github-release store needs a repository: set `repository: owner/name` on the store, or run where GITHUB_REPOSITORY is set',
        'config'
      )
    }
    const token = this.deps.env[this.config.tokenEnv]
    if (!token) {
      throw new SitecycleError(
        `the github-release store for ${repository} needs a token in the environment variable ${this.config.tokenEnv}, which is not set: pass a token with 'contents: write' there`,
        'config'
      )
    }
    this.api = createGithubApi({ token, repository, baseUrl: this.deps.env.GITHUB_API_URL })
    return this.api
  }

  private tagOf(version: string): string {
    return `${this.tagPrefix}${version}`
  }

  /** The version a published release stands for, or undefined when its tag is not `<prefix><PEP 440>`. */
  private versionOf(release: GithubRelease): string | undefined {
    if (release.draft || !release.tag.startsWith(this.tagPrefix)) return undefined
    const version = release.tag.slice(this.tagPrefix.length)
    return isValidVersion(version) ? version : undefined
  }

  private async findRelease(version: string): Promise<GithubRelease | null> {
    const gh = this.github()
    const found = await gh.getReleaseByTag(this.tagOf(version))
    if (found || !isValidVersion(version) || normalizeVersion(version) === version) return found
    return gh.getReleaseByTag(this.tagOf(normalizeVersion(version)))
  }

  async publish(release: LocalRelease, reporter: Reporter): Promise<PublishResult> {
    const gh = this.github()
    const manifest = await readManifest(path.join(release.dir, MANIFEST_FILE))
    if (compareVersions(manifest.version, release.version) !== 0) {
      throw storeError(
        `release folder ${release.dir} holds version ${manifest.version}, not ${release.version}`
      )
    }
    const files = await flattenReleaseFolder(release.dir)
    const tag = this.tagOf(release.version)

    const existing = await gh.getReleaseByTag(tag)
    if (existing) return this.checkSamePublished(existing, files, tag, reporter)

    const all = await gh.listReleases()
    for (const stale of all.filter(r => r.draft && r.tag === tag)) {
      // A draft left by an interrupted run: never visible, so removing it loses nothing.
      reporter.warn(`removing the draft release ${stale.id} of ${tag} left by an earlier run`)
      await gh.deleteRelease(stale.id)
    }

    const tagCommit = await gh.getTagCommit(tag)
    if (tagCommit && manifest.commit && !sameCommit(tagCommit, manifest.commit)) {
      throw storeError(
        `tag ${tag} in ${gh.repository} is on commit ${tagCommit}, but release ${release.version} was built from ${manifest.commit}: build the release from the tagged commit, or choose a new version`
      )
    }
    if (!tagCommit && !manifest.commit) {
      throw storeError(
        `tag ${tag} does not exist in ${gh.repository} and the manifest of ${release.version} names no commit to make it on: create the tag first`
      )
    }
    const target = tagCommit ? undefined : (manifest.commit ?? undefined)
    const previousTag = this.previousTag(all, release.version)
    const notes = await gh.generateNotes(tag, previousTag, target)

    const draft = await gh.createRelease({
      tag,
      name: notes.name || tag,
      body: notes.body,
      draft: true,
      prerelease: isPrerelease(release.version),
      target
    })
    reporter.info(`created the draft release ${draft.id} of ${tag} in ${gh.repository}`)
    try {
      for (const f of files) await gh.uploadAsset(draft.id, f.file, f.name)
      const published = await gh.publishRelease(draft.id)
      this.publishedHere.set(release.version, {
        releaseId: published.id,
        madeTag: tagCommit === null
      })
      reporter.info(`published ${tag} with ${files.length} assets: ${published.url}`)
      return { location: published.url, changed: true }
    } catch (err) {
      try {
        await gh.deleteRelease(draft.id)
      } catch (cleanup) {
        reporter.warn(
          `could not delete the draft release ${draft.id} of ${tag} (it stays invisible; delete it by hand): ${(cleanup as Error).message}`
        )
      }
      throw err
    }
  }

  /** The newest published version's tag older than `version`, for the notes' range. */
  private previousTag(all: GithubRelease[], version: string): string | undefined {
    const older = all
      .map(r => this.versionOf(r))
      .filter((v): v is string => v !== undefined && compareVersions(v, version) < 0)
      .sort(compareVersions)
    return older.length > 0 ? this.tagOf(older[older.length - 1]) : undefined
  }

  /** A published release of the tag exists: the same content is a no-op, other content is refused. */
  private async checkSamePublished(
    existing: GithubRelease,
    files: FlatReleaseFile[],
    tag: string,
    reporter: Reporter
  ): Promise<PublishResult> {
    const refuse = (why: string): never => {
      throw storeError(
        `${tag} is already published in ${this.github().repository} with other content (${why}); a published version is never replaced: publish a new version`
      )
    }
    const remote = new Map(existing.assets.map(a => [a.name, a]))
    for (const f of files) {
      const asset = remote.get(f.name)
      if (!asset) refuse(`it has no asset ${f.name}`)
      const { size } = await fs.stat(f.file)
      if (asset && asset.size !== size)
        refuse(`its ${f.name} has ${asset.size} bytes, here ${size}`)
    }
    const extra = existing.assets.filter(a => !files.some(f => f.name === a.name))
    if (extra.length > 0) refuse(`it also has ${extra.map(a => a.name).join(', ')}`)
    // Same names and sizes: the manifests (sha256 of every file) decide.
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-gh-manifest-'))
    try {
      const remoteManifest = path.join(tmp, MANIFEST_FILE)
      await this.github().downloadAsset(remote.get(MANIFEST_FILE)!.id, remoteManifest)
      const local = files.find(f => f.name === MANIFEST_FILE)!.file
      if ((await digestFile(remoteManifest)).sha256 !== (await digestFile(local)).sha256)
        refuse('its manifest.json differs')
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
    reporter.info(
      `${tag} is already published in ${this.github().repository} with the same content`
    )
    return { location: existing.url, changed: false }
  }

  async unpublish(version: string, reporter: Reporter): Promise<void> {
    const mine = this.publishedHere.get(version)
    if (!mine) {
      reporter.warn(
        `not removing ${this.tagOf(version)} from ${this.label}: this run did not publish it`
      )
      return
    }
    const gh = this.github()
    await gh.deleteRelease(mine.releaseId)
    // Publishing made the tag (it did not exist before): remove it with its release.
    if (mine.madeTag) await gh.deleteTag(this.tagOf(version))
    this.publishedHere.delete(version)
    reporter.info(`removed the release ${this.tagOf(version)} from ${gh.repository}`)
  }

  async listVersions(): Promise<string[]> {
    const versions = (await this.github().listReleases())
      .map(r => this.versionOf(r))
      .filter((v): v is string => v !== undefined)
    return [...new Set(versions)].sort(compareVersions)
  }

  async fetch(version: string, intoDir: string, reporter: Reporter): Promise<ResolvedRelease> {
    const gh = this.github()
    const release = await this.findRelease(version)
    if (!release) {
      const held = await this.listVersions()
      throw storeError(
        `version ${version} is not published in ${this.label} (no release of tag ${this.tagOf(version)}); it holds ${held.length > 0 ? held.join(', ') : 'no versions'}`
      )
    }
    const manifestAsset = release.assets.find(a => a.name === MANIFEST_FILE)
    if (!manifestAsset)
      throw storeError(
        `the release ${release.tag} in ${gh.repository} has no ${MANIFEST_FILE} asset: it was not published by sitecycle`
      )

    await fs.mkdir(intoDir, { recursive: true })
    // Hidden while it is being written: listReleaseVersions skips dot names.
    const aside = await fs.mkdtemp(path.join(intoDir, `.fetch-${version}-`))
    const finalDir = path.join(intoDir, version)
    try {
      await gh.downloadAsset(manifestAsset.id, path.join(aside, MANIFEST_FILE))
      const manifest: ReleaseManifest = await readManifest(path.join(aside, MANIFEST_FILE))
      for (const asset of release.assets) {
        if (asset.name === MANIFEST_FILE) continue
        const target = path.join(aside, unflattenName(asset.name, manifest))
        await fs.mkdir(path.dirname(target), { recursive: true })
        await gh.downloadAsset(asset.id, target)
        const { size } = await fs.stat(target)
        if (size !== asset.size)
          throw storeError(
            `asset ${asset.name} of ${release.tag} came down with ${size} bytes, GitHub lists ${asset.size}: the download was cut; try again`
          )
      }
      await fs.rm(finalDir, { recursive: true, force: true })
      await fs.rename(aside, finalDir)
    } catch (err) {
      await fs.rm(aside, { recursive: true, force: true })
      throw err
    }
    reporter.info(`fetched ${release.tag} from ${gh.repository} into ${finalDir}`)
    try {
      return await resolveRelease({ path: finalDir, version })
    } catch (err) {
      // A release that fails its checks is not left where a later step could take it.
      await fs.rm(finalDir, { recursive: true, force: true })
      throw err
    }
  }

  async prune(keep: number, reporter: Reporter): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1)
      throw new SitecycleError(`prune keeps at least 1 version, got ${keep}`, 'input')
    const gh = this.github()
    const releases = (await gh.listReleases())
      .map(r => ({ release: r, version: this.versionOf(r) }))
      .filter((x): x is { release: GithubRelease; version: string } => x.version !== undefined)
      .sort((a, b) => compareVersions(a.version, b.version))
    const removed: string[] = []
    for (const { release, version } of releases.slice(0, Math.max(0, releases.length - keep))) {
      // The tag stays: it is history, and other tools may point at it.
      await gh.deleteRelease(release.id)
      removed.push(version)
      reporter.info(`pruned the release ${release.tag} from ${gh.repository}`)
    }
    return removed
  }
}
