/**
 * A fake GitHub Actions "results" service on loopback, for @actions/artifact 6 run for real:
 * the Twirp JSON API (`/twirp/github.actions.results.api.v1.ArtifactService/<Method>`:
 * CreateArtifact, FinalizeArtifact, ListArtifacts, GetSignedArtifactURL, DeleteArtifact), a
 * blob endpoint good enough for @azure/storage-blob's `uploadStream` (Put Block, then Put Block
 * List) and a plain GET download of a signed URL, and the two public REST operations `findBy`
 * uses (list a run's artifacts, download one through a 302) as data a fake GitHub can answer.
 *
 * It issues per-job runtime tokens (HS256 JWTs whose `scp` names the run's and the job's backend
 * ids, as the runner's do) for the harness to give JavaScript actions. Artifacts live in a temp
 * folder, one zip per artifact, per repository and workflow run. Every request is checked
 * (method, path, token, signed URL, required and unknown fields, backend ids matching the
 * token); anything unexpected is answered with an error that says what was wrong and recorded
 * in `problems`, so a test fails on it even when the client swallowed the error.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto'
import { promises as fs } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** The Twirp service @actions/artifact 6 talks to. */
export const ARTIFACT_TWIRP_SERVICE = 'github.actions.results.api.v1.ArtifactService'

/** One artifact the service holds. */
export interface StoredArtifact {
  /** The artifact's database id (the public API's `id`). */
  id: number
  name: string
  /** `owner/repo` of the run that uploaded it. */
  repository: string
  /** The workflow run id (GITHUB_RUN_ID) that uploaded it. */
  runId: string
  runBackendId: string
  jobBackendId: string
  /** The zip on disk (present once the upload is committed). */
  file: string
  createdAt: string
  expiresAt: string | null
  /** True once FinalizeArtifact was called: only then is it listed. */
  finalized: boolean
  size: number
  /** `sha256:<hex>` the client gave at finalize. */
  digest: string | null
}

/** One request the service received. */
export interface ArtifactServiceRequest {
  /** `twirp/<Method>`, `blob/<op>` or `github/<operation>`. */
  kind: string
  method: string
  path: string
  status: number
}

/** An answer to a public REST request, for a fake GitHub to send as it is. */
export interface GithubAnswer {
  /** The operationId of GitHub's description it answers. */
  operationId: string
  status: number
  body?: unknown
  headers?: Record<string, string>
}

/** Settings of the service. */
export interface ArtifactServiceOptions {
  /** Where artifacts are kept (default: a new temp dir, removed by close()). */
  root?: string
  /** The token the public REST operations must carry (`token X` / `Bearer X`), as the fake GitHub's. */
  githubToken?: string
  /** Host of the public REST API in `url` / `archive_download_url` (default https://api.github.com). */
  apiOrigin?: string
}

/** The runtime variables a runner gives a JavaScript action. */
export type ActionsRuntimeVariables = {
  ACTIONS_RUNTIME_TOKEN: string
  ACTIONS_RESULTS_URL: string
}

interface TokenClaims {
  runBackendId: string
  jobBackendId: string
}

interface RunRef {
  repository: string
  runId: string
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** True for a protocol violation (recorded in problems), false for a legitimate refusal. */
    readonly problem = true
  ) {
    super(message)
  }
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Required string fields, optional ones, and nothing else: what a protobuf JSON body may hold. */
function fields(
  body: Record<string, unknown>,
  method: string,
  required: string[],
  optional: string[] = []
): Record<string, string | undefined> {
  const known = new Set([...required, ...optional])
  const unknown = Object.keys(body).filter(k => !known.has(k))
  if (unknown.length > 0)
    throw new Refusal(
      400,
      'malformed',
      `${method}: unknown field(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})`
    )
  const out: Record<string, string | undefined> = {}
  for (const name of known) {
    const value = body[name]
    if (value === undefined) {
      if (required.includes(name))
        throw new Refusal(400, 'malformed', `${method}: required field ${name} is missing`)
      continue
    }
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new Refusal(
        400,
        'malformed',
        `${method}: field ${name} is ${JSON.stringify(value)}, expected a string`
      )
    if (required.includes(name) && String(value) === '')
      throw new Refusal(400, 'malformed', `${method}: required field ${name} is empty`)
    out[name] = String(value)
  }
  return out
}

/**
 * The fake results service. Start it with `ArtifactService.start()`, give it to the harness
 * (`HarnessOptions.actionsRuntime`), and `close()` it when done.
 */
export class ArtifactService {
  /** Every request, in order. */
  readonly requests: ArtifactServiceRequest[] = []
  /** Protocol violations: requests the real service would refuse, answered loudly. */
  readonly problems: string[] = []
  private readonly secret = randomBytes(32)
  private readonly stored: StoredArtifact[] = []
  private readonly runs = new Map<string, RunRef>()
  private readonly backendIdOfRun = new Map<string, string>()
  /** Staged blocks per blob key, and committed uploads. */
  private readonly blocks = new Map<string, Map<string, Buffer>>()
  private nextId = 7001
  private url_ = ''

  private constructor(
    private readonly server: http.Server,
    readonly root: string,
    private readonly ownRoot: boolean,
    private readonly options: ArtifactServiceOptions
  ) {}

  /** Start the service on 127.0.0.1 and a free port. */
  static async start(options: ArtifactServiceOptions = {}): Promise<ArtifactService> {
    const root =
      options.root ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-artifact-service-')))
    await fs.mkdir(root, { recursive: true })
    const server = http.createServer()
    const service = new ArtifactService(server, root, options.root === undefined, options)
    server.on('request', (req, res) => void service.handle(req, res))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    service.url_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return service
  }

  /** ACTIONS_RESULTS_URL: `http://127.0.0.1:<port>/`. */
  get url(): string {
    return `${this.url_}/`
  }

  /** Every artifact, finalized or not, oldest first. */
  artifacts(): StoredArtifact[] {
    return [...this.stored]
  }

  /**
   * The runtime variables of one job of a workflow run: a token whose `scp` names the run's
   * backend id (one per repository and run id) and this job's, and the service's URL.
   */
  runtimeFor(job: { repository: string; runId: string; job: string }): ActionsRuntimeVariables {
    const key = `${job.repository}#${job.runId}`
    let runBackendId = this.backendIdOfRun.get(key)
    if (!runBackendId) {
      runBackendId = randomUUID()
      this.backendIdOfRun.set(key, runBackendId)
      this.runs.set(runBackendId, { repository: job.repository, runId: job.runId })
    }
    const jobBackendId = createHash('sha256')
      .update(`${runBackendId}/${job.job}`)
      .digest('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5')
    const now = Math.floor(Date.now() / 1000)
    const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
    const payload = base64url(
      JSON.stringify({
        scp: `Actions.ExampleScope Actions.Results:${runBackendId}:${jobBackendId}`,
        iss: 'sitecycle-harness',
        aud: 'actions.results',
        iat: now,
        nbf: now,
        exp: now + 6 * 3600,
        ac: JSON.stringify([{ Scope: `refs/heads/main`, Permission: 3 }])
      })
    )
    const signature = base64url(
      createHmac('sha256', this.secret).update(`${header}.${payload}`).digest()
    )
    return {
      ACTIONS_RUNTIME_TOKEN: `${header}.${payload}.${signature}`,
      ACTIONS_RESULTS_URL: this.url
    }
  }

  /** Fails with every protocol violation seen so far. */
  assertClean(): void {
    if (this.problems.length > 0)
      throw new Error(`artifact service: unexpected requests:\n${this.problems.join('\n')}`)
  }

  /** Stop the server; remove the storage folder when the service made it. */
  async close(): Promise<void> {
    await new Promise<void>(resolve => {
      this.server.closeAllConnections()
      this.server.close(() => resolve())
    })
    if (this.ownRoot) await fs.rm(this.root, { recursive: true, force: true })
  }

  // ---- the public REST API's artifact operations --------------------------------------------

  /**
   * Answer one of the public REST operations on artifacts (what `findBy` uses):
   * `actions/list-workflow-run-artifacts`, `actions/download-artifact` (a 302 to a signed URL)
   * and `actions/delete-artifact`; undefined for any other request, which belongs to the fake
   * GitHub. Refuses a missing or wrong token with 401, as GitHub does.
   */
  async answerGithub(request: {
    method: string
    url: URL
    headers: Record<string, string>
  }): Promise<GithubAnswer | undefined> {
    const { method, url } = request
    const m =
      /^\/repos\/([^/]+)\/([^/]+)\/actions\/(?:runs\/([^/]+)\/artifacts|artifacts\/([^/]+)(?:\/([^/]+))?)$/.exec(
        url.pathname
      )
    if (!m) return undefined
    const [, owner, repo, runId, artifactId, format] = m
    const repository = `${decodeURIComponent(owner)}/${decodeURIComponent(repo)}`
    const operationId =
      runId !== undefined
        ? 'actions/list-workflow-run-artifacts'
        : format !== undefined
          ? 'actions/download-artifact'
          : method === 'DELETE'
            ? 'actions/delete-artifact'
            : 'actions/get-artifact'
    const answer = (status: number, body?: unknown, headers?: Record<string, string>) => {
      this.requests.push({ kind: `github/${operationId}`, method, path: url.pathname, status })
      return {
        operationId,
        status,
        ...(body !== undefined && { body }),
        ...(headers && { headers })
      }
    }
    const expected = this.options.githubToken
    const auth = request.headers.authorization ?? ''
    if (expected && auth !== `token ${expected}` && auth !== `Bearer ${expected}`)
      return answer(401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest'
      })
    const notFound = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }
    if (runId !== undefined) {
      if (method !== 'GET') return undefined
      const name = url.searchParams.get('name')
      const perPage = Number(url.searchParams.get('per_page') ?? 30)
      const page = Number(url.searchParams.get('page') ?? 1)
      const all = this.stored
        .filter(a => a.finalized && a.repository === repository && a.runId === runId)
        .filter(a => name === null || a.name === name)
        .sort((a, b) => b.id - a.id)
      return answer(200, {
        total_count: all.length,
        artifacts: all.slice((page - 1) * perPage, page * perPage).map(a => this.publicJson(a))
      })
    }
    const artifact = this.stored.find(
      a => a.finalized && a.repository === repository && String(a.id) === artifactId
    )
    if (format !== undefined) {
      if (method !== 'GET') return undefined
      if (format !== 'zip') return answer(404, notFound)
      if (!artifact) return answer(404, notFound)
      return answer(302, undefined, { location: this.signedUrl(artifact) })
    }
    if (!artifact) return answer(404, notFound)
    if (method === 'DELETE') {
      await this.remove(artifact)
      return answer(204)
    }
    if (method === 'GET') return answer(200, this.publicJson(artifact))
    return undefined
  }

  private publicJson(a: StoredArtifact): Record<string, unknown> {
    const api = `${this.options.apiOrigin ?? 'https://api.github.com'}/repos/${a.repository}/actions/artifacts/${a.id}`
    return {
      id: a.id,
      node_id: base64url(`Artifact:${a.id}`),
      name: a.name,
      size_in_bytes: a.size,
      url: api,
      archive_download_url: `${api}/zip`,
      expired: false,
      created_at: a.createdAt,
      updated_at: a.createdAt,
      expires_at: a.expiresAt,
      digest: a.digest,
      workflow_run: { id: Number(a.runId), head_branch: 'main', head_sha: '0'.repeat(40) }
    }
  }

  // ---- transport ----------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET'
    const url = new URL(req.url ?? '/', this.url_)
    let kind = 'unknown'
    try {
      const body = await readBody(req)
      if (url.pathname.startsWith('/twirp/')) {
        kind = `twirp/${url.pathname.split('/').pop()}`
        const answer = await this.twirp(method, url, req.headers, body)
        this.send(res, kind, method, url, 200, JSON.stringify(answer), 'application/json')
      } else if (url.pathname.startsWith('/blob/')) {
        kind = `blob/${method === 'GET' ? 'download' : (url.searchParams.get('comp') ?? 'put')}`
        await this.blob(method, url, req.headers, body, res, kind)
      } else {
        throw new Refusal(404, 'bad_route', `no such route: ${method} ${url.pathname}`)
      }
    } catch (e) {
      const refusal =
        e instanceof Refusal
          ? e
          : new Refusal(500, 'internal', `the fake failed: ${(e as Error).stack}`)
      if (refusal.problem) this.problems.push(`${method} ${url.pathname}: ${refusal.message}`)
      if (kind.startsWith('blob/')) {
        this.send(res, kind, method, url, refusal.status, refusal.message, 'text/plain', {
          'x-ms-error-code': refusal.code
        })
      } else {
        this.send(
          res,
          kind,
          method,
          url,
          refusal.status,
          JSON.stringify({ code: refusal.code, msg: refusal.message }),
          'application/json'
        )
      }
    }
  }

  private send(
    res: http.ServerResponse,
    kind: string,
    method: string,
    url: URL,
    status: number,
    body: string | Buffer,
    type: string,
    headers: Record<string, string> = {}
  ): void {
    this.requests.push({ kind, method, path: url.pathname, status })
    const payload = typeof body === 'string' ? Buffer.from(body) : body
    res.writeHead(status, {
      'content-type': type,
      'content-length': String(payload.length),
      'x-ms-request-id': randomUUID(),
      'x-ms-version': '2025-01-05',
      ...headers
    })
    res.end(method === 'HEAD' ? undefined : payload)
  }

  // ---- Twirp --------------------------------------------------------------------------------

  private claimsOf(headers: http.IncomingHttpHeaders): TokenClaims {
    const auth = headers.authorization ?? ''
    const m = /^Bearer ([^.]+)\.([^.]+)\.([^.]+)$/.exec(auth)
    if (!m) throw new Refusal(401, 'unauthenticated', 'no Bearer runtime token')
    const expected = base64url(createHmac('sha256', this.secret).update(`${m[1]}.${m[2]}`).digest())
    if (expected !== m[3])
      throw new Refusal(401, 'unauthenticated', 'the runtime token was not issued by this service')
    const claims = JSON.parse(Buffer.from(m[2], 'base64url').toString('utf8')) as {
      scp: string
      exp: number
    }
    if (claims.exp * 1000 < Date.now())
      throw new Refusal(401, 'unauthenticated', 'the runtime token has expired')
    const scope = claims.scp.split(' ').find(s => s.startsWith('Actions.Results:'))
    const [, runBackendId, jobBackendId] = (scope ?? '').split(':')
    return { runBackendId, jobBackendId }
  }

  private async twirp(
    method: string,
    url: URL,
    headers: http.IncomingHttpHeaders,
    raw: Buffer
  ): Promise<unknown> {
    const prefix = `/twirp/${ARTIFACT_TWIRP_SERVICE}/`
    if (!url.pathname.startsWith(prefix))
      throw new Refusal(
        404,
        'bad_route',
        `not the ${ARTIFACT_TWIRP_SERVICE} service: ${url.pathname}`
      )
    const rpc = url.pathname.slice(prefix.length)
    if (method !== 'POST')
      throw new Refusal(404, 'bad_route', `${rpc}: Twirp takes POST, got ${method}`)
    const type = (headers['content-type'] ?? '').split(';')[0].trim()
    if (type !== 'application/json')
      throw new Refusal(
        400,
        'malformed',
        `${rpc}: content-type ${type || '(none)'}, expected application/json`
      )
    const claims = this.claimsOf(headers)
    let body: Record<string, unknown>
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
    } catch {
      throw new Refusal(400, 'malformed', `${rpc}: the body is not JSON`)
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new Refusal(400, 'malformed', `${rpc}: the body is not a JSON object`)
    const ids = ['workflow_run_backend_id', 'workflow_job_run_backend_id']
    const check = (f: Record<string, string | undefined>): RunRef => {
      if (
        f.workflow_run_backend_id !== claims.runBackendId ||
        f.workflow_job_run_backend_id !== claims.jobBackendId
      )
        throw new Refusal(
          403,
          'permission_denied',
          `${rpc}: backend ids ${f.workflow_run_backend_id}:${f.workflow_job_run_backend_id} are not the token's ${claims.runBackendId}:${claims.jobBackendId}`
        )
      const run = this.runs.get(claims.runBackendId)
      if (!run)
        throw new Refusal(403, 'permission_denied', `${rpc}: unknown workflow run backend id`)
      return run
    }
    switch (rpc) {
      case 'CreateArtifact': {
        const f = fields(body, rpc, [...ids, 'name', 'version'], ['expires_at', 'mime_type'])
        const run = check(f)
        if (f.version !== '4' && f.version !== '7')
          throw new Refusal(
            400,
            'invalid_argument',
            `${rpc}: artifact version ${f.version}, expected 4 or 7`
          )
        const name = f.name as string
        if (this.stored.some(a => a.runBackendId === claims.runBackendId && a.name === name))
          throw new Refusal(
            409,
            'already_exists',
            `an artifact with the name ${name} already exists in this workflow run`,
            false
          )
        if (f.expires_at !== undefined && Number.isNaN(Date.parse(f.expires_at)))
          throw new Refusal(
            400,
            'malformed',
            `${rpc}: expires_at '${f.expires_at}' is not a timestamp`
          )
        const id = this.nextId++
        const dir = path.join(this.root, run.repository.replace('/', '__'), run.runId)
        await fs.mkdir(dir, { recursive: true })
        const artifact: StoredArtifact = {
          id,
          name,
          repository: run.repository,
          runId: run.runId,
          runBackendId: claims.runBackendId,
          jobBackendId: claims.jobBackendId,
          file: path.join(dir, `${id}.zip`),
          createdAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          expiresAt: f.expires_at
            ? new Date(f.expires_at).toISOString().replace(/\.\d{3}Z$/, 'Z')
            : null,
          finalized: false,
          size: 0,
          digest: null
        }
        this.stored.push(artifact)
        return { ok: true, signed_upload_url: this.signedUrl(artifact) }
      }
      case 'FinalizeArtifact': {
        const f = fields(body, rpc, [...ids, 'name', 'size'], ['hash'])
        check(f)
        const artifact = this.stored.find(
          a => a.runBackendId === claims.runBackendId && a.name === f.name && !a.finalized
        )
        if (!artifact)
          throw new Refusal(
            404,
            'not_found',
            `${rpc}: no artifact ${f.name} being uploaded in this run`
          )
        let bytes: Buffer
        try {
          bytes = await fs.readFile(artifact.file)
        } catch {
          throw new Refusal(
            400,
            'failed_precondition',
            `${rpc}: ${f.name} was never uploaded (no block list committed)`
          )
        }
        if (String(bytes.length) !== f.size)
          throw new Refusal(
            400,
            'invalid_argument',
            `${rpc}: size ${f.size}, but ${bytes.length} bytes were uploaded`
          )
        const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
        if (f.hash !== undefined && f.hash !== digest)
          throw new Refusal(
            400,
            'invalid_argument',
            `${rpc}: hash ${f.hash}, but the upload is ${digest}`
          )
        artifact.finalized = true
        artifact.size = bytes.length
        artifact.digest = f.hash ?? null
        return { ok: true, artifact_id: String(artifact.id) }
      }
      case 'ListArtifacts': {
        const f = fields(body, rpc, ids, ['name_filter', 'id_filter'])
        check(f)
        const found = this.stored.filter(
          a =>
            a.finalized &&
            a.runBackendId === claims.runBackendId &&
            (f.name_filter === undefined || a.name === f.name_filter) &&
            (f.id_filter === undefined || String(a.id) === f.id_filter)
        )
        return {
          artifacts: found.map(a => ({
            workflow_run_backend_id: a.runBackendId,
            workflow_job_run_backend_id: a.jobBackendId,
            database_id: String(a.id),
            name: a.name,
            size: String(a.size),
            created_at: a.createdAt,
            ...(a.digest !== null && { digest: a.digest })
          }))
        }
      }
      case 'GetSignedArtifactURL': {
        const f = fields(body, rpc, [...ids, 'name'])
        check(f)
        const artifact = this.finalizedInRun(claims.runBackendId, f.name as string)
        return { signed_url: this.signedUrl(artifact) }
      }
      case 'DeleteArtifact': {
        const f = fields(body, rpc, [...ids, 'name'])
        check(f)
        const artifact = this.finalizedInRun(claims.runBackendId, f.name as string)
        await this.remove(artifact)
        return { ok: true, artifact_id: String(artifact.id) }
      }
      default:
        throw new Refusal(404, 'bad_route', `no method ${rpc} in ${ARTIFACT_TWIRP_SERVICE}`)
    }
  }

  private finalizedInRun(runBackendId: string, name: string): StoredArtifact {
    const artifact = this.stored.find(
      a => a.finalized && a.runBackendId === runBackendId && a.name === name
    )
    if (!artifact)
      throw new Refusal(404, 'not_found', `no artifact ${name} in this workflow run`, false)
    return artifact
  }

  private async remove(artifact: StoredArtifact): Promise<void> {
    this.stored.splice(this.stored.indexOf(artifact), 1)
    await fs.rm(artifact.file, { force: true })
  }

  // ---- blobs --------------------------------------------------------------------------------

  /** A URL to the artifact's blob, signed for an hour (sig covers the path and the expiry). */
  private signedUrl(artifact: StoredArtifact): string {
    const pathname = `/blob/${artifact.runBackendId}/${artifact.id}/${encodeURIComponent(artifact.name)}.zip`
    const se = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    const sig = createHmac('sha256', this.secret).update(`${pathname}\n${se}`).digest('base64')
    return `${this.url_}${pathname}?sv=2025-01-05&sr=b&sp=rcw&se=${encodeURIComponent(se)}&sig=${encodeURIComponent(sig)}`
  }

  private artifactOfBlob(url: URL): StoredArtifact {
    const se = url.searchParams.get('se') ?? ''
    const sig = url.searchParams.get('sig') ?? ''
    const expected = createHmac('sha256', this.secret)
      .update(`${url.pathname}\n${se}`)
      .digest('base64')
    if (sig !== expected)
      throw new Refusal(403, 'AuthenticationFailed', 'the blob URL is not signed by this service')
    if (Date.parse(se) < Date.now())
      throw new Refusal(403, 'AuthenticationFailed', 'the signed blob URL has expired')
    const id = Number(url.pathname.split('/')[3])
    const artifact = this.stored.find(a => a.id === id)
    if (!artifact) throw new Refusal(404, 'BlobNotFound', `no artifact ${id}`, false)
    return artifact
  }

  private async blob(
    method: string,
    url: URL,
    headers: http.IncomingHttpHeaders,
    body: Buffer,
    res: http.ServerResponse,
    kind: string
  ): Promise<void> {
    const artifact = this.artifactOfBlob(url)
    if (method === 'GET') {
      if (!artifact.finalized)
        throw new Refusal(404, 'BlobNotFound', `${artifact.name} is not finalized`, false)
      const bytes = await fs.readFile(artifact.file)
      this.send(res, kind, method, url, 200, bytes, 'application/zip', {
        'content-disposition': `attachment; filename="${artifact.name}.zip"`
      })
      return
    }
    if (method !== 'PUT') throw new Refusal(405, 'UnsupportedHttpVerb', `${method} on a blob`)
    if (artifact.finalized)
      throw new Refusal(409, 'BlobImmutable', `${artifact.name} is finalized: no more writes`)
    if (!headers['x-ms-version'])
      throw new Refusal(400, 'MissingRequiredHeader', 'no x-ms-version header')
    const comp = url.searchParams.get('comp')
    const key = String(artifact.id)
    const created = {
      etag: `"0x${randomBytes(8).toString('hex').toUpperCase()}"`,
      'last-modified': new Date().toUTCString()
    }
    if (comp === 'block') {
      const blockId = url.searchParams.get('blockid')
      if (!blockId)
        throw new Refusal(400, 'MissingRequiredQueryParameter', 'Put Block without blockid')
      if (String(body.length) !== headers['content-length'])
        throw new Refusal(
          400,
          'InvalidHeaderValue',
          `content-length ${headers['content-length']}, body ${body.length}`
        )
      const staged = this.blocks.get(key) ?? new Map<string, Buffer>()
      staged.set(blockId, body)
      this.blocks.set(key, staged)
      this.send(res, kind, method, url, 201, '', 'text/plain', {
        'x-ms-request-server-encrypted': 'true'
      })
      return
    }
    if (comp === 'blocklist') {
      const xml = body.toString('utf8')
      if (!/^(<\?xml[^>]*\?>)?\s*<BlockList>[\s\S]*<\/BlockList>\s*$/.test(xml))
        throw new Refusal(
          400,
          'InvalidXmlDocument',
          `Put Block List body is not a <BlockList>: ${xml.slice(0, 200)}`
        )
      const ids = [...xml.matchAll(/<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g)].map(m => m[2])
      const staged = this.blocks.get(key) ?? new Map<string, Buffer>()
      const missing = ids.filter(id => !staged.has(id))
      if (missing.length > 0)
        throw new Refusal(400, 'InvalidBlockList', `blocks never staged: ${missing.join(', ')}`)
      await fs.writeFile(artifact.file, Buffer.concat(ids.map(id => staged.get(id) as Buffer)))
      this.blocks.delete(key)
      this.send(res, kind, method, url, 201, '', 'text/plain', {
        ...created,
        'x-ms-request-server-encrypted': 'true'
      })
      return
    }
    if (comp === null) {
      if (headers['x-ms-blob-type'] !== 'BlockBlob')
        throw new Refusal(
          400,
          'MissingRequiredHeader',
          `Put Blob needs x-ms-blob-type: BlockBlob, got ${headers['x-ms-blob-type']}`
        )
      await fs.writeFile(artifact.file, body)
      this.send(res, kind, method, url, 201, '', 'text/plain', created)
      return
    }
    throw new Refusal(400, 'UnsupportedQueryParameter', `comp=${comp} is not supported here`)
  }
}
