/**
 * The deploy and rollback pipelines through the recording executor: which commands run, in
 * which order, and what the undos do when a step fails. No host is touched; the release is a
 * real build of the sample app (cached).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import { renderWsgiScript } from '../../src/commands/apache.js'
import type { Command } from '../../src/commands/command.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { deploy, deploySteps } from '../../src/pipelines/deploy.js'
import type { ReleaseManifest } from '../../src/releases/manifest.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { planDeploy, planMaintenance, planRollback } from '../../src/pipelines/dry-run.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import {
  fakeLockPrograms,
  isScript,
  releasedLock,
  scriptArg,
  scriptOf,
  unniced
} from '../helpers/host-script-calls.js'

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

function host(
  opts: {
    probeIdle?: number
    live?: 'blue' | 'green'
    installed?: Record<string, string>
    /** Installed versions marked bad (releases/<v>/BAD). */
    bad?: string[]
  } = {}
) {
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
    bad: opts.bad?.includes(v) ?? false,
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
  return (
    fakeLockPrograms(exec)
      .respond(c => c.argv[0] === 'mv' && c.argv[1] === '-T', move)
      .respond(isScript(scripts.READ_STATE), { stdout: JSON.stringify(state) })
      .respond(isScript(scripts.LIST_RELEASES), {
        stdout: JSON.stringify({
          '0.9.0': record('0.9.0', '2026-01-01'),
          '1.0.0': record('1.0.0', '2026-02-01'),
          ...Object.fromEntries(
            Object.entries(opts.installed ?? {}).map(([v, sha256]) => [
              v,
              {
                complete: true,
                bad: opts.bad?.includes(v) ?? false,
                info: { version: v, sha256, installedAt: '2026-03-01' }
              }
            ])
          )
        })
      })
      .respond(isScript(scripts.HOST_FACTS), {
        stdout: JSON.stringify({ python: '3.11.2', pip: true, free_mb: 5000 })
      })
      .respond(isScript(scripts.RESTART_GROUP), { stdout: '4242\n' })
      .respond(isScript(scripts.SIGNAL_GROUP), { stdout: '4141\n' })
      .respond(isScript(scripts.AWAIT_GROUP), { stdout: '4242\n' })
      // The rollback's one host program, as it behaves on a host whose journal has no unfinished
      // run: takes the lock, and switches when the idle release is the one asked for.
      .respond(isScript(scripts.WARM_SWITCH), c => {
        const [root, , holderText, , acceptText] = scriptOf(c.argv)!.args
        exec.files.set(`${root}/.sitecycle/lock/holder.json`, holderText)
        const accept = JSON.parse(acceptText) as string[]
        if (accept.length && !accept.includes('0.9.0'))
          return { stdout: JSON.stringify({ result: 'fallback', reason: 'not warm', state }) }
        return {
          stdout: JSON.stringify({
            result: 'switched',
            state,
            target: '0.9.0',
            liveSlot: live,
            idleSlot: idle,
            ms: 7
          })
        }
      })
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
  )
}

/** A compact, readable trace of what ran: the step-defining commands only. */
function trace(exec: RecordingExecutor): string[] {
  const names = new Map<string, string>([
    [scripts.POINT_LINK, 'point-link'],
    [scripts.RESTART_GROUP, 'restart-group'],
    [scripts.AWAIT_GROUP, 'await-group'],
    [scripts.SWITCH_MAP, 'switch-map'],
    [scripts.WARM_SWITCH, 'warm-switch'],
    [scripts.PROBE_HTTP, 'probe']
  ])
  const out: string[] = []
  for (const call of exec.calls) {
    if (call.type === 'writeFile' && call.path?.endsWith('app.ini')) out.push(`write ${call.path}`)
    if (call.type === 'writeFile' && /\.wsgi\.tmp$|release\.json\.tmp$/.test(call.path ?? ''))
      out.push(`write ${call.path!.replace(/\.tmp$/, '')}`)
    if (call.type === 'put') out.push(`put ${call.path}`)
    if (call.type !== 'run' || !call.argv) continue
    const a = unniced(call.argv)
    const sc = scriptOf(a)
    if (sc?.program === scripts.SIGNAL_GROUP) out.push(`signal-group ${sc.args.join(' ')}`)
    else if (sc?.program === scripts.WARM_SWITCH) out.push(`warm-switch ${sc.args[0]}`)
    else if (sc && names.has(sc.program))
      out.push(
        [
          names.get(sc.program),
          ...sc.args.slice(0, sc.program === scripts.PROBE_HTTP ? 3 : 2)
        ].join(' ')
      )
    else if (sc?.program === scripts.TAKE_LOCK) out.push('lock')
    else if (releasedLock(call)) out.push('unlock')
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
/** Deploy the 2.0.0 release built in beforeAll to site v1 of `c` on the pretend host. */
const deployV2 = (
  c: ReturnType<typeof config>,
  exec: RecordingExecutor,
  extra: { lockWait?: number } = {}
) =>
  deploy({
    config: c,
    site: c.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0',
    ...extra
  })

test('the steps of a deploy, in order', () => {
  expect(deploySteps().map(s => s.name)).toEqual([
    'preflight',
    'upload',
    'create-venv',
    'restart-idle',
    'install',
    'link-shared',
    'render-config',
    'hooks',
    'complete-release',
    'await-idle',
    'verify-idle',
    'switch',
    'verify-live',
    'prune'
  ])
})

test('a deploy restarts the idle slot as soon as the virtualenv exists, installs, configures, completes the release, waits for the idle slot, verifies it, then switches and verifies again', async () => {
  const c = config()
  const exec = host()
  const o = await deployV2(c, exec)
  expect(o).toMatchObject({ status: 'deployed', version: '2.0.0', previousVersion: '1.0.0' })
  const rel = `${ROOT}/releases/2.0.0`
  expect(trace(exec)).toEqual([
    'lock',
    `put ${ROOT}/.sitecycle/incoming/${o.operationId}/sitecycle_sample-2.0.0-py3-none-any.whl`,
    `venv ${rel}`,
    // The idle slot's script as this sitecycle writes it (this pretend host has none), then
    // the slot pointed and its daemons signalled in one program, before pip runs.
    `write ${ROOT}/wsgi/green.wsgi`,
    `signal-group ${ROOT}/run/green 10 ${ROOT}/slots/green ../releases/2.0.0`,
    'pip install',
    `write ${rel}/app.ini`,
    'hook',
    // release.json after the config and the hooks: only then may the new daemons load it.
    `write ${rel}/release.json`,
    `await-group ${ROOT}/run/green 1`,
    `probe http://127.0.0.1:8080/.sitecycle/health 127.0.0.1 green`,
    `switch-map ${ROOT}/live.map green`,
    `probe http://127.0.0.1:8080/.sitecycle/health 127.0.0.1 `,
    // No mark to remove: 2.0.0 was not marked bad (a marked one needs allowBad, see below).
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
  const err = await deployV2(c, exec).catch(e => e)
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
    // restart-idle undone: the idle slot holds the release kept for a rollback again
    `point-link ${ROOT}/slots/green ../releases/0.9.0`,
    `restart-group ${ROOT}/run/green 1`,
    // create-venv undone
    `rm ${ROOT}/releases/2.0.0`,
    'unlock'
  ])
})

test("the idle slot's WSGI script is rewritten before its restart only when it is not this sitecycle's; the live one never", async () => {
  const c = config()
  const site = c.sites.v1
  const exec = host()
  exec.files.set(
    `${ROOT}/wsgi/green.wsgi`,
    renderWsgiScript(site, c.app.wsgi, `${ROOT}/slots/green`, 'green')
  )
  exec.files.set(`${ROOT}/wsgi/blue.wsgi`, '# an older sitecycle wrote this\n')
  await deployV2(c, exec)
  expect(trace(exec).filter(l => l.endsWith('.wsgi'))).toEqual([])
  expect(exec.files.get(`${ROOT}/wsgi/blue.wsgi`)).toBe('# an older sitecycle wrote this\n')

  // An older script in the idle slot: replaced (aside, renamed over) before the SIGINT.
  const old = host()
  old.files.set(`${ROOT}/wsgi/green.wsgi`, '# an older sitecycle wrote this\n')
  await deployV2(c, old)
  const t = trace(old)
  expect(t.indexOf(`write ${ROOT}/wsgi/green.wsgi`)).toBeLessThan(
    t.findIndex(l => l.startsWith('signal-group'))
  )
  expect(old.files.get(`${ROOT}/wsgi/green.wsgi`)).toBe(
    renderWsgiScript(site, c.app.wsgi, `${ROOT}/slots/green`, 'green')
  )
})

test('a failed pip install: the idle slot gets its warm release back, restarted, and the new virtualenv goes', async () => {
  const c = config()
  const exec = host()
  exec.respondFirst(
    c2 => unniced(c2.argv).includes('install') && c2.argv.join(' ').includes('pip'),
    {
      code: 1,
      stderr: 'ERROR: No matching distribution found'
    }
  )
  const err = await deployV2(c, exec).catch(e => e)
  expect((err as OperationFailed).outcome).toMatchObject({
    failedStep: 'install',
    version: '1.0.0',
    rolledBack: true
  })
  const t = trace(exec)
  expect(t.slice(t.indexOf('pip install') + 1)).toEqual([
    `point-link ${ROOT}/slots/green ../releases/0.9.0`,
    `restart-group ${ROOT}/run/green 1`,
    `rm ${ROOT}/releases/2.0.0`,
    'unlock'
  ])
})

test('a failed preflight changed nothing: the outcome is failed, not rolled back, and says so', async () => {
  const c = config()
  const exec = host().respondFirst(isScript(scripts.HOST_FACTS), {
    stdout: JSON.stringify({ python: '3.11.2', pip: true, free_mb: 1 })
  })
  const err = await deployV2(c, exec).catch(e => e)
  expect(err).toBeInstanceOf(OperationFailed)
  expect((err as OperationFailed).outcome).toMatchObject({
    failedStep: 'preflight',
    status: 'failed',
    version: '1.0.0',
    rolledBack: false,
    undoComplete: true
  })
  const message = (err as OperationFailed).message
  expect(message).not.toContain('rolled back')
  expect(message).toMatch(/; nothing was changed: 1\.0\.0 serves as before$/)
  expect(trace(exec)).not.toContain('pip install')
})

test('a release installed before with the same content is reused: no new virtualenv, its slot pointed and restarted after the config and hooks', async () => {
  const manifest = JSON.parse(
    await readFile(join(releases, '2.0.0', 'manifest.json'), 'utf8')
  ) as ReleaseManifest
  const wheel = manifest.files.find(f => f.name.endsWith('.whl'))!
  const c = config()
  const exec = host({ installed: { '2.0.0': wheel.sha256 } })
  const o = await deployV2(c, exec)
  expect(o.status).toBe('deployed')
  const rel = `${ROOT}/releases/2.0.0`
  expect(trace(exec).slice(0, 7)).toEqual([
    'lock',
    `put ${ROOT}/.sitecycle/incoming/${o.operationId}/${wheel.name}`,
    `write ${rel}/app.ini`,
    'hook',
    // Its script brought up to date first (this sitecycle's, the config's app.wsgi).
    `write ${ROOT}/wsgi/green.wsgi`,
    `point-link ${ROOT}/slots/green ../releases/2.0.0`,
    `restart-group ${ROOT}/run/green 1`
  ])
})

test('a failure after the switch renames live.map back', async () => {
  const c = config()
  const exec = host()
  exec.respondFirst(c2 => isScript(scripts.PROBE_HTTP)(c2) && scriptArg(c2, 2) === '', {
    code: 1,
    stdout: JSON.stringify({ status: 502, body: '', error: null })
  })
  const err = await deployV2(c, exec).catch(e => e)
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
  await expect(deployV2(c, exec, { lockWait: 0 })).rejects.toThrow(
    /locked by deploy other by alice/
  )
  expect(trace(exec)).toEqual(['lock'])
})

test('a missing secret is refused before the host is touched', async () => {
  const c = config()
  const exec = host()
  delete process.env.UNIT_SECRET
  try {
    await expect(deployV2(c, exec)).rejects.toThrow(/app.ini.tmpl:2: secret UNIT_SECRET is not set/)
  } finally {
    process.env.UNIT_SECRET = 'unit-secret-value'
  }
  expect(exec.calls).toEqual([])
})

/** The journal lines a run appended with `tee -a`, parsed. */
function teeLines(exec: RecordingExecutor): Record<string, unknown>[] {
  return exec.calls
    .filter(c => c.argv?.[0] === 'tee')
    .map(c => JSON.parse(String(c.command!.input)) as Record<string, unknown>)
}

test('rollback to the warm idle release: lock, journal start and switch in one host program, then verify and mark bad', async () => {
  const c = config()
  const exec = host()
  const o = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'rolled-back', version: '0.9.0', previousVersion: '1.0.0' })
  // Nothing ran on the host before the program that switches: no lock, no state read, no tee.
  expect(scriptOf(exec.commands()[0])?.program).toBe(scripts.WARM_SWITCH)
  expect(trace(exec)).toEqual([
    `warm-switch ${ROOT}`,
    `probe http://127.0.0.1:8080/.sitecycle/health 127.0.0.1 `,
    'unlock'
  ])
  // What the program was given: this run's id, the holder it writes, the start line's fields.
  const [, opId, holderText, startText, acceptText] = scriptOf(exec.commands()[0])!.args
  expect(opId).toBe(o.operationId)
  expect(JSON.parse(holderText)).toMatchObject({ op: 'rollback', id: opId, pid: process.pid })
  expect(JSON.parse(startText)).toMatchObject({
    id: opId,
    op: 'rollback',
    event: 'start',
    site: 'v1',
    to: null
  })
  expect(JSON.parse(acceptText)).toEqual([])
  // The switch step's line is the program's: node journals the steps after it, and the end.
  expect(teeLines(exec).map(l => [l.event, l.step ?? l.status])).toEqual([
    ['step', 'verify-live'],
    ['mark-bad', undefined],
    ['step', 'mark-bad'],
    ['end', 'rolled-back']
  ])
  expect(o.steps.find(st => st.name === 'switch')).toMatchObject({
    status: 'ok',
    ms: expect.any(Number),
    note: '1.0.0 -> 0.9.0'
  })
  expect(exec.files.get(`${ROOT}/releases/1.0.0/BAD`)).toMatch(/rolled back/)
})

test('a fast rollback that fails verification switches back and says so', async () => {
  const c = config()
  const exec = host()
  exec.respondFirst(c2 => isScript(scripts.PROBE_HTTP)(c2) && scriptArg(c2, 2) === '', {
    code: 1,
    stdout: JSON.stringify({ status: 500, body: 'broken', error: null })
  })
  const err = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter() }).catch(
    e => e
  )
  expect(err).toBeInstanceOf(OperationFailed)
  expect((err as OperationFailed).outcome).toMatchObject({
    failedStep: 'verify-live',
    version: '1.0.0'
  })
  // the undo of the program's switch: back to the slot that was live, compare and swap
  expect(trace(exec).filter(l => l.startsWith('switch-map'))).toEqual([
    `switch-map ${ROOT}/live.map blue`
  ])
  expect(
    exec
      .commands()
      .find(a => scriptOf(a)?.program === scripts.SWITCH_MAP)!
      .at(-1)
  ).toBe('green')
  expect(teeLines(exec).at(-1)).toMatchObject({ event: 'end', status: 'failed' })
  expect([...exec.files.keys()].some(k => k.endsWith('/BAD'))).toBe(false)
})

test('rollback to the version that is already live changes nothing', async () => {
  const c = config()
  const exec = host()
  const o = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter(), to: '1.0.0' })
  expect(o).toMatchObject({ status: 'unchanged', version: '1.0.0', rolledBack: false })
  // The program took the lock and found 1.0.0 is not the warm release: the full path decides.
  expect(trace(exec)).toEqual([`warm-switch ${ROOT}`, 'unlock'])
  // Before it, --to's release was listed (read-only) to refuse one marked bad.
  expect(scriptOf(exec.commands()[0])!.program).toBe(scripts.LIST_RELEASES)
  expect(JSON.parse(scriptOf(exec.commands()[1])!.args[4])).toEqual(['1.0.0'])
  expect([...exec.files.keys()].some(k => k.endsWith('/BAD'))).toBe(false)
})

test('when the journal has an unfinished run, the rollback recovers it first, holding the lock the program took', async () => {
  const c = config()
  const exec = host()
  exec.files.set(
    `${ROOT}/.sitecycle/journal.jsonl`,
    JSON.stringify({
      at: '2026-01-01T00:00:00.000Z',
      id: 'killed-run',
      op: 'deploy',
      event: 'start',
      liveSlot: 'blue',
      live: '1.0.0',
      idle: '0.9.0'
    }) + '\n'
  )
  exec.respondFirst(isScript(scripts.WARM_SWITCH), cmd => {
    const [root, , holderText] = scriptOf(cmd.argv)!.args
    exec.files.set(`${root}/.sitecycle/lock/holder.json`, holderText)
    return {
      stdout: JSON.stringify({
        result: 'fallback',
        reason: 'the journal has an unfinished operation (killed-run)',
        state: {
          slots: { blue: '1.0.0', green: '0.9.0' },
          live: 'blue',
          current: null,
          initialized: true
        }
      })
    }
  })
  const o = await rollback({ config: c, site: c.sites.v1, exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'rolled-back', version: '0.9.0' })
  // The lock is not taken again (it is held), the recovery comes before the start line, and
  // the switch is the full path's.
  expect(trace(exec)).toEqual([
    `warm-switch ${ROOT}`,
    `switch-map ${ROOT}/live.map green`,
    `probe http://127.0.0.1:8080/.sitecycle/health 127.0.0.1 `,
    'unlock'
  ])
  expect(teeLines(exec).map(l => `${l.id === 'killed-run' ? 'old' : 'this'} ${l.event}`)).toEqual([
    'old recovered',
    'this start',
    'this step',
    'this step',
    'this mark-bad',
    'this step',
    'this end'
  ])
  expect(teeLines(exec)[1]).toMatchObject({ id: o.operationId, target: '0.9.0', liveSlot: 'blue' })
})

test('a rollback while another run holds the lock fails naming it, and switches nothing', async () => {
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
  exec.respondFirst(isScript(scripts.WARM_SWITCH), {
    stdout: JSON.stringify({ result: 'busy', reason: 'the lock is held' })
  })
  await expect(
    rollback({ config: c, site: c.sites.v1, exec, reporter: reporter(), lockWait: 0 })
  ).rejects.toThrow(/locked by deploy other by alice/)
  expect(trace(exec)).toEqual([`warm-switch ${ROOT}`, 'lock'])
  expect(exec.files.has(`${ROOT}/releases/1.0.0/BAD`)).toBe(false)
})

test("pip runs in the new virtualenv's interpreter through pip's runner, compiling; state and releases are read once under the lock", async () => {
  const c = config()
  const runner = '/usr/lib/python3/dist-packages/pip/__pip-runner__.py'
  const exec = host().respondFirst(isScript(scripts.HOST_FACTS), {
    stdout: JSON.stringify({ python: '3.11.2', pip: true, pip_runner: runner, free_mb: 5000 })
  })
  const o = await deployV2(c, exec)
  expect(o.status).toBe('deployed')
  const rel = `${ROOT}/releases/2.0.0`
  const pip = exec.commands().find(a => a.includes('install'))!
  // At a lower CPU priority, so that users keep their latency on a busy host.
  expect(pip.slice(0, 8)).toEqual([
    'nice',
    '-n',
    '10',
    `${rel}/bin/python`,
    runner,
    'install',
    '--no-index',
    '--find-links'
  ])
  const niced = exec.commands().filter(a => a[0] === 'nice')
  expect(niced.map(a => scriptOf(a)?.program ?? a[3])).toEqual([
    scripts.HOST_FACTS,
    'apache2ctl',
    '/usr/bin/python3',
    `${rel}/bin/python`
  ])
  expect(pip).not.toContain('--no-compile')
  expect(exec.commands().some(a => a.includes('compileall'))).toBe(false)
  // One state read and one listing before the lock (refuse an uninitialized site, or a version
  // marked bad, with nothing changed), one state read and one listing under it; prune reads
  // nothing again and removes the upload in its one rm.
  const programs = exec.commands().map(a => scriptOf(a)?.program)
  expect(programs.filter(p => p === scripts.READ_STATE)).toHaveLength(2)
  expect(programs.filter(p => p === scripts.LIST_RELEASES)).toHaveLength(2)
  const lastRm = exec.commands().filter(a => a[0] === 'rm' && a.some(p => p.includes('/incoming/')))
  expect(lastRm.at(-1)).toEqual(['rm', '-rf', '--', `${ROOT}/.sitecycle/incoming/${o.operationId}`])
})

test('prune after a deploy keeps the new release, the one before it and the newest others up to keep_releases', async () => {
  const c = config('    keep_releases: 2\n')
  const exec = host()
  const o = await deployV2(c, exec)
  // 0.9.0 was warm for a rollback; after the switch the slots hold 2.0.0 and 1.0.0.
  expect(o.steps.find(s => s.name === 'prune')?.note).toBe('removed 0.9.0')
  const rms = exec
    .commands()
    .filter(a => a[0] === 'rm' && a.some(p => p.includes('/releases/0.9.0')))
  expect(rms).toEqual([
    ['rm', '-rf', '--', `${ROOT}/releases/0.9.0`, `${ROOT}/.sitecycle/incoming/${o.operationId}`]
  ])
})

describe('a release marked bad', () => {
  /** What a run wrote or changed on the pretend host: anything but the read-only programs. */
  const changes = (exec: RecordingExecutor) =>
    exec.calls.filter(
      call =>
        call.type === 'put' ||
        call.type === 'writeFile' ||
        (call.type === 'run' &&
          ![scripts.READ_STATE, scripts.LIST_RELEASES].includes(
            scriptOf(call.argv!)?.program ?? ''
          ))
    )

  test('is not deployed again: refused before the lock, nothing changed', async () => {
    const c = config()
    const exec = host({ installed: { '2.0.0': 'other' }, bad: ['2.0.0'] })
    const e = await deployV2(c, exec).catch((x: unknown) => x as SitecycleError)
    expect(e).toBeInstanceOf(SitecycleError)
    expect((e as SitecycleError).kind).toBe('input')
    expect((e as Error).message).toBe(
      `release 2.0.0 is marked bad on site v1 (a rollback left it; ${ROOT}/releases/2.0.0/BAD): deploy a new version, or pass --allow-bad (the action's allow-bad input) to go ahead anyway`
    )
    expect(changes(exec)).toEqual([])
  })

  test('with allowBad it is deployed with a warning, and its mark goes only once the deploy succeeded', async () => {
    const c = config()
    const warnings: string[] = []
    const r = reporter()
    r.warn = m => void warnings.push(m)
    const exec = host({ installed: { '2.0.0': 'other' }, bad: ['2.0.0'] })
    const o = await deploy({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: r,
      release: releases,
      version: '2.0.0',
      allowBad: true
    })
    expect(o.status).toBe('deployed')
    expect(warnings).toEqual([
      'deploying 2.0.0 on site v1, although it is marked bad (--allow-bad); the mark is removed only if this deploy succeeds'
    ])
    expect(trace(exec).slice(-3)).toEqual([
      `probe http://127.0.0.1:8080/.sitecycle/health 127.0.0.1 `,
      `rm ${ROOT}/releases/2.0.0/BAD`,
      'unlock'
    ])
    expect(o.notes).toEqual([
      'the bad mark of 2.0.0 was removed: it is live and verified (--allow-bad)'
    ])
  })

  test('a failed deploy with allowBad keeps the mark', async () => {
    const c = config()
    const exec = host({ installed: { '2.0.0': 'other' }, bad: ['2.0.0'], probeIdle: 500 })
    await expect(
      deploy({
        config: c,
        site: c.sites.v1,
        exec,
        reporter: reporter(),
        release: releases,
        version: '2.0.0',
        allowBad: true
      })
    ).rejects.toBeInstanceOf(OperationFailed)
    expect(trace(exec)).not.toContain(`rm ${ROOT}/releases/2.0.0/BAD`)
  })

  test('is not rolled back to: refused before the warm switch, nothing changed; allowed with allowBad', async () => {
    const c = config()
    const exec = host({ bad: ['0.9.0'] })
    const e = await rollback({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      to: '0.9.0'
    }).catch((x: unknown) => x as Error)
    expect(e).toBeInstanceOf(SitecycleError)
    expect((e as Error).message).toMatch(
      /^release 0\.9\.0 is marked bad on site v1 .*: roll back to another release, or pass --allow-bad/
    )
    expect(changes(exec)).toEqual([])
    const allowed = host({ bad: ['0.9.0'] })
    const o = await rollback({
      config: c,
      site: c.sites.v1,
      exec: allowed,
      reporter: reporter(),
      to: '0.9.0',
      allowBad: true
    })
    expect(o).toMatchObject({ status: 'rolled-back', version: '0.9.0' })
    expect(o.notes).toEqual([
      'the bad mark of 0.9.0 was removed: it is live and verified (--allow-bad)'
    ])
    expect(trace(allowed)).toContain(`rm ${ROOT}/releases/0.9.0/BAD`)
  })
})

describe('dry runs read and change nothing', () => {
  const readOnly = (exec: RecordingExecutor) =>
    exec.calls.map(call =>
      call.type === 'run'
        ? (scriptOf(unniced(call.argv!))?.program ?? unniced(call.argv!).join(' '))
        : `${call.type} ${call.path}`
    )

  test('deploy: the release checked, the config rendered, the host read and preflight run read-only', async () => {
    const c = config()
    const exec = host()
    const plan = await planDeploy({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      release: releases,
      version: '2.0.0'
    })
    expect(readOnly(exec).sort()).toEqual(
      [
        scripts.READ_STATE,
        scripts.LIST_RELEASES,
        scripts.HOST_FACTS,
        'apache2ctl configtest'
      ].sort()
    )
    expect(plan.summary).toBe(
      'would deploy sitecycle-sample 2.0.0 to site v1 on recording (live now: 1.0.0)'
    )
    expect(plan.checks.join('\n')).toMatch(
      /config .*app\.ini\.tmpl renders with secrets UNIT_SECRET/
    )
    expect(plan.checks.at(-1)).toBe('preflight: Python 3.11.2, 5000 MiB free, configtest ok')
    expect(plan.steps.map(l => l.split(':')[0].trim())).toEqual(
      deploySteps().map((s, i) => `${i + 1}. ${s.name}`)
    )
  })

  test('deploy: a version marked bad, or a failing preflight, fails the dry run as it fails the deploy', async () => {
    const c = config()
    const bad = host({ installed: { '2.0.0': 'other' }, bad: ['2.0.0'] })
    const req = {
      config: c,
      site: c.sites.v1,
      reporter: reporter(),
      release: releases,
      version: '2.0.0'
    }
    await expect(planDeploy({ ...req, exec: bad })).rejects.toThrow(/is marked bad on site v1/)
    const full = host().respondFirst(isScript(scripts.HOST_FACTS), {
      stdout: JSON.stringify({ python: '3.11.2', pip: true, free_mb: 1 })
    })
    await expect(planDeploy({ ...req, exec: full })).rejects.toThrow(/only 1 MiB free under/)
  })

  test('rollback: the target chosen as a rollback would, nothing switched or marked', async () => {
    const c = config()
    const exec = host()
    const plan = await planRollback({ config: c, site: c.sites.v1, exec, reporter: reporter() })
    expect(plan.summary).toBe(
      'would roll back site v1 from 1.0.0 to 0.9.0 (warm in the idle slot), and mark 1.0.0 bad'
    )
    expect(readOnly(exec)).toEqual([scripts.READ_STATE, scripts.LIST_RELEASES])
  })

  test('maintenance on: the page rendered, nothing written', async () => {
    const c = config()
    const exec = host()
    const plan = await planMaintenance({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      action: 'on',
      options: { retryAfter: 60 }
    })
    expect(plan.summary).toBe(
      'would freeze site v1: http://127.0.0.1:8080 would answer 503 with the maintenance page, Retry-After 60'
    )
    expect(readOnly(exec)).toEqual([scripts.READ_STATE, `readFile ${ROOT}/maintenance/ON`])
  })
})

describe('the application environment and a changed app.wsgi', () => {
  const envYaml = `    env:
      MODE: production
      TOKEN: "{{ secret.UNIT_APP_TOKEN }}"
`
  beforeAll(() => {
    process.env.UNIT_APP_TOKEN = 'unit-app-token-value'
  })

  test('env.json is written into the release beside app.ini (mode 0640, the Apache group), before release.json; hooks get it, its secret masked', async () => {
    const c = config(envYaml)
    const exec = host()
    const lines: string[] = []
    const o = await deploy({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: new StreamReporter(l => lines.push(l)),
      release: releases,
      version: '2.0.0'
    })
    expect(o.status).toBe('deployed')
    const rel = `${ROOT}/releases/2.0.0`
    expect(JSON.parse(exec.files.get(`${rel}/env.json`)!)).toEqual({
      variables: { MODE: 'production', TOKEN: 'unit-app-token-value' },
      secret: ['TOKEN']
    })
    expect(exec.modes.get(`${rel}/env.json`)).toBe(0o640)
    const runs = exec.calls.filter(call => call.type === 'run' && call.argv)
    expect(runs.some(call => call.argv!.join(' ') === `chgrp www-data ${rel}/env.json`)).toBe(true)
    const writes = exec.calls.map(call => call.type === 'writeFile' && call.path).filter(Boolean)
    expect(writes.indexOf(`${rel}/env.json`)).toBeLessThan(
      writes.indexOf(`${rel}/release.json.tmp`)
    )
    const hook = runs.find(call => unniced(call.argv!)[2] === 'sitecycle_sample.manage')!
    expect(hook.command!.env).toMatchObject({ MODE: 'production', TOKEN: 'unit-app-token-value' })
    expect(hook.command!.redact).toContain('unit-app-token-value')
    // Named, never shown: not in the step notes (journaled) nor in the output.
    const note = o.steps.find(s => s.name === 'render-config')?.note
    expect(note).toContain('env.json (MODE, TOKEN) with secrets in TOKEN')
    expect(JSON.stringify(o)).not.toContain('unit-app-token-value')
    expect(lines.join('\n')).not.toContain('unit-app-token-value')
    for (const slot of ['blue', 'green'])
      expect(exec.files.get(`${ROOT}/wsgi/${slot}.wsgi`) ?? '').not.toContain('unit-app-token')
  })

  test('the dry run renders the environment: names and which hold secrets, never the values', async () => {
    const c = config(envYaml)
    const exec = host()
    const plan = await planDeploy({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      release: releases,
      version: '2.0.0'
    })
    expect(plan.checks).toContain('environment renders: MODE, TOKEN (secrets in TOKEN)')
    expect(JSON.stringify(plan)).not.toContain('unit-app-token-value')
    expect(exec.calls.some(call => call.type === 'writeFile')).toBe(false)
  })

  test('a missing env secret stops the deploy before the host is touched, naming the variable', async () => {
    const c = config(`    env:\n      TOKEN: "{{ secret.UNIT_UNSET_TOKEN }}"\n`)
    const exec = host()
    await expect(deployV2(c, exec)).rejects.toThrow(
      'sites.v1.env.TOKEN: secret UNIT_UNSET_TOKEN is not set'
    )
    expect(exec.calls.filter(call => call.type !== 'readFile')).toEqual([])
  })

  test('a changed app.wsgi reaches the idle slot before its restart; the live slot keeps its script', async () => {
    const before = config()
    const after = parseConfig(
      `
app:
  package: sitecycle-sample
  wsgi: "sitecycle_sample.wsgi:create_app('second', show='MODE')"
sites:
  v1:
    root: ${ROOT}
    url: http://127.0.0.1:8080
    config: { template: app.ini.tmpl }
    hooks: { after_install: ["python -m sitecycle_sample.manage check"] }
`,
      join(dir, 'sitecycle.yml')
    )
    const site = before.sites.v1
    const exec = host()
    const old = (slot: string) =>
      renderWsgiScript(site, before.app.wsgi, `${ROOT}/slots/${slot}`, slot)
    exec.files.set(`${ROOT}/wsgi/blue.wsgi`, old('blue'))
    exec.files.set(`${ROOT}/wsgi/green.wsgi`, old('green'))
    await deployV2(after, exec)
    const t = trace(exec)
    expect(t.indexOf(`write ${ROOT}/wsgi/green.wsgi`)).toBeLessThan(
      t.findIndex(l => l.startsWith('signal-group'))
    )
    expect(exec.files.get(`${ROOT}/wsgi/green.wsgi`)).toContain(
      `    return _entry("second", show="MODE")`
    )
    expect(exec.files.get(`${ROOT}/wsgi/blue.wsgi`)).toBe(old('blue'))
    expect(t.filter(l => l.includes('blue.wsgi'))).toEqual([])
  })

  test("a failed deploy puts the idle slot's script back with its warm release: it runs the entry point it had", async () => {
    const before = config()
    const after = parseConfig(
      `
app:
  package: sitecycle-sample
  wsgi: "sitecycle_sample.wsgi:create_app('second')"
sites:
  v1:
    root: ${ROOT}
    url: http://127.0.0.1:8080
    config: { template: app.ini.tmpl }
`,
      join(dir, 'sitecycle.yml')
    )
    const site = before.sites.v1
    const old = (slot: string) =>
      renderWsgiScript(site, before.app.wsgi, `${ROOT}/slots/${slot}`, slot)
    const exec = host().respondFirst(
      c2 => isScript(scripts.PROBE_HTTP)(c2) && scriptArg(c2, 2) === 'green',
      { code: 1, stdout: JSON.stringify({ status: 500, body: '', error: null }) }
    )
    exec.files.set(`${ROOT}/wsgi/blue.wsgi`, old('blue'))
    exec.files.set(`${ROOT}/wsgi/green.wsgi`, old('green'))
    const err = await deployV2(after, exec).catch(e => e)
    expect((err as OperationFailed).outcome.failedStep).toBe('verify-idle')
    const t = trace(exec)
    // Rewritten for the new release, then back before the warm release's restart.
    expect(t.filter(l => l.endsWith('green.wsgi'))).toEqual([
      `write ${ROOT}/wsgi/green.wsgi`,
      `write ${ROOT}/wsgi/green.wsgi`
    ])
    expect(exec.files.get(`${ROOT}/wsgi/green.wsgi`)).toBe(old('green'))
    expect(t.lastIndexOf(`write ${ROOT}/wsgi/green.wsgi`)).toBeLessThan(
      t.lastIndexOf(`point-link ${ROOT}/slots/green ../releases/0.9.0`)
    )
    expect(exec.files.get(`${ROOT}/wsgi/blue.wsgi`)).toBe(old('blue'))
  })
})
