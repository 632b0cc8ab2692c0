/**
 * The actions-artifact store with @actions/artifact replaced at its boundary: a fake
 * ArtifactClientLike per workflow run, backed by one temp folder standing for GitHub's artifact
 * storage. A real built sample release goes up from the release job's run and comes down in
 * another run through `findBy`, checked by resolveRelease.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { ArtifactNotFoundError, type FindOptions } from '@actions/artifact'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import {
  createArtifactStore,
  findOptionsFromEnv,
  type ArtifactClientLike
} from '../../src/stores/actions-artifact-store.js'
import type { StoreDeps } from '../../src/stores/registry.js'
import type { LocalRelease, ReleaseStore } from '../../src/stores/store.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  buildSampleRelease,
  makeTempDir,
  removeTempDir,
  SAMPLE_PACKAGE
} from '../helpers/sample-app.js'

const TOKEN = 'ghs_artifacttoken'
const REPOSITORY = 'acme/weave'

interface StoredArtifact {
  id: number
  name: string
  runId: number
  dir: string
  digest: string
  retentionDays?: number
}

/** GitHub's artifact storage: artifacts per workflow run, files in a folder each. */
class FakeArtifactService {
  readonly artifacts: StoredArtifact[] = []
  readonly calls: { run: number; method: string; args: unknown[] }[] = []
  private nextId = 1
  constructor(private readonly root: string) {}

  private async digestOf(dir: string): Promise<string> {
    const hash = createHash('sha256')
    const entries = (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter(e =>
      e.isFile()
    )
    for (const e of entries.map(e => path.join(e.parentPath, e.name)).sort())
      hash
        .update(path.relative(dir, e))
        .update('\0')
        .update(await fs.readFile(e))
    return `sha256:${hash.digest('hex')}`
  }

  /** Which run a call reads: findBy's (checked like the public API would), else the caller's own. */
  private runFor(ownRun: number, options?: FindOptions): number {
    if (!options?.findBy) return ownRun
    const { token, workflowRunId, repositoryOwner, repositoryName } = options.findBy
    if (token !== TOKEN) throw new Error('Bad credentials')
    if (`${repositoryOwner}/${repositoryName}` !== REPOSITORY) throw new Error('Not Found')
    return workflowRunId
  }

  private find(run: number, name: string): StoredArtifact {
    const found = this.artifacts.find(a => a.runId === run && a.name === name)
    if (!found) throw new ArtifactNotFoundError(`Artifact not found for name: ${name}`)
    return found
  }

  /** The client a job of workflow run `run` gets. */
  clientForRun(run: number): ArtifactClientLike {
    const record = (method: string, args: unknown[]): void =>
      void this.calls.push({ run, method, args })
    return {
      uploadArtifact: async (name, files, rootDirectory, options) => {
        record('uploadArtifact', [name, files, rootDirectory, options])
        if (this.artifacts.some(a => a.runId === run && a.name === name))
          throw new Error(
            `Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run`
          )
        const id = this.nextId++
        const dir = path.join(this.root, String(id))
        for (const file of files) {
          const relative = path.relative(rootDirectory, file)
          if (relative.startsWith('..') || path.isAbsolute(relative))
            throw new Error(
              `The rootDirectory: ${rootDirectory} is not a parent directory of the file: ${file}`
            )
          await fs.mkdir(path.dirname(path.join(dir, relative)), { recursive: true })
          await fs.copyFile(file, path.join(dir, relative))
        }
        const digest = await this.digestOf(dir)
        this.artifacts.push({
          id,
          name,
          runId: run,
          dir,
          digest,
          retentionDays: options?.retentionDays
        })
        return { id, size: files.length, digest }
      },
      listArtifacts: async options => {
        record('listArtifacts', [options])
        const target = this.runFor(run, options)
        return {
          artifacts: this.artifacts
            .filter(a => a.runId === target)
            .map(a => ({ id: a.id, name: a.name, size: 1, digest: a.digest }))
        }
      },
      getArtifact: async (name, options) => {
        record('getArtifact', [name, options])
        const a = this.find(this.runFor(run, options), name)
        return { artifact: { id: a.id, name: a.name, size: 1, digest: a.digest } }
      },
      downloadArtifact: async (id, options) => {
        record('downloadArtifact', [id, options])
        const target = this.runFor(run, options)
        const a = this.artifacts.find(x => x.id === id && x.runId === target)
        if (!a) throw new ArtifactNotFoundError(`Artifact not found for id: ${id}`)
        const into = options?.path ?? process.cwd()
        await fs.cp(a.dir, into, { recursive: true })
        const digestMismatch =
          options?.expectedHash !== undefined &&
          options.expectedHash !== (await this.digestOf(a.dir))
        return { downloadPath: into, digestMismatch }
      },
      deleteArtifact: async (name, options) => {
        record('deleteArtifact', [name, options])
        const a = this.find(this.runFor(run, options), name)
        this.artifacts.splice(this.artifacts.indexOf(a), 1)
        await fs.rm(a.dir, { recursive: true, force: true })
        return { id: a.id }
      }
    }
  }

  /** Change one byte of a stored file. */
  async tamper(name: string, file: string): Promise<void> {
    const a = this.artifacts.find(x => x.name === name)!
    const target = path.join(a.dir, file)
    const bytes = await fs.readFile(target)
    bytes[bytes.length - 30] ^= 0x01
    await fs.writeFile(target, bytes)
  }

  /** Record the stored files' digest anew, as if they had been uploaded as they are now. */
  async redigest(name: string): Promise<void> {
    const a = this.artifacts.find(x => x.name === name)!
    a.digest = await this.digestOf(a.dir)
  }
}

let work: string
let built: LocalRelease
let service: FakeArtifactService
let storage: string
const lines: string[] = []
const reporter = new StreamReporter(line => lines.push(line))

beforeAll(async () => {
  work = await makeTempDir('sitecycle-artifact-store-')
  const release = await buildSampleRelease({
    version: '1.0.0',
    releasesDir: path.join(work, 'built')
  })
  await fs.mkdir(path.join(release.dir, 'wheelhouse'))
  await fs.writeFile(
    path.join(release.dir, 'wheelhouse', 'sample_dep-0.1.0-py3-none-any.whl'),
    'dependency wheel'
  )
  built = { dir: release.dir, name: SAMPLE_PACKAGE, version: '1.0.0' }
})

afterAll(() => removeTempDir(work))

beforeEach(async () => {
  storage = await fs.mkdtemp(path.join(work, 'storage-'))
  service = new FakeArtifactService(storage)
  lines.length = 0
})

const releaseJobEnv: NodeJS.ProcessEnv = { GITHUB_RUN_ID: '101', GITHUB_REPOSITORY: REPOSITORY }
const laterRunEnv: NodeJS.ProcessEnv = {
  GITHUB_RUN_ID: '202',
  GITHUB_REPOSITORY: REPOSITORY,
  GITHUB_TOKEN: TOKEN,
  SITECYCLE_ARTIFACT_RUN_ID: '101'
}

function store(
  run: number,
  env: NodeJS.ProcessEnv,
  config: { name?: string; retentionDays?: number } = {}
): ReleaseStore {
  const deps: StoreDeps = {
    executorFor: () => {
      throw new Error('no hosts here')
    },
    artifactClient: service.clientForRun(run),
    env
  }
  return createArtifactStore(
    {
      type: 'actions-artifact',
      name: config.name ?? 'release-{version}',
      retentionDays: config.retentionDays
    },
    deps
  )
}

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

describe('actions-artifact store', () => {
  it('round-trips a release from the release job to a later run through findBy', async () => {
    const published = await store(101, releaseJobEnv, { retentionDays: 7 }).publish(built, reporter)
    expect(published).toEqual({ location: 'artifact release-1.0.0', changed: true })
    const upload = service.calls.find(c => c.method === 'uploadArtifact')!
    const [name, files, root, options] = upload.args as [string, string[], string, unknown]
    expect(name).toBe('release-1.0.0')
    expect(root).toBe(built.dir)
    expect(options).toEqual({ retentionDays: 7 })
    expect(files.map(f => path.relative(built.dir, f)).sort()).toEqual(
      Object.keys(await tree(built.dir)).sort()
    )
    expect(files).toContain(path.join(built.dir, 'wheelhouse', 'sample_dep-0.1.0-py3-none-any.whl'))

    const into = path.join(work, 'deploy-job')
    const resolved = await store(202, laterRunEnv).fetch('1.0.0', into, reporter)
    expect(resolved).toMatchObject({ name: SAMPLE_PACKAGE, version: '1.0.0', kind: 'wheel' })
    expect(resolved.file.startsWith(path.join(into, '1.0.0') + path.sep)).toBe(true)
    expect(await tree(path.join(into, '1.0.0'))).toEqual(await tree(built.dir))
    expect(await fs.readdir(into)).toEqual(['1.0.0'])

    const findBy = {
      token: TOKEN,
      workflowRunId: 101,
      repositoryOwner: 'acme',
      repositoryName: 'weave'
    }
    const reads = service.calls.filter(c => c.run === 202)
    expect(reads.map(c => c.method)).toEqual(['getArtifact', 'downloadArtifact'])
    expect(reads[0].args).toEqual(['release-1.0.0', { findBy }])
    expect(reads[1].args).toEqual([
      expect.any(Number),
      expect.objectContaining({
        findBy,
        path: expect.stringContaining(path.join(into, '.fetch-1.0.0-')),
        expectedHash: expect.stringMatching(/^sha256:/)
      })
    ])
  })

  it('reads the current run through the runtime token when no token or other run is given', async () => {
    await store(101, releaseJobEnv).publish(built, reporter)
    const resolved = await store(101, releaseJobEnv).fetch(
      '1.0.0',
      path.join(work, 'same-run'),
      reporter
    )
    expect(resolved.version).toBe('1.0.0')
    expect(service.calls.filter(c => c.method === 'getArtifact').at(-1)!.args).toEqual([
      'release-1.0.0',
      undefined
    ])
  })

  it('an artifact missing from the named run is a clear error', async () => {
    await store(101, releaseJobEnv).publish(built, reporter)
    await expect(
      store(202, laterRunEnv).fetch('1.1.0', path.join(work, 'missing'), reporter)
    ).rejects.toThrow(
      'no artifact release-1.1.0 in workflow run 101 of acme/weave: version 1.1.0 was not published to this store there (set SITECYCLE_ARTIFACT_RUN_ID to the run that built it)'
    )
    await expect(
      store(202, { ...laterRunEnv, SITECYCLE_ARTIFACT_RUN_ID: '999' }).fetch(
        '1.0.0',
        path.join(work, 'missing'),
        reporter
      )
    ).rejects.toThrow(/no artifact release-1.0.0 in workflow run 999/)
  })

  it('findBy settings come from the environment, and half of them is an error', () => {
    expect(findOptionsFromEnv({})).toBeUndefined()
    expect(
      findOptionsFromEnv({ GITHUB_RUN_ID: '5', GITHUB_REPOSITORY: REPOSITORY })
    ).toBeUndefined()
    expect(
      findOptionsFromEnv({ GITHUB_RUN_ID: '5', GITHUB_REPOSITORY: REPOSITORY, GITHUB_TOKEN: TOKEN })
    ).toEqual({
      findBy: { token: TOKEN, workflowRunId: 5, repositoryOwner: 'acme', repositoryName: 'weave' }
    })
    expect(() =>
      findOptionsFromEnv({ SITECYCLE_ARTIFACT_RUN_ID: '101', GITHUB_REPOSITORY: REPOSITORY })
    ).toThrow(
      "SITECYCLE_ARTIFACT_RUN_ID=101 asks for the artifacts of another run, which needs GITHUB_TOKEN (with 'actions: read') and GITHUB_REPOSITORY in the environment"
    )
    expect(() =>
      findOptionsFromEnv({ ...laterRunEnv, SITECYCLE_ARTIFACT_RUN_ID: '12abc' })
    ).toThrow("workflow run id '12abc' (SITECYCLE_ARTIFACT_RUN_ID) is not a positive integer")
  })

  it('refuses an artifact whose download digest differs, and one whose files do not match the manifest', async () => {
    await store(101, releaseJobEnv).publish(built, reporter)
    const wheel = (await fs.readdir(built.dir)).find(n => n.endsWith('.whl'))!
    await service.tamper('release-1.0.0', wheel)
    const into = path.join(work, 'tampered')
    await expect(store(202, laterRunEnv).fetch('1.0.0', into, reporter)).rejects.toThrow(
      'the artifact release-1.0.0 came down with another digest than it was uploaded with: refusing it; try again'
    )
    expect(await fs.readdir(into)).toEqual([])

    // Corrupt when it was uploaded: the digest agrees, the manifest does not.
    await service.redigest('release-1.0.0')
    await expect(store(202, laterRunEnv).fetch('1.0.0', into, reporter)).rejects.toThrow(
      /does not match its manifest: sha256 is [0-9a-f]{64}, manifest says/
    )
    expect(await fs.readdir(into)).toEqual([])
  })

  it('publishing again is a no-op for the same files and refused for others', async () => {
    await store(101, releaseJobEnv).publish(built, reporter)
    expect(await store(101, releaseJobEnv).publish(built, reporter)).toEqual({
      location: 'artifact release-1.0.0',
      changed: false
    })
    expect(service.calls.filter(c => c.method === 'uploadArtifact')).toHaveLength(1)

    const other = path.join(work, 'other', '1.0.0')
    await fs.cp(built.dir, other, { recursive: true })
    await fs.writeFile(
      path.join(other, 'wheelhouse', 'sample_dep-0.1.0-py3-none-any.whl'),
      'another dependency wheel'
    )
    await expect(
      store(101, releaseJobEnv).publish({ ...built, dir: other }, reporter)
    ).rejects.toThrow(
      'the artifact release-1.0.0 already exists in this run with other content (wheelhouse/sample_dep-0.1.0-py3-none-any.whl differ); an artifact is never replaced: publish a new version'
    )
  })

  it('lists versions by its name pattern, prunes the oldest, and unpublishes only its own', async () => {
    const s = store(101, releaseJobEnv, { name: 'build-{version}-linux' })
    await s.publish(built, reporter)
    const client = service.clientForRun(101)
    for (const name of [
      'build-0.9.0-linux',
      'build-1.10.0-linux',
      'coverage',
      'build-latest-linux'
    ]) {
      const dir = path.join(work, 'extra', name)
      await fs.mkdir(dir, { recursive: true })
      await fs.writeFile(path.join(dir, 'x'), name)
      await client.uploadArtifact(name, [path.join(dir, 'x')], dir)
    }
    expect(await s.listVersions()).toEqual(['0.9.0', '1.0.0', '1.10.0'])
    expect(await s.prune(2, reporter)).toEqual(['0.9.0'])
    expect(service.artifacts.map(a => a.name).sort()).toEqual([
      'build-1.0.0-linux',
      'build-1.10.0-linux',
      'build-latest-linux',
      'coverage'
    ])

    await store(101, releaseJobEnv, { name: 'build-{version}-linux' }).unpublish('1.10.0', reporter)
    expect(lines).toContain(
      'warning: not removing the artifact build-1.10.0-linux: this run did not upload it'
    )
    await s.unpublish('1.0.0', reporter)
    expect(service.artifacts.map(a => a.name).sort()).toEqual([
      'build-1.10.0-linux',
      'build-latest-linux',
      'coverage'
    ])
  })

  it('refuses a name pattern without {version}', () => {
    expect(() => store(101, releaseJobEnv, { name: 'release' })).toThrow(
      "actions-artifact store name 'release' must contain {version}, or every version would share one artifact"
    )
  })
})
