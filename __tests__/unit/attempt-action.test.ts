/**
 * The attempt action (src/actions/attempt.ts) and the pure parts of upgrade attempts: inputs
 * checked all at once before anything runs; `start` recorded as a deployment of the preview's
 * environment and `promote` as one of production's, against the OpenAPI-checked fake GitHub, a
 * failed promote as `failure`; `cancel` and `status` record nothing; outputs and summary; the
 * host-recorded identity of a promoted site (sites/identity.ts) applied only while sitecycle.yml
 * still says what it said at the promote.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import {
  readAttemptSettings,
  runAttemptAction,
  type AttemptActionDeps
} from '../../src/actions/attempt.js'
import { SiteInput } from '../../src/actions/inputs.js'
import { parseConfig } from '../../src/config/load-config.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { AttemptFailed, type AttemptOutcome } from '../../src/pipelines/attempt.js'
import { addressOf, applyIdentity, newIdentity, withAddress } from '../../src/sites/identity.js'
import { FakeCore } from '../helpers/fake-core.js'
import { FakeGithub } from '../helpers/github-openapi.js'

const CONFIG = [
  'app: { package: weave, wsgi: "weave.wsgi:application" }',
  'sites:',
  '  v1: { role: production, root: /srv/weave/v1, url: "https://weave.example.org", apache: { listen: "127.0.0.1:8081" } }',
  '  v2: { role: preview, from: v1, root: /srv/weave/v2, url: "https://preview.example.org", apache: { listen: "127.0.0.1:8082" }, access: { basic_auth: { password_env: PREVIEW_PW } } }',
  ''
].join('\n')

let tmp: string
let configFile: string
let fake: FakeGithub

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-attempt-action-'))
  configFile = path.join(tmp, 'sitecycle.yml')
  await fs.writeFile(configFile, CONFIG)
  fake = new FakeGithub()
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
  fake.assertClean()
})

function env(): NodeJS.ProcessEnv {
  return {
    GITHUB_TOKEN: fake.token,
    GITHUB_REPOSITORY: fake.repository,
    GITHUB_SHA: fake.headCommit,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '77'
  }
}

function outcome(phase: AttemptOutcome['phase']): AttemptOutcome {
  return {
    attempt: 'attempt-20261122T030000-abc123',
    phase,
    preview: 'v2',
    production: 'v1',
    version: '2.0.0',
    previousVersion: '1.0.0',
    previewUrl: 'https://preview.example.org',
    productionUrl: 'https://weave.example.org',
    steps: [{ name: 'sync-preview', title: 'sync', status: 'ok', ms: 12 }],
    notes: []
  }
}

async function run(
  inputs: Record<string, string>,
  pipelines: AttemptActionDeps['pipelines'] = {}
): Promise<{ core: FakeCore; error?: Error }> {
  const core = new FakeCore({ [SiteInput.Config]: configFile, [SiteInput.Site]: 'v2', ...inputs })
  const error = await runAttemptAction(core, {
    env: env(),
    createExecutor: () => new RecordingExecutor('local'),
    githubFetch: fake.fetch,
    pipelines
  }).then(
    () => undefined,
    (e: Error) => e
  )
  return { core, error }
}

describe('the attempt action', () => {
  it('names every bad input at once, before any pipeline runs', () => {
    const inputs: Record<string, string> = {
      [SiteInput.Config]: 'sitecycle.yml',
      [SiteInput.Site]: 'v2',
      step: 'frobnicate',
      version: 'two',
      'keep-old': 'a week'
    }
    let message = ''
    try {
      readAttemptSettings({ getInput: n => inputs[n] ?? '' })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toContain(
      "input 'step' is 'frobnicate'; expected one of start, promote, cancel, status"
    )
    expect(message).toContain("input 'version' is 'two'")
    expect(message).toContain("input 'keep-old' is 'a week'")
  })

  it('start is a deployment of the preview environment; outputs name the phase and URLs', async () => {
    const calls: string[] = []
    const { core, error } = await run(
      { step: 'start', version: '2.0.0' },
      {
        start: async req => {
          calls.push(`start ${req.preview.name} ${req.version} after ${fake.calls.length} calls`)
          return outcome('open')
        }
      }
    )
    expect(error).toBeUndefined()
    expect(calls).toEqual(['start v2 2.0.0 after 2 calls'])
    expect(fake.operations()).toEqual([
      'repos/create-deployment',
      'repos/create-deployment-status',
      'repos/create-deployment-status'
    ])
    expect(fake.calls[0].body).toMatchObject({
      environment: 'v2',
      task: 'deploy:attempt',
      transient_environment: true,
      production_environment: false,
      payload: { site: 'v2', version: '2.0.0' }
    })
    expect(fake.calls[2].body).toMatchObject({
      state: 'success',
      environment_url: 'https://preview.example.org',
      log_url: 'https://github.com/acme/weave/actions/runs/77'
    })
    expect(Object.fromEntries(core.outputs)).toMatchObject({
      status: 'open',
      phase: 'open',
      version: '2.0.0',
      'preview-url': 'https://preview.example.org',
      'production-url': 'https://weave.example.org'
    })
    expect(core.summaries.join('')).toContain('the window is open')
  })

  it('start is recorded in the preview-environment input when it names another environment', async () => {
    const { error } = await run(
      { step: 'start', version: '2.0.0', 'preview-environment': 'staging' },
      { start: async () => outcome('open') }
    )
    expect(error).toBeUndefined()
    expect(fake.calls[0].body).toMatchObject({
      environment: 'staging',
      task: 'deploy:attempt',
      production_environment: false
    })
  })

  it("promote is a deployment of production's environment with production's URL; a failure is recorded as failure", async () => {
    const ok = await run(
      { step: 'promote', 'keep-old': '2d', 'production-environment': 'production' },
      {
        promote: async req => {
          expect(req.keepOldSeconds).toBe(2 * 86400)
          return outcome('promoted')
        }
      }
    )
    expect(ok.error).toBeUndefined()
    expect(fake.calls[0].body).toMatchObject({
      environment: 'production',
      task: 'deploy:promote',
      production_environment: true,
      transient_environment: false
    })
    expect(fake.calls[2].body).toMatchObject({
      state: 'success',
      environment_url: 'https://weave.example.org'
    })

    const failed = await run(
      { step: 'promote' },
      {
        promote: async () => {
          throw new AttemptFailed(
            'promote of attempt x failed at verify-production: GET answered 500',
            { ...outcome('open'), steps: [] },
            'verify-production'
          )
        }
      }
    )
    expect(failed.error?.message).toContain('failed at verify-production')
    expect(failed.core.outputs.get('status')).toBe('failed')
    expect(failed.core.outputs.get('phase')).toBe('open')
    const last = fake.calls[fake.calls.length - 1].body as Record<string, unknown>
    expect(fake.calls[3].body).toMatchObject({ environment: 'v1' })
    expect(last.state).toBe('failure')
    expect(String(last.description)).toContain('verify-production')
  })

  it('cancel and status record no deployment', async () => {
    const cancelled = await run({ step: 'cancel' }, { cancel: async () => outcome('cancelled') })
    expect(cancelled.error).toBeUndefined()
    expect(cancelled.core.outputs.get('status')).toBe('cancelled')
    const status = await run({ step: 'status' }, { status: async () => undefined })
    expect(status.error).toBeUndefined()
    expect(status.core.outputs.get('status')).toBe('none')
    expect(fake.calls).toEqual([])
  })
})

describe('the identity a promote records on the host', () => {
  const config = parseConfig(CONFIG, '/app/sitecycle.yml')
  const { v1, v2 } = config.sites

  it("gives the preview production's address and role while sitecycle.yml is unchanged", () => {
    const identity = newIdentity(v2, 'production', addressOf(v1), 'attempt-1')
    const seen = applyIdentity(v2, identity)
    expect(seen.role).toBe('production')
    expect(seen.url).toBe('https://weave.example.org')
    expect(seen.apache.listen).toBe('127.0.0.1:8081')
    // Production's access (open), not the preview's basic auth.
    expect(seen.access?.basicAuth).toBeUndefined()
    // The old production takes the preview's address, protection included.
    const old = withAddress(v1, addressOf(v2), 'old')
    expect(old.access?.basicAuth?.passwordEnv).toBe('PREVIEW_PW')
    expect(old.apache.listen).toBe('127.0.0.1:8082')
  })

  it('is ignored once sitecycle.yml was updated, and for another site', () => {
    const identity = newIdentity(v2, 'production', addressOf(v1), 'attempt-1')
    const updated = { ...v2, role: 'production' as const, url: 'https://weave.example.org' }
    expect(applyIdentity(updated, identity)).toBe(updated)
    expect(applyIdentity(v1, identity)).toBe(v1)
    expect(applyIdentity(v2, undefined)).toBe(v2)
  })
})
