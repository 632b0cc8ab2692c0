/**
 * The reusable workflows end to end, through the harness (tools/harness): GitHub's own parser
 * and expression engine, the real actions (dist/*.js bundles, the release composite action),
 * a real private Apache with mod_wsgi, sshd on loopback, a directory store, and the
 * OpenAPI-checked fake GitHub reached by the actions' own processes through GITHUB_API_URL.
 *
 * The application's repository is a temporary git repository holding the sample app and its
 * sitecycle.yml (two sites: v1 local, v2 over SSH, both taking releases from the store); the
 * sitecycle repository is this working tree, checked out by the checkout fixture as it is.
 *
 *   1. release.yml (workflow_call) releases 1.0.0: tests, build, tag and GitHub release through
 *      the API, the directory store.
 *   2. deploy.yml deploys 1.0.0 to v1 on the local Apache, in v1's environment.
 *   3. A caller workflow in the application's repository, on a pushed tag v2.0.0, calls
 *      release.yml and then deploy.yml as remote reusable workflows (as users call them).
 *   4. deploy.yml deploys the newest release to v2 over SSH, the key from a secret, after a
 *      smoke test on the runner against the idle slot through a forwarded port.
 *   5. rollback.yml puts v1 back on 1.0.0, in a concurrency group of its own.
 *   6. The deploy-production starter, copied into acme/weave (another owner than sitecycle's),
 *      deploys 2.0.0 to v1 again: it is allowed to start (it grants what the deploy jobs ask
 *      for) and the config template's secret arrives by name, in SITECYCLE_SECRETS.
 *   7. The release action used directly on a self-hosted runner without node on PATH, in an
 *      application whose package.json says "type": "commonjs", releases 3.0.0.
 *
 * The application's package.json says "type": "commonjs" throughout: the release action's
 * staged ES-module bundle must load there.
 * The actions-artifact store (release run → deploy run) is covered by
 * artifact-roundtrip-e2e.test.ts, through the harness's fake Actions results service.
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (scripts/test.sh does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load-config.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { initSite } from '../../src/pipelines/init.js'
import { siteLayout } from '../../src/sites/layout.js'
import { prepareSampleSource } from '../../src/releases/sample-source.js'
import { createStore } from '../../src/stores/registry.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  allJobs,
  assertSucceeded,
  checkoutFixture,
  Harness,
  jobOf,
  setupNodeFixture,
  startGithubForwarder,
  type GithubForwarder,
  type HarnessOptions,
  type StaticCheck,
  type WorkflowRun
} from '../../tools/harness/index.js'
import { startApache, freePort, type TestApache } from '../helpers/apache.js'
import { FakeGithub } from '../helpers/github-openapi.js'
import { httpGet } from '../helpers/site.js'
import { startSshd, type Sshd } from '../helpers/sshd.js'
import { REPO, WORKFLOWS, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'

const SECRET_KEY = 'sample-secret-e2e-7f3a9c'
const PYTHON = '/usr/bin/python3'

let tmp: string
let app: string
let storeDir: string
let bin: string
/** The apt-get commands the workflows ran through sudo, one a line. */
let aptLog: string
let apache: TestApache
let sshd: Sshd
let fake: FakeGithub
let forwarder: GithubForwarder
const ports: { v1: number; v2: number } = { v1: 0, v2: 0 }
const harnesses: Harness[] = []

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', app, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    {
      encoding: 'utf8'
    }
  ).trim()
}

async function commitVersion(version: string): Promise<string> {
  await fs.writeFile(
    path.join(app, 'sitecycle_sample', '_version.py'),
    `__version__ = ${JSON.stringify(version)}\n`
  )
  git('add', '-A')
  git('commit', '-q', '-m', `sample ${version}`)
  const head = git('rev-parse', 'HEAD')
  fake.commits.add(head)
  return head
}

function siteYaml(name: string, host: string, port: number): string {
  return `  ${name}:
    host: ${host}
    root: ${path.join(tmp, 'sites', name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 30 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage check"]
    keep_releases: 3
    preflight: { min_free_mb: 10 }
    store: { type: directory, path: ${storeDir} }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

/** A harness for one run: the application's repository at its HEAD, this repo as sitecycle. */
function harness(extra: Partial<HarnessOptions> = {}): Harness {
  const head = git('rev-parse', 'HEAD')
  const remote = (file: string) => ({
    file: path.join(WORKFLOWS, file),
    root: REPO,
    repository: SITECYCLE,
    sha: SITECYCLE_SHA
  })
  const h = new Harness({
    repository: { root: REPO, name: SITECYCLE, sha: SITECYCLE_SHA },
    github: {
      repository: fake.repository,
      sha: head,
      ref: 'refs/heads/main',
      token: fake.token,
      apiUrl: forwarder.apiUrl
    },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [fake.repository]: { dir: app, mode: 'clone' },
        [SITECYCLE]: { dir: REPO, mode: 'copy', sha: SITECYCLE_SHA }
      }),
      'actions/setup-node': setupNodeFixture()
    },
    remoteWorkflows: {
      [`${SITECYCLE}/.github/workflows/release.yml`]: remote('release.yml'),
      [`${SITECYCLE}/.github/workflows/deploy.yml`]: remote('deploy.yml'),
      [`${SITECYCLE}/.github/workflows/rollback.yml`]: remote('rollback.yml')
    },
    environments: {
      v1: { reviewers: ['release-manager'], secrets: { SAMPLE_SECRET_KEY: SECRET_KEY } },
      v2: { waitTimer: 10, secrets: { SAMPLE_SECRET_KEY: SECRET_KEY } }
    },
    // A GitHub runner's passwordless sudo; root here, so the shim runs the command itself.
    env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, PIP_CONFIG_FILE: '/dev/null' },
    unsetEnv: ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'],
    ...extra
  })
  harnesses.push(h)
  return h
}

async function servedVersion(site: 'v1' | 'v2'): Promise<string> {
  return (await httpGet(`http://127.0.0.1:${ports[site]}/__version__`)).body
}

function checks<K extends StaticCheck['kind']>(
  run: WorkflowRun,
  kind: K
): Extract<StaticCheck, { kind: K }>[] {
  return run.checks.filter((c): c is Extract<StaticCheck, { kind: K }> => c.kind === kind)
}

/** No warning or error annotation: e.g. an input the workflow passes that the action does not declare. */
function expectNoWarnings(run: WorkflowRun): void {
  expect(run.annotations.filter(a => a.level !== 'notice')).toEqual([])
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-e2e-'))
  await fs.chmod(tmp, 0o755)
  storeDir = path.join(tmp, 'store')
  bin = path.join(tmp, 'bin')
  await fs.mkdir(bin)
  // A GitHub runner's passwordless sudo; apt-get is recorded, not run (the build tools are here).
  aptLog = path.join(tmp, 'apt.log')
  await fs.writeFile(
    path.join(bin, 'sudo'),
    `#!/bin/sh\nif [ "$1" = apt-get ]; then echo "$*" >> '${aptLog}'; exit 0; fi\nexec "$@"\n`,
    { mode: 0o755 }
  )
  fake = new FakeGithub({ owner: 'acme', repo: 'weave' })
  forwarder = await startGithubForwarder(fake.fetch)
  ;[apache, sshd] = await Promise.all([startApache(), startSshd()])
  ports.v1 = await freePort()
  ports.v2 = await freePort()

  // The application's repository: the sample app at 1.0.0, its sitecycle.yml and config template.
  const source = await prepareSampleSource({ version: '1.0.0', into: tmp })
  app = path.join(tmp, 'app')
  await fs.rename(source, app)
  await fs.mkdir(path.join(app, 'deploy'))
  await fs.writeFile(
    path.join(app, 'deploy', 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nsecret_key = {{ secret.SAMPLE_SECRET_KEY }}\nversion = {{ release.version }}\n'
  )
  await fs.writeFile(
    path.join(app, 'sitecycle.yml'),
    [
      'app:',
      '  package: sitecycle-sample',
      '  wsgi: sitecycle_sample.wsgi:application',
      `  tests: ${JSON.stringify(`${PYTHON} -c "print('sample tests passed')"`)}`,
      'release:',
      '  out_dir: ../release-out',
      '  stores:',
      `    - { type: directory, path: ${storeDir} }`,
      'sites:',
      siteYaml('v1', 'local', ports.v1) +
        siteYaml('v2', `ssh://root@127.0.0.1:${sshd.port}`, ports.v2)
    ].join('\n')
  )
  // An application with JavaScript tooling of its own, in CommonJS.
  await fs.writeFile(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'weave-tools', private: true, type: 'commonjs' }, null, 2) + '\n'
  )
  execFileSync('git', ['init', '-q', '-b', 'main', app])
  await commitVersion('1.0.0')

  // The sites exist before any workflow deploys to them (`sitecycle init`, once per site).
  const config = await loadConfig(path.join(app, 'sitecycle.yml'))
  const reporter = new StreamReporter(() => undefined)
  for (const [name, ssh] of [
    ['v1', {}],
    ['v2', { keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile }]
  ] as const) {
    const site = config.sites[name]
    const exec = createExecutor(site.host, ssh)
    try {
      await initSite({ config, site, exec, reporter })
    } finally {
      await exec.close()
    }
  }
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await forwarder?.close()
  await apache?.stop()
  await sshd?.stop()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

describe('the reusable workflows, end to end through the harness', () => {
  it('release.yml releases 1.0.0: tests, build, tag and GitHub release through the API, the store', async () => {
    const head = git('rev-parse', 'HEAD')
    const run = await harness().runWorkflow(path.join(WORKFLOWS, 'release.yml'), {
      event: 'workflow_call',
      // As on a GitHub Enterprise Server without job.workflow_*: the same repository and commit
      // as the `uses:` line, passed explicitly.
      inputs: {
        notes: 'First release.',
        'sitecycle-repository': SITECYCLE,
        'sitecycle-ref': SITECYCLE_SHA
      }
    })
    assertSucceeded(run)
    // The package lists are refreshed before the build tools are installed from them.
    expect((await fs.readFile(aptLog, 'utf8')).trim().split('\n')).toEqual([
      'apt-get update',
      expect.stringMatching(/^apt-get install -y --no-install-recommends python3-build /)
    ])
    expectNoWarnings(run)
    expect(run.outputs).toMatchObject({
      version: '1.0.0',
      tag: 'v1.0.0',
      'release-url': 'https://github.com/acme/weave/releases/tag/v1.0.0'
    })
    const files = run.outputs.files.split('\n')
    expect(files.map(f => path.basename(f)).sort()).toEqual([
      expect.stringMatching(/^sitecycle[-_]sample-1\.0\.0\.tar\.gz$/),
      'sitecycle_sample-1.0.0-py3-none-any.whl'
    ])
    for (const f of [...files, run.outputs['manifest-path']]) expect(existsSync(f)).toBe(true)
    expect(run.log.some(l => l.endsWith('sample tests passed'))).toBe(true)

    // GitHub saw a tag on the released commit and a published release with its assets.
    expect(fake.tagCommit('v1.0.0')).toBe(head)
    const release = fake.releaseOfTag('v1.0.0')
    expect(release).toMatchObject({ draft: false, targetCommitish: head })
    expect(release?.body).toContain('First release.')
    expect(release?.assets.map(a => a.name).sort()).toEqual(
      ['SHA256SUMS', 'manifest.json', ...files.map(f => path.basename(f))].sort()
    )
    fake.assertClean()
    const store = createStore(
      { type: 'directory', path: storeDir, host: { kind: 'local' } },
      { executorFor: h => createExecutor(h, {}), env: process.env }
    )
    expect(await store.listVersions()).toEqual(['1.0.0'])

    // What the harness checked without GitHub: one release per repository, write only in the job.
    expect(checks(run, 'concurrency')).toEqual([
      expect.objectContaining({
        scope: 'job',
        group: 'sitecycle-release-acme/weave',
        cancelInProgress: false,
        deadlock: false
      })
    ])
    expect(checks(run, 'permissions').map(c => c.permissions)).toEqual([{}, { contents: 'write' }])
    expect(run.log.join('\n')).not.toContain(fake.token)
    // As GitHub has it after the release: the tag in the repository.
    git('tag', 'v1.0.0', head)
  })

  it('deploy.yml deploys 1.0.0 to v1 on the local Apache, in the v1 environment', async () => {
    expect((await httpGet(`http://127.0.0.1:${ports.v1}/__version__`)).status).toBe(503)
    const approvals: string[] = []
    const run = await harness({
      approve: r => (approvals.push(`${r.environment}:${r.reviewers.join()}`), true)
    }).runWorkflow(path.join(WORKFLOWS, 'deploy.yml'), {
      inputs: { site: 'v1', version: '1.0.0', 'runs-on': 'self-hosted' }
    })
    assertSucceeded(run)
    expectNoWarnings(run)
    expect(run.outputs).toEqual({
      version: '1.0.0',
      'previous-version': '',
      url: `http://127.0.0.1:${ports.v1}`,
      'rolled-back': 'false'
    })
    expect(await servedVersion('v1')).toBe('1.0.0')
    expect(run.jobs.map(j => `${j.id}:${j.result}`)).toEqual([
      'hosts:success',
      'canary:success',
      'rest:skipped'
    ])
    expect(approvals).toEqual(['v1:release-manager'])
    expect(checks(run, 'environment')).toEqual([
      expect.objectContaining({
        name: 'v1',
        reviewers: ['release-manager'],
        approved: true,
        url: `http://127.0.0.1:${ports.v1}`
      })
    ])
    expect(checks(run, 'concurrency')[0]).toMatchObject({
      scope: 'workflow',
      group: 'sitecycle-deploy-v1',
      deadlock: false
    })
    // The environment secret reached the rendered config, and never the log.
    const ini = await fs
      .readFile(path.join(tmp, 'sites', 'v1', 'shared', 'app.ini'), 'utf8')
      .catch(() => '')
    expect(ini === '' || ini.includes(SECRET_KEY)).toBe(true)
    expect(run.log.join('\n')).not.toContain(SECRET_KEY)
  })

  it('a caller workflow on tag v2.0.0 releases and deploys it through the remote reusable workflows', async () => {
    const head = await commitVersion('2.0.0')
    git('tag', 'v2.0.0')
    fake.addTag('v2.0.0', head) // the pushed tag
    await fs.mkdir(path.join(app, '.github', 'workflows'), { recursive: true })
    const caller = path.join(app, '.github', 'workflows', 'ship.yml')
    await fs.writeFile(
      caller,
      `name: ship
on:
  push:
    tags: ['v*']
permissions: {}
jobs:
  release:
    permissions:
      contents: write
    uses: ${SITECYCLE}/.github/workflows/release.yml@${SITECYCLE_SHA}
    with:
      notes: Second release.
  deploy:
    needs: release
    permissions:
      contents: read
      actions: read
      deployments: write
    uses: ${SITECYCLE}/.github/workflows/deploy.yml@${SITECYCLE_SHA}
    with:
      site: v1
      version: \${{ needs.release.outputs.version }}
      runs-on: self-hosted
    secrets:
      SITECYCLE_SECRETS: \${{ secrets.SITECYCLE_SECRETS }}
`
    )
    const run = await harness({
      repository: { root: app, name: fake.repository, sha: head },
      github: {
        repository: fake.repository,
        sha: head,
        ref: 'refs/tags/v2.0.0',
        token: fake.token,
        apiUrl: forwarder.apiUrl
      },
      secrets: { SITECYCLE_SECRETS: JSON.stringify({ SAMPLE_SECRET_KEY: SECRET_KEY }) },
      environments: { v1: {} }
    }).runWorkflow(caller, { event: 'push' })
    assertSucceeded(run)
    expectNoWarnings(run)
    expect(jobOf(run, 'release').outputs).toMatchObject({ version: '2.0.0', tag: 'v2.0.0' })
    expect(jobOf(run, 'deploy').outputs).toMatchObject({
      version: '2.0.0',
      'previous-version': '1.0.0'
    })
    expect(await servedVersion('v1')).toBe('2.0.0')
    // The pushed tag was used, not made again; the release is on it.
    expect(fake.tagCommit('v2.0.0')).toBe(head)
    expect(fake.releaseOfTag('v2.0.0')?.body).toContain('Second release.')
    fake.assertClean()
    // Inside the called workflows job.workflow_* named sitecycle at its sha (the checkout fixture
    // refuses any other ref), while github.repository stayed the caller's.
    expect(allJobs(run).map(j => j.id)).toEqual([
      'release',
      'release',
      'deploy',
      'hosts',
      'canary',
      'rest'
    ])
    expect(run.log.join('\n')).not.toContain(SECRET_KEY)
  })

  it('deploy.yml deploys the newest release to v2 over SSH, the key from a secret', async () => {
    const knownHosts = await fs.readFile(sshd.knownHostsFile, 'utf8')
    const key = await fs.readFile(sshd.keyFile, 'utf8')
    const deployments = fake.deployments.length
    // In an environment not named after the site: the protection rules and the deployment
    // record are both that environment's.
    const run = await harness({
      environments: { 'preview-v2': { waitTimer: 10, secrets: { SAMPLE_SECRET_KEY: SECRET_KEY } } }
    }).runWorkflow(path.join(WORKFLOWS, 'deploy.yml'), {
      inputs: {
        site: 'v2',
        'known-hosts': knownHosts,
        environment: 'preview-v2',
        // Run on the runner against the idle slot, through a port forwarded over SSH.
        'smoke-test':
          'test "$(curl -fsS -H "$SITECYCLE_IDLE_HEADER" -H "Host: $SITECYCLE_IDLE_HOST" "$SITECYCLE_IDLE_URL/__version__")" = 2.0.0 && echo "smoke test: the idle slot serves 2.0.0"'
      },
      secrets: { SITECYCLE_SSH_KEY: key }
    })
    assertSucceeded(run)
    expectNoWarnings(run)
    expect(run.outputs).toMatchObject({
      version: '2.0.0',
      'previous-version': '',
      'rolled-back': 'false'
    })
    expect(await servedVersion('v2')).toBe('2.0.0')
    expect(checks(run, 'environment')[0]).toMatchObject({
      name: 'preview-v2',
      reviewers: [],
      waitTimer: 10
    })
    expect(fake.deployments.slice(deployments).map(d => d.environment)).toEqual(['preview-v2'])
    const log = run.log.join('\n')
    expect(log).toContain('smoke test: the idle slot serves 2.0.0')
    for (const line of key
      .trim()
      .split('\n')
      .filter(l => !l.startsWith('-----'))) {
      expect(log).not.toContain(line)
    }
  })

  it('rollback.yml puts v1 back on the previous release', async () => {
    const run = await harness().runWorkflow(path.join(WORKFLOWS, 'rollback.yml'), {
      inputs: { site: 'v1', 'runs-on': 'self-hosted' }
    })
    assertSucceeded(run)
    expectNoWarnings(run)
    expect(run.outputs).toEqual({
      version: '1.0.0',
      'previous-version': '2.0.0',
      url: `http://127.0.0.1:${ports.v1}`,
      'rolled-back': 'true'
    })
    expect(await servedVersion('v1')).toBe('1.0.0')
    // Not the deploy's group: a deploy waiting for a reviewer holds that one.
    expect(checks(run, 'concurrency')[0]).toMatchObject({ group: 'sitecycle-rollback-v1' })
  })

  it('the deploy-production starter, copied into a repository of another owner, deploys with its secrets', async () => {
    const starter = await fs.readFile(path.join(REPO, 'workflows', 'deploy-production.yml'), 'utf8')
    const copy = path.join(app, '.github', 'workflows', 'deploy-production.yml')
    await fs.writeFile(
      copy,
      starter
        .replace(/OWNER\/sitecycle\//g, `${SITECYCLE}/`)
        .replace(/@0{40}/g, `@${SITECYCLE_SHA}`)
    )
    const ini = path.join(siteLayout(path.join(tmp, 'sites', 'v1')).release('2.0.0'), 'app.ini')
    await fs.rm(ini, { force: true })
    // rollback.yml left 2.0.0 marked bad, and a deploy of a version marked bad is refused: the
    // operator who finds 2.0.0 good after all clears its mark (the CLI's --allow-bad, or by hand).
    await fs.rm(path.join(siteLayout(path.join(tmp, 'sites', 'v1')).release('2.0.0'), 'BAD'), {
      force: false
    })
    const head = git('rev-parse', 'HEAD')
    const run = await harness({
      repository: { root: app, name: fake.repository, sha: head },
      // Only repository secrets: no environment secret of v1 could stand in for them.
      secrets: { SITECYCLE_SECRETS: JSON.stringify({ SAMPLE_SECRET_KEY: SECRET_KEY }) },
      environments: { v1: { reviewers: ['release-manager'] } }
    }).runWorkflow(copy, { event: 'workflow_dispatch', inputs: { version: '2.0.0' } })
    assertSucceeded(run)
    expectNoWarnings(run)
    expect(jobOf(run, 'deploy').outputs).toMatchObject({
      version: '2.0.0',
      'previous-version': '1.0.0'
    })
    expect(await servedVersion('v1')).toBe('2.0.0')
    // The template's secret came through SITECYCLE_SECRETS, across owners, and never to the log.
    expect(await fs.readFile(ini, 'utf8')).toContain(`secret_key = ${SECRET_KEY}`)
    expect(run.log.join('\n')).not.toContain(SECRET_KEY)
  })

  it('the release action on a self-hosted runner without node on PATH, in a CommonJS application, releases 3.0.0', async () => {
    const head = await commitVersion('3.0.0')
    git('tag', 'v3.0.0')
    fake.addTag('v3.0.0', head)
    // The runner's node is its own (externals/), not on PATH: a `node` there is not usable.
    const noNode = path.join(tmp, 'no-node')
    await fs.mkdir(noNode, { recursive: true })
    await fs.writeFile(
      path.join(noNode, 'node'),
      '#!/bin/sh\necho "node: not on this runner" >&2\nexit 127\n',
      { mode: 0o755 }
    )
    // actions/setup-node as on GitHub: it puts a node of the asked version first on PATH.
    const setupNode = path.join(tmp, 'setup-node')
    await fs.mkdir(setupNode, { recursive: true })
    await fs.writeFile(
      path.join(setupNode, 'action.yml'),
      `name: setup-node
description: node first on PATH
inputs:
  node-version: { description: x, default: '' }
runs:
  using: composite
  steps:
    - shell: bash
      run: echo '${path.dirname(process.execPath)}' >> "$GITHUB_PATH"
`
    )
    const caller = path.join(app, '.github', 'workflows', 'release-here.yml')
    await fs.writeFile(
      caller,
      `name: release here
on:
  push:
    tags: ['v*']
permissions: {}
jobs:
  release:
    runs-on: [self-hosted]
    permissions:
      contents: write
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          fetch-depth: 0
          persist-credentials: false
      - id: release
        uses: ${SITECYCLE}/actions/release@${SITECYCLE_SHA}
        with:
          notes: Third release.
`
    )
    const run = await harness({
      repository: { root: app, name: fake.repository, sha: head },
      github: {
        repository: fake.repository,
        sha: head,
        ref: 'refs/tags/v3.0.0',
        token: fake.token,
        apiUrl: forwarder.apiUrl
      },
      remoteActions: {
        'actions/checkout': checkoutFixture({ [fake.repository]: { dir: app, mode: 'clone' } }),
        'actions/setup-node': { dir: setupNode },
        [`${SITECYCLE}/actions/release`]: { dir: path.join(REPO, 'actions', 'release') }
      },
      env: {
        PATH: `${noNode}:${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        PIP_CONFIG_FILE: '/dev/null'
      }
    }).runWorkflow(caller, { event: 'push' })
    assertSucceeded(run)
    expect(jobOf(run, 'release').steps.find(s => s.id === 'release')?.outputs).toMatchObject({
      version: '3.0.0',
      tag: 'v3.0.0'
    })
    expect(fake.releaseOfTag('v3.0.0')?.body).toContain('Third release.')
    fake.assertClean()
  })
})
