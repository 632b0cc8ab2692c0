/**
 * GithubApi over Octokit. Every request goes through the injected `fetch` (tests pass one
 * that checks each request against GitHub's OpenAPI description). Answers 5xx and network
 * failures are retried a bounded number of times by @octokit/plugin-retry (the n-th retry
 * after n² × the base delay); every other failure becomes a GithubError naming what was being
 * done, the request and the status.
 */
import fs from 'node:fs/promises'
import { retry } from '@octokit/plugin-retry'
import { Octokit } from '@octokit/rest'
import { SitecycleError } from '../util/errors.js'
import type {
  FullGithubApi,
  GithubDeployment,
  GithubIssue,
  GithubRelease,
  NewDeployment,
  NewDeploymentStatus
} from './api.js'
import { errorCodesOf, GithubError, statusOf, toGithubError } from './github-error.js'

/** Settings of createGithubApi. */
export interface GithubClientOptions {
  /** A token with `contents: write` on the repository (GITHUB_TOKEN in a workflow). */
  token: string
  /** `owner/repo`. */
  repository: string
  /** The fetch every request goes through (default: the global fetch). */
  fetch?: typeof globalThis.fetch
  /** REST API root (GITHUB_API_URL on GitHub Enterprise Server); default https://api.github.com. */
  baseUrl?: string
  /** How many times a 5xx answer or a network failure is retried (default 3). */
  retries?: number
  /** Delay before the first retry in milliseconds; the n-th retry waits n² times it (default 1000; 0 in tests). */
  retryDelayMs?: number
}

const DEFAULT_RETRIES = 3
const DEFAULT_RETRY_DELAY_MS = 1000
const REPOSITORY_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/

/** The fields of GitHub's release object that sitecycle reads. */
interface ReleaseData {
  id: number
  tag_name: string
  html_url: string
  upload_url: string
  draft: boolean
  assets: { id: number; name: string; size: number; browser_download_url: string }[]
}

/**
 * The answers never retried: every 4xx (the request itself is wrong, or refused). The retry
 * plugin retries any other status of 400 and above, and network failures (which Octokit
 * reports as status 500 without a response).
 */
const DO_NOT_RETRY = Array.from({ length: 100 }, (_, i) => 400 + i)

/** Octokit with the retry plugin. */
const RetryingOctokit = Octokit.plugin(retry)

/** Check and split `owner/repo`; a bad value is an input error naming it. */
export function parseRepository(repository: string): { owner: string; repo: string } {
  if (!REPOSITORY_PATTERN.test(repository)) {
    throw new SitecycleError(
      `GitHub repository '${repository}' is not of the form owner/repo (e.g. acme/weave)`,
      'input'
    )
  }
  const [owner, repo] = repository.split('/')
  return { owner, repo }
}

/** Build the GithubApi for one repository. Throws SitecycleError on a bad repository or an empty token. */
export function createGithubApi(options: GithubClientOptions): FullGithubApi {
  const { owner, repo } = parseRepository(options.repository)
  if (!options.token) {
    throw new SitecycleError(
      `no GitHub token given for ${options.repository}: pass a token with 'contents: write' (GITHUB_TOKEN in a workflow)`,
      'input'
    )
  }
  const retries = Math.max(0, options.retries ?? DEFAULT_RETRIES)
  const retryDelayMs = Math.max(0, options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS)
  const octokit = new RetryingOctokit({
    auth: options.token,
    baseUrl: options.baseUrl,
    request: options.fetch ? { fetch: options.fetch } : undefined,
    log: {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined
    },
    retry: { retries, retryAfterBaseValue: retryDelayMs, doNotRetry: DO_NOT_RETRY }
  })
  return new OctokitGithubApi(octokit, owner, repo)
}

class OctokitGithubApi implements FullGithubApi {
  readonly repository: string
  /** upload_url of the releases seen, so an upload needs no extra request. */
  private readonly uploadUrls = new Map<number, string>()

  constructor(
    private readonly octokit: Octokit,
    private readonly owner: string,
    private readonly repo: string
  ) {
    this.repository = `${owner}/${repo}`
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw toGithubError(`${what} in ${this.repository}`, err)
    }
  }

  private toRelease(data: ReleaseData): GithubRelease {
    this.uploadUrls.set(data.id, data.upload_url)
    return {
      id: data.id,
      tag: data.tag_name,
      url: data.html_url,
      draft: data.draft,
      assets: data.assets.map(a => ({
        id: a.id,
        name: a.name,
        size: a.size,
        url: a.browser_download_url
      }))
    }
  }

  async getTagCommit(tag: string): Promise<string | null> {
    return this.call(`read the tag ${tag}`, async () => {
      let object: { type: string; sha: string }
      try {
        const { data } = await this.octokit.rest.git.getRef({
          owner: this.owner,
          repo: this.repo,
          ref: `tags/${tag}`
        })
        object = data.object
      } catch (err) {
        if (statusOf(err) === 404) return null
        throw err
      }
      // An annotated tag points at a tag object; follow until a commit (tags of tags exist).
      for (let depth = 0; object.type === 'tag'; depth++) {
        if (depth >= 10)
          throw new SitecycleError(
            `tag ${tag} in ${this.repository} is a chain of more than 10 tag objects`,
            'release'
          )
        const { data } = await this.octokit.rest.git.getTag({
          owner: this.owner,
          repo: this.repo,
          tag_sha: object.sha
        })
        object = data.object
      }
      if (object.type !== 'commit') {
        throw new SitecycleError(
          `tag ${tag} in ${this.repository} points at a ${object.type} (${object.sha}), not a commit`,
          'release'
        )
      }
      return object.sha
    })
  }

  async createTag(tag: string, sha: string): Promise<void> {
    try {
      await this.octokit.rest.git.createRef({
        owner: this.owner,
        repo: this.repo,
        ref: `refs/tags/${tag}`,
        sha
      })
    } catch (err) {
      if (statusOf(err) !== 422)
        throw toGithubError(`create the tag ${tag} at ${sha} in ${this.repository}`, err)
      // 422 "Reference already exists": fine when it is this commit, refused otherwise.
      const existing = await this.getTagCommit(tag)
      if (existing === null)
        throw toGithubError(`create the tag ${tag} at ${sha} in ${this.repository}`, err)
      if (!sameCommit(existing, sha)) {
        throw new GithubError(
          `tag ${tag} already exists in ${this.repository} on commit ${existing}, not on ${sha}: choose a new version, or delete the tag if it was made by mistake`,
          422,
          `POST refs/tags/${tag}`,
          errorCodesOf(err)
        )
      }
    }
  }

  async deleteTag(tag: string): Promise<void> {
    await this.call(`delete the tag ${tag}`, async () => {
      try {
        await this.octokit.rest.git.deleteRef({
          owner: this.owner,
          repo: this.repo,
          ref: `tags/${tag}`
        })
      } catch (err) {
        // Already gone: GitHub answers 422 "Reference does not exist" (or 404).
        const status = statusOf(err)
        if (status === 422 || status === 404) {
          if ((await this.getTagCommit(tag)) === null) return
        }
        throw err
      }
    })
  }

  async generateNotes(
    tag: string,
    previousTag?: string,
    target?: string
  ): Promise<{ name: string; body: string }> {
    return this.call(`generate the release notes of ${tag}`, async () => {
      const { data } = await this.octokit.rest.repos.generateReleaseNotes({
        owner: this.owner,
        repo: this.repo,
        tag_name: tag,
        ...(previousTag ? { previous_tag_name: previousTag } : {}),
        ...(target ? { target_commitish: target } : {})
      })
      return { name: data.name, body: data.body }
    })
  }

  async createRelease(opts: {
    tag: string
    name: string
    body: string
    draft: boolean
    prerelease: boolean
    /** The commit the tag is made on when the release is published and the tag does not exist yet. */
    target?: string
  }): Promise<GithubRelease> {
    return this.call(`create the ${opts.draft ? 'draft ' : ''}release ${opts.tag}`, async () => {
      const { data } = await this.octokit.rest.repos.createRelease({
        owner: this.owner,
        repo: this.repo,
        tag_name: opts.tag,
        name: opts.name,
        body: opts.body,
        draft: opts.draft,
        prerelease: opts.prerelease,
        ...(opts.target ? { target_commitish: opts.target } : {})
      })
      return this.toRelease(data)
    })
  }

  /** The release with this id (drafts included). */
  async getRelease(releaseId: number): Promise<GithubRelease> {
    return this.call(`read the release ${releaseId}`, async () => {
      const { data } = await this.octokit.rest.repos.getRelease({
        owner: this.owner,
        repo: this.repo,
        release_id: releaseId
      })
      return this.toRelease(data)
    })
  }

  async uploadAsset(
    releaseId: number,
    file: string,
    name: string
  ): Promise<{ id: number; url: string }> {
    const what = `upload ${name} to the release ${releaseId}`
    const content = await fs.readFile(file)
    let uploadUrl = this.uploadUrls.get(releaseId)
    if (!uploadUrl) {
      await this.getRelease(releaseId)
      uploadUrl = this.uploadUrls.get(releaseId) as string
    }
    try {
      const { data } = await this.octokit.request({
        method: 'POST',
        // The hypermedia upload URL (uploads.github.com, or the GHES uploads path), a URI template.
        url: uploadUrl,
        name,
        data: content,
        headers: { 'content-type': 'application/octet-stream' }
      })
      const asset = data as { id: number; browser_download_url: string }
      return { id: asset.id, url: asset.browser_download_url }
    } catch (err) {
      if (statusOf(err) !== 422) throw toGithubError(`${what} in ${this.repository}`, err)
      // 422: an asset of that name exists, e.g. a retried upload that had arrived. The same
      // name and size is taken as this upload; anything else is refused.
      const release = await this.getRelease(releaseId)
      const existing = release.assets.find(a => a.name === name)
      if (!existing) throw toGithubError(`${what} in ${this.repository}`, err)
      if (existing.size !== content.length) {
        throw new GithubError(
          `GitHub API: could not ${what} in ${this.repository}: an asset ${name} of ${existing.size} bytes is already there and ${file} has ${content.length}; delete the asset or the draft release and publish again`,
          422,
          `POST ${uploadUrl}`,
          ['already_exists']
        )
      }
      return { id: existing.id, url: existing.url }
    }
  }

  async publishRelease(releaseId: number): Promise<GithubRelease> {
    return this.call(`publish the release ${releaseId}`, async () => {
      const { data } = await this.octokit.rest.repos.updateRelease({
        owner: this.owner,
        repo: this.repo,
        release_id: releaseId,
        draft: false
      })
      return this.toRelease(data)
    })
  }

  async deleteRelease(releaseId: number): Promise<void> {
    await this.call(`delete the release ${releaseId}`, async () => {
      try {
        await this.octokit.rest.repos.deleteRelease({
          owner: this.owner,
          repo: this.repo,
          release_id: releaseId
        })
      } catch (err) {
        if (statusOf(err) !== 404) throw err
      }
      this.uploadUrls.delete(releaseId)
    })
  }

  async getReleaseByTag(tag: string): Promise<GithubRelease | null> {
    return this.call(`read the release of ${tag}`, async () => {
      try {
        const { data } = await this.octokit.rest.repos.getReleaseByTag({
          owner: this.owner,
          repo: this.repo,
          tag
        })
        return this.toRelease(data)
      } catch (err) {
        if (statusOf(err) === 404) return null
        throw err
      }
    })
  }

  async listReleases(): Promise<GithubRelease[]> {
    return this.call('list the releases', async () => {
      const all = await this.octokit.paginate(this.octokit.rest.repos.listReleases, {
        owner: this.owner,
        repo: this.repo,
        per_page: 100
      })
      return all.map(r => this.toRelease(r))
    })
  }

  async downloadAsset(assetId: number, file: string): Promise<void> {
    await this.call(`download the asset ${assetId}`, async () => {
      const { data } = await this.octokit.rest.repos.getReleaseAsset({
        owner: this.owner,
        repo: this.repo,
        asset_id: assetId,
        headers: { accept: 'application/octet-stream' }
      })
      const bytes = data as unknown
      if (!(bytes instanceof ArrayBuffer)) {
        throw new SitecycleError(
          `GitHub API: asset ${assetId} of ${this.repository} came back as ${typeof bytes}, not as file content`,
          'github'
        )
      }
      await fs.writeFile(file, Buffer.from(bytes))
    })
  }

  // ---- deployments ------------------------------------------------------------------------

  async createDeployment(deployment: NewDeployment): Promise<GithubDeployment> {
    return this.call(`record a deployment to ${deployment.environment}`, async () => {
      const { status, data } = await this.octokit.rest.repos.createDeployment({
        owner: this.owner,
        repo: this.repo,
        ref: deployment.ref,
        task: deployment.task,
        environment: deployment.environment,
        description: cut(deployment.description, 140),
        payload: deployment.payload,
        // Never merge the default branch into the ref, and let no commit status block the record:
        // the deploy has its own checks.
        auto_merge: false,
        required_contexts: [],
        transient_environment: deployment.transientEnvironment,
        production_environment: deployment.productionEnvironment
      })
      // 202 is GitHub's "merged the default branch first" answer, which auto_merge false rules out.
      if (status !== 201 || !('id' in data)) {
        throw new SitecycleError(
          `GitHub API: could not record a deployment to ${deployment.environment} in ${this.repository}: GitHub answered ${status} ${'message' in data ? String(data.message) : ''}`.trim(),
          'github'
        )
      }
      return { id: data.id, environment: data.environment, ref: data.ref }
    })
  }

  async createDeploymentStatus(deploymentId: number, status: NewDeploymentStatus): Promise<void> {
    await this.call(`set the deployment ${deploymentId} to ${status.state}`, async () => {
      await this.octokit.rest.repos.createDeploymentStatus({
        owner: this.owner,
        repo: this.repo,
        deployment_id: deploymentId,
        state: status.state,
        ...(status.description !== undefined && { description: cut(status.description, 140) }),
        ...(status.environmentUrl !== undefined && { environment_url: status.environmentUrl }),
        ...(status.logUrl !== undefined && { log_url: status.logUrl }),
        ...(status.autoInactive !== undefined && { auto_inactive: status.autoInactive })
      })
    })
  }

  // ---- issues -----------------------------------------------------------------------------

  async listOpenIssues(labels: string[]): Promise<GithubIssue[]> {
    return this.call(`list the open issues labelled ${labels.join(', ')}`, async () => {
      const all = await this.octokit.paginate(this.octokit.rest.issues.listForRepo, {
        owner: this.owner,
        repo: this.repo,
        state: 'open',
        labels: labels.join(','),
        sort: 'created',
        direction: 'asc',
        per_page: 100
      })
      // The issues API lists pull requests too.
      return all.filter(i => !i.pull_request).map(toIssue)
    })
  }

  async createIssue(issue: {
    title: string
    body: string
    labels: string[]
  }): Promise<GithubIssue> {
    return this.call(`open the issue '${issue.title}'`, async () => {
      const { data } = await this.octokit.rest.issues.create({
        owner: this.owner,
        repo: this.repo,
        title: issue.title,
        body: cut(issue.body, ISSUE_BODY_MAX),
        labels: issue.labels
      })
      return toIssue(data)
    })
  }

  async commentOnIssue(issueNumber: number, body: string): Promise<string> {
    return this.call(`comment on the issue #${issueNumber}`, async () => {
      const { data } = await this.octokit.rest.issues.createComment({
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        body: cut(body, ISSUE_BODY_MAX)
      })
      return data.html_url
    })
  }

  async closeIssue(issueNumber: number): Promise<void> {
    await this.call(`close the issue #${issueNumber}`, async () => {
      await this.octokit.rest.issues.update({
        owner: this.owner,
        repo: this.repo,
        issue_number: issueNumber,
        state: 'closed',
        state_reason: 'completed'
      })
    })
  }
}

/** Whether two commit ids name the same commit (one may be abbreviated). */
export function sameCommit(a: string, b: string): boolean {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  return x.length >= 7 && y.length >= 7 && (x.startsWith(y) || y.startsWith(x))
}

/** GitHub refuses issue and comment bodies longer than this. */
const ISSUE_BODY_MAX = 65536

/** `text` cut to `max` characters, ending with an ellipsis when cut. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

/** The fields of GitHub's issue object that the alerts read. */
interface IssueData {
  number: number
  title: string
  body?: string | null
  html_url: string
  state: string
  labels: (string | { name?: string })[]
}

function toIssue(data: IssueData): GithubIssue {
  return {
    number: data.number,
    title: data.title,
    body: data.body ?? '',
    url: data.html_url,
    state: data.state === 'closed' ? 'closed' : 'open',
    labels: data.labels
      .map(l => (typeof l === 'string' ? l : (l.name ?? '')))
      .filter(name => name !== '')
  }
}
