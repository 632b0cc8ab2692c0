/**
 * The data workflows end to end, through the harness (tools/harness): GitHub's own parser and
 * expression engine, the real actions (dist/snapshot.js, dist/mirror.js) and the real CLI bundle,
 * on a production site with an SQLite database and an uploads folder, and a mirror of it.
 *
 *   1. The starter workflows/backup.yml, on its schedule, calls backup.yml as users call it (a
 *      remote reusable workflow pinned by SHA, of another owner than the application's, its
 *      secrets passed by name): a snapshot is made, verified in a scratch
 *      database, and named in the outputs; the job summary says so.
 *   2. mirrors.yml lists the mirror sites with the CLI and refreshes each in a matrix leg: the
 *      mirror shows the data of the snapshot at least its lag old (taken two days ago here).
 *   3. Bad input (a site that does not exist) fails the backup with one clear sentence, and the
 *      failed run still sets its status output.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (scripts/test.sh does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load-config.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { readMirrorState } from '../../src/pipelines/mirror.js'
import { parseManifest } from '../../src/snapshots/manifest.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  allJobs,
  assertSucceeded,
  checkoutFixture,
  Harness,
  setupNodeFixture,
  type WorkflowRun
} from '../../tools/harness/index.js'
import { REPO, WORKFLOWS, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'
import { plainDumpOf } from '../helpers/snapshot-tables.js'

const APP_REPOSITORY = 'acme/weave'
const SQLITE = '/usr/bin/sqlite3'
const MIRROR_PASSWORD = 'mirror-e2e-Pa55-41d7'

let tmp: string
let app: string
const harnesses: Harness[] = []
const sites = (name: string) => path.join(tmp, 'sites', name)
const dbOf = (name: string) => path.join(sites(name), 'shared', 'app.sqlite3')

function sql(db: string, text: string): string {
  return execFileSync(SQLITE, [db], { input: text, encoding: 'utf8' }).trim()
}

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', app, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    { encoding: 'utf8' }
  ).trim()
}

function harness(): Harness {
  const remote = (file: string) => ({
    file: path.join(WORKFLOWS, file),
    root: REPO,
    repository: SITECYCLE,
    sha: SITECYCLE_SHA
  })
  const h = new Harness({
    repository: { root: REPO, name: SITECYCLE, sha: SITECYCLE_SHA },
    github: { repository: APP_REPOSITORY, sha: git('rev-parse', 'HEAD'), ref: 'refs/heads/main' },
    // As a maintainer sets it up: one repository secret holding the passwords the config names.
    // The starters pass it by name: `secrets: inherit` would reach OWNER/sitecycle (another
    // owner than acme) empty, and the mirror would have no password.
    secrets: { SITECYCLE_SECRETS: JSON.stringify({ MIRROR_PASSWORD }) },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [APP_REPOSITORY]: { dir: app, mode: 'clone' },
        [SITECYCLE]: { dir: REPO, mode: 'copy', sha: SITECYCLE_SHA }
      }),
      'actions/setup-node': setupNodeFixture()
    },
    // The starters call sitecycle as OWNER/sitecycle (their placeholder pin).
    remoteWorkflows: {
      'OWNER/sitecycle/.github/workflows/backup.yml': remote('backup.yml'),
      'OWNER/sitecycle/.github/workflows/mirrors.yml': remote('mirrors.yml')
    },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  })
  harnesses.push(h)
  return h
}

/** The steps of every job (matrix legs and called workflows included), by id. */
function stepsOf(run: WorkflowRun, id: string) {
  return allJobs(run).flatMap(j => j.steps.filter(s => s.id === id).map(s => ({ job: j, step: s })))
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-data-e2e-'))
  await fs.chmod(tmp, 0o755)
  for (const name of ['v1', 'm1']) {
    await fs.mkdir(path.join(sites(name), '.sitecycle'), { recursive: true })
    await fs.mkdir(path.join(sites(name), 'shared', 'uploads'), { recursive: true })
  }
  app = path.join(tmp, 'app')
  await fs.mkdir(app)
  await fs.writeFile(
    path.join(app, 'sitecycle.yml'),
    `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  v1:
    root: ${sites('v1')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('v1')} }
    data: [shared/uploads]
    snapshots: { keep_last: 10 }
  m1:
    role: mirror
    from: v1
    lag: 1d
    root: ${sites('m1')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('m1')} }
    data: [shared/uploads]
    access: { basic_auth: { user: reader, password_env: MIRROR_PASSWORD } }
`
  )
  execFileSync('git', ['init', '-q', '-b', 'main', app])
  git('add', '-A')
  git('commit', '-q', '-m', 'sitecycle.yml')

  // Two days ago production held "then"; the mirror (lag 1d) must come to show that.
  sql(dbOf('v1'), "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('then');")
  await fs.writeFile(path.join(sites('v1'), 'shared', 'uploads', 'then.txt'), 'then\n')
  const config = await loadConfig(path.join(app, 'sitecycle.yml'))
  await takeSnapshot({
    config,
    site: config.sites.v1,
    exec: new LocalExecutor(),
    reporter: new StreamReporter(() => undefined),
    now: () => new Date(Date.now() - 2 * 86_400_000),
    progressIntervalMs: 0
  })
  sql(dbOf('v1'), "UPDATE notes SET body = 'now';")
  await fs.rm(path.join(sites('v1'), 'shared', 'uploads', 'then.txt'))
  await fs.writeFile(path.join(sites('v1'), 'shared', 'uploads', 'now.txt'), 'now\n')
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

describe('the data workflows, end to end through the harness', () => {
  it('the backup starter, on its schedule, makes a verified snapshot through backup.yml', async () => {
    const run = await harness().runWorkflow(path.join(REPO, 'workflows', 'backup.yml'), {
      event: 'schedule',
      payload: { schedule: '17 2 * * *' }
    })
    assertSucceeded(run)
    expect(run.annotations.filter(a => a.level !== 'notice')).toEqual([])
    const called = allJobs(run).find(j => j.id === 'backup' && j.call === undefined)!
    expect(called.outputs.snapshot).toMatch(/^\d{8}T\d{6}Z$/)
    const { step } = stepsOf(run, 'snapshot')[0]
    expect(step.outputs).toMatchObject({
      status: 'created',
      snapshot: called.outputs.snapshot,
      verified: 'true',
      url: 'http://127.0.0.1:9'
    })
    expect(Number(step.outputs.bytes)).toBeGreaterThan(0)
    // The snapshot is on disk, complete, and holds today's data.
    const dir = path.join(sites('v1'), 'snapshots', called.outputs.snapshot)
    const manifest = parseManifest(
      await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'),
      'manifest'
    )
    expect(manifest.database?.tables).toEqual([
      expect.objectContaining({ table: 'notes', rows: 1 })
    ])
    expect(existsSync(path.join(dir, 'files', 'shared', 'uploads', 'now.txt'))).toBe(true)
    expect(sql(plainDumpOf(dir, manifest), 'SELECT body FROM notes;')).toBe('now')
    expect(called.summary).toContain(`Snapshot ${called.outputs.snapshot} of site v1, verified`)
    // The caller's outputs come through the reusable workflow.
    const caller = run.jobs.find(j => j.call)!
    expect(caller.call!.outputs).toMatchObject({
      snapshot: called.outputs.snapshot,
      verified: 'true'
    })
    expect(run.log.join('\n')).not.toContain(MIRROR_PASSWORD)
  })

  it('mirrors.yml lists the mirror sites and refreshes each from the snapshot its lag names', async () => {
    // Through the starter, as scheduled, from a repository of another owner: the mirror's
    // password arrives by name, inside SITECYCLE_SECRETS.
    const run = await harness().runWorkflow(path.join(REPO, 'workflows', 'mirrors.yml'), {
      event: 'schedule',
      payload: { schedule: '7 3 * * *' }
    })
    assertSucceeded(run)
    const jobs = allJobs(run).filter(j => !j.call)
    expect(jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'List the mirror sites:success',
      'Refresh m1:success'
    ])
    expect(jobs[0].outputs.sites).toBe('["m1"]')
    const { step } = stepsOf(run, 'mirror')[0]
    const state = await readMirrorState(new LocalExecutor(), { root: sites('m1') })
    expect(step.outputs).toMatchObject({
      status: 'refreshed',
      snapshot: state?.snapshot,
      'previous-snapshot': ''
    })
    // The mirror shows production as it was two days ago: the note and the file since changed.
    expect(sql(dbOf('m1'), 'SELECT body FROM notes;')).toBe('then')
    expect((await fs.readdir(path.join(sites('m1'), 'shared', 'uploads'))).sort()).toEqual([
      'then.txt'
    ])
    expect(jobs[1].summary).toContain('Mirror m1 shows snapshot')
    expect(run.log.join('\n')).not.toContain(MIRROR_PASSWORD)

    // Run again: nothing to do.
    const again = await harness().runWorkflow(path.join(WORKFLOWS, 'mirrors.yml'), {
      event: 'workflow_call',
      inputs: { 'runs-on': 'self-hosted', sites: '["m1"]' }
    })
    assertSucceeded(again)
    expect(stepsOf(again, 'mirror')[0].step.outputs.status).toBe('unchanged')
  })

  it('an unknown site fails the backup with one sentence naming it; the status output says failed', async () => {
    const run = await harness().runWorkflow(path.join(WORKFLOWS, 'backup.yml'), {
      event: 'workflow_call',
      inputs: { site: 'v9', 'runs-on': 'self-hosted' }
    })
    expect(run.result).toBe('failure')
    const { step } = stepsOf(run, 'snapshot')[0]
    expect(step.outcome).toBe('failure')
    expect(step.outputs.status).toBe('failed')
    expect(run.annotations.map(a => a.message)).toContainEqual(
      expect.stringMatching(
        /input 'site' is 'v9', which is not a site in .*; expected one of: v1, m1/
      )
    )
  })
})
