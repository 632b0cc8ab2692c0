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
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { allJobs, checkoutFixture, Harness, type WorkflowRun } from '../../tools/harness/index.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, runCli } from '../helpers/cli.js'
import { REPO, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'
import { isFailure, startLoad } from '../helpers/load.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const APP = 'acme/weave'
const SECRET = 'staged-workflow-secret-7c2e'
const STARTER = path.join(REPO, 'workflows', 'deploy-staged.yml')

let apache: TestApache
let site: TestSite
let work: string
const harnesses: Harness[] = []

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', site.dir, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    { encoding: 'utf8' }
  ).trim()
}

/** The smoke test the application's repository carries: the idle slot's version into a file. */
function smokeTest(expect: 'pass' | 'fail'): string {
  return `#!/bin/sh
set -eu
version=$(/usr/bin/python3 -c '
import os, urllib.request
name, value = os.environ["SITECYCLE_IDLE_HEADER"].split(": ")
req = urllib.request.Request(os.environ["SITECYCLE_IDLE_URL"] + "/__version__",
    headers={name: value, "Host": os.environ["SITECYCLE_IDLE_HOST"]})
print(urllib.request.urlopen(req).read().decode().strip())')
echo "$version" > "${path.join(work, 'smoke-saw')}"
echo "smoke test: the idle slot serves $version"
${expect === 'fail' ? 'echo "smoke test: the new release is not what we want" >&2; exit 1' : ''}
`
}

/**
 * The starter as copied into the application's repository, run with `version`. `runnerDies`: the
 * job ends after its prepare step, as when the runner dies there (no later step, no undo).
 */
async function runStarter(
  version: string,
  smoke: 'pass' | 'fail',
  runnerDies = false
): Promise<WorkflowRun> {
  const workflows = path.join(site.dir, '.github', 'workflows')
  await fs.mkdir(workflows, { recursive: true })
  const whole = await fs.readFile(STARTER, 'utf8')
  const cut = whole.indexOf('      # Your own steps, any number')
  expect(cut).toBeGreaterThan(0)
  const text = runnerDies ? whole.slice(0, cut) : whole
  // As copied: OWNER replaced by the owner of the sitecycle repository used; self-hosted on the server.
  await fs.writeFile(
    path.join(workflows, 'deploy-staged.yml'),
    text
      .replace(/OWNER\/sitecycle@0{40}/, `${SITECYCLE}@${SITECYCLE_SHA}`)
      .replace('runs-on: ubuntu-latest', 'runs-on: self-hosted')
  )
  await fs.mkdir(path.join(site.dir, 'tests'), { recursive: true })
  await fs.writeFile(path.join(site.dir, 'tests', 'smoke.sh'), smokeTest(smoke), { mode: 0o755 })
  git('add', '-A')
  git('commit', '-q', '--allow-empty', '-m', `smoke ${smoke}`)
  const h = new Harness({
    repository: { root: site.dir, name: APP },
    github: { repository: APP, sha: git('rev-parse', 'HEAD'), ref: 'refs/heads/main' },
    remoteActions: {
      'actions/checkout': checkoutFixture({ [APP]: { dir: site.dir, mode: 'clone' } }),
      [SITECYCLE]: { dir: REPO }
    },
    environments: { v1: { reviewers: ['release-manager'] } },
    approve: () => true,
    secrets: { SITECYCLE_SECRETS: JSON.stringify({ SAMPLE_SECRET_KEY: SECRET }) },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  })
  harnesses.push(h)
  return h.runWorkflow(path.join(workflows, 'deploy-staged.yml'), {
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

async function cli(args: string[]) {
  return runCli(['-c', path.join(site.dir, 'sitecycle.yml'), ...args], {
    env: { SAMPLE_SECRET_KEY: SECRET }
  })
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-staged-e2e-')
  await fs.chmod(work, 0o755)
  const releases = path.join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    ...['1.0.0', '2.0.0', '3.0.0'].map(version =>
      buildSampleRelease({ version, releasesDir: releases })
    )
  ])
  site = await makeTestSite({ apache, siteYaml: `releases: ${releases}` })
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--version', '1.0.0']
  ]) {
    const r = await cli(args)
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
  await fs.writeFile(path.join(site.dir, '.gitignore'), 'root/\n')
  execFileSync('git', ['init', '-q', '-b', 'main', site.dir])
  git('add', '-A')
  git('commit', '-q', '-m', 'sitecycle.yml')
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await apache?.stop()
  await site?.cleanup()
  if (work) await fs.rm(work, { recursive: true, force: true })
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
