import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { CoreReporter } from '../../src/actions/core-reporter.js'
import { runDeployAction } from '../../src/actions/deploy.js'
import {
  DeployInput,
  DeployStageInput,
  RollbackInput,
  SiteInput
} from '../../src/actions/inputs.js'
import { StageOutput } from '../../src/actions/deploy-stage.js'
import { Output } from '../../src/actions/outputs.js'
import { runRollbackAction } from '../../src/actions/rollback.js'
import { loadConfig } from '../../src/config/load-config.js'
import type { HostSpec, SshSettings } from '../../src/config/model.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import type { DeployRequest } from '../../src/pipelines/deploy.js'
import { OperationFailed, type OperationOutcome } from '../../src/pipelines/operation.js'
import type { RollbackRequest } from '../../src/pipelines/rollback.js'
import { digestFile, writeManifest } from '../../src/releases/manifest.js'
import { identityPath, newIdentity } from '../../src/sites/identity.js'
import { DEFAULT_LOCK_WAIT_SECONDS } from '../../src/sites/lock.js'
import { SitecycleError } from '../../src/util/errors.js'
import { FakeCore } from '../helpers/fake-core.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { isScript, scriptOf, unniced } from '../helpers/host-script-calls.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBjb21wbGV0ZWx5LWZha2Uta2V5LWZvci10ZXN0cwAAAAAAAAA=',
  '-----END OPENSSH PRIVATE KEY-----'
].join('\n')
const KEY_BODY = KEY.split('\n')[1]
const HOST_LINE =
  '[web1.example.org]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1zaXRlY3ljbGU='
const DB_PASSWORD = 'correct-horse-battery-staple'

/** An executor factory that records what it was given and hands out RecordingExecutors. */
function executorFactory() {
  const made: {
    host: HostSpec
    ssh: SshSettings & { key?: string }
    exec: RecordingExecutor
    closed: number
  }[] = []
  const create = (host: HostSpec, ssh: SshSettings & { key?: string } = {}) => {
    const exec = new RecordingExecutor(
      host.kind === 'ssh' ? `ssh://${host.user}@${host.hostname}:${host.port}` : 'local'
    )
    const entry = { host, ssh, exec, closed: 0 }
    exec.close = async () => {
      entry.closed++
    }
    made.push(entry)
    return exec
  }
  return { made, create }
}

function outcome(over: Partial<OperationOutcome> = {}): OperationOutcome {
  return {
    op: 'deploy',
    site: 'v2',
    host: 'ssh://deploy@web1.example.org:2222',
    status: 'deployed',
    version: '1.4.0',
    previousVersion: '1.3.0',
    targetVersion: '1.4.0',
    url: 'https://preview.example.org',
    rolledBack: false,
    undoComplete: true,
    steps: [
      { name: 'preflight', title: 'check the host', status: 'ok', ms: 1200 },
      { name: 'switch', title: 'route users', status: 'ok', ms: 10 }
    ],
    operationId: 'op-1',
    notes: [],
    ...over
  }
}

let dir: string
let configFile: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-actions-'))
  configFile = path.join(dir, 'sitecycle.yml')
  await fs.writeFile(
    configFile,
    [
      'app: { package: sample, wsgi: "sample.wsgi:application" }',
      'sites:',
      '  v1:',
      '    host: local',
      '    root: /srv/sample/v1',
      '    url: http://127.0.0.1:8080',
      '    config: { template: app.ini.tmpl }',
      '  v2:',
      '    host: ssh://deploy@web1.example.org:2222',
      '    root: /srv/sample/v2',
      '    url: https://preview.example.org',
      ''
    ].join('\n')
  )
  await fs.writeFile(
    path.join(dir, 'app.ini.tmpl'),
    '[db]\npassword = {{ secret.DB_PASSWORD }}\nversion = {{ release.version }}\n'
  )
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

describe('runDeployAction: bad input fails before anything is touched', () => {
  it('rejects a bad lock-wait before reading the config, with the ssh key already masked', async () => {
    const core = new FakeCore({
      config: path.join(dir, 'nowhere.yml'),
      site: 'v2',
      'lock-wait': 'soon',
      'ssh-key': KEY
    })
    const { made, create } = executorFactory()
    let deployed = 0
    const e = await rejection(
      runDeployAction(core, {
        createExecutor: create,
        tempDir: dir,
        deploy: async () => (deployed++, outcome())
      })
    )
    expect(e.message).toBe(
      "input 'lock-wait' is 'soon'; expected a whole number of seconds, 0 or more (such as 0 or 600)"
    )
    expect(made).toHaveLength(0)
    expect(deployed).toBe(0)
    expect(core.secrets).toEqual(expect.arrayContaining([KEY, KEY_BODY]))
    expect(core.outputs.get(Output.Status)).toBe('failed')
    expect(core.outputs.get(Output.RolledBack)).toBe('false')
    expect(core.summaries).toHaveLength(1)
    expect(core.summaries[0]).toContain("input 'lock-wait' is 'soon'")
  })

  it('names the config input when the file is missing', async () => {
    const core = new FakeCore({ config: path.join(dir, 'nowhere.yml'), site: 'v2' })
    const e = await rejection(runDeployAction(core, { createExecutor: executorFactory().create }))
    expect(e).toBeInstanceOf(SitecycleError)
    expect(e.message).toBe(
      `input 'config' is ${path.join(dir, 'nowhere.yml')}, which does not exist; expected the path of sitecycle.yml, relative to the workspace (check out the repository first)`
    )
  })

  it('names the site input and the known sites for an unknown site', async () => {
    const core = new FakeCore({ config: configFile, site: 'prod' })
    const { made, create } = executorFactory()
    const e = await rejection(runDeployAction(core, { createExecutor: create }))
    expect(e.message).toBe(
      `input 'site' is 'prod', which is not a site in ${configFile}; expected one of: v1, v2`
    )
    expect(made).toHaveLength(0)
    expect(core.summaries[0]).toMatch(/^## ❌ Deploy of site prod failed\n/)
  })
})

describe('runDeployAction over SSH', () => {
  const inputs = () => ({
    config: configFile,
    site: 'v2',
    release: '/releases',
    version: '1.4.0',
    'lock-wait': '120',
    'ssh-key': KEY,
    'known-hosts': HOST_LINE
  })

  it('builds the request from the inputs, passes key and pinned known-hosts to the executor, sets outputs and summary, and cleans up', async () => {
    const core = new FakeCore(inputs())
    const { made, create } = executorFactory()
    const requests: DeployRequest[] = []
    let knownHostsSeen: { content: string; mode: number } | undefined
    await runDeployAction(core, {
      createExecutor: create,
      tempDir: dir,
      deploy: async req => {
        requests.push(req)
        const file = made[0].ssh.knownHostsFile!
        knownHostsSeen = {
          content: await fs.readFile(file, 'utf8'),
          mode: (await fs.stat(file)).mode & 0o777
        }
        req.reporter.stepStart('preflight', 'check the host')
        req.reporter.stepEnd('preflight', 'ok', 1200)
        return outcome()
      }
    })
    expect(core.failed).toBeUndefined()
    expect(made).toHaveLength(1)
    expect(made[0].host).toEqual({
      kind: 'ssh',
      user: 'deploy',
      hostname: 'web1.example.org',
      port: 2222
    })
    expect(made[0].ssh.key).toBe(KEY)
    expect(path.dirname(path.dirname(made[0].ssh.knownHostsFile!))).toBe(dir)
    expect(knownHostsSeen).toEqual({ content: HOST_LINE + '\n', mode: 0o600 })
    expect(requests).toHaveLength(1)
    expect(requests[0]).toMatchObject({ release: '/releases', version: '1.4.0', lockWait: 120 })
    expect(requests[0].site.name).toBe('v2')
    expect(requests[0].exec).toBe(made[0].exec)
    expect(requests[0].reporter).toBeInstanceOf(CoreReporter)

    expect(Object.fromEntries(core.outputs)).toEqual({
      [Output.Status]: 'deployed',
      [Output.Version]: '1.4.0',
      [Output.PreviousVersion]: '1.3.0',
      [Output.Url]: 'https://preview.example.org',
      [Output.RolledBack]: 'false'
    })
    expect(core.summaries).toHaveLength(1)
    expect(core.summaries[0]).toMatch(/^## ✅ Deployed 1\.4\.0 to site v2\n/)
    expect(core.summaries[0]).toContain('| `preflight` | ✅ ok | 1.20 s |')
    expect(
      core.log.filter(l => l[0] === 'startGroup' || l[0] === 'endGroup').map(l => l[0])
    ).toEqual(['startGroup', 'endGroup'])

    // The key is masked, line by line, and shown nowhere; its files are gone.
    expect(core.secrets).toEqual(expect.arrayContaining([KEY, ...KEY.split('\n')]))
    expect(core.visible()).not.toContain(KEY_BODY)
    expect(made[0].closed).toBe(1)
    await expect(fs.access(path.dirname(made[0].ssh.knownHostsFile!))).rejects.toThrow()
  })

  it('on OperationFailed sets the outputs from its outcome, redacts secrets everywhere, and still cleans up', async () => {
    const core = new FakeCore(inputs())
    const { made, create } = executorFactory()
    const e = await rejection(
      runDeployAction(core, {
        createExecutor: create,
        tempDir: dir,
        deploy: async req => {
          // As prepareDeploy does for the rendered config's secrets.
          req.reporter.addSecret(DB_PASSWORD)
          req.reporter.info(`rendered app.ini with password ${DB_PASSWORD}`)
          req.reporter.stepStart('verify-live', 'verify')
          req.reporter.stepEnd('verify-live', 'failed', 5000, `login failed for ${DB_PASSWORD}`)
          throw new OperationFailed(
            outcome({
              status: 'rolled-back',
              version: '1.3.0',
              rolledBack: true,
              error: `login failed for ${DB_PASSWORD}`,
              failedStep: 'verify-live',
              steps: [
                { name: 'switch', title: 'route users', status: 'undone', ms: 10 },
                {
                  name: 'verify-live',
                  title: 'verify',
                  status: 'failed',
                  ms: 5000,
                  error: `login failed for ${DB_PASSWORD}`
                }
              ]
            })
          )
        }
      })
    )
    expect(e.message).toBe(
      "deploy of 1.4.0 to site v2 failed at step 'verify-live': login failed for ***; rolled back: 1.3.0 serves again"
    )
    expect(Object.fromEntries(core.outputs)).toEqual({
      [Output.Status]: 'rolled-back',
      [Output.Version]: '1.3.0',
      [Output.PreviousVersion]: '1.3.0',
      [Output.Url]: 'https://preview.example.org',
      [Output.RolledBack]: 'true'
    })
    expect(core.secrets).toContain(DB_PASSWORD)
    expect(core.summaries).toHaveLength(1)
    expect(core.summaries[0]).toMatch(
      /^## ❌ Deploy of 1\.4\.0 to site v2 failed: rolled back, 1\.3\.0 serves again\n/
    )
    expect(core.summaries[0]).toContain('login failed for ***')
    expect(core.visible()).not.toContain(DB_PASSWORD)
    expect(core.log).toContainEqual(['info', 'rendered app.ini with password ***'])
    expect(made[0].closed).toBe(1)
    await expect(fs.access(path.dirname(made[0].ssh.knownHostsFile!))).rejects.toThrow()
  })

  it('on any other error reports status failed with the error in the summary', async () => {
    const core = new FakeCore(inputs())
    const { made, create } = executorFactory()
    const e = await rejection(
      runDeployAction(core, {
        createExecutor: create,
        tempDir: dir,
        deploy: async () => {
          throw new SitecycleError('site v2 is locked by deploy run 42 since 12:00', 'lock')
        }
      })
    )
    expect(e.message).toBe('site v2 is locked by deploy run 42 since 12:00')
    expect(core.outputs.get(Output.Status)).toBe('failed')
    expect(core.outputs.get(Output.RolledBack)).toBe('false')
    expect(core.outputs.get(Output.Url)).toBe('https://preview.example.org')
    expect(core.outputs.has(Output.Version)).toBe(false)
    expect(core.summaries[0]).toBe(
      '## ❌ Deploy of site v2 failed\n\n```text\nsite v2 is locked by deploy run 42 since 12:00\n```\n'
    )
    expect(made[0].closed).toBe(1)
  })

  it('refuses an SSH site with no pinned known-hosts anywhere, before connecting', async () => {
    const core = new FakeCore({ config: configFile, site: 'v2', 'ssh-key': KEY })
    let deployed = 0
    const e = await rejection(
      runDeployAction(core, { deploy: async () => (deployed++, outcome()) })
    )
    expect(e.message).toMatch(
      /^No pinned known-hosts file is set, so ssh:\/\/deploy@web1\.example\.org:2222 cannot be reached safely/
    )
    expect(deployed).toBe(0)
  })
})

describe('runDeployAction with dry-run', () => {
  /** A real sdist release (tar.gz + manifest.json) of `sample` 1.0.0 under dir/releases/1.0.0. */
  async function makeRelease(): Promise<string> {
    const src = path.join(dir, 'src', 'sample-1.0.0')
    await fs.mkdir(src, { recursive: true })
    await fs.writeFile(
      path.join(src, 'PKG-INFO'),
      'Metadata-Version: 2.1\nName: sample\nVersion: 1.0.0\n'
    )
    const out = path.join(dir, 'releases', '1.0.0')
    await fs.mkdir(out, { recursive: true })
    const file = path.join(out, 'sample-1.0.0.tar.gz')
    execFileSync('tar', ['-czf', file, '-C', path.join(dir, 'src'), 'sample-1.0.0'])
    const { sha256, size } = await digestFile(file)
    await writeManifest(out, {
      name: 'sample',
      version: '1.0.0',
      commit: null,
      requires_python: null,
      built_at: '2024-05-01T12:00:00.000Z',
      files: [{ name: 'sample-1.0.0.tar.gz', kind: 'sdist', sha256, size }]
    })
    return file
  }

  it('checks the release, masks the config secrets, reads the site, runs preflight read-only, prints the plan and changes nothing', async () => {
    const file = await makeRelease()
    const core = new FakeCore({
      config: configFile,
      site: 'v1',
      release: path.join(dir, 'releases'),
      'dry-run': 'true'
    })
    const { made, create } = executorFactory()
    let deployed = 0
    await runDeployAction(core, {
      // An initialized site serving 0.9.0, on a host with Python 3.11, pip and room.
      createExecutor: (host, ssh) =>
        create(host, ssh)
          .respond(isScript(scripts.READ_STATE), {
            stdout: JSON.stringify({
              slots: { blue: '0.9.0', green: null },
              live: 'blue',
              current: null,
              initialized: true
            })
          })
          .respond(isScript(scripts.LIST_RELEASES), { stdout: '{}' })
          .respond(isScript(scripts.HOST_FACTS), {
            stdout: JSON.stringify({ python: '3.11.2', pip: true, free_mb: 5000 })
          }),
      env: { DB_PASSWORD },
      deploy: async () => (deployed++, outcome())
    })
    expect(deployed).toBe(0)
    expect(made).toHaveLength(1)
    // Only reads: the site's identity, its state and releases, preflight's facts and configtest.
    expect(
      made[0].exec.calls.map(c =>
        c.type === 'run'
          ? (scriptOf(c.argv!)?.program ?? unniced(c.argv!).join(' '))
          : `${c.type} ${c.path}`
      )
    ).toEqual([
      'readFile /srv/sample/v1/.sitecycle/identity.json',
      scripts.READ_STATE,
      scripts.LIST_RELEASES,
      scripts.HOST_FACTS,
      'apache2ctl configtest'
    ])
    expect(made[0].closed).toBe(1)
    expect(core.secrets).toContain(DB_PASSWORD)
    expect(core.visible()).not.toContain(DB_PASSWORD)
    expect(Object.fromEntries(core.outputs)).toEqual({
      [Output.Status]: 'planned',
      [Output.RolledBack]: 'false',
      [Output.Url]: 'http://127.0.0.1:8080'
    })
    expect(core.summaries).toHaveLength(1)
    expect(core.summaries[0]).toMatch(
      /^## 📝 Plan: deploy sample 1\.0\.0 to site v1 \(dry run, nothing changed\)\n/
    )
    expect(core.summaries[0]).toContain(file)
    expect(core.summaries[0]).toContain(
      '- would deploy sample 1.0.0 to site v1 on local (live now: 0.9.0)'
    )
    expect(core.summaries[0]).toContain('- preflight: Python 3.11.2, 5000 MiB free, configtest ok')
    expect(core.summaries[0]).toMatch(/ 1\. preflight: /)
    expect(core.log.some(([k, t]) => k === 'info' && /^\s*\d+\. switch: /.test(t))).toBe(true)
  })

  it('fails when a secret the config template needs is not set', async () => {
    await makeRelease()
    const core = new FakeCore({
      config: configFile,
      site: 'v1',
      release: path.join(dir, 'releases'),
      'dry-run': 'true'
    })
    const e = await rejection(
      runDeployAction(core, { createExecutor: executorFactory().create, env: {} })
    )
    expect(e.message).toMatch(/app\.ini\.tmpl:2: secret DB_PASSWORD is not set/)
    expect(core.outputs.get(Output.Status)).toBe('failed')
  })
})

describe('runRollbackAction', () => {
  it('passes `to` and the lock wait to the pipeline and sets the outputs of the rollback', async () => {
    const core = new FakeCore({ config: configFile, site: 'v1', to: '1.3.0', 'lock-wait': '5' })
    const requests: RollbackRequest[] = []
    await runRollbackAction(core, {
      createExecutor: executorFactory().create,
      rollback: async req => {
        requests.push(req)
        return outcome({
          op: 'rollback',
          site: 'v1',
          status: 'rolled-back',
          version: '1.3.0',
          previousVersion: '1.4.0',
          targetVersion: '1.3.0',
          rolledBack: true
        })
      }
    })
    expect(requests.map(r => [r.to, r.lockWait, r.site.name])).toEqual([['1.3.0', 5, 'v1']])
    expect(core.outputs.get(Output.RolledBack)).toBe('true')
    expect(core.outputs.get(Output.Version)).toBe('1.3.0')
    expect(core.outputs.get(Output.PreviousVersion)).toBe('1.4.0')
    expect(core.summaries[0]).toMatch(/^## ↩️ Rolled back site v1 from 1\.4\.0 to 1\.3\.0\n/)
  })

  it('rejects a bad `to` before reaching the pipeline', async () => {
    const core = new FakeCore({ config: configFile, site: 'v1', to: 'last-good' })
    let called = 0
    const e = await rejection(
      runRollbackAction(core, { rollback: async () => (called++, outcome()) })
    )
    expect(e.message).toMatch(/^input 'to' is 'last-good'; expected a PEP 440 version/)
    expect(called).toBe(0)
  })
})

describe('CoreReporter', () => {
  it('puts each step in a log group, and a non-critical failure in a warning annotation', () => {
    const core = new FakeCore({})
    const r = new CoreReporter(core)
    r.stepStart('upload', 'copy the release file')
    r.info('inside')
    r.stepEnd('upload', 'ok', 250, 'sample.tar.gz (10 bytes)')
    r.stepStart('prune', 'remove old releases')
    r.stepEnd('prune', 'warning', 10, 'rm failed')
    r.warn('could not release the lock')
    expect(core.log).toEqual([
      ['startGroup', 'upload: copy the release file'],
      ['info', 'inside'],
      ['info', 'upload ok (0.25s): sample.tar.gz (10 bytes)'],
      ['endGroup', ''],
      ['startGroup', 'prune: remove old releases'],
      ['info', 'prune warning (0.01s): rm failed'],
      ['endGroup', ''],
      ['warning', "step 'prune' failed, and the operation went on: rm failed"],
      ['warning', 'could not release the lock']
    ])
  })

  it('closes a group left open before opening the next (the runner does not nest them)', () => {
    const core = new FakeCore({})
    const r = new CoreReporter(core)
    r.stepStart('a', 'first')
    r.stepStart('b', 'second')
    r.closeGroup()
    r.closeGroup()
    expect(core.log.map(l => l[0])).toEqual(['startGroup', 'endGroup', 'startGroup', 'endGroup'])
  })

  it('passes every secret and each of its lines to setSecret, and redacts them in what it prints', () => {
    const core = new FakeCore({})
    const r = new CoreReporter(core)
    r.addSecret('first-line\nsecond-line')
    r.info('got first-line then second-line')
    r.stepStart('hooks', 'run with first-line')
    expect(core.secrets).toEqual(['first-line\nsecond-line', 'first-line', 'second-line'])
    expect(core.log).toEqual([
      ['info', 'got *** then ***'],
      ['startGroup', 'hooks: run with ***']
    ])
  })
})

describe('action.yml files', () => {
  type ActionMeta = {
    name: string
    description: string
    branding: { icon: string; color: string }
    inputs: Record<string, { description: string; required?: boolean; default?: string }>
    outputs: Record<string, { description: string; value?: string }>
    runs: {
      using: string
      main?: string
      steps?: { id?: string; uses?: string; with?: Record<string, string> }[]
    }
  }
  const readMeta = async (dir: string) =>
    parseYaml(await fs.readFile(path.join(REPO, dir, 'action.yml'), 'utf8')) as ActionMeta
  const stageOnly = Object.values(DeployStageInput) as string[]
  const actions = [
    {
      dir: 'actions/deploy',
      inputs: [...Object.values(SiteInput), ...Object.values(DeployInput), 'smoke-test'],
      outputs: Object.values(Output) as string[]
    },
    {
      dir: 'actions/deploy-stage',
      bundle: 'dist/deploy-stage.js',
      inputs: [...Object.values(SiteInput), ...Object.values(DeployInput), ...stageOnly],
      outputs: [...Object.values(Output), ...Object.values(StageOutput)]
    },
    {
      dir: 'actions/rollback',
      bundle: 'dist/rollback.js',
      inputs: [...Object.values(SiteInput), ...Object.values(RollbackInput)],
      outputs: Object.values(Output) as string[]
    }
  ]

  it.each(actions)(
    '$dir documents exactly the inputs and outputs the code reads and sets',
    async a => {
      const meta = await readMeta(a.dir)
      expect(Object.keys(meta.inputs).sort()).toEqual([...a.inputs].sort())
      expect(Object.keys(meta.outputs).sort()).toEqual([...a.outputs].sort())
      for (const [name, spec] of [
        ...Object.entries(meta.inputs),
        ...Object.entries(meta.outputs)
      ]) {
        expect([name, typeof spec.description]).toEqual([name, 'string'])
        expect(spec.description.length).toBeGreaterThan(20)
      }
      expect(meta.inputs[SiteInput.Site].required).toBe(true)
      expect(meta.inputs[SiteInput.Config].default).toBe('sitecycle.yml')
      expect(meta.inputs[SiteInput.LockWait].default).toBe(String(DEFAULT_LOCK_WAIT_SECONDS))
      expect(meta.branding.icon).toBeTruthy()
      expect(meta.branding.color).toBeTruthy()
      if (a.bundle) {
        expect(meta.runs.using).toBe('node24')
        // `main` is resolved against the folder of the action.yml.
        expect(path.resolve(REPO, a.dir, meta.runs.main!)).toBe(path.join(REPO, a.bundle))
      }
    }
  )

  it('actions/deploy runs the deploy-stage action once per stage, with every input it takes, and takes each output from the stages', async () => {
    const deploy = await readMeta('actions/deploy')
    const stage = await readMeta('actions/deploy-stage')
    expect(deploy.runs.using).toBe('composite')
    const stages = deploy.runs.steps!.filter(s => s.uses?.endsWith('/actions/deploy-stage'))
    expect(stages.map(s => [s.id, s.with!.stage])).toEqual(
      ['prepare', 'smoke-test', 'switch', 'finish', 'undo'].map(n => [n, n])
    )
    for (const s of stages) {
      // Every input the step passes is one of the stage action's, from an input of the
      // composite or a step output (never a value written in).
      for (const [name, value] of Object.entries(s.with!)) {
        expect([s.id, name, Object.hasOwn(stage.inputs, name)]).toEqual([s.id, name, true])
        if (name !== 'stage')
          expect(value).toMatch(/^\$\{\{ (inputs\.[a-z-]+|steps\.prepare\.outputs\.[a-z-]+) \}\}$/)
      }
      // Each stage reaches the site by itself: its own process, its own SSH login.
      for (const name of ['config', 'site', 'host', 'ssh-key', 'known-hosts', 'config-secrets'])
        expect([s.id, name, s.with![name]]).toEqual([s.id, name, `\${{ inputs.${name} }}`])
    }
    // prepare takes every input of the one-step deploy.
    const prepare = stages[0].with!
    for (const name of Object.keys(deploy.inputs))
      expect([name, prepare[name]]).toEqual([name, `\${{ inputs.${name} }}`])
    for (const name of Object.values(Output))
      expect(deploy.outputs[name].value).toBe(
        `\${{ ${['undo', 'finish', 'switch', 'prepare'].map(id => `steps.${id}.outputs.${name}`).join(' || ')} }}`
      )
  })
})

describe('a site an upgrade attempt promoted', () => {
  it("is deployed at the address and role its host records, not the config file's old ones", async () => {
    const config = await loadConfig(configFile)
    const v1 = config.sites.v1
    const identity = newIdentity(
      v1,
      'production',
      {
        url: 'https://www.example.org',
        listen: '127.0.0.1:8443',
        serverName: 'www.example.org'
      },
      'attempt-1'
    )
    const { made, create } = executorFactory()
    const withIdentity = (host: HostSpec, ssh?: SshSettings & { key?: string }) => {
      const exec = create(host, ssh)
      exec.files.set(identityPath(v1), JSON.stringify(identity))
      return exec
    }
    let seen: DeployRequest | undefined
    const core = new FakeCore({ config: configFile, site: 'v1', version: '1.0.0' })
    await runDeployAction(core, {
      createExecutor: withIdentity,
      env: { DB_PASSWORD },
      deploy: async req => {
        seen = req
        return outcome()
      }
    })
    expect(made).toHaveLength(1)
    expect(seen?.site).toMatchObject({
      role: 'production',
      url: 'https://www.example.org',
      apache: expect.objectContaining({ listen: '127.0.0.1:8443', serverName: 'www.example.org' })
    })
    // Once sitecycle.yml says something else, the config file is the truth again.
    await fs.writeFile(
      configFile,
      (await fs.readFile(configFile, 'utf8')).replace(
        'http://127.0.0.1:8080',
        'https://www.example.org'
      )
    )
    await runDeployAction(new FakeCore({ config: configFile, site: 'v1', version: '1.0.0' }), {
      createExecutor: withIdentity,
      env: { DB_PASSWORD },
      deploy: async req => {
        seen = req
        return outcome()
      }
    })
    expect(seen?.site.apache.listen).not.toBe('127.0.0.1:8443')
  })
})
