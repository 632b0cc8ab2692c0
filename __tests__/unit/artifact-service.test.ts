/**
 * The fake Actions results service (tools/harness/artifact-service.ts) driven by the real
 * @actions/artifact 6 client, in this process: its Twirp calls, @azure/storage-blob's block
 * upload, the signed-URL download, and `findBy` through the public REST API (a loopback
 * forwarder in front of the service's answers, each checked against GitHub's OpenAPI
 * description). Two workflow runs are two runtime tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ArtifactClient, FindOptions } from '@actions/artifact'
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  ArtifactService,
  Harness,
  startGithubForwarder,
  type GithubForwarder
} from '../../tools/harness/index.js'
import {
  checkRequest,
  checkResponse,
  loadGithubDescription,
  type Operation
} from '../helpers/openapi-check.js'

const TOKEN = 'ghs_artifactservicetest'
const REPOSITORY = 'acme/weave'
const RUN_A = '4242001'
const RUN_B = '4242002'

let tmp: string
let service: ArtifactService
let forwarder: GithubForwarder
let client: ArtifactClient
const violations: string[] = []
const savedEnv = { ...process.env }

/** GitHub's public artifact operations answered by the service, each checked against the description. */
function checkedArtifactApi(doc = loadGithubDescription()): typeof globalThis.fetch {
  return async (input, init = {}) => {
    const url = new URL(String(input))
    const method = (init.method ?? 'GET').toUpperCase()
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => (headers[k] = v))
    const check = checkRequest(doc, { method, url, headers })
    const answer =
      check.problems.length === 0 ? await service.answerGithub({ method, url, headers }) : undefined
    if (!answer) {
      violations.push(
        `${method} ${url}: ${check.problems.join('; ') || 'not an artifact operation'}`
      )
      return new Response(JSON.stringify({ message: 'unexpected request' }), { status: 400 })
    }
    if (answer.status !== 302)
      violations.push(
        ...checkResponse(doc, check.operation as Operation, answer.status, answer.body)
      )
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json', ...answer.headers }
    })
  }
}

/** Make the process a job of a run: the runtime token the harness would give a JavaScript action. */
function beJobOf(runId: string, job = 'build'): void {
  Object.assign(process.env, service.runtimeFor({ repository: REPOSITORY, runId, job }))
  process.env.GITHUB_RUN_ID = runId
}

function findBy(runId: string): FindOptions {
  const [repositoryOwner, repositoryName] = REPOSITORY.split('/')
  return { findBy: { token: TOKEN, workflowRunId: Number(runId), repositoryOwner, repositoryName } }
}

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const e of await fs.readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) {
      const file = path.join(e.parentPath, e.name)
      out[path.relative(dir, file)] = await fs.readFile(file, 'utf8')
    }
  return out
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-artifact-service-test-'))
  service = await ArtifactService.start({ root: path.join(tmp, 'storage'), githubToken: TOKEN })
  forwarder = await startGithubForwarder(checkedArtifactApi())
  // @actions/github reads GITHUB_API_URL once, when it is first imported.
  process.env.GITHUB_API_URL = forwarder.apiUrl
  process.env.GITHUB_WORKSPACE = tmp
  delete process.env.GITHUB_SERVER_URL
  const { DefaultArtifactClient } = await import('@actions/artifact')
  client = new DefaultArtifactClient()
  const src = path.join(tmp, 'release')
  await fs.mkdir(path.join(src, 'wheelhouse'), { recursive: true })
  await fs.writeFile(path.join(src, 'manifest.json'), '{"name":"weave","version":"1.0.0"}\n')
  await fs.writeFile(path.join(src, 'wheelhouse', 'dep-1.0-py3-none-any.whl'), 'x'.repeat(50_000))
})

afterAll(async () => {
  process.env = savedEnv
  await forwarder?.close()
  await service?.close()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

describe('the fake results service, through @actions/artifact', () => {
  let uploadedId = 0

  it('takes an upload in run A (Twirp create, blocks, block list, finalize) and lists it there only', async () => {
    beJobOf(RUN_A)
    const src = path.join(tmp, 'release')
    const files = [
      path.join(src, 'manifest.json'),
      path.join(src, 'wheelhouse', 'dep-1.0-py3-none-any.whl')
    ]
    const up = await client.uploadArtifact('release-1.0.0', files, src, { retentionDays: 5 })
    expect(up.id).toBeGreaterThan(0)
    uploadedId = up.id as number
    const [stored] = service.artifacts()
    expect(stored).toMatchObject({
      id: up.id,
      name: 'release-1.0.0',
      repository: REPOSITORY,
      runId: RUN_A,
      finalized: true
    })
    const zip = await fs.readFile(stored.file)
    expect(zip.subarray(0, 4).toString('latin1')).toBe('PK\u0003\u0004')
    expect(stored.digest).toBe(`sha256:${createHash('sha256').update(zip).digest('hex')}`)
    expect(up.digest).toBe(stored.digest?.slice('sha256:'.length))
    expect(Date.parse(stored.expiresAt ?? '') - Date.now()).toBeGreaterThan(4 * 86400_000)
    expect(service.requests.map(r => `${r.kind} ${r.status}`)).toEqual([
      'twirp/CreateArtifact 200',
      'blob/block 201',
      'blob/blocklist 201',
      'twirp/FinalizeArtifact 200'
    ])

    expect((await client.listArtifacts()).artifacts.map(a => [a.name, a.id, a.digest])).toEqual([
      ['release-1.0.0', up.id, stored.digest]
    ])
    expect((await client.getArtifact('release-1.0.0')).artifact.id).toBe(up.id)
    // A second job of run A sees it too; run B's own token does not.
    beJobOf(RUN_A, 'deploy')
    expect((await client.listArtifacts()).artifacts).toHaveLength(1)
    beJobOf(RUN_B)
    expect((await client.listArtifacts()).artifacts).toEqual([])
    await expect(client.getArtifact('release-1.0.0')).rejects.toThrow(/Artifact not found/)
    service.assertClean()
  })

  it('downloads it by name in run A, and from run B through findBy', async () => {
    beJobOf(RUN_A)
    const own = path.join(tmp, 'down-own')
    const { artifact } = await client.getArtifact('release-1.0.0')
    const result = await client.downloadArtifact(artifact.id, {
      path: own,
      expectedHash: artifact.digest
    })
    expect(result.digestMismatch).toBe(false)
    expect(await tree(own)).toEqual(await tree(path.join(tmp, 'release')))

    beJobOf(RUN_B)
    const found = await client.getArtifact('release-1.0.0', findBy(RUN_A))
    expect(found.artifact).toMatchObject({
      id: uploadedId,
      name: 'release-1.0.0',
      digest: artifact.digest
    })
    const listed = await client.listArtifacts({ latest: true, ...findBy(RUN_A) })
    expect(listed.artifacts.map(a => a.name)).toEqual(['release-1.0.0'])
    const other = path.join(tmp, 'down-other')
    const viaApi = await client.downloadArtifact(uploadedId, {
      path: other,
      expectedHash: artifact.digest,
      ...findBy(RUN_A)
    })
    expect(viaApi.digestMismatch).toBe(false)
    expect(await tree(other)).toEqual(await tree(path.join(tmp, 'release')))
    // Run B has no such artifact of its own, and findBy on run B finds none either.
    await expect(client.getArtifact('release-1.0.0', findBy(RUN_B))).rejects.toThrow(
      /Artifact not found/
    )
    expect(forwarder.requests.map(r => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      `GET /repos/${REPOSITORY}/actions/runs/${RUN_A}/artifacts`,
      `GET /repos/${REPOSITORY}/actions/runs/${RUN_A}/artifacts`,
      `GET /repos/${REPOSITORY}/actions/artifacts/${uploadedId}/zip`,
      `GET /repos/${REPOSITORY}/actions/runs/${RUN_B}/artifacts`
    ])
    expect(violations).toEqual([])
    service.assertClean()
  })

  it('serves a stored zip changed by one byte as it is: the client sees the digest differ', async () => {
    beJobOf(RUN_B)
    const [stored] = service.artifacts()
    const original = await fs.readFile(stored.file)
    const tampered = Buffer.from(original)
    tampered[10] ^= 0x01 // the first entry's modification time: the zip still extracts
    await fs.writeFile(stored.file, tampered)
    try {
      const result = await client.downloadArtifact(stored.id, {
        path: path.join(tmp, 'down-tampered'),
        expectedHash: stored.digest as string,
        ...findBy(RUN_A)
      })
      expect(result.digestMismatch).toBe(true)
    } finally {
      await fs.writeFile(stored.file, original)
    }
  })

  it('refuses what the real service would, loudly: a foreign token, other backend ids, a bad route, an unsigned blob URL', async () => {
    const twirp = (method: string, token: string, body: unknown) =>
      fetch(new URL(`twirp/github.actions.results.api.v1.ArtifactService/${method}`, service.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body)
      })
    const a = service.runtimeFor({
      repository: REPOSITORY,
      runId: RUN_A,
      job: 'build'
    }).ACTIONS_RUNTIME_TOKEN
    const b = service.runtimeFor({
      repository: REPOSITORY,
      runId: RUN_B,
      job: 'build'
    }).ACTIONS_RUNTIME_TOKEN
    const idsOf = (token: string) => {
      const scp = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).scp as string
      const [, run, job] = scp
        .split(' ')
        .find(s => s.startsWith('Actions.Results:'))!
        .split(':')
      return { workflow_run_backend_id: run, workflow_job_run_backend_id: job }
    }
    const before = service.problems.length
    const forged = `${a.split('.').slice(0, 2).join('.')}.AAAA`
    expect((await twirp('ListArtifacts', forged, idsOf(a))).status).toBe(401)
    // Run B's token cannot reach run A's artifacts by naming run A's ids.
    const cross = await twirp('ListArtifacts', b, idsOf(a))
    expect(cross.status).toBe(403)
    expect(((await cross.json()) as { msg: string }).msg).toMatch(/not the token's/)
    expect((await twirp('CreateArtifact', a, { ...idsOf(a), version: 7 })).status).toBe(400)
    expect((await twirp('ListArtifacts', a, { ...idsOf(a), colour: 'red' })).status).toBe(400)
    expect((await twirp('UploadEverything', a, idsOf(a))).status).toBe(404)
    const [stored] = service.artifacts()
    const unsigned = await fetch(
      new URL(`blob/${stored.runBackendId}/${stored.id}/x.zip`, service.url)
    )
    expect(unsigned.status).toBe(403)
    expect(service.problems.slice(before)).toEqual([
      expect.stringMatching(/not issued by this service/),
      expect.stringMatching(/are not the token's/),
      expect.stringMatching(/required field name is missing/),
      expect.stringMatching(/unknown field\(s\) colour/),
      expect.stringMatching(/no method UploadEverything/),
      expect.stringMatching(/not signed by this service/)
    ])
    expect(() => service.assertClean()).toThrow(/unexpected requests/)
    service.problems.splice(before)
  })

  it('refuses a second artifact of the same name in a run, and deletes one by name', async () => {
    beJobOf(RUN_A)
    const src = path.join(tmp, 'release')
    await expect(
      client.uploadArtifact('release-1.0.0', [path.join(src, 'manifest.json')], src)
    ).rejects.toThrow(/\(409\).*already exists/)
    expect((await client.deleteArtifact('release-1.0.0')).id).toBe(uploadedId)
    expect(service.artifacts()).toEqual([])
    expect((await client.listArtifacts()).artifacts).toEqual([])
    service.assertClean()
  })
})

describe('the harness with an actions runtime', () => {
  /** An action that writes what it sees of the runtime into its outputs. */
  async function probe(kind: 'node' | 'composite'): Promise<string> {
    const dir = path.join(tmp, `probe-${kind}`)
    await fs.mkdir(dir, { recursive: true })
    const outputs = `outputs:
  token: { description: t${kind === 'composite' ? ', value: "${{ steps.p.outputs.token }}"' : ''} }
  url: { description: u${kind === 'composite' ? ', value: "${{ steps.p.outputs.url }}"' : ''} }
  run: { description: r${kind === 'composite' ? ', value: "${{ steps.p.outputs.run }}"' : ''} }
`
    if (kind === 'node') {
      await fs.writeFile(
        path.join(dir, 'action.yml'),
        `name: probe\ndescription: p\n${outputs}runs:\n  using: node24\n  main: index.mjs\n`
      )
      await fs.writeFile(
        path.join(dir, 'index.mjs'),
        `import fs from 'node:fs'
const e = process.env
fs.appendFileSync(e.GITHUB_OUTPUT, \`token=\${e.ACTIONS_RUNTIME_TOKEN ?? 'none'}\\nurl=\${e.ACTIONS_RESULTS_URL ?? 'none'}\\nrun=\${e.GITHUB_RUN_ID}\\n\`)
`
      )
    } else {
      await fs.writeFile(
        path.join(dir, 'action.yml'),
        `name: probe\ndescription: p\n${outputs}runs:
  using: composite
  steps:
    - id: p
      shell: bash
      run: |
        echo "token=\${ACTIONS_RUNTIME_TOKEN:-none}" >> "$GITHUB_OUTPUT"
        echo "url=\${ACTIONS_RESULTS_URL:-none}" >> "$GITHUB_OUTPUT"
        echo "run=$GITHUB_RUN_ID" >> "$GITHUB_OUTPUT"
`
      )
    }
    return dir
  }

  it('gives ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL to JavaScript actions only, for the run id of each run', async () => {
    const node = await probe('node')
    const composite = await probe('composite')
    const h = new Harness({
      github: { repository: REPOSITORY },
      actionsRuntime: service,
      tempDir: path.join(tmp, 'harness')
    })
    const first = await h.runAction(node)
    const second = await h.runAction(node)
    expect(first.result).toBe('success')
    expect(first.outputs.url).toBe(service.url)
    expect(first.outputs.run).not.toBe(second.outputs.run)
    const scp = (token: string): string =>
      JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')).scp as string
    const own = service.runtimeFor({ repository: REPOSITORY, runId: first.outputs.run, job: 'x' })
    expect(scp(first.outputs.token).split(':')[1]).toBe(
      scp(own.ACTIONS_RUNTIME_TOKEN).split(':')[1]
    )
    expect(scp(second.outputs.token).split(':')[1]).not.toBe(scp(first.outputs.token).split(':')[1])

    const script = await h.runAction(composite)
    expect(script.result).toBe('success')
    expect(script.outputs).toMatchObject({ token: 'none', url: 'none' })
    // Without a runtime, JavaScript actions get none either (a host ACTIONS_* never leaks in).
    process.env.ACTIONS_RUNTIME_TOKEN = 'from-the-host'
    const bare = await new Harness({ tempDir: path.join(tmp, 'harness') }).runAction(node)
    expect(bare.outputs).toMatchObject({ token: 'none', url: 'none' })
  })
})
