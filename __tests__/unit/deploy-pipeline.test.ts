/**
 * The deploy and rollback pipelines through the recording executor: which commands run, in
 * which order, and what the undos do when a step fails. No host is touched; the release is a
 * real build of the sample app (cached).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { Command } from '../../src/commands/command.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { deploy, deploySteps } from '../../src/pipelines/deploy.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { buildSampleRelease } from '../helpers/sample-app.js'

let dir: string
let releases: string
const ROOT = '/srv/app/v1'

function config(extra = '') {
  const yaml = `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  v1:
    root: ${ROOT}
    url: http://127.0.0.1:8080
    config: { template: app.ini.tmpl }
    hooks: { after_install: ["python -m sitecycle_sample.manage check"] }
${extra}`
  return parseConfig(yaml, join(dir, 'sitecycle.yml'))
}

/** A host script call: [python, -I, (-S), -c, program, ...args] */
function scriptOf(argv: string[]): { program: string; args: string[] } | undefined {
  const i = argv.indexOf('-c')
  return i > 0 && argv[0].endsWith('python3')
    ? { program: argv[i + 1], args: argv.slice(i + 2) }
    : undefined
}
const isScript = (program: string) => (c: Command) => scriptOf(c.argv)?.program === program
const scriptArg = (c: Command, n: number) => scriptOf(c.argv)?.args[n]

function host(opts: { probeIdle?: number; live?: 'blue' | 'green' } = {}) {
  const live = opts.live ?? 'blue'
  const idle = live === 'blue' ? 'green' : 'blue'
  const state = {
    slots: { [live]: '1.0.0', [idle]: '0.9.0' },
    live,
    current: null,
    initialized: true
  }
  const record = (v: string, at: string) => ({
    complete: true,
    bad: false,
    info: { version: v, sha256: 'x', installedAt: at }
  })
  const exec = new RecordingExecutor('recording')
  // rename(2) on the pretend host: moves the files under the old path
  const move = (c: Command) => {
    const [from, to] = [c.argv[2], c.argv[3]]
    for (const [p, v] of [...exec.files]) {
      if (p === from || p.startsWith(`${from}/`)) {
        exec.files.delete(p)
        exec.files.set(to + p.slice(from.length), v)
      }
    }
    return {}
  }
  return exec
    .respond(c => c.argv[0] === 'mv' && c.argv[1] === '-T', move)
    .respond(isScript(scripts.READ_STATE), { stdout: JSON.stringify(state) })
    .respond(isScript(scripts.LIST_RELEASES), {
      stdout: JSON.stringify({
        '0.9.0': record('0.9.0', '2026-01-01'),
        '1.0.0': record('1.0.0', '2026-02-01')
      })
    })
    .respond(isScript(scripts.HOST_FACTS), {
      stdout: JSON.stringify({ python: '3.11.2', pip: true, free_mb: 5000 })
    })
    .respond(isScript(scripts.RESTART_GROUP), { stdout: '4242\n' })
    .respond(isScript(scripts.SWITCH_MAP), { stdout: `${live}\n` })
    .respond(
      c => isScript(scripts.PROBE_HTTP)(c) && scriptArg(c, 2) !== '',
      () =>
        opts.probeIdle === 500
          ? { code: 1, stdout: JSON.stringify({ status: 500, body: 'broken', error: null }) }
          : { stdout: JSON.stringify({ status: 200, body: '2.0.0', error: null }) }
    )
    .respond(isScript(scripts.PROBE_HTTP), {
      stdout: JSON.stringify({ status: 200, body: '2.0.0', error: null })
    })
    .respond(c => c.argv.includes('import sys; print("%d.%d.%d" % sys.version_info[:3])'), {
      stdout: '3.11.2\n'
    })
}

/** A compact, readable trace of what ran: the step-defining commands only. */
function trace(exec: RecordingExecutor): string[] {
  const names = new Map<string, string>([
    [scripts.POINT_LINK, 'point-link'],
    [scripts.RESTART_GROUP, 'restart-group'],
    [scripts.SWITCH_MAP, 'switch-map'],
    [scripts.PROBE_HTTP, 'probe']
  ])
  const out: string[] = []
  for (const call of exec.calls) {
    if (call.type === 'writeFile' && call.path?.endsWith('app.ini')) out.push(`write ${call.path}`)
    if (call.type === 'put') out.push(`put ${call.path}`)
    if (call.type !== 'run' || !call.argv) continue
    const a = call.argv
    const sc = scriptOf(a)
    if (sc && names.has(sc.program))
      out.push(
        [
          names.get(sc.program),
          ...sc.args.slice(0, sc.program === scripts.PROBE_HTTP ? 3 : 2)
        ].join(' ')
      )
    else if (a[0] === 'mv' && a[3]?.endsWith('/.sitecycle/lock')) out.push('lock')
    else if (a[0] === 'rm' && a.at(-1)!.endsWith('/lock')) out.push('unlock')
    else if (a[1] === '-m' && a[2] === 'venv') out.push(`venv ${a.at(-1)}`)
    else if (a.includes('install') && a.includes('pip')) out.push('pip install')
    else if (a[0].endsWith('/bin/python') && a[2] === 'sitecycle_sample.manage') out.push('hook')
    else if (a[0] === 'rm' && a.some(p => p.includes('/releases/')))
      out.push(`rm ${a.filter(p => p.includes('/releases/')).join(' ')}`)
  }
  return out
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-unit-'))
  releases = join(dir, 'releases')
  await buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\nkey = {{ secret.UNIT_SECRET }}\n')
  process.env.UNIT_SECRET = 'unit-secret-value'
})
afterAll(() => rm(dir, { recursive: true, force: true }))

const reporter = () => new StreamReporter(() => undefined)

test('the steps of a deploy, in order', () => {
  expect(deploySteps().map(s => s.name)).toEqual([
    'preflight',
    'upload',
    'install',
    'render-config',
    'hooks',
    'start-idle',
    'verify-idle',
    'switch',
    'verify-live',
    'prune'
  ])
})

test('a deploy installs, configures, starts the idle slot, verifies it, then switches and verifies again', async () => {
  const c = config()
  const exec = host()
  const o = await deploy({
    config: c,
    site: c.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  })
  expect(o).toMatchObject({ status: 'deployed', version: '2.0.0', previousVersion: '1.0.0' })
  const rel = `${ROOT}/releases/2.0.0`
  expect(trace(exec)).toEqual([
    'lock',
    `put ${ROOT}/.sitecycle/incoming/${o.operationId}/sitecycle_sample-2.0.0-py3-none-any.whl`,
    `venv ${rel}`,
    'pip install',
    `write ${rel}/app.ini`,
    'hook',
    `point-link ${ROOT}/slots/green ../releases/2.0.0`,
    `restart-group ${ROOT}/run/green 1`,
    `probe http://127.0.0.1:8080/__version__ 127.0.0.1 green`,
    `switch-map ${ROOT}/live.map green`,
    `probe http://127.0.0.1:8080/__version__ 127.0.0.1 `,
    `rm ${rel}/BAD`,
    'unlock'
  ])
  // Apache itself is never reloaded during a deploy (graceful restarts both groups and drops requests).
  expect(
    exec.commands().filter(a => a.some(w => /graceful|restart|reload/.test(w) && !w.includes('\n')))
  ).toEqual([])
  // The hook ran in the new virtualenv with its config, without a shell.
  const hook = exec.calls.find(c => c.argv?.[2] === 'sitecycle_sample.manage')!.command!
  expect(hook.argv).toEqual([`${rel}/bin/python`, '-m', 'sitecycle_sample.manage', 'check'])
  expect(hook.env).toMatchObject({ VIRTUAL_ENV: rel, SITECYCLE_CONFIG: `${rel}/app.ini` })
  // pip ran hermetically and offline.
  const pip = exec.calls.find(c => c.argv?.includes('install'))!.command!
  expect(pip.argv).toContain('--no-index')
  expect(pip.env).toMatchObject({ PIP_CONFIG_FILE: '/dev/null' })
  expect(pip.unsetEnv).toEqual(
    expect.arrayContaining(['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'])
  )
  // The secret went into app.ini and nowhere else.
  const written = exec.calls.filter(c => c.type === 'writeFile' || c.type === 'run')
  const withSecret = written.filter(c =>
    JSON.stringify([c.content, c.command?.input?.toString()]).includes('unit-secret-value')
  )
  expect(withSecret.map(c => c.path)).toEqual([`${rel}/app.ini`])
})

test('when the idle slot fails verification, the undos run in reverse and users never leave 1.0.0', async () => {
  const c = config()
  const exec = host({ probeIdle: 500 })
  const err = await deploy({
    config: c,
    site: c.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  }).catch(e => e)
  expect(err).toBeInstanceOf(OperationFailed)
  expect((err as OperationFailed).outcome).toMatchObject({
    failedStep: 'verify-idle',
    version: '1.0.0',
    rolledBack: true
  })
  expect(err.message).toMatch(/HTTP 500/)
  const t = trace(exec)
  expect(t.some(l => l.startsWith('switch-map'))).toBe(false)
  const after = t.slice(t.findIndex(l => l.startsWith('probe')) + 1)
  expect(after).toEqual([
    // start-idle undone: the idle slot holds the release kept for a rollback again
    `point-link ${ROOT}/slots/green ../releases/0.9.0`,
    `restart-group ${ROOT}/run/green 1`,
    // install undone
    `rm ${ROOT}/releases/2.0.0`,
    'unlock'
  ])
})

test('a failure after the switch renames live.map back', async () => {
  const c = config()
  const exec = host()
  exec.respondFirst(c2 => isScript(scripts.PROBE_HTTP)(c2) && scriptArg(c2, 2) === '', {
    code: 1,
    stdout: JSON.stringify({ status: 502, body: '', error: null })
  })
  const err = await deploy({
    config: c,
    site: c.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  }).catch(e => e)
  expect((err as OperationFailed).outcome.failedStep).toBe('verify-live')
  const t = trace(exec)
  const switches = t.filter(l => l.startsWith('switch-map'))
  expect(switches).toEqual([
    `switch-map ${ROOT}/live.map green`,
    `switch-map ${ROOT}/live.map blue`
  ])
})

test('a held lock stops the deploy before anything else runs on the host', async () => {
  const c = config()
  const exec = host()
  exec.files.set(
    `${ROOT}/.sitecycle/lock/holder.json`,
    JSON.stringify({
      op: 'deploy',
      id: 'other',
      pid: 1,
      machine: 'elsewhere',
      actor: 'alice',
      since: 'then'
    })
  )
  exec.respondFirst(c2 => c2.argv[0] === 'mv' && c2.argv[3]?.endsWith('/lock'), {
    code: 1,
    stderr: 'Directory not empty'
  })
  await expect(
    deploy({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      release: releases,
      version: '2.0.0'
    })
  ).rejects.toThrow(/locked by deploy other by alice/)
  expect(trace(exec)).toEqual(['lock'])
})

test('a missing secret is refused before the host is touched', async () => {
  const c = config()
  const exec = host()
  delete process.env.UNIT_SECRET
  try {
    await expect(
      deploy({
        config: c,
        site: c.sites.v1,
        exec,
        reporter: reporter(),
        release: releases,
        version: '2.0.0'
      })
    ).rejects.toThrow(/app.ini.tmpl:2: secret UNIT_SECRET is not set/)
  } finally {
    process.env.UNIT_SECRET = 'unit-secret-value'
  }
  expect(exec.calls).toEqual([])
})

test('rollback to the warm idle release is one rename, and marks the release it leaves bad', async () => {
  const c = config()
  const exec = host()
  const o = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'rolled-back', version: '0.9.0', previousVersion: '1.0.0' })
  const t = trace(exec)
  expect(t.filter(l => !['lock', 'unlock'].includes(l))).toEqual([
    `switch-map ${ROOT}/live.map green`,
    `probe http://127.0.0.1:8080/__version__ 127.0.0.1 `
  ])
  expect(exec.files.get(`${ROOT}/releases/1.0.0/BAD`)).toMatch(/rolled back/)
})

test('rollback to the version that is already live changes nothing', async () => {
  const c = config()
  const exec = host()
  const o = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter(), to: '1.0.0' })
  expect(o).toMatchObject({ status: 'unchanged', version: '1.0.0', rolledBack: false })
  expect(trace(exec).filter(l => !['lock', 'unlock'].includes(l))).toEqual([])
  expect([...exec.files.keys()].some(k => k.endsWith('/BAD'))).toBe(false)
})
