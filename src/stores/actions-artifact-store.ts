/**
 * The `actions-artifact` store: a version is the workflow artifact `release-<version>` (the
 * store's `name` pattern), holding the release folder as it is (wheelhouse/ included). It
 * hands a build from the release job to the deploy job, or to a later run.
 *
 * Publishing uploads into the current run (@actions/artifact needs the runner's
 * ACTIONS_RUNTIME_TOKEN, which only JavaScript actions get); an artifact becomes visible only
 * once its upload is finalized, so a half-uploaded version is never seen. Reading (fetch, list,
 * prune) looks in another run through `findBy` when SITECYCLE_ARTIFACT_RUN_ID is set, or in
 * this run through the public API when GITHUB_TOKEN and GITHUB_RUN_ID are set; otherwise in
 * the current run through the runtime token.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { ArtifactClient, FindOptions } from '@actions/artifact'
import type { StoreConfig } from '../config/model.js'
import { digestFile } from '../releases/manifest.js'
import { resolveRelease, type ResolvedRelease } from '../releases/resolve-release.js'
import { compareVersions, isValidVersion } from '../releases/version.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import type { StoreDeps } from './registry.js'
import type { LocalRelease, PublishResult, ReleaseStore } from './store.js'

/** The part of @actions/artifact's ArtifactClient this store uses, with the same signatures. */
export type ArtifactClientLike = Pick<
  ArtifactClient,
  'uploadArtifact' | 'listArtifacts' | 'getArtifact' | 'downloadArtifact' | 'deleteArtifact'
>

/** Environment variable naming the workflow run to read artifacts from (a later run deploying an earlier build). */
export const ARTIFACT_RUN_ID_ENV = 'SITECYCLE_ARTIFACT_RUN_ID'
/** The `{version}` placeholder of the store's `name` pattern. */
export const VERSION_PLACEHOLDER = '{version}'

type ArtifactStoreConfig = Extract<StoreConfig, { type: 'actions-artifact' }>

function storeError(message: string): SitecycleError {
  return new SitecycleError(message, 'release')
}

/** @actions/artifact throws ArtifactNotFoundError (by name: the module is loaded only when used). */
function isNotFound(err: unknown): boolean {
  return err instanceof Error && err.name === 'ArtifactNotFoundError'
}

/**
 * The findBy options for reading artifacts outside the runtime token's reach, from the
 * environment: GITHUB_TOKEN, SITECYCLE_ARTIFACT_RUN_ID (else GITHUB_RUN_ID), GITHUB_REPOSITORY.
 * Undefined when they are not all there and no other run was asked for.
 */
export function findOptionsFromEnv(env: NodeJS.ProcessEnv): FindOptions | undefined {
  const otherRun = env[ARTIFACT_RUN_ID_ENV]
  const runId = otherRun || env.GITHUB_RUN_ID
  const token = env.GITHUB_TOKEN
  const repository = env.GITHUB_REPOSITORY
  if (otherRun && (!token || !repository)) {
    throw new SitecycleError(
      `${ARTIFACT_RUN_ID_ENV}=${otherRun} asks for the artifacts of another run, which needs GITHUB_TOKEN (with 'actions: read') and GITHUB_REPOSITORY in the environment`,
      'config'
    )
  }
  if (!runId || !token || !repository) return undefined
  if (!/^[1-9][0-9]*$/.test(runId)) {
    throw new SitecycleError(
      `workflow run id '${runId}' (${otherRun ? ARTIFACT_RUN_ID_ENV : 'GITHUB_RUN_ID'}) is not a positive integer`,
      'config'
    )
  }
  const [repositoryOwner, repositoryName, ...rest] = repository.split('/')
  if (!repositoryOwner || !repositoryName || rest.length > 0) {
    throw new SitecycleError(
      `GITHUB_REPOSITORY '${repository}' is not of the form owner/repo`,
      'config'
    )
  }
  return { findBy: { token, workflowRunId: Number(runId), repositoryOwner, repositoryName } }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter(e => e.isFile())
    .map(e => path.join(e.parentPath, e.name))
    .sort()
}

/** relative path → sha256 of every file under dir. */
async function treeDigest(dir: string): Promise<Map<string, string>> {
  const digest = new Map<string, string>()
  for (const file of await filesUnder(dir))
    digest.set(path.relative(dir, file), (await digestFile(file)).sha256)
  return digest
}

/** Build the actions-artifact store; @actions/artifact is loaded on first use unless deps.artifactClient is given. */
export function createArtifactStore(config: StoreConfig, deps: StoreDeps): ReleaseStore {
  if (config.type !== 'actions-artifact')
    throw new SitecycleError(`createArtifactStore got a ${config.type} store`, 'config')
  if (!config.name.includes(VERSION_PLACEHOLDER)) {
    throw new SitecycleError(
      `actions-artifact store name '${config.name}' must contain ${VERSION_PLACEHOLDER}, or every version would share one artifact`,
      'config'
    )
  }
  return new ArtifactStore(config, deps)
}

class ArtifactStore implements ReleaseStore {
  readonly kind = 'actions-artifact'
  readonly label: string
  private client: ArtifactClientLike | undefined
  private readonly publishedHere = new Set<string>()

  constructor(
    private readonly config: ArtifactStoreConfig,
    private readonly deps: StoreDeps
  ) {
    this.client = deps.artifactClient
    this.label = `actions-artifact ${config.name}`
  }

  private async artifacts(): Promise<ArtifactClientLike> {
    if (!this.client) {
      const { DefaultArtifactClient } = await import('@actions/artifact')
      this.client = new DefaultArtifactClient()
    }
    return this.client
  }

  private nameOf(version: string): string {
    return this.config.name.split(VERSION_PLACEHOLDER).join(version)
  }

  private versionOf(name: string): string | undefined {
    const [before, ...afterParts] = this.config.name.split(VERSION_PLACEHOLDER)
    const after = afterParts.join(VERSION_PLACEHOLDER)
    if (
      !name.startsWith(before) ||
      !name.endsWith(after) ||
      name.length <= before.length + after.length
    )
      return undefined
    const version = name.slice(before.length, name.length - after.length)
    return isValidVersion(version) && this.nameOf(version) === name ? version : undefined
  }

  async publish(release: LocalRelease, reporter: Reporter): Promise<PublishResult> {
    const client = await this.artifacts()
    const name = this.nameOf(release.version)
    let existingId: number | undefined
    try {
      existingId = (await client.getArtifact(name)).artifact.id
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    if (existingId !== undefined) return this.checkSameUploaded(existingId, name, release, reporter)

    const files = await filesUnder(release.dir)
    const result = await client.uploadArtifact(
      name,
      files,
      release.dir,
      this.config.retentionDays !== undefined ? { retentionDays: this.config.retentionDays } : {}
    )
    this.publishedHere.add(release.version)
    reporter.info(
      `uploaded ${files.length} files as the artifact ${name}${result.id !== undefined ? ` (id ${result.id})` : ''}`
    )
    return { location: `artifact ${name}`, changed: true }
  }

  /** The artifact exists in this run: identical files are a no-op, anything else is refused. */
  private async checkSameUploaded(
    id: number,
    name: string,
    release: LocalRelease,
    reporter: Reporter
  ): Promise<PublishResult> {
    const client = await this.artifacts()
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-artifact-'))
    try {
      await client.downloadArtifact(id, { path: tmp })
      const [remote, local] = await Promise.all([treeDigest(tmp), treeDigest(release.dir)])
      const differs = [...new Set([...remote.keys(), ...local.keys()])].filter(
        k => remote.get(k) !== local.get(k)
      )
      if (differs.length > 0) {
        throw storeError(
          `the artifact ${name} already exists in this run with other content (${differs.sort().join(', ')} differ); an artifact is never replaced: publish a new version`
        )
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
    reporter.info(`the artifact ${name} is already uploaded with the same content`)
    return { location: `artifact ${name}`, changed: false }
  }

  async unpublish(version: string, reporter: Reporter): Promise<void> {
    if (!this.publishedHere.has(version)) {
      reporter.warn(`not removing the artifact ${this.nameOf(version)}: this run did not upload it`)
      return
    }
    await (await this.artifacts()).deleteArtifact(this.nameOf(version))
    this.publishedHere.delete(version)
    reporter.info(`removed the artifact ${this.nameOf(version)}`)
  }

  async listVersions(): Promise<string[]> {
    const { artifacts } = await (
      await this.artifacts()
    ).listArtifacts({ latest: true, ...findOptionsFromEnv(this.deps.env) })
    const versions = artifacts
      .map(a => this.versionOf(a.name))
      .filter((v): v is string => v !== undefined)
    return [...new Set(versions)].sort(compareVersions)
  }

  async fetch(version: string, intoDir: string, reporter: Reporter): Promise<ResolvedRelease> {
    const client = await this.artifacts()
    const find = findOptionsFromEnv(this.deps.env)
    const name = this.nameOf(version)
    let artifact: { id: number; digest?: string }
    try {
      artifact = (await client.getArtifact(name, find)).artifact
    } catch (err) {
      if (!isNotFound(err)) throw err
      const where = find
        ? `workflow run ${find.findBy!.workflowRunId} of ${find.findBy!.repositoryOwner}/${find.findBy!.repositoryName}`
        : 'this workflow run'
      throw storeError(
        `no artifact ${name} in ${where}: version ${version} was not published to this store there (set ${ARTIFACT_RUN_ID_ENV} to the run that built it)`
      )
    }
    await fs.mkdir(intoDir, { recursive: true })
    const aside = await fs.mkdtemp(path.join(intoDir, `.fetch-${version}-`))
    const finalDir = path.join(intoDir, version)
    try {
      const result = await client.downloadArtifact(artifact.id, {
        path: aside,
        ...(artifact.digest ? { expectedHash: artifact.digest } : {}),
        ...find
      })
      if (result.digestMismatch)
        throw storeError(
          `the artifact ${name} came down with another digest than it was uploaded with: refusing it; try again`
        )
      await fs.rm(finalDir, { recursive: true, force: true })
      await fs.rename(aside, finalDir)
    } catch (err) {
      await fs.rm(aside, { recursive: true, force: true })
      throw err
    }
    reporter.info(`downloaded the artifact ${name} into ${finalDir}`)
    try {
      return await resolveRelease({ path: finalDir, version })
    } catch (err) {
      await fs.rm(finalDir, { recursive: true, force: true })
      throw err
    }
  }

  async prune(keep: number, reporter: Reporter): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1)
      throw new SitecycleError(`prune keeps at least 1 version, got ${keep}`, 'input')
    const versions = await this.listVersions()
    const removed = versions.slice(0, Math.max(0, versions.length - keep))
    const client = await this.artifacts()
    const find = findOptionsFromEnv(this.deps.env)
    for (const version of removed) {
      await client.deleteArtifact(this.nameOf(version), find)
      reporter.info(`pruned the artifact ${this.nameOf(version)}`)
    }
    return removed
  }
}
