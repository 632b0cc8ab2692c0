/**
 * actions/deploy, the composite action made of the deploy's stages, end to end through the
 * harness (GitHub's own parser and expression engine) in a workflow of the application's
 * repository, against a real private Apache with mod_wsgi on this machine (the self-hosted runner
 * is the server):
 *
 *   - with a smoke test that passes: it sees the new release in the idle slot, then users are
 *     switched; outputs as the one-step action gave them (`deployed`);
 *   - with one that fails, under load: users stay on the old release with no failed request, the
 *     undo step runs, the lock is released, `status` is `rolled-back`;
 *   - the version already live: prepare ends it (`unchanged`), the later stages are skipped.
 *   - a site the stages do not take (allow-bad): refused with a smoke test, deployed in one step
 *     by prepare without one;
 *   - a run cancelled during the smoke test: the undo step runs, users stay where they were.
 *
 * Each run's GitHub deployment (the OpenAPI-checked fake) is in progress from prepare and settled
 * by the stage that ends the deploy.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (the test script does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import {
  allJobs,
  allSteps,
  checkoutFixture,
  Harness,
  jobOf,
  startGithubForwarder,
  type GithubForwarder,
  type WorkflowRun
} from '../../tools/harness/index.js'
import { idleSmokeScript, setUpAppRepo, type AppRepo } from '../helpers/app-repo.js'
import { FakeGithub } from '../helpers/github-openapi.js'
import { REPO, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'
import { isFailure, startLoad } from '../helpers/load.js'
import { httpGet, type TestSite } from '../helpers/site.js'

const SECRET = 'composite-deploy-secret-41d9'
const CHECKOUT = 'actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2'

let app: AppRepo
let fake: FakeGithub
let forwarder: GithubForwarder
let site: TestSite
let work: string
const harnesses: Harness[] = []

/** The workflow of the application's repository: the deploy action with its smoke test. */
function workflow(smokeTest: string, allowBad: boolean): string {
  return `name: deploy
on:
  workflow_dispatch:
    inputs:
      version:
        required: true
        type: string
permissions: {}
jobs:
  deploy:
    runs-on: self-hosted
    environment: v1
    permissions:
      contents: read
      deployments: write
    outputs:
      status: \${{ steps.deploy.outputs.status }}
      version: \${{ steps.deploy.outputs.version }}
      previous-version: \${{ steps.deploy.outputs.previous-version }}
      url: \${{ steps.deploy.outputs.url }}
      rolled-back: \${{ steps.deploy.outputs.rolled-back }}
    steps:
      - uses: ${CHECKOUT}
      - id: deploy
        uses: ${SITECYCLE}/actions/deploy@${SITECYCLE_SHA}
        with:
          site: v1
          version: \${{ inputs.version }}
          smoke-test: ${JSON.stringify(smokeTest)}
          allow-bad: ${allowBad}
          config-secrets: \${{ toJSON(secrets) }}
        env:
          GITHUB_TOKEN: \${{ github.token }}
`
}

async function runDeploy(
  version: string,
  smoke: 'pass' | 'fail' | 'hang' | 'none',
  allowBad = false
): Promise<WorkflowRun> {
  const workflows = path.join(site.dir, '.github', 'workflows')
  await fs.mkdir(workflows, { recursive: true })
  await fs.writeFile(
    path.join(workflows, 'deploy.yml'),
    workflow(smoke === 'none' ? '' : './tests/smoke.sh --quick', allowBad)
  )
  await fs.mkdir(path.join(site.dir, 'tests'), { recursive: true })
  await fs.writeFile(
    path.join(site.dir, 'tests', 'smoke.sh'),
    idleSmokeScript(path.join(work, 'smoke-saw'), smoke === 'none' ? 'pass' : smoke),
    { mode: 0o755 }
  )
  app.git('add', '-A')
  app.git('commit', '-q', '--allow-empty', '-m', `smoke ${smoke}`)
  const head = app.git('rev-parse', 'HEAD')
  fake.commits.add(head)
  const cancel = new AbortController()
  const h = new Harness({
    // A hanging smoke test: the run is cancelled (the Cancel workflow button) once it waits.
    onLog: line => {
      if (smoke === 'hang' && line.includes('smoke test: waiting')) cancel.abort()
    },
    repository: { root: site.dir, name: fake.repository },
    github: {
      repository: fake.repository,
      sha: head,
      ref: 'refs/heads/main',
      token: fake.token,
      apiUrl: forwarder.apiUrl
    },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [fake.repository]: { dir: site.dir, mode: 'clone' }
      }),
      [`${SITECYCLE}/actions/deploy`]: { dir: path.join(REPO, 'actions', 'deploy') }
    },
    environments: { v1: { reviewers: ['release-manager'] } },
    approve: () => true,
    secrets: { SAMPLE_SECRET_KEY: SECRET },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  })
  harnesses.push(h)
  return h.runWorkflow(path.join(workflows, 'deploy.yml'), {
    event: 'workflow_dispatch',
    inputs: { version },
    signal: cancel.signal
  })
}

/** The composite's own steps, by name, with their conclusions. */
function stageResults(run: WorkflowRun): [string, string][] {
  return allSteps(allJobs(run).flatMap(j => j.steps))
    .filter(s => !s.post)
    .map(s => [s.name, s.conclusion] as [string, string])
}

/** How a stage ended; null: not checked. */
type Ending = 'success' | 'failure' | 'skipped' | null

/**
 * Expect the composite's stages (as actions/deploy/action.yml names them) to have ended as the
 * table `ends` says, in the order they run: prepare, smoke test, switch, finish, undo.
 */
function expectStages(
  run: WorkflowRun,
  ends: [prepare: Ending, smokeTest: Ending, switchUsers: Ending, finish: Ending, undo: Ending]
): void {
  const stages = [
    'Prepare: install and verify in the idle slot',
    'Smoke test against the idle slot',
    'Switch users to the new release',
    'Finish: prune, release the lock',
    'Undo'
  ]
  expect(stageResults(run)).toEqual(
    expect.arrayContaining(stages.flatMap((stage, i) => (ends[i] ? [[stage, ends[i]]] : [])))
  )
}

/** The GitHub deployments a run recorded: environment and the states of its statuses. */
function recorded(since: number): { environment: string; states: string[]; last: string }[] {
  return fake.deployments.slice(since).map(d => ({
    environment: d.environment,
    states: d.statuses.map(st => st.state),
    last: d.statuses[d.statuses.length - 1]?.description ?? ''
  }))
}

function cli(args: string[]) {
  return app.cli(args)
}

beforeAll(async () => {
  fake = new FakeGithub({ owner: 'acme', repo: 'loom' })
  forwarder = await startGithubForwarder(fake.fetch)
  app = await setUpAppRepo({
    tempPrefix: 'sitecycle-composite-e2e-',
    versions: ['1.0.0', '2.0.0', '3.0.0'],
    env: { SAMPLE_SECRET_KEY: SECRET }
  })
  ;({ site, work } = app)
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await forwarder?.close()
  await app?.cleanup()
})

describe('actions/deploy, the composite of the stages, end to end through the harness', () => {
  it('a smoke test that passes sees the new release in the idle slot; then users are switched', async () => {
    const since = fake.deployments.length
    const run = await runDeploy('2.0.0', 'pass')
    expect({ result: run.result, error: run.error }).toEqual({
      result: 'success',
      error: undefined
    })
    expect(await fs.readFile(path.join(work, 'smoke-saw'), 'utf8')).toBe('2.0.0\n')
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
    expectStages(run, ['success', 'success', 'success', 'success', 'skipped'])
    const job = jobOf(run, 'deploy')
    expect(job.outputs).toEqual({
      status: 'deployed',
      version: '2.0.0',
      'previous-version': '1.0.0',
      url: site.url,
      'rolled-back': 'false'
    })
    expect(job.summary).toContain('installed and verified in the idle slot of site v1')
    expect(job.summary).toContain('✅ Deployed 2.0.0 to site v1')
    // One deployment, in progress from prepare, settled by finish.
    expect(recorded(since)).toEqual([
      { environment: 'v1', states: ['in_progress', 'success'], last: `2.0.0 serves on ${site.url}` }
    ])
    expect(run.log.join('\n')).not.toContain(SECRET)
    // The staged copy of the action is gone from the workspace.
    expect(
      await fs.stat(path.join(job.workspace!, '.sitecycle-deploy-action')).catch(() => null)
    ).toBeNull()
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '2.0.0' })
  })

  it('a smoke test that fails leaves users on the old release, with no failed request, the lock released, status rolled-back', async () => {
    const load = startLoad({ url: `${site.url}/__version__`, concurrency: 4 })
    const since = fake.deployments.length
    const run = await runDeploy('3.0.0', 'fail')
    const report = await load.stop()
    expect(run.result).toBe('failure')
    expect(await fs.readFile(path.join(work, 'smoke-saw'), 'utf8')).toBe('3.0.0\n')
    expectStages(run, [null, 'failure', 'skipped', 'skipped', 'success'])
    const job = jobOf(run, 'deploy')
    expect(job.outputs).toEqual({
      status: 'rolled-back',
      version: '2.0.0',
      'previous-version': '2.0.0',
      url: site.url,
      'rolled-back': 'true'
    })
    expect(job.summary).toContain('the smoke test exited with code 1 against 3.0.0')
    expect(job.summary).toContain('Deploy of 3.0.0 to site v1 undone: 2.0.0 serves again')
    expect(recorded(since)).toEqual([
      {
        environment: 'v1',
        states: ['in_progress', 'failure'],
        last: expect.stringContaining('undone after a failed or cancelled step: 2.0.0 serves again')
      }
    ])
    expect(report.samples.filter(isFailure)).toEqual([])
    expect(Object.keys(report.versions)).toEqual(['2.0.0'])
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '2.0.0' })
  })

  it('the version already live: prepare ends the deploy as unchanged, the other stages skipped', async () => {
    const since = fake.deployments.length
    const run = await runDeploy('2.0.0', 'none')
    expect(run.result).toBe('success')
    expect(recorded(since).map(d => d.states)).toEqual([['in_progress', 'success']])
    expectStages(run, ['success', 'skipped', 'skipped', 'skipped', 'skipped'])
    expect(jobOf(run, 'deploy').outputs).toEqual({
      status: 'unchanged',
      version: '2.0.0',
      'previous-version': '2.0.0',
      url: site.url,
      'rolled-back': 'false'
    })
  })

  it('a deploy the stages do not take (allow-bad here) is refused with a smoke test, and done in one step by prepare without one', async () => {
    const refused = await runDeploy('3.0.0', 'pass', true)
    expect(refused.result).toBe('failure')
    expect(refused.log.join('\n')).toContain(
      '--allow-bad is not taken by a deploy in stages: deploy a version marked bad in one step'
    )
    expect(jobOf(refused, 'deploy').outputs).toMatchObject({
      status: 'failed',
      'rolled-back': 'false'
    })
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')

    const run = await runDeploy('3.0.0', 'none', true)
    expect(run.result).toBe('success')
    expectStages(run, ['success', null, 'skipped', 'skipped', 'skipped'])
    expect(jobOf(run, 'deploy').outputs).toEqual({
      status: 'deployed',
      version: '3.0.0',
      'previous-version': '2.0.0',
      url: site.url,
      'rolled-back': 'false'
    })
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('3.0.0')
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '3.0.0' })
  })

  it('a run cancelled during the smoke test runs the undo: users stay on the release they had, the lock released', async () => {
    const run = await runDeploy('2.0.0', 'hang')
    expect(run.result).toBe('cancelled')
    expect(await fs.readFile(path.join(work, 'smoke-saw'), 'utf8')).toBe('2.0.0\n')
    expectStages(run, [null, null, 'skipped', 'skipped', 'success'])
    expect(jobOf(run, 'deploy').outputs).toMatchObject({
      status: 'rolled-back',
      version: '3.0.0',
      'rolled-back': 'true'
    })
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('3.0.0')
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '3.0.0' })
  })
})
