/**
 * Issue alerts against the OpenAPI-checked fake GitHub: one open issue per site and operation,
 * opened by the first failure, commented on by the next, commented on and closed by a success;
 * a person's issue with the same label (no marker) and a pull request are left alone; secrets
 * never reach GitHub. Also: the deploy action alerts only in unattended runs, and the config's
 * `alerts:` section.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runDeployAction } from '../../src/actions/deploy.js'
import { DeployInput, SiteInput } from '../../src/actions/inputs.js'
import { Alerter, isUnattended } from '../../src/alerts/alerter.js'
import { alertLabel } from '../../src/alerts/alert-report.js'
import { parseConfig } from '../../src/config/load-config.js'
import { createGithubApi } from '../../src/github/client.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { OperationFailed, type OperationOutcome } from '../../src/pipelines/operation.js'
import { ConfigError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { FakeCore } from '../helpers/fake-core.js'
import { FakeGithub } from '../helpers/github-openapi.js'

const SECRET = 'hunter2-db-password'
let fake: FakeGithub
const lines: string[] = []

beforeEach(() => {
  fake = new FakeGithub()
  lines.length = 0
})
afterEach(() => fake.assertClean())

function alerter(env: NodeJS.ProcessEnv = {}): Alerter {
  return new Alerter(
    { githubIssues: true },
    {
      env: { DB_PASSWORD: SECRET, GITHUB_REPOSITORY: 'acme/weave', GITHUB_RUN_ID: '77', ...env },
      reporter: new StreamReporter(l => lines.push(l)),
      github: createGithubApi({
        token: fake.token,
        repository: fake.repository,
        fetch: fake.fetch,
        retries: 0
      })
    },
    {
      file: '/x/sitecycle.yml',
      app: { package: 'weave', wsgi: 'w:app', python: '/usr/bin/python3' },
      ssh: {},
      sites: { v1: { database: { passwordEnv: 'DB_PASSWORD' } } } as never
    }
  )
}

describe('the alert issue of a site and operation', () => {
  it('is opened once, commented on by the next failure, and closed by a success', async () => {
    const a = alerter()
    const first = await a.failed({
      op: 'sync',
      site: 'v2',
      step: 'restore-database',
      error: `psql: password ${SECRET} refused`
    })
    expect(first).toMatchObject({ issue: { number: 1, opened: true }, problems: [] })
    expect(fake.operations()).toEqual(['issues/list-for-repo', 'issues/create'])
    expect(fake.calls[0].query).toMatchObject({
      state: 'open',
      labels: 'sitecycle:v2:sync'
    })
    const issue = fake.issues[0]
    expect(issue.title).toBe('sitecycle: sync of site v2 failed at step restore-database')
    expect(issue.labels).toEqual(['sitecycle:v2:sync'])
    expect(issue.body).toContain('<!-- sitecycle-alert site=v2 op=sync -->')
    expect(issue.body).toContain('| step | restore-database |')
    expect(issue.body).toContain("[the run's log](https://github.com/acme/weave/actions/runs/77)")
    expect(issue.body).toContain('psql: password *** refused')

    const second = await a.failed({ op: 'sync', site: 'v2', error: 'timeout' })
    expect(second.issue).toEqual({
      number: 1,
      opened: false,
      url: 'https://github.com/acme/weave/issues/1'
    })
    expect(fake.issues).toHaveLength(1)
    expect(issue.comments).toHaveLength(1)
    expect(issue.comments[0].body).toMatch(/^It failed again\.\n/)
    expect(issue.comments[0].body).toContain('timeout')

    // Another operation of the same site has its own issue.
    await a.failed({ op: 'snapshot', site: 'v2', error: 'disk full' })
    expect(fake.issues.map(i => i.labels[0])).toEqual([
      'sitecycle:v2:sync',
      'sitecycle:v2:snapshot'
    ])

    const ok = await a.succeeded({ op: 'sync', site: 'v2', summary: 'synced from v1' })
    expect(ok.closedIssue).toBe(1)
    expect(issue.state).toBe('closed')
    expect(issue.stateReason).toBe('completed')
    expect(issue.comments[1].body).toMatch(
      /^The sync of site \*\*v2\*\* succeeded at .*: synced from v1/
    )
    expect(fake.issues[1].state).toBe('open')

    // A success with nothing open does nothing but look; the next failure opens a new issue.
    fake.calls.length = 0
    expect(
      (await a.succeeded({ op: 'sync', site: 'v2', summary: 'ok' })).closedIssue
    ).toBeUndefined()
    expect(fake.operations()).toEqual(['issues/list-for-repo'])
    await a.failed({ op: 'sync', site: 'v2', error: 'again' })
    expect(
      fake.issues.filter(i => i.labels.includes('sitecycle:v2:sync')).map(i => i.state)
    ).toEqual(['closed', 'open'])

    const everything = JSON.stringify(fake.calls) + JSON.stringify(fake.issues) + lines.join('\n')
    expect(everything).not.toContain(SECRET)
  })

  it("leaves a person's issue with the label but no marker, and pull requests, alone", async () => {
    fake.addIssue({ title: 'sync is slow', labels: [alertLabel('v2', 'sync')] })
    fake.addIssue({ title: 'fix sync', labels: [alertLabel('v2', 'sync')], pullRequest: true })
    const sent = await alerter().failed({ op: 'sync', site: 'v2', error: 'boom' })
    expect(sent.issue).toMatchObject({ number: 3, opened: true })
    expect(fake.issues[0].comments).toHaveLength(0)
  })

  it('warns, and does not throw, when GitHub cannot be reached or no token is there', async () => {
    fake.failNext('issues/list-for-repo', { status: 403 })
    const sent = await alerter().failed({ op: 'sync', site: 'v2', error: 'boom' })
    expect(sent.problems[0]).toMatch(/^the alert issue was not sent: GitHub API: could not list/)
    const noToken = new Alerter(
      { githubIssues: true },
      { env: {}, reporter: new StreamReporter(l => lines.push(l)) }
    )
    expect((await noToken.failed({ op: 'sync', site: 'v2', error: 'x' })).problems[0]).toMatch(
      /needs GITHUB_TOKEN/
    )
  })
})

describe('unattended runs', () => {
  it('are scheduled workflows, --unattended and SITECYCLE_UNATTENDED=1; not a push', () => {
    expect(isUnattended({ GITHUB_EVENT_NAME: 'schedule' })).toBe(true)
    expect(isUnattended({ SITECYCLE_UNATTENDED: '1' })).toBe(true)
    expect(isUnattended({}, true)).toBe(true)
    expect(isUnattended({ GITHUB_EVENT_NAME: 'push' })).toBe(false)
    expect(isUnattended({ SITECYCLE_UNATTENDED: '0' })).toBe(false)
  })
})

describe('the deploy action', () => {
  let tmp: string
  beforeEach(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-alerts-'))
    await fs.writeFile(
      path.join(tmp, 'sitecycle.yml'),
      [
        'app: { package: weave, wsgi: "weave.wsgi:application" }',
        'alerts: { github_issues: true }',
        'sites:',
        '  v1: { root: /srv/weave/v1, url: "https://weave.example.org" }',
        ''
      ].join('\n')
    )
  })
  afterEach(() => fs.rm(tmp, { recursive: true, force: true }))

  async function deployOnce(event: string, fail: boolean): Promise<void> {
    const outcome: OperationOutcome = {
      op: 'deploy',
      site: 'v1',
      host: 'local',
      status: fail ? 'rolled-back' : 'deployed',
      version: fail ? '1.3.0' : '1.4.0',
      previousVersion: '1.3.0',
      targetVersion: '1.4.0',
      url: 'https://weave.example.org',
      rolledBack: fail,
      undoComplete: true,
      steps: [],
      operationId: 'op',
      notes: [],
      ...(fail && { failedStep: 'switch', error: 'rename failed' })
    }
    await runDeployAction(
      new FakeCore({
        [SiteInput.Config]: path.join(tmp, 'sitecycle.yml'),
        [SiteInput.Site]: 'v1',
        [DeployInput.RecordDeployment]: 'false'
      }),
      {
        env: {
          GITHUB_EVENT_NAME: event,
          GITHUB_TOKEN: fake.token,
          GITHUB_REPOSITORY: fake.repository
        },
        createExecutor: () => new RecordingExecutor('local'),
        githubFetch: fake.fetch,
        deploy: async () => {
          if (fail) throw new OperationFailed(outcome)
          return outcome
        }
      }
    ).catch(() => undefined)
  }

  it('opens the deploy issue on a scheduled failure only, and closes it on the next success', async () => {
    await deployOnce('workflow_dispatch', true)
    expect(fake.calls).toEqual([])
    await deployOnce('schedule', true)
    expect(fake.issues).toHaveLength(1)
    expect(fake.issues[0].title).toBe('sitecycle: deploy of site v1 failed at step switch')
    await deployOnce('schedule', false)
    expect(fake.issues[0].state).toBe('closed')
  })
})

describe('alerts: in sitecycle.yml', () => {
  const base =
    'app: { package: weave, wsgi: "w:app" }\nsites:\n  v1: { root: /srv/v1, url: "https://x.example.org" }\n'
  it('reads email and github_issues with their defaults', () => {
    const config = parseConfig(
      `${base}alerts:\n  email: { smtp_host: smtp.example.org, user: alerts, password_env: SMTP_PASSWORD, from: sitecycle@example.org, to: [ops@example.org] }\n  github_issues: true\n`,
      '/x/sitecycle.yml'
    )
    expect(config.alerts).toEqual({
      githubIssues: true,
      email: {
        smtpHost: 'smtp.example.org',
        smtpPort: 587,
        starttls: true,
        user: 'alerts',
        passwordEnv: 'SMTP_PASSWORD',
        from: 'sitecycle@example.org',
        to: ['ops@example.org']
      }
    })
  })

  it('refuses a recipient list without an address, naming the line', () => {
    let error: unknown
    try {
      parseConfig(
        `${base}alerts:\n  email: { smtp_host: smtp.example.org, from: a@example.org, to: ["ops at example"] }\n`,
        '/x/sitecycle.yml'
      )
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).message).toMatch(/a mail address such as alerts@example.org/)
    expect((error as ConfigError).line).toBe(5)
  })
})
