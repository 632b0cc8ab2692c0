/**
 * The starter workflows/deploy-staged.yml end to end through the harness (GitHub's own parser and
 * expression engine), as copied into an application's repository: the top-level action puts the
 * CLI of this commit on PATH, then the job runs `sitecycle deploy --stage prepare`, the
 * application's own smoke test through `sitecycle idle`, switch and finish, against a real
 * private Apache with mod_wsgi on this machine (the self-hosted runner is the server).
 *
 *   - A smoke test that passes sees the new release in the idle slot, and the switch happens.
 *   - One that fails, under load: users stay on the old release with no failed request, the undo
 *     step runs, the lock is released.
 *   - Stages out of order, through the CLI: refused with exit code 2, nothing touched.
 *   - A runner that dies after prepare: the next run is refused while the lock's deadline holds,
 *     then recovers the site and deploys once it passed.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (the test script does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { allJobs, Harness, type WorkflowRun } from '../../tools/harness/index.js'
import {
  appHarnessOptions,
  copyStagedStarter,
  idleSmokeScript,
  setUpAppRepo,
  type AppRepo
} from '../helpers/app-repo.js'
import { runCli } from '../helpers/cli.js'
import { isFailure, startLoad } from '../helpers/load.js'
import { httpGet, type TestSite } from '../helpers/site.js'

const APP = 'acme/weave'
const SECRET = 'staged-workflow-secret-7c2e'

let app: AppRepo
let site: TestSite
let work: string
const harnesses: Harness[] = []

/**
 * The starter as copied into the application's repository, run with `version`. `runnerDies`: the
 * job ends after its prepare step, as when the runner dies there (no later step, no undo).
 */
async function runStarter(
  version: string,
  smoke: 'pass' | 'fail',
  runnerDies = false
): Promise<WorkflowRun> {
  const workflow = await copyStagedStarter(site.dir, whole => {
    const cut = whole.indexOf('      # Your own steps, any number')
    expect(cut).toBeGreaterThan(0)
    return runnerDies ? whole.slice(0, cut) : whole
  })
  await fs.mkdir(path.join(site.dir, 'tests'), { recursive: true })
  await fs.writeFile(
    path.join(site.dir, 'tests', 'smoke.sh'),
    idleSmokeScript(path.join(work, 'smoke-saw'), smoke),
    { mode: 0o755 }
  )
  app.git('add', '-A')
  app.git('commit', '-q', '--allow-empty', '-m', `smoke ${smoke}`)
  const h = new Harness(
    appHarnessOptions(APP, site.dir, {
      secrets: { SITECYCLE_SECRETS: JSON.stringify({ SAMPLE_SECRET_KEY: SECRET }) }
    })
  )
  harnesses.push(h)
  return h.runWorkflow(workflow, {
    event: 'workflow_dispatch',
    inputs: { version }
  })
}

function stepResults(run: WorkflowRun): [string, string][] {
  return allJobs(run)
    .flatMap(j => j.steps)
    .filter(s => !s.post)
    .map(s => [s.name, s.conclusion])
}

function cli(args: string[]) {
  return app.cli(args)
}

beforeAll(async () => {
  app = await setUpAppRepo({
    tempPrefix: 'sitecycle-staged-e2e-',
    versions: ['1.0.0', '2.0.0', '3.0.0'],
    env: { SAMPLE_SECRET_KEY: SECRET }
  })
  ;({ site, work } = app)
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await app?.cleanup()
})

describe('workflows/deploy-staged.yml, end to end through the harness', () => {
  it('a smoke test that passes sees the new release in the idle slot; then users are switched', async () => {
    const run = await runStarter('2.0.0', 'pass')
    expect({ result: run.result, error: run.error }).toEqual({
      result: 'success',
      error: undefined
    })
    expect(await fs.readFile(path.join(work, 'smoke-saw'), 'utf8')).toBe('2.0.0\n')
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
    expect(stepResults(run)).toEqual(
      expect.arrayContaining([
        ['Smoke test against the idle slot', 'success'],
        ['Switch users to the new release', 'success'],
        ['Finish: prune, release the lock', 'success'],
        ['Undo', 'skipped']
      ])
    )
    expect(run.log.join('\n')).not.toContain(SECRET)
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '2.0.0' })
  })

  it('a smoke test that fails leaves users on the old release, with no failed request, and the lock released', async () => {
    const load = startLoad({ url: `${site.url}/__version__`, concurrency: 4 })
    const run = await runStarter('3.0.0', 'fail')
    const report = await load.stop()
    expect(run.result).toBe('failure')
    expect(await fs.readFile(path.join(work, 'smoke-saw'), 'utf8')).toBe('3.0.0\n')
    expect(stepResults(run)).toEqual(
      expect.arrayContaining([
        ['Smoke test against the idle slot', 'failure'],
        ['Switch users to the new release', 'skipped'],
        ['Undo', 'success']
      ])
    )
    expect(report.samples.filter(isFailure)).toEqual([])
    expect(Object.keys(report.versions)).toEqual(['2.0.0'])
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
    const status = await cli(['status', 'v1', '--json'])
    expect(JSON.parse(status.stdout)).toMatchObject({ lock: null, live: '2.0.0' })
  })

  it('refuses stages out of order, touching nothing', async () => {
    const r = await cli(['deploy', 'v1', '--stage', 'switch', '--run', 'by-hand'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      /no prepared deploy holds site v1: run `sitecycle deploy v1 --stage prepare` first/
    )
    const outside = await runCli(
      ['-c', path.join(site.dir, 'sitecycle.yml'), 'deploy', 'v1', '--stage', 'prepare'],
      { env: { SAMPLE_SECRET_KEY: SECRET, GITHUB_RUN_ID: undefined } }
    )
    expect(outside.code).toBe(2)
    expect(outside.stderr).toMatch(/elsewhere pass --run NAME/)
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  })

  it('a runner that dies after prepare: the next run is refused until the deadline, then recovers the site and deploys', async () => {
    // Whatever the tests before left live (2.0.0 when the whole file runs).
    const before = (await httpGet(`${site.url}/__version__`)).body
    expect(before).not.toBe('3.0.0')
    const died = await runStarter('3.0.0', 'pass', true)
    expect(died.result).toBe('success')
    expect(stepResults(died).map(([name]) => name)).not.toContain('Undo')
    const held = JSON.parse((await cli(['status', 'v1', '--json'])).stdout)
    expect(held).toMatchObject({ live: before })
    expect(held.lock).toMatchObject({ state: 'alive', stage: { reached: 'prepared' } })
    expect((await httpGet(`${site.url}/__version__`)).body).toBe(before)

    // Another run while the dead run's deadline holds: refused, and its undo is not the other
    // run's to do; users and the lock stay as they were.
    const early = await runStarter('3.0.0', 'pass')
    expect(early.result).toBe('failure')
    expect(stepResults(early)).toEqual(
      expect.arrayContaining([
        ['Prepare: install and verify in the idle slot', 'failure'],
        ['Switch users to the new release', 'skipped']
      ])
    )
    expect((await httpGet(`${site.url}/__version__`)).body).toBe(before)
    const still = JSON.parse((await cli(['status', 'v1', '--json'])).stdout)
    expect(still.lock).toMatchObject({ id: held.lock.id, stage: { reached: 'prepared' } })

    // The deadline passes (written as passed instead of waited for): the next run takes the
    // site over, recovers the dead run from the journal and deploys.
    const file = path.join(site.root, '.sitecycle', 'lock', 'holder.json')
    const holder = JSON.parse(await fs.readFile(file, 'utf8'))
    holder.stage.until = new Date(Date.now() - 1000).toISOString()
    await fs.writeFile(file, JSON.stringify(holder))
    const next = await runStarter('3.0.0', 'pass')
    expect({ result: next.result, error: next.error }).toEqual({
      result: 'success',
      error: undefined
    })
    expect(next.log.join('\n')).toContain('taking over the lock of a run that is gone')
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('3.0.0')
    const after = JSON.parse((await cli(['status', 'v1', '--json'])).stdout)
    expect(after).toMatchObject({ lock: null, live: '3.0.0' })
  })
})
