/**
 * A release round-trips through the `actions-artifact` store, from the release workflow's run
 * to a later deploy workflow's run, through the harness (tools/harness) and the real
 * @actions/artifact 6 client inside the actions' bundles (dist/publish.js, dist/deploy-stage.js):
 *
 *   run A  release.yml publishes the sample app as the artifact `release-1.0.0`: the publish
 *          step, a JavaScript action, gets the runtime token from the harness and uploads to the
 *          fake results service (tools/harness/artifact-service.ts);
 *   run B  deploy.yml with `artifact-run-id` = run A finds it through `findBy` (the public REST
 *          API: the OpenAPI-checked fake GitHub behind a loopback forwarder, its artifact
 *          operations answered by the service) and is refused: one byte of the stored zip was
 *          changed, so its digest is not the one uploaded; nothing on the site changed;
 *   run C  the same deploy with the zip as uploaded installs 1.0.0 on a real local Apache site.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (scripts/test.sh does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load-config.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { initSite } from '../../src/pipelines/init.js'
import { prepareSampleSource } from '../../src/releases/sample-source.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  allSteps,
  ArtifactService,
  assertSucceeded,
  checkoutFixture,
  Harness,
  jobOf,
  setupNodeFixture,
  startGithubForwarder,
  type GithubForwarder,
  type HarnessOptions
} from '../../tools/harness/index.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { FakeGithub } from '../helpers/github-openapi.js'
import {
  checkRequest,
  checkResponse,
  loadGithubDescription,
  type Operation
} from '../helpers/openapi-check.js'
import { httpGet } from '../helpers/site.js'
import { REPO, WORKFLOWS, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'

const SECRET_KEY = 'sample-secret-artifact-e2e-51c0'
const PYTHON = '/usr/bin/python3'
const RUN_A = '7100001'
const RUN_B = '7100002'
const RUN_C = '7100003'
const ARTIFACT_OPERATIONS = new Set([
  'actions/list-workflow-run-artifacts',
  'actions/download-artifact',
  'actions/get-artifact',
  'actions/delete-artifact'
])

let tmp: string
let app: string
let bin: string
let port: number
let apache: TestApache
let fake: FakeGithub
let service: ArtifactService
let forwarder: GithubForwarder
const violations: string[] = []
const harnesses: Harness[] = []

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', app, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    { encoding: 'utf8' }
  ).trim()
}

/**
 * GitHub's REST API: the artifact operations answered by the artifact service, checked against
 * the description like the fake GitHub's own; everything else by the fake GitHub.
 */
function githubWithArtifacts(): typeof globalThis.fetch {
  const doc = loadGithubDescription()
  return async (input, init = {}) => {
    const url = new URL(String(input))
    const method = (init.method ?? 'GET').toUpperCase()
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => (headers[k] = v))
    const check = checkRequest(doc, { method, url, headers })
    if (!ARTIFACT_OPERATIONS.has(check.operation?.operationId ?? '')) return fake.fetch(input, init)
    const answer =
      check.problems.length === 0 ? await service.answerGithub({ method, url, headers }) : undefined
    if (!answer) {
      violations.push(`${method} ${url}: ${check.problems.join('; ')}`)
      return new Response(JSON.stringify({ message: 'OpenAPI check failed' }), { status: 400 })
    }
    if (answer.status !== 302)
      violations.push(
        ...checkResponse(doc, check.operation as Operation, answer.status, answer.body)
      )
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...answer.headers }
    })
  }
}

/** A harness for one workflow run (its own run id), the application at HEAD, this repo as sitecycle. */
function harness(runId: string, extra: Partial<HarnessOptions> = {}): Harness {
  const h = new Harness({
    repository: { root: REPO, name: SITECYCLE, sha: SITECYCLE_SHA },
    github: {
      repository: fake.repository,
      sha: git('rev-parse', 'HEAD'),
      ref: 'refs/heads/main',
      token: fake.token,
      apiUrl: forwarder.apiUrl,
      runId
    },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [fake.repository]: { dir: app, mode: 'clone' },
        [SITECYCLE]: { dir: REPO, mode: 'copy', sha: SITECYCLE_SHA }
      }),
      'actions/setup-node': setupNodeFixture()
    },
    environments: { v1: { secrets: { SAMPLE_SECRET_KEY: SECRET_KEY } } },
    actionsRuntime: service,
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, PIP_CONFIG_FILE: '/dev/null' },
    unsetEnv: ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'],
    ...extra
  })
  harnesses.push(h)
  return h
}

function deployFromRunA(runId: string) {
  return harness(runId).runWorkflow(path.join(WORKFLOWS, 'deploy.yml'), {
    inputs: { site: 'v1', version: '1.0.0', 'runs-on': 'self-hosted', 'artifact-run-id': RUN_A }
  })
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-artifact-e2e-'))
  await fs.chmod(tmp, 0o755)
  bin = path.join(tmp, 'bin')
  await fs.mkdir(bin)
  // A GitHub runner's passwordless sudo; root here, so the shim runs the command itself.
  await fs.writeFile(path.join(bin, 'sudo'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 })
  fake = new FakeGithub({ owner: 'acme', repo: 'weave' })
  service = await ArtifactService.start({
    root: path.join(tmp, 'artifact-storage'),
    githubToken: fake.token
  })
  forwarder = await startGithubForwarder(githubWithArtifacts())
  apache = await startApache()
  port = await freePort()

  const source = await prepareSampleSource({ version: '1.0.0', into: tmp })
  app = path.join(tmp, 'app')
  await fs.rename(source, app)
  await fs.mkdir(path.join(app, 'deploy'))
  await fs.writeFile(
    path.join(app, 'deploy', 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nsecret_key = {{ secret.SAMPLE_SECRET_KEY }}\nversion = {{ release.version }}\n'
  )
  const store = `{ type: actions-artifact, name: 'release-{version}', retention_days: 3 }`
  await fs.writeFile(
    path.join(app, 'sitecycle.yml'),
    `app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
  tests: ${JSON.stringify(`${PYTHON} -c "print('sample tests passed')"`)}
release:
  out_dir: ../release-out
  stores:
    - ${store}
sites:
  v1:
    host: local
    root: ${path.join(tmp, 'sites', 'v1')}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage check"]
    keep_releases: 3
    preflight: { min_free_mb: 10 }
    store: ${store}
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
  )
  execFileSync('git', ['init', '-q', '-b', 'main', app])
  git('add', '-A')
  git('commit', '-q', '-m', 'sample 1.0.0')
  fake.commits.add(git('rev-parse', 'HEAD'))

  const config = await loadConfig(path.join(app, 'sitecycle.yml'))
  const exec = createExecutor(config.sites.v1.host, {})
  try {
    await initSite({
      config,
      site: config.sites.v1,
      exec,
      reporter: new StreamReporter(() => undefined)
    })
  } finally {
    await exec.close()
  }
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await forwarder?.close()
  await service?.close()
  await apache?.stop()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

describe('the actions-artifact store from the release run to a deploy run', () => {
  it('run A: release.yml uploads the release as an artifact from its JavaScript publish step', async () => {
    const run = await harness(RUN_A).runWorkflow(path.join(WORKFLOWS, 'release.yml'), {
      event: 'workflow_call',
      inputs: { notes: 'Through an artifact.' }
    })
    assertSucceeded(run)
    expect(run.outputs).toMatchObject({ version: '1.0.0', tag: 'v1.0.0' })
    expect(service.artifacts()).toEqual([
      expect.objectContaining({
        name: 'release-1.0.0',
        repository: fake.repository,
        runId: RUN_A,
        finalized: true,
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/)
      })
    ])
    const [stored] = service.artifacts()
    expect(Date.parse(stored.expiresAt ?? '') - Date.now()).toBeGreaterThan(2 * 86400_000)
    // The zip holds the release folder: the built files, the manifest, the checksums.
    const names = execFileSync(
      PYTHON,
      [
        '-c',
        'import sys,zipfile;print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
        stored.file
      ],
      { encoding: 'utf8' }
    )
      .trim()
      .split('\n')
    expect(names).toEqual(
      expect.arrayContaining([
        'manifest.json',
        'SHA256SUMS',
        'sitecycle_sample-1.0.0-py3-none-any.whl'
      ])
    )
    expect(service.requests.map(r => r.kind)).toEqual(
      expect.arrayContaining(['twirp/CreateArtifact', 'blob/blocklist', 'twirp/FinalizeArtifact'])
    )
    expect(fake.releaseOfTag('v1.0.0')?.draft).toBe(false)
    fake.assertClean()
    service.assertClean()
    expect(violations).toEqual([])
  })

  it('run B: deploy.yml refuses the artifact of run A when one stored byte changed, before touching the site', async () => {
    const [stored] = service.artifacts()
    const original = await fs.readFile(stored.file)
    const tampered = Buffer.from(original)
    tampered[10] ^= 0x01 // the first entry's modification time: it still unzips, but is not what was uploaded
    await fs.writeFile(stored.file, tampered)
    const before = forwarder.requests.length
    const releasesDir = path.join(tmp, 'sites', 'v1', 'releases')
    const releasesBefore = await fs.readdir(releasesDir)
    try {
      const run = await deployFromRunA(RUN_B)
      expect(run.result).toBe('failure')
      expect(jobOf(run, 'canary').result).toBe('failure')
      const log = run.log.join('\n')
      expect(log).toMatch(
        /the artifact release-1\.0\.0 came down with another digest than it was uploaded with: refusing it/
      )
      expect(allSteps(jobOf(run, 'canary').steps).find(s => s.id === 'deploy')?.outcome).toBe(
        'failure'
      )
    } finally {
      await fs.writeFile(stored.file, original)
    }
    // It was looked for in run A, through the public API, and downloaded from there.
    expect(
      forwarder.requests.slice(before).map(r => `${r.method} ${new URL(r.url).pathname}`)
    ).toEqual(
      expect.arrayContaining([
        `GET /repos/${fake.repository}/actions/runs/${RUN_A}/artifacts`,
        `GET /repos/${fake.repository}/actions/artifacts/${stored.id}/zip`
      ])
    )
    expect((await httpGet(`http://127.0.0.1:${port}/__version__`)).status).toBe(503)
    await expect(fs.readdir(releasesDir)).resolves.toEqual(releasesBefore)
    expect(releasesBefore).not.toContain('1.0.0')
  })

  it('run C: deploy.yml installs 1.0.0 from run A on the local Apache site', async () => {
    const run = await deployFromRunA(RUN_C)
    assertSucceeded(run)
    expect(run.outputs).toMatchObject({
      version: '1.0.0',
      url: `http://127.0.0.1:${port}`,
      'rolled-back': 'false'
    })
    expect((await httpGet(`http://127.0.0.1:${port}/__version__`)).body).toBe('1.0.0')
    // Nothing was uploaded by the deploy runs: the one artifact is still run A's.
    expect(service.artifacts().map(a => `${a.runId}:${a.name}`)).toEqual([`${RUN_A}:release-1.0.0`])
    expect(run.log.join('\n')).not.toContain(SECRET_KEY)
    fake.assertClean()
    service.assertClean()
    expect(violations).toEqual([])
  })
})
