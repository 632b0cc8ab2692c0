/**
 * GitHub deployments around the deploy action, against the OpenAPI-checked fake GitHub: the
 * order and shape of the requests for a deploy that succeeds (in_progress, then success with the
 * site's URL, the log and auto_inactive, the previous deployment marked inactive) and one that
 * fails (failure with the failed step, no auto_inactive); a GitHub that fails only warns; no token
 * or `record-deployment: false` records nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runDeployAction } from '../../src/actions/deploy.js'
import { DeployInput, SiteInput } from '../../src/actions/inputs.js'
import { actionsRunUrl, deploymentRequest } from '../../src/github/deployments.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import type { DeployRequest } from '../../src/pipelines/deploy.js'
import { OperationFailed, type OperationOutcome } from '../../src/pipelines/operation.js'
import { FakeCore } from '../helpers/fake-core.js'
import { FakeGithub } from '../helpers/github-openapi.js'

let tmp: string
let configFile: string
let fake: FakeGithub

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-gh-deploy-'))
  configFile = path.join(tmp, 'sitecycle.yml')
  await fs.writeFile(
    configFile,
    [
      'app: { package: weave, wsgi: "weave.wsgi:application" }',
      'sites:',
      '  v1: { role: production, root: /srv/weave/v1, url: "https://weave.example.org" }',
      '  v2: { role: preview, root: /srv/weave/v2, url: "https://preview.example.org" }',
      ''
    ].join('\n')
  )
  fake = new FakeGithub()
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
  fake.assertClean()
})

function env(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    GITHUB_TOKEN: fake.token,
    GITHUB_REPOSITORY: fake.repository,
    GITHUB_SHA: fake.headCommit,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    ...over
  }
}

function outcome(site: string, over: Partial<OperationOutcome> = {}): OperationOutcome {
  return {
    op: 'deploy',
    site,
    host: 'local',
    status: 'deployed',
    version: '1.4.0',
    previousVersion: '1.3.0',
    targetVersion: '1.4.0',
    url: site === 'v1' ? 'https://weave.example.org' : 'https://preview.example.org',
    rolledBack: false,
    undoComplete: true,
    steps: [],
    operationId: 'op-1',
    notes: [],
    ...over
  }
}

async function runDeploy(
  site: string,
  pipeline: (req: DeployRequest) => Promise<OperationOutcome>,
  options: { inputs?: Record<string, string>; env?: NodeJS.ProcessEnv } = {}
): Promise<{ core: FakeCore; error?: Error; order: string[] }> {
  const core = new FakeCore({
    [SiteInput.Config]: configFile,
    [SiteInput.Site]: site,
    version: '1.4.0',
    ...options.inputs
  })
  const order: string[] = []
  const error = await runDeployAction(core, {
    env: options.env ?? env(),
    createExecutor: () => new RecordingExecutor('local'),
    githubFetch: fake.fetch,
    deploy: async req => {
      order.push(`pipeline after ${fake.calls.length} GitHub calls`)
      return pipeline(req)
    }
  }).then(
    () => undefined,
    (e: Error) => e
  )
  return { core, error, order }
}

describe('a deploy recorded as a GitHub deployment', () => {
  it('creates the deployment, sets in_progress before the pipeline and success after', async () => {
    const { error, order } = await runDeploy('v1', async () => outcome('v1'))
    expect(error).toBeUndefined()
    expect(order).toEqual(['pipeline after 2 GitHub calls'])
    expect(fake.operations()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status',
      'repos/create-deployment-status'
    ])
    const [create, inProgress, success] = fake.calls
    expect(create.body).toEqual({
      ref: fake.headCommit,
      task: 'deploy',
      environment: 'v1',
      description: 'sitecycle deploy of 1.4.0 to site v1',
      payload: { site: 'v1', version: '1.4.0' },
      auto_merge: false,
      required_contexts: [],
      transient_environment: false,
      production_environment: true
    })
    const logUrl = 'https://github.com/acme/weave/actions/runs/4242'
    expect(inProgress.body).toEqual({
      state: 'in_progress',
      description: 'sitecycle deploy of 1.4.0 to site v1',
      log_url: logUrl
    })
    expect(success.body).toEqual({
      state: 'success',
      description: '1.4.0 serves on https://weave.example.org',
      environment_url: 'https://weave.example.org',
      log_url: logUrl,
      auto_inactive: true
    })
    expect(fake.deployments[0].statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
  })

  it("marks the environment's previous deployment inactive (auto_inactive), not another environment's", async () => {
    await runDeploy('v1', async () => outcome('v1'))
    await runDeploy('v2', async () => outcome('v2'))
    await runDeploy('v1', async () => outcome('v1', { version: '1.5.0' }))
    const [first, preview, second] = fake.deployments
    expect(first.statuses.map(s => s.state)).toEqual(['in_progress', 'success', 'inactive'])
    expect(preview.statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(second.statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(preview.transientEnvironment).toBe(true)
    expect(preview.productionEnvironment).toBe(false)
  })

  it('sets failure with the failed step and the error, without auto_inactive, and re-throws', async () => {
    const { error } = await runDeploy('v1', async () => {
      throw new OperationFailed(
        outcome('v1', {
          status: 'rolled-back',
          version: '1.3.0',
          rolledBack: true,
          failedStep: 'verify-idle',
          error: 'GET /__version__ answered 500'
        })
      )
    })
    expect(error).toBeInstanceOf(OperationFailed)
    expect(fake.operations()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status',
      'repos/create-deployment-status'
    ])
    const last = fake.calls[2].body as Record<string, unknown>
    expect(last.state).toBe('failure')
    expect(last.description).toMatch(/^failed at verify-idle: deploy of 1\.4\.0 to site v1 failed/)
    expect((last.description as string).length).toBeLessThanOrEqual(140)
    expect(last).not.toHaveProperty('auto_inactive')
    expect(last).not.toHaveProperty('environment_url')
    expect(last.log_url).toBe('https://github.com/acme/weave/actions/runs/4242')
  })

  it('goes on with a warning when GitHub refuses the record (no deployments: write), and still deploys', async () => {
    fake.failNext('repos/create-deployment', { status: 403 })
    const { error, order, core } = await runDeploy('v1', async () => outcome('v1'))
    expect(error).toBeUndefined()
    expect(order).toHaveLength(1)
    expect(core.warnings.join('\n')).toMatch(
      /the deployment is not recorded on GitHub \(the deploy goes on\): GitHub API: could not record a deployment to v1 in acme\/weave: POST .* answered 403/
    )
    expect(fake.operations()).toEqual(['repos/create-deployment'])
  })

  it('records nothing with record-deployment: false or without a token, and refuses a bad value', async () => {
    await runDeploy('v1', async () => outcome('v1'), {
      inputs: { [DeployInput.RecordDeployment]: 'false' }
    })
    await runDeploy('v1', async () => outcome('v1'), { env: env({ GITHUB_TOKEN: '' }) })
    expect(fake.calls).toEqual([])
    const { error, order } = await runDeploy('v1', async () => outcome('v1'), {
      inputs: { [DeployInput.RecordDeployment]: 'yes' }
    })
    expect(error?.message).toBe("input 'record-deployment' is 'yes'; expected true or false")
    expect(order).toEqual([])
  })

  it('uses the github-token input over GITHUB_TOKEN and masks it', async () => {
    const { core } = await runDeploy('v1', async () => outcome('v1'), {
      inputs: { [DeployInput.GithubToken]: fake.token },
      env: env({ GITHUB_TOKEN: 'ghs_other_token_not_valid' })
    })
    expect(fake.deployments).toHaveLength(1)
    expect(core.secrets).toContain(fake.token)
  })
})

describe('helpers', () => {
  it('deploymentRequest: a preview is transient, an attempt has its own task', () => {
    const r = deploymentRequest({
      ref: 'abc',
      site: { name: 'v2', role: 'preview', url: 'https://p.example.org' },
      task: 'deploy:attempt',
      host: 'ssh://deploy@web1:22'
    })
    expect(r).toMatchObject({
      environment: 'v2',
      task: 'deploy:attempt',
      transientEnvironment: true,
      productionEnvironment: false,
      payload: { site: 'v2', host: 'ssh://deploy@web1:22' }
    })
  })

  it('actionsRunUrl: the run, its attempt after a re-run, nothing outside Actions', () => {
    expect(actionsRunUrl({ GITHUB_REPOSITORY: 'a/b', GITHUB_RUN_ID: '7' })).toBe(
      'https://github.com/a/b/actions/runs/7'
    )
    expect(
      actionsRunUrl({
        GITHUB_SERVER_URL: 'https://ghe.example.org/',
        GITHUB_REPOSITORY: 'a/b',
        GITHUB_RUN_ID: '7',
        GITHUB_RUN_ATTEMPT: '2'
      })
    ).toBe('https://ghe.example.org/a/b/actions/runs/7/attempts/2')
    expect(actionsRunUrl({})).toBeUndefined()
  })
})
