/**
 * The upgrade-attempt workflow end to end, through the harness (tools/harness): GitHub's own
 * parser and expression engine, the real attempt action (dist/attempt.js) and CLI bundle
 * (dist/cli.js), a private Apache with mod_wsgi, SQLite databases, and the OpenAPI-checked fake
 * GitHub that records the deployments the action makes.
 *
 * The application's repository (a temporary git repository) names two pairs of sites on this
 * host: v1 (production) and v2 (preview from v1), c1 (production) and c2 (preview from c1), each
 * deployed at 1.0.0 beforehand with a notes table in production; the previews are behind basic
 * auth whose password is a repository secret. The releases folder holds 1.0.0 and 2.0.0.
 *
 *   1. Bad input (`step: frobnicate`) fails the check job with one annotation naming the input;
 *      no site is touched.
 *   2. The starter workflows/upgrade-attempt.yml (workflow_dispatch, calling the reusable workflow
 *      by its placeholder pin), its window approved: start, window, promote; v2 answers at
 *      production's address with 2.0.0, the old production is frozen at the preview's address.
 *   3. A copy of the starter for c2, its window rejected: cancel runs; production is open again
 *      with its data unchanged, the preview keeps 2.0.0.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (scripts/test.sh does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  allJobs,
  assertSucceeded,
  checkoutFixture,
  Harness,
  jobOf,
  setupNodeFixture,
  startGithubForwarder,
  type ApprovalRequest,
  type GithubForwarder,
  type HarnessOptions,
  type StaticCheck,
  type WorkflowRun
} from '../../tools/harness/index.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { FakeGithub } from '../helpers/github-openapi.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, servedVersion } from '../helpers/site.js'
import { REPO, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'

const WORKFLOW = path.join(REPO, '.github', 'workflows', 'upgrade-attempt.yml')
const STARTER = path.join(REPO, 'workflows', 'upgrade-attempt.yml')
const SQLITE = '/usr/bin/sqlite3'
const PASSWORD_ENV = 'ATTEMPT_PREVIEW_PASSWORD'
const PASSWORD = 'attempt-e2e-Pa55-c7f1'
const auth = { Authorization: `Basic ${Buffer.from(`sitecycle:${PASSWORD}`).toString('base64')}` }
const WINDOW = 'upgrade-window'
const SITES = ['v1', 'v2', 'c1', 'c2'] as const
type SiteName = (typeof SITES)[number]

let tmp: string
let app: string
let apache: TestApache
let fake: FakeGithub
let forwarder: GithubForwarder
const urls = {} as Record<SiteName, string>
const harnesses: Harness[] = []

const root = (name: SiteName) => path.join(tmp, 'sites', name)
const dbOf = (name: SiteName) => path.join(root(name), 'shared', 'app.sqlite3')
const stateFile = (name: SiteName, file: string) => path.join(root(name), '.sitecycle', file)
const frozen = (name: SiteName) => existsSync(path.join(root(name), 'maintenance', 'ON'))

function sql(name: SiteName, text: string): string {
  return execFileSync(SQLITE, [dbOf(name)], { input: text, encoding: 'utf8' }).trim()
}

function git(...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', app, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    { encoding: 'utf8' }
  ).trim()
}

function commitAll(message: string): string {
  git('add', '-A')
  git('commit', '-q', '-m', message)
  const head = git('rev-parse', 'HEAD')
  fake.commits.add(head) // the deployments the action records name this commit
  return head
}

async function siteYaml(name: SiteName, from?: SiteName): Promise<string> {
  const port = await freePort()
  urls[name] = `http://127.0.0.1:${port}`
  return `  ${name}:
${from ? `    role: preview\n    from: ${from}\n` : ''}    root: ${root(name)}
    url: ${urls[name]}
    releases: ${path.join(tmp, 'releases')}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    database: { engine: sqlite, name: ${dbOf(name)} }
    preflight: { min_free_mb: 10 }
${from ? `    access: { basic_auth: { password_env: ${PASSWORD_ENV} } }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

/** A harness for one run: the application's repository at its HEAD, this tree as sitecycle. */
function harness(extra: Partial<HarnessOptions> = {}): Harness {
  const h = new Harness({
    repository: { root: REPO, name: SITECYCLE, sha: SITECYCLE_SHA },
    github: {
      repository: fake.repository,
      sha: git('rev-parse', 'HEAD'),
      ref: 'refs/heads/main',
      token: fake.token,
      apiUrl: forwarder.apiUrl
    },
    // One repository secret holding the passwords the config names; the starter passes it by name.
    secrets: { SITECYCLE_SECRETS: JSON.stringify({ [PASSWORD_ENV]: PASSWORD }) },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [fake.repository]: { dir: app, mode: 'clone' },
        [SITECYCLE]: { dir: REPO, mode: 'copy', sha: SITECYCLE_SHA }
      }),
      'actions/setup-node': setupNodeFixture()
    },
    // The starter calls sitecycle as OWNER/sitecycle (its placeholder pin).
    remoteWorkflows: {
      'OWNER/sitecycle/.github/workflows/upgrade-attempt.yml': {
        file: WORKFLOW,
        root: REPO,
        repository: SITECYCLE,
        sha: SITECYCLE_SHA
      }
    },
    environments: {
      v1: {},
      v2: {},
      c1: {},
      c2: {},
      // Two days agreed; the release manager decides.
      [WINDOW]: { reviewers: ['release-manager'], waitTimer: 2880 }
    },
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PIP_CONFIG_FILE: '/dev/null' },
    unsetEnv: ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', PASSWORD_ENV],
    ...extra
  })
  harnesses.push(h)
  return h
}

function checks<K extends StaticCheck['kind']>(
  run: WorkflowRun,
  kind: K
): Extract<StaticCheck, { kind: K }>[] {
  return run.checks.filter((c): c is Extract<StaticCheck, { kind: K }> => c.kind === kind)
}

/** `id:result` of the called workflow's jobs, in the order run. */
function calledJobs(run: WorkflowRun): string[] {
  return allJobs(run)
    .filter(j => !j.call)
    .map(j => `${j.id}:${j.result}`)
}

/** The phase of every attempt event in a site's journal, oldest first. */
async function attemptPhases(name: SiteName): Promise<string[]> {
  const text = await fs.readFile(stateFile(name, 'journal.jsonl'), 'utf8')
  return text
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; phase?: string })
    .filter(e => e.op === 'attempt' && e.event === 'start')
    .map(e => e.phase ?? '')
}

/** Everything of a run a user could read: log, annotations, summaries. */
function everythingShown(run: WorkflowRun): string {
  return [
    ...run.log,
    ...run.annotations.map(a => a.message),
    ...allJobs(run).map(j => j.summary)
  ].join('\n')
}

/** The starter as a user adapts it: the same file with another preview site. */
async function starterFor(site: SiteName): Promise<string> {
  const text = await fs.readFile(STARTER, 'utf8')
  expect(text).toContain('      site: v2\n')
  const file = path.join(app, '.github', 'workflows', `upgrade-attempt-${site}.yml`)
  await fs.mkdir(path.dirname(file), { recursive: true })
  await fs.writeFile(file, text.replace('      site: v2\n', `      site: ${site}\n`))
  return file
}

const NOTES_SQL =
  "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL); INSERT INTO notes VALUES (1, 'first'), (2, 'second');"

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-attempt-e2e-'))
  await fs.chmod(tmp, 0o755)
  fake = new FakeGithub({ owner: 'acme', repo: 'weave' })
  // As the harness's environments say: the window has its wait timer and reviewers on GitHub too.
  fake.environments.set(WINDOW, { reviewers: ['release-manager'], waitTimer: 2880 })
  fake.environments.set('window-without-rules', {})
  forwarder = await startGithubForwarder(fake.fetch)
  apache = await startApache()
  const releases = path.join(tmp, 'releases')
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await buildSampleRelease({ version: '2.0.0', releasesDir: releases })

  // The application's repository: its sitecycle.yml and config template.
  app = path.join(tmp, 'app')
  await fs.mkdir(path.join(app, 'deploy'), { recursive: true })
  await fs.writeFile(
    path.join(app, 'deploy', 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nversion = {{ release.version }}\n'
  )
  const sites =
    (await siteYaml('v1')) +
    (await siteYaml('v2', 'v1')) +
    (await siteYaml('c1')) +
    (await siteYaml('c2', 'c1'))
  await fs.writeFile(
    path.join(app, 'sitecycle.yml'),
    `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:\n${sites}`
  )
  execFileSync('git', ['init', '-q', '-b', 'main', app])
  commitAll('sitecycle.yml')

  // Each site exists and serves 1.0.0 before any attempt (`sitecycle init`, then a deploy).
  const config: SitecycleConfig = await loadConfig(path.join(app, 'sitecycle.yml'))
  const exec = new LocalExecutor()
  const reporter = new StreamReporter(() => undefined)
  process.env[PASSWORD_ENV] = PASSWORD
  try {
    for (const name of SITES) {
      const site = config.sites[name]
      await fs.mkdir(root(name), { recursive: true })
      await initSite({ config, site, exec, reporter })
      const o = await deploy({ config, site, exec, reporter, release: releases, version: '1.0.0' })
      expect(o.status).toBe('deployed')
    }
  } finally {
    // The workflow must get the password from its secret, not from this process.
    delete process.env[PASSWORD_ENV]
  }
  sql('v1', NOTES_SQL)
  sql('c1', NOTES_SQL)
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await forwarder?.close()
  await apache?.stop()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

describe('the upgrade-attempt workflow, end to end through the harness', () => {
  // The check job's output `production` is evaluated even when the job stopped before the plan
  // step (the runner does so): it must not turn one clear error into an expression failure.
  it('a bad step fails the check job with one annotation naming the input; no site is touched', async () => {
    const journals = await Promise.all(
      (['c1', 'c2'] as const).map(n => fs.readFile(stateFile(n, 'journal.jsonl'), 'utf8'))
    )
    const run = await harness().runWorkflow(WORKFLOW, {
      event: 'workflow_call',
      inputs: { site: 'c2', step: 'frobnicate', version: '2.0.0' }
    })
    expect(run.result).toBe('failure')
    expect(calledJobs(run)).toEqual([
      'check:failure',
      'start:skipped',
      'window:skipped',
      'promote:skipped',
      'cancel:skipped'
    ])
    // It stopped at the first step: sitecycle was not even checked out.
    expect(jobOf(run, 'check').steps.map(s => s.outcome)).toEqual([
      'failure',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
      'skipped'
    ])
    expect(run.annotations.filter(a => a.level !== 'notice')).toEqual([
      expect.objectContaining({
        level: 'error',
        message: "input step is 'frobnicate'; expected attempt, start, promote or cancel"
      })
    ])
    for (const name of ['c1', 'c2'] as const)
      expect(existsSync(stateFile(name, 'attempt.json'))).toBe(false)
    expect(
      await Promise.all(
        (['c1', 'c2'] as const).map(n => fs.readFile(stateFile(n, 'journal.jsonl'), 'utf8'))
      )
    ).toEqual(journals)
    expect(frozen('c1')).toBe(false)
    expect(fake.deployments).toEqual([])
  })

  it.each([
    ['has no wait timer and no required reviewers', 'window-without-rules'],
    ['does not exist', 'window-not-created']
  ])(
    'an attempt whose window environment %s is warned about before anything starts',
    async (why, environment) => {
      const run = await harness({ environments: { [environment]: {} } }).runWorkflow(WORKFLOW, {
        event: 'workflow_call',
        inputs: {
          site: 'c2',
          step: 'attempt',
          version: '2.0.0',
          'window-environment': environment
        },
        jobs: ['check']
      })
      assertSucceeded(run)
      expect(run.annotations.filter(a => a.level === 'warning').map(a => a.message)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^the environment ${environment} ${why.startsWith('has') ? 'has no wait timer and no required reviewers' : 'does not exist'}.*promoted straight after the start.*GitHub Enterprise`
          )
        )
      ])
      expect(frozen('c1')).toBe(false)
      fake.assertClean()
    }
  )

  it('the starter, its window approved, promotes v2 to production at v1s address; v1 is kept frozen', async () => {
    // Written before the attempt: the preview must carry it over.
    sql('v1', "INSERT INTO notes VALUES (3, 'written just before the attempt');")
    const approvals: ApprovalRequest[] = []
    const started = Date.now()
    const run = await harness({
      approve: r => (approvals.push(r), true)
    }).runWorkflow(STARTER, {
      event: 'workflow_dispatch',
      inputs: { step: 'attempt', version: '2.0.0' }
    })
    const finished = Date.now()
    assertSucceeded(run)
    expect(run.annotations.filter(a => a.level !== 'notice')).toEqual([])
    expect(calledJobs(run)).toEqual([
      'check:success',
      'start:success',
      'window:success',
      'promote:success',
      'cancel:skipped'
    ])
    expect(jobOf(run, 'check').outputs).toEqual({ production: 'v1' })
    // The reusable workflow's outputs reach the starter's job.
    expect(jobOf(run, 'attempt').call?.outputs).toEqual({
      phase: 'promoted',
      'preview-url': urls.v2,
      'production-url': urls.v1
    })

    // Only the window waited for reviewers; each job ran in its environment.
    expect(approvals).toEqual([
      expect.objectContaining({
        environment: WINDOW,
        reviewers: ['release-manager'],
        waitTimer: 2880
      })
    ])
    expect(
      checks(run, 'environment').map(c => [c.job, c.name, c.url, c.reviewers, c.approved])
    ).toEqual([
      ['Start the attempt on v2', 'v2', urls.v2, [], undefined],
      [
        'The window: users try v2 while production is frozen',
        WINDOW,
        urls.v2,
        ['release-manager'],
        true
      ],
      ['Promote v2 to production', 'v1', urls.v1, [], undefined]
    ])
    expect(checks(run, 'concurrency')).toEqual([
      expect.objectContaining({ scope: 'workflow', group: 'sitecycle-attempt-v2', deadlock: false })
    ])

    // Production's address serves 2.0.0 from site v2, open to everyone, with production's data.
    expect((await httpGet(`${urls.v1}/__version__`)).body).toBe('2.0.0')
    const home = await httpGet(`${urls.v1}/`)
    expect(home.status).toBe(200)
    expect(home.body).toContain('hello from v2')
    expect(sql('v2', 'SELECT body FROM notes WHERE id = 3;')).toBe(
      'written just before the attempt'
    )
    // The old production is frozen at the preview's former address and points to production.
    // Frozen: only the reserved health path passes the freeze.
    expect(await servedVersion(urls.v2)).toBe('1.0.0')
    const old = await fetch(`${urls.v2}/`, { headers: auth })
    expect(old.status).toBe(503)
    expect(await old.text()).toContain(`href="${urls.v1}"`)
    expect(frozen('v1')).toBe(true)
    expect(frozen('v2')).toBe(false)
    const phases = [
      'syncing',
      'deploying',
      'freezing',
      'catching-up',
      'open',
      'promoting',
      'promoted'
    ]
    expect(await attemptPhases('v1')).toEqual(phases)
    expect(await attemptPhases('v2')).toEqual(phases)

    // The promote job's summary tells what happened to which attempt.
    const promote = jobOf(run, 'promote')
    const step = promote.steps.find(s => s.id === 'attempt')!
    expect(step.outputs).toMatchObject({ phase: 'promoted', version: '2.0.0' })
    expect(step.outputs.attempt).toBeTruthy()
    expect(promote.summary).toContain('Upgrade attempt promoted')
    expect(promote.summary).toContain(step.outputs.attempt)
    expect(promote.summary).toContain('| **Release** | 2.0.0 |')
    expect(promote.summary).toContain(`v2 → ${urls.v1}, v1 → ${urls.v2}`)
    // The starter's keep-old: 7d.
    const kept = /\| \*\*Old site kept until\*\* \| (\S+) \|/.exec(promote.summary)?.[1] ?? ''
    // 7 days after the promote, which ran between the run's start and its end.
    expect(Date.parse(kept)).toBeGreaterThanOrEqual(started + 7 * 86_400_000)
    expect(Date.parse(kept)).toBeLessThanOrEqual(finished + 7 * 86_400_000)

    // GitHub saw the preview's deployment (start) and production's (promote).
    expect(
      fake.deployments.map(d => [d.environment, d.task, d.statuses.map(s => s.state).join()])
    ).toEqual([
      ['v2', 'deploy:attempt', 'in_progress,success'],
      ['v1', 'deploy:promote', 'in_progress,success']
    ])
    expect(fake.deployments[1].statuses.at(-1)?.environmentUrl).toBe(urls.v1)
    fake.assertClean()
    const shown = everythingShown(run)
    expect(shown).not.toContain(PASSWORD)
    expect(shown).not.toContain(fake.token)
  })

  it('a copy of the starter for c2, its window rejected, cancels: production opens again as it was', async () => {
    const caller = await starterFor('c2')
    const head = commitAll('upgrade attempt on c2')
    const before = sql('c1', 'SELECT id, body FROM notes ORDER BY id;')
    const deploymentsBefore = fake.deployments.length
    const approvals: string[] = []
    const run = await harness({
      repository: { root: app, name: fake.repository, sha: head },
      approve: r => (approvals.push(r.environment), r.environment !== WINDOW)
    }).runWorkflow(caller, {
      event: 'workflow_dispatch',
      inputs: { step: 'attempt', version: '2.0.0' }
    })
    // As GitHub shows it: the run failed, because the window was rejected; cancel succeeded.
    expect(run.result).toBe('failure')
    expect(jobOf(run, 'attempt').result).toBe('failure')
    expect(calledJobs(run)).toEqual([
      'check:success',
      'start:success',
      'window:failure',
      'promote:skipped',
      'cancel:success'
    ])
    expect(approvals).toEqual([WINDOW])
    const window = jobOf(run, 'window')
    expect(window.steps).toEqual([])
    expect(window.error).toMatch(/reject/i)
    expect(checks(run, 'environment').find(c => c.name === WINDOW)?.approved).toBe(false)
    expect(jobOf(run, 'attempt').call?.outputs).toMatchObject({
      phase: 'cancelled',
      'preview-url': urls.c2,
      'production-url': urls.c1
    })
    expect(jobOf(run, 'cancel').summary).toContain('Upgrade attempt cancelled')

    // Production is open again on 1.0.0 with its data unchanged; the preview keeps 2.0.0.
    expect(frozen('c1')).toBe(false)
    expect((await httpGet(`${urls.c1}/__version__`)).body).toBe('1.0.0')
    const home = await httpGet(`${urls.c1}/`)
    expect(home.status).toBe(200)
    expect(home.body).toContain('hello from c1')
    expect(sql('c1', 'SELECT id, body FROM notes ORDER BY id;')).toBe(before)
    expect(await servedVersion(urls.c2)).toBe('2.0.0')
    expect((await httpGet(`${urls.c2}/`)).status).toBe(401)
    expect((await httpGet(`${urls.c2}/`, auth)).body).toContain('hello from c2')
    const phases = ['syncing', 'deploying', 'freezing', 'catching-up', 'open', 'cancelled']
    expect(await attemptPhases('c1')).toEqual(phases)
    expect(await attemptPhases('c2')).toEqual(phases)
    // Only the start was recorded as a deployment: production's never changed.
    expect(fake.deployments.slice(deploymentsBefore).map(d => [d.environment, d.task])).toEqual([
      ['c2', 'deploy:attempt']
    ])
    fake.assertClean()
    expect(everythingShown(run)).not.toContain(PASSWORD)
  })
})
