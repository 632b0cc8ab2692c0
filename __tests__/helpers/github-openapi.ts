/**
 * A fake GitHub behind a `fetch`: every request is checked against GitHub's OpenAPI description
 * (openapi-check.ts) and recorded by operationId; it is then answered by a small in-memory
 * GitHub (commits, tag refs, annotated tags, releases, assets) whose answers are themselves
 * checked against the operation's response schema. A request that does not match the
 * description is answered 400 with the problems and recorded in `violations`: tests call
 * `assertClean()` so such a request fails the test even when the code swallowed the error.
 *
 * Hooks inject failures: `failNext(operationId, ...)` answers 5xx (or a network failure) N
 * times, optionally after the change was applied (a lost answer); duplicate assets and tags
 * on other commits come from the state itself (`addTag`, uploading twice).
 */
import { createHash } from 'node:crypto'
import {
  checkRequest,
  checkResponse,
  loadGithubDescription,
  type OpenApiDocument,
  type Operation
} from './openapi-check.js'

export const API_ORIGIN = 'https://api.github.com'
export const UPLOADS_ORIGIN = 'https://uploads.github.com'
/** Where asset downloads are redirected to (the fake's stand-in for GitHub's storage). */
export const DOWNLOAD_ORIGIN = 'https://release-assets.githubusercontent.com'

/** One request the fake received. */
export interface RecordedCall {
  /** operationId from the description (`repos/create-release`), or `download` for the storage host, or `unmatched`. */
  operationId: string
  method: string
  url: string
  status: number | 'network-error'
  /** True when the answer came from failNext. */
  injected?: boolean
  /** Parsed body (JSON) or its size (binary), for assertions. */
  body?: unknown
  query?: Record<string, unknown>
}

export interface FakeAsset {
  id: number
  name: string
  label: string | null
  contentType: string
  bytes: Buffer
  createdAt: string
  releaseId: number
}

export interface FakeRelease {
  id: number
  tagName: string
  targetCommitish: string
  name: string | null
  body: string | null
  draft: boolean
  prerelease: boolean
  createdAt: string
  publishedAt: string | null
  assets: FakeAsset[]
}

/** A deployment the fake recorded, with its statuses in order. */
export interface FakeDeployment {
  id: number
  ref: string
  sha: string
  task: string
  environment: string
  description: string | null
  payload: Record<string, unknown>
  transientEnvironment: boolean
  productionEnvironment: boolean
  createdAt: string
  statuses: {
    id: number
    state: string
    description: string
    environmentUrl?: string
    logUrl?: string
    autoInactive: boolean
    createdAt: string
  }[]
}

/** An issue of the fake, with its comments in order. */
export interface FakeIssue {
  id: number
  number: number
  title: string
  body: string | null
  labels: string[]
  state: 'open' | 'closed'
  stateReason: string | null
  createdAt: string
  closedAt: string | null
  comments: { id: number; body: string; createdAt: string }[]
  /** True for a pull request (the issues API lists them too). */
  pullRequest?: boolean
}

interface Failure {
  /** Calls let through before the failures start. */
  skip: number
  times: number
  status?: number
  network?: boolean
  /** Apply the request first, then answer the failure (the answer was lost). */
  afterApplying?: boolean
}

interface Answer {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** Raw bytes instead of JSON. */
  raw?: Buffer
}

export interface FakeGithubOptions {
  owner?: string
  repo?: string
  /** The token requests must carry (`token X` or `Bearer X`). */
  token?: string
}

/** Statuses any operation may answer, described or not (bad token, no permission, not found). */
const GENERIC_STATUSES = new Set([401, 403, 404])

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex')

/** Asset names as GitHub stores them: characters outside a safe set become dots. */
function githubAssetName(name: string): string {
  return name.replace(/[^A-Za-z0-9._+-]/g, '.')
}

export class FakeGithub {
  readonly owner: string
  readonly repo: string
  readonly token: string
  readonly doc: OpenApiDocument = loadGithubDescription()
  /** Every request, in order. */
  readonly calls: RecordedCall[] = []
  /** Requests or responses that did not match the description. */
  readonly violations: string[] = []
  /** The default branch's head commit (target of releases without target_commitish). */
  readonly headCommit = sha1('head')
  readonly commits = new Set<string>([this.headCommit])
  /** `refs/tags/<name>` → object it points at. */
  readonly refs = new Map<string, { sha: string; type: 'commit' | 'tag' }>()
  /** Annotated tag objects by sha. */
  readonly tagObjects = new Map<
    string,
    { tag: string; object: { sha: string; type: 'commit' | 'tag' } }
  >()
  readonly releases: FakeRelease[] = []
  /** Deployments, oldest first. */
  readonly deployments: FakeDeployment[] = []
  /** Issues and pull requests, by creation order. */
  readonly issues: FakeIssue[] = []
  /** Labels the repository has (creating an issue with a new label creates it, as GitHub does). */
  readonly labels = new Set<string>()
  /** The repository's environments and their protection rules (`repos/get-environment`). */
  readonly environments = new Map<string, { waitTimer?: number; reviewers?: string[] }>()
  private nextId = 1000
  private readonly failures = new Map<string, Failure[]>()
  private readonly downloads = new Map<string, FakeAsset>()

  constructor(options: FakeGithubOptions = {}) {
    this.owner = options.owner ?? 'acme'
    this.repo = options.repo ?? 'weave'
    this.token = options.token ?? 'ghs_faketoken123'
  }

  /** `owner/repo`. */
  get repository(): string {
    return `${this.owner}/${this.repo}`
  }

  /** The fetch to hand to the client. */
  readonly fetch: typeof globalThis.fetch = async (input, init) => this.handle(input, init)

  // ---- state and hooks ----------------------------------------------------------------------

  /** A commit the repository knows (a tag or release can point at it). */
  addCommit(name: string): string {
    const sha = sha1(`commit ${name}`)
    this.commits.add(sha)
    return sha
  }

  /** A tag on a commit: lightweight, or annotated (a tag object between ref and commit). */
  addTag(name: string, commit: string, options: { annotated?: boolean } = {}): void {
    this.commits.add(commit)
    if (options.annotated) {
      const tagSha = sha1(`tag ${name} ${commit}`)
      this.tagObjects.set(tagSha, { tag: name, object: { sha: commit, type: 'commit' } })
      this.refs.set(`refs/tags/${name}`, { sha: tagSha, type: 'tag' })
    } else {
      this.refs.set(`refs/tags/${name}`, { sha: commit, type: 'commit' })
    }
  }

  /** The commit a tag points at (peeled), or undefined. */
  tagCommit(name: string): string | undefined {
    let object = this.refs.get(`refs/tags/${name}`)
    while (object?.type === 'tag') object = this.tagObjects.get(object.sha)?.object
    return object?.sha
  }

  /**
   * After `skip` requests (default 0), the next `times` requests of an operation fail: with `status` (5xx), or as a network
   * failure (fetch rejects). With `afterApplying`, the change is made first and only the
   * answer is lost, as when a connection drops after GitHub committed an upload.
   */
  failNext(
    operationId: string,
    failure: {
      skip?: number
      times?: number
      status?: number
      network?: boolean
      afterApplying?: boolean
    }
  ): void {
    const list = this.failures.get(operationId) ?? []
    list.push({
      skip: failure.skip ?? 0,
      times: failure.times ?? 1,
      status: failure.status ?? 502,
      network: failure.network,
      afterApplying: failure.afterApplying
    })
    this.failures.set(operationId, list)
  }

  /** The release of a tag (drafts included), for assertions. */
  releaseOfTag(tag: string): FakeRelease | undefined {
    return this.releases.find(r => r.tagName === tag)
  }

  /** The operationIds of the calls, in order (optionally without the asset downloads). */
  operations(): string[] {
    return this.calls.map(c => c.operationId)
  }

  /** Fails the test when any request or fake response broke the description. */
  assertClean(): void {
    if (this.violations.length > 0)
      throw new Error(`GitHub OpenAPI violations:\n${this.violations.join('\n')}`)
  }

  // ---- transport ----------------------------------------------------------------------------

  private async handle(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const request = input instanceof Request ? input : undefined
    const url = new URL(request ? request.url : String(input))
    const method = (init.method ?? request?.method ?? 'GET').toUpperCase()
    const headers: Record<string, string> = {}
    new Headers(init.headers ?? request?.headers).forEach((v, k) => (headers[k.toLowerCase()] = v))
    const body = await readBody(init.body ?? (request ? await request.arrayBuffer() : undefined))

    if (url.origin === DOWNLOAD_ORIGIN) return this.serveDownload(url, method)

    const check = checkRequest(this.doc, { method, url, headers, body })
    const operationId = check.operation?.operationId ?? 'unmatched'
    const record: RecordedCall = {
      operationId,
      method,
      url: url.toString(),
      status: 400,
      query: check.query,
      body: check.body instanceof Buffer ? { bytes: check.body.length } : check.body
    }
    this.calls.push(record)
    if (!headers['user-agent'])
      check.problems.push(`${operationId}: no User-Agent header (GitHub refuses such requests)`)
    if (check.problems.length > 0) {
      this.violations.push(...check.problems.map(p => `${method} ${url.pathname}: ${p}`))
      return json(400, {
        message: `OpenAPI check failed: ${check.problems.join('; ')}`,
        documentation_url: 'https://docs.github.com/rest'
      })
    }
    const operation = check.operation as Operation

    const auth = headers.authorization ?? ''
    if (auth !== `token ${this.token}` && auth !== `Bearer ${this.token}`) {
      record.status = 401
      return json(401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401'
      })
    }

    const failure = this.takeFailure(operationId)
    if (failure && !failure.afterApplying) return this.fail(record, failure)

    let answer: Answer
    try {
      answer = this.apply(operation, check.pathParams, check.query, check.body, headers)
    } catch (err) {
      this.violations.push(`${operationId}: the fake failed: ${(err as Error).stack}`)
      throw err
    }
    if (failure) return this.fail(record, failure)

    record.status = answer.status
    // GitHub may answer 401, 403 and 404 to any operation; the description lists them only sometimes.
    const described = String(answer.status) in operation.responses
    if (
      !answer.raw &&
      answer.status !== 302 &&
      (described || !GENERIC_STATUSES.has(answer.status))
    ) {
      const problems = checkResponse(this.doc, operation, answer.status, answer.body)
      if (problems.length > 0) {
        this.violations.push(...problems.map(p => `fake response: ${p}`))
        throw new Error(
          `the fake's own response does not match the description: ${problems.join('; ')}`
        )
      }
    }
    if (answer.status === 302) {
      const location = answer.headers?.location as string
      if (init.redirect === 'manual')
        return new Response(null, { status: 302, headers: answer.headers })
      // fetch follows redirects: the caller sees the storage host's answer.
      return this.handle(location, { method: 'GET', headers: { accept: headers.accept ?? '*/*' } })
    }
    if (answer.raw)
      return new Response(new Uint8Array(answer.raw), {
        status: answer.status,
        headers: answer.headers
      })
    return json(answer.status, answer.body, answer.headers)
  }

  private takeFailure(operationId: string): Failure | undefined {
    const list = this.failures.get(operationId)
    const first = list?.[0]
    if (!first) return undefined
    if (first.skip > 0) {
      first.skip--
      return undefined
    }
    first.times--
    if (first.times <= 0) list.shift()
    return first
  }

  private fail(record: RecordedCall, failure: Failure): Response {
    record.injected = true
    if (failure.network) {
      record.status = 'network-error'
      throw new TypeError('fetch failed', {
        cause: new Error('connect ECONNRESET 140.82.112.6:443')
      })
    }
    record.status = failure.status as number
    return json(failure.status as number, { message: 'Server Error' })
  }

  private serveDownload(url: URL, method: string): Response {
    const asset = this.downloads.get(url.pathname)
    this.calls.push({
      operationId: 'download',
      method,
      url: url.toString(),
      status: asset ? 200 : 404
    })
    if (!asset || method !== 'GET')
      return new Response('Not Found', { status: 404, headers: { 'content-type': 'text/plain' } })
    return new Response(new Uint8Array(asset.bytes), {
      status: 200,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(asset.bytes.length)
      }
    })
  }

  // ---- the in-memory GitHub -----------------------------------------------------------------

  private apply(
    op: Operation,
    params: Record<string, unknown>,
    query: Record<string, unknown>,
    body: unknown,
    headers: Record<string, string>
  ): Answer {
    if (params.owner !== this.owner || params.repo !== this.repo) return notFound()
    const input = (body ?? {}) as Record<string, unknown>
    switch (op.operationId) {
      case 'git/get-ref': {
        const ref = `refs/${String(params.ref)}`
        const object = this.refs.get(ref)
        return object ? { status: 200, body: this.refJson(ref, object) } : notFound()
      }
      case 'git/get-tag': {
        const tag = this.tagObjects.get(String(params.tag_sha))
        if (!tag) return notFound()
        return {
          status: 200,
          body: {
            node_id: nodeId('Tag', String(params.tag_sha)),
            tag: tag.tag,
            sha: params.tag_sha,
            url: `${this.apiBase()}/git/tags/${String(params.tag_sha)}`,
            message: `Release ${tag.tag}\n`,
            tagger: { date: now(), email: 'release@example.org', name: 'Release Bot' },
            object: { ...tag.object, url: `${this.apiBase()}/git/commits/${tag.object.sha}` },
            verification: {
              verified: false,
              reason: 'unsigned',
              signature: null,
              payload: null,
              verified_at: null
            }
          }
        }
      }
      case 'git/create-ref': {
        const ref = String(input.ref)
        if (!/^refs\/[^/]+\/.+/.test(ref))
          return validation('Reference name is invalid', 'Reference', 'ref', 'invalid')
        if (this.refs.has(ref))
          return validation('Reference already exists', 'Reference', 'ref', 'already_exists')
        const sha = String(input.sha)
        if (!this.commits.has(sha))
          return validation('Object does not exist', 'Reference', 'sha', 'invalid')
        const object = { sha, type: 'commit' as const }
        this.refs.set(ref, object)
        return {
          status: 201,
          body: this.refJson(ref, object),
          headers: { location: `${this.apiBase()}/git/${ref}` }
        }
      }
      case 'git/delete-ref': {
        const ref = `refs/${String(params.ref)}`
        if (!this.refs.delete(ref))
          return {
            status: 422,
            body: {
              message: 'Reference does not exist',
              documentation_url: 'https://docs.github.com/rest/git/refs#delete-a-reference'
            }
          }
        return { status: 204 }
      }
      case 'repos/generate-release-notes': {
        const tag = String(input.tag_name)
        if (!this.refs.has(`refs/tags/${tag}`) && input.target_commitish === undefined)
          return notFound()
        const previous =
          typeof input.previous_tag_name === 'string' ? input.previous_tag_name : undefined
        if (previous !== undefined && !this.refs.has(`refs/tags/${previous}`)) return notFound()
        const compare = previous ? `compare/${previous}...${tag}` : `commits/${tag}`
        return {
          status: 200,
          body: {
            name: tag,
            body: `## What's Changed\n* Changes up to ${tag}\n\n**Full Changelog**: https://github.com/${this.repository}/${compare}`
          }
        }
      }
      case 'repos/create-release': {
        const tag = String(input.tag_name)
        if (this.releases.some(r => r.tagName === tag && !r.draft))
          return validation('Validation Failed', 'Release', 'tag_name', 'already_exists')
        const target = typeof input.target_commitish === 'string' ? input.target_commitish : 'main'
        const release: FakeRelease = {
          id: this.nextId++,
          tagName: tag,
          targetCommitish: target,
          name: typeof input.name === 'string' ? input.name : null,
          body: typeof input.body === 'string' ? input.body : null,
          draft: input.draft === true,
          prerelease: input.prerelease === true,
          createdAt: now(),
          publishedAt: null,
          assets: []
        }
        if (!release.draft) this.publish(release)
        this.releases.push(release)
        return { status: 201, body: this.releaseJson(release) }
      }
      case 'repos/get-release': {
        const release = this.releases.find(r => r.id === params.release_id)
        return release ? { status: 200, body: this.releaseJson(release) } : notFound()
      }
      case 'repos/update-release': {
        const release = this.releases.find(r => r.id === params.release_id)
        if (!release) return notFound()
        if (typeof input.name === 'string') release.name = input.name
        if (typeof input.body === 'string') release.body = input.body
        if (typeof input.prerelease === 'boolean') release.prerelease = input.prerelease
        if (input.draft === false && release.draft) this.publish(release)
        return { status: 200, body: this.releaseJson(release) }
      }
      case 'repos/delete-release': {
        const index = this.releases.findIndex(r => r.id === params.release_id)
        if (index < 0) return notFound()
        this.releases.splice(index, 1)
        return { status: 204 }
      }
      case 'repos/get-release-by-tag': {
        // GitHub finds only published releases by tag.
        const release = this.releases.find(r => r.tagName === params.tag && !r.draft)
        return release ? { status: 200, body: this.releaseJson(release) } : notFound()
      }
      case 'repos/list-releases': {
        const perPage = Math.min(100, (query.per_page as number | undefined) ?? 30)
        const page = (query.page as number | undefined) ?? 1
        const newestFirst = [...this.releases].sort((a, b) => b.id - a.id)
        const slice = newestFirst.slice((page - 1) * perPage, page * perPage)
        const headers: Record<string, string> = {}
        if (page * perPage < newestFirst.length) {
          headers.link = `<${this.apiBase()}/releases?per_page=${perPage}&page=${page + 1}>; rel="next"`
        }
        return { status: 200, body: slice.map(r => this.releaseJson(r)), headers }
      }
      case 'repos/upload-release-asset': {
        const release = this.releases.find(r => r.id === params.release_id)
        if (!release) return notFound()
        const name = githubAssetName(String(query.name))
        if (release.assets.some(a => a.name === name)) {
          return {
            status: 422,
            body: {
              message: 'Validation Failed',
              documentation_url:
                'https://docs.github.com/rest/releases/assets#upload-a-release-asset',
              errors: [{ resource: 'ReleaseAsset', code: 'already_exists', field: 'name' }]
            }
          }
        }
        const asset: FakeAsset = {
          id: this.nextId++,
          name,
          label: typeof query.label === 'string' ? query.label : null,
          contentType: headers['content-type'],
          bytes: Buffer.from(body as Buffer),
          createdAt: now(),
          releaseId: release.id
        }
        release.assets.push(asset)
        return { status: 201, body: this.assetJson(asset) }
      }
      case 'repos/get-release-asset': {
        const asset = this.releases.flatMap(r => r.assets).find(a => a.id === params.asset_id)
        if (!asset) return notFound()
        if ((headers.accept ?? '').includes('application/octet-stream')) {
          const key = `/${this.owner}/${this.repo}/${asset.id}/${sha1(String(asset.id)).slice(0, 12)}`
          this.downloads.set(key, asset)
          return { status: 302, headers: { location: `${DOWNLOAD_ORIGIN}${key}?sig=fake` } }
        }
        return { status: 200, body: this.assetJson(asset) }
      }
      case 'repos/create-deployment':
      case 'repos/create-deployment-status':
      case 'issues/list-for-repo':
      case 'issues/create':
      case 'issues/create-comment':
      case 'issues/update':
        return this.applyDeploymentsAndIssues(op.operationId, params, query, input)
      case 'repos/get-environment': {
        const name = String(params.environment_name)
        const env = this.environments.get(name)
        if (!env) return notFound()
        const rules: Record<string, unknown>[] = []
        if (env.waitTimer)
          rules.push({
            id: 1,
            node_id: nodeId('Gate', '1'),
            type: 'wait_timer',
            wait_timer: env.waitTimer
          })
        if (env.reviewers?.length)
          rules.push({
            id: 2,
            node_id: nodeId('Gate', '2'),
            type: 'required_reviewers',
            prevent_self_review: false,
            reviewers: env.reviewers.map(() => ({ type: 'User' }))
          })
        return {
          status: 200,
          body: {
            id: 7,
            node_id: nodeId('Environment', name),
            name,
            url: `${this.apiBase()}/environments/${encodeURIComponent(name)}`,
            html_url: `https://github.com/${this.owner}/${this.repo}/deployments/activity_log?environments_filter=${encodeURIComponent(name)}`,
            created_at: now(),
            updated_at: now(),
            protection_rules: rules
          }
        }
      }
      default:
        throw new Error(
          `the fake GitHub does not implement ${op.operationId} (${op.method} ${op.template})`
        )
    }
  }

  /** Make a release visible, creating its tag on its target when the tag does not exist. */
  private publish(release: FakeRelease): void {
    const ref = `refs/tags/${release.tagName}`
    if (!this.refs.has(ref)) {
      const commit = /^[0-9a-f]{40}$/.test(release.targetCommitish)
        ? release.targetCommitish
        : this.headCommit
      this.refs.set(ref, { sha: commit, type: 'commit' })
    }
    release.draft = false
    release.publishedAt = now()
  }

  /** An issue or pull request as another user (or a person) opened it, for tests of finding one. */
  addIssue(issue: {
    title: string
    body?: string
    labels?: string[]
    state?: 'open' | 'closed'
    pullRequest?: boolean
  }): FakeIssue {
    const created: FakeIssue = {
      id: this.nextId++,
      number: this.issues.length + 1,
      title: issue.title,
      body: issue.body ?? null,
      labels: issue.labels ?? [],
      state: issue.state ?? 'open',
      stateReason: null,
      createdAt: now(),
      closedAt: issue.state === 'closed' ? now() : null,
      comments: [],
      pullRequest: issue.pullRequest
    }
    for (const l of created.labels) this.labels.add(l)
    this.issues.push(created)
    return created
  }

  /** Deployments, statuses and issues (kept apart from the releases above). */
  private applyDeploymentsAndIssues(
    operationId: string,
    params: Record<string, unknown>,
    query: Record<string, unknown>,
    input: Record<string, unknown>
  ): Answer {
    switch (operationId) {
      case 'repos/create-deployment': {
        const ref = String(input.ref)
        const sha = this.resolveRef(ref)
        if (!sha) return validation(`No ref found for: ${ref}`, 'Deployment', 'ref', 'invalid')
        const contexts = input.required_contexts
        if (!Array.isArray(contexts) || contexts.length > 0)
          // The fake has no commit statuses: any required context (or the default: all) is missing.
          return {
            status: 409,
            body: {
              message: 'Conflict: Commit status checks failed for ' + ref,
              documentation_url: 'https://docs.github.com/rest/deployments/deployments'
            }
          }
        const environment = typeof input.environment === 'string' ? input.environment : 'production'
        const deployment: FakeDeployment = {
          id: this.nextId++,
          ref,
          sha,
          task: typeof input.task === 'string' ? input.task : 'deploy',
          environment,
          description: typeof input.description === 'string' ? input.description : null,
          payload:
            input.payload && typeof input.payload === 'object'
              ? (input.payload as Record<string, unknown>)
              : {},
          transientEnvironment: input.transient_environment === true,
          productionEnvironment:
            typeof input.production_environment === 'boolean'
              ? input.production_environment
              : environment === 'production',
          createdAt: now(),
          statuses: []
        }
        this.deployments.push(deployment)
        return { status: 201, body: this.deploymentJson(deployment) }
      }
      case 'repos/create-deployment-status': {
        const deployment = this.deployments.find(d => d.id === params.deployment_id)
        if (!deployment) return notFound()
        const state = String(input.state)
        // auto_inactive defaults to true: a success makes the environment's other deployments inactive.
        const autoInactive = input.auto_inactive !== false
        const status = {
          id: this.nextId++,
          state,
          description: typeof input.description === 'string' ? input.description : '',
          ...(typeof input.environment_url === 'string' && {
            environmentUrl: input.environment_url
          }),
          ...(typeof input.log_url === 'string' && { logUrl: input.log_url }),
          autoInactive,
          createdAt: now()
        }
        deployment.statuses.push(status)
        if (state === 'success' && autoInactive) {
          for (const other of this.deployments) {
            const last = other.statuses[other.statuses.length - 1]
            if (
              other !== deployment &&
              other.environment === deployment.environment &&
              last?.state === 'success'
            )
              other.statuses.push({
                id: this.nextId++,
                state: 'inactive',
                description: '',
                autoInactive: false,
                createdAt: now()
              })
          }
        }
        return { status: 201, body: this.deploymentStatusJson(deployment, status) }
      }
      case 'issues/list-for-repo': {
        const state = (query.state as string | undefined) ?? 'open'
        const wanted =
          typeof query.labels === 'string' && query.labels !== '' ? query.labels.split(',') : []
        const perPage = Math.min(100, (query.per_page as number | undefined) ?? 30)
        const page = (query.page as number | undefined) ?? 1
        let list = this.issues.filter(
          i => (state === 'all' || i.state === state) && wanted.every(l => i.labels.includes(l))
        )
        list = query.direction === 'asc' ? list : [...list].reverse()
        const headers: Record<string, string> = {}
        if (page * perPage < list.length)
          headers.link = `<${this.apiBase()}/issues?per_page=${perPage}&page=${page + 1}>; rel="next"`
        return {
          status: 200,
          body: list.slice((page - 1) * perPage, page * perPage).map(i => this.issueJson(i)),
          headers
        }
      }
      case 'issues/create': {
        const labels = Array.isArray(input.labels)
          ? input.labels.map(l =>
              typeof l === 'string' ? l : String((l as { name?: string }).name)
            )
          : []
        const issue = this.addIssue({
          title: String(input.title),
          body: typeof input.body === 'string' ? input.body : undefined,
          labels
        })
        return { status: 201, body: this.issueJson(issue) }
      }
      case 'issues/create-comment': {
        const issue = this.issues.find(i => i.number === params.issue_number)
        if (!issue) return notFound()
        const comment = { id: this.nextId++, body: String(input.body), createdAt: now() }
        issue.comments.push(comment)
        return { status: 201, body: this.commentJson(issue, comment) }
      }
      case 'issues/update': {
        const issue = this.issues.find(i => i.number === params.issue_number)
        if (!issue) return notFound()
        if (typeof input.title === 'string') issue.title = input.title
        if (typeof input.body === 'string') issue.body = input.body
        if (input.state === 'closed' && issue.state === 'open') {
          issue.state = 'closed'
          issue.closedAt = now()
          issue.stateReason =
            typeof input.state_reason === 'string' ? input.state_reason : 'completed'
        } else if (input.state === 'open' && issue.state === 'closed') {
          issue.state = 'open'
          issue.closedAt = null
          issue.stateReason = 'reopened'
        }
        return { status: 200, body: this.issueJson(issue) }
      }
      default:
        throw new Error(`the fake GitHub does not implement ${operationId}`)
    }
  }

  /** The commit a deployment's ref names: a sha the repository knows, a tag, or main. */
  private resolveRef(ref: string): string | undefined {
    if (this.commits.has(ref)) return ref
    if (ref === 'main' || ref === 'refs/heads/main') return this.headCommit
    return this.tagCommit(ref.replace(/^refs\/tags\//, ''))
  }

  private deploymentJson(d: FakeDeployment): unknown {
    return {
      url: `${this.apiBase()}/deployments/${d.id}`,
      id: d.id,
      node_id: nodeId('DE', String(d.id)),
      sha: d.sha,
      ref: d.ref,
      task: d.task,
      payload: d.payload,
      original_environment: d.environment,
      environment: d.environment,
      description: d.description,
      creator: user(),
      created_at: d.createdAt,
      updated_at: now(),
      statuses_url: `${this.apiBase()}/deployments/${d.id}/statuses`,
      repository_url: this.apiBase(),
      transient_environment: d.transientEnvironment,
      production_environment: d.productionEnvironment
    }
  }

  private deploymentStatusJson(d: FakeDeployment, s: FakeDeployment['statuses'][number]): unknown {
    return {
      url: `${this.apiBase()}/deployments/${d.id}/statuses/${s.id}`,
      id: s.id,
      node_id: nodeId('DES', String(s.id)),
      state: s.state,
      creator: user(),
      description: s.description,
      environment: d.environment,
      target_url: s.logUrl ?? '',
      created_at: s.createdAt,
      updated_at: s.createdAt,
      deployment_url: `${this.apiBase()}/deployments/${d.id}`,
      repository_url: this.apiBase(),
      ...(s.environmentUrl !== undefined && { environment_url: s.environmentUrl }),
      ...(s.logUrl !== undefined && { log_url: s.logUrl })
    }
  }

  private issueJson(i: FakeIssue): unknown {
    const url = `${this.apiBase()}/issues/${i.number}`
    return {
      id: i.id,
      node_id: nodeId('I', String(i.id)),
      url,
      repository_url: this.apiBase(),
      labels_url: `${url}/labels{/name}`,
      comments_url: `${url}/comments`,
      events_url: `${url}/events`,
      html_url: `https://github.com/${this.repository}/${i.pullRequest ? 'pull' : 'issues'}/${i.number}`,
      number: i.number,
      state: i.state,
      state_reason: i.stateReason,
      title: i.title,
      body: i.body,
      user: user(),
      labels: i.labels.map(name => ({
        id: Number.parseInt(sha1(`label ${name}`).slice(0, 8), 16),
        node_id: nodeId('LA', name),
        url: `${this.apiBase()}/labels/${encodeURIComponent(name)}`,
        name,
        description: null,
        color: 'd73a4a',
        default: false
      })),
      assignee: null,
      assignees: [],
      milestone: null,
      locked: false,
      active_lock_reason: null,
      comments: i.comments.length,
      ...(i.pullRequest && {
        pull_request: {
          url: `${this.apiBase()}/pulls/${i.number}`,
          html_url: `https://github.com/${this.repository}/pull/${i.number}`,
          diff_url: `https://github.com/${this.repository}/pull/${i.number}.diff`,
          patch_url: `https://github.com/${this.repository}/pull/${i.number}.patch`,
          merged_at: null
        }
      }),
      closed_at: i.closedAt,
      created_at: i.createdAt,
      updated_at: now(),
      author_association: 'NONE'
    }
  }

  private commentJson(i: FakeIssue, c: FakeIssue['comments'][number]): unknown {
    return {
      id: c.id,
      node_id: nodeId('IC', String(c.id)),
      url: `${this.apiBase()}/issues/comments/${c.id}`,
      html_url: `https://github.com/${this.repository}/issues/${i.number}#issuecomment-${c.id}`,
      body: c.body,
      user: user(),
      created_at: c.createdAt,
      updated_at: c.createdAt,
      issue_url: `${this.apiBase()}/issues/${i.number}`,
      author_association: 'NONE'
    }
  }

  /** Tamper with a stored asset's bytes (keeping its name), as a compromised store would. */
  tamperAsset(tag: string, name: string, change: (bytes: Buffer) => Buffer): void {
    const asset = this.releaseOfTag(tag)?.assets.find(a => a.name === name)
    if (!asset) throw new Error(`no asset ${name} on ${tag}`)
    asset.bytes = change(Buffer.from(asset.bytes))
  }

  private apiBase(): string {
    return `${API_ORIGIN}/repos/${this.owner}/${this.repo}`
  }

  private refJson(ref: string, object: { sha: string; type: string }): unknown {
    return {
      ref,
      node_id: nodeId('Ref', ref),
      url: `${this.apiBase()}/git/${ref}`,
      object: {
        ...object,
        url: `${this.apiBase()}/git/${object.type === 'tag' ? 'tags' : 'commits'}/${object.sha}`
      }
    }
  }

  private releaseJson(r: FakeRelease): unknown {
    const html = r.draft
      ? `https://github.com/${this.repository}/releases/tag/untagged-${sha1(String(r.id)).slice(0, 20)}`
      : `https://github.com/${this.repository}/releases/tag/${encodeURIComponent(r.tagName)}`
    return {
      url: `${this.apiBase()}/releases/${r.id}`,
      html_url: html,
      assets_url: `${this.apiBase()}/releases/${r.id}/assets`,
      upload_url: `${UPLOADS_ORIGIN}/repos/${this.owner}/${this.repo}/releases/${r.id}/assets{?name,label}`,
      tarball_url: r.draft ? null : `${this.apiBase()}/tarball/${encodeURIComponent(r.tagName)}`,
      zipball_url: r.draft ? null : `${this.apiBase()}/zipball/${encodeURIComponent(r.tagName)}`,
      id: r.id,
      node_id: nodeId('RE', String(r.id)),
      tag_name: r.tagName,
      target_commitish: r.targetCommitish,
      name: r.name,
      body: r.body,
      draft: r.draft,
      prerelease: r.prerelease,
      immutable: false,
      created_at: r.createdAt,
      published_at: r.publishedAt,
      updated_at: now(),
      author: user(),
      assets: r.assets.map(a => this.assetJson(a))
    }
  }

  private assetJson(a: FakeAsset): unknown {
    const release = this.releases.find(r => r.id === a.releaseId)
    return {
      url: `${this.apiBase()}/releases/assets/${a.id}`,
      browser_download_url: `https://github.com/${this.repository}/releases/download/${encodeURIComponent(release?.tagName ?? 'untagged')}/${encodeURIComponent(a.name)}`,
      id: a.id,
      node_id: nodeId('RA', String(a.id)),
      name: a.name,
      label: a.label,
      state: 'uploaded',
      content_type: a.contentType,
      size: a.bytes.length,
      digest: `sha256:${createHash('sha256').update(a.bytes).digest('hex')}`,
      download_count: 0,
      created_at: a.createdAt,
      updated_at: a.createdAt,
      uploader: user()
    }
  }
}

function nodeId(kind: string, key: string): string {
  return Buffer.from(`${kind}_${key}`).toString('base64')
}

function user(): unknown {
  const base = 'https://api.github.com/users/github-actions%5Bbot%5D'
  return {
    login: 'github-actions[bot]',
    id: 41898282,
    node_id: 'MDM6Qm90NDE4OTgyODI=',
    avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4',
    gravatar_id: '',
    url: base,
    html_url: 'https://github.com/apps/github-actions',
    followers_url: `${base}/followers`,
    following_url: `${base}/following{/other_user}`,
    gists_url: `${base}/gists{/gist_id}`,
    starred_url: `${base}/starred{/owner}{/repo}`,
    subscriptions_url: `${base}/subscriptions`,
    organizations_url: `${base}/orgs`,
    repos_url: `${base}/repos`,
    events_url: `${base}/events{/privacy}`,
    received_events_url: `${base}/received_events`,
    type: 'Bot',
    user_view_type: 'public',
    site_admin: false
  }
}

function notFound(): Answer {
  return {
    status: 404,
    body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' }
  }
}

function validation(message: string, resource: string, field: string, code: string): Answer {
  return {
    status: 422,
    body: {
      message,
      documentation_url: 'https://docs.github.com/rest',
      errors: [{ resource, field, code }]
    }
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const init = {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-github-request-id': 'FAKE:0001',
      ...headers
    }
  }
  return status === 204 || body === undefined
    ? new Response(null, init)
    : new Response(JSON.stringify(body), init)
}

async function readBody(body: unknown): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (Buffer.isBuffer(body)) return body
  if (body instanceof Uint8Array) return Buffer.from(body)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  if (body instanceof ReadableStream) return Buffer.from(await new Response(body).arrayBuffer())
  throw new Error(
    `the fake GitHub cannot read a request body of type ${Object.prototype.toString.call(body)}`
  )
}
