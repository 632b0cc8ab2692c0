/**
 * `hooks.freeze` in the deploy pipeline, through a recording executor that behaves like a small
 * host (files in memory, rename, rm, test -e, tee -a): the site is frozen and its database dumped
 * just before the hooks, unfrozen after verify-live; a failure after the hooks restores the dump
 * before users come back; without freeze the rollback is code-only and says so; a killed frozen
 * deploy is finished by the next one. No host is touched; the release is a real build (cached).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { maintenanceFlagPath, maintenanceHoldPath } from '../../src/commands/apache.js'
import type { Command } from '../../src/commands/command.js'
import { COMMIT_FILE_PROGRAM } from '../../src/commands/files.js'
import {
  SQLITE_BACKUP_PROGRAM,
  SQLITE_RESTORE_PROGRAM
} from '../../src/commands/databases/sqlite.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { parseConfig } from '../../src/config/load-config.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { CODE_ONLY_ROLLBACK, deploy, deployPlan, deploySteps } from '../../src/pipelines/deploy.js'
import { preDeployDumpPath } from '../../src/pipelines/frozen-deploy.js'
import { setMaintenance } from '../../src/pipelines/maintenance.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { ConfigError } from '../../src/util/errors.js'
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
const DB = `${ROOT}/data/app.db`
const FLAG = maintenanceFlagPath({ root: ROOT })
const HOLD = maintenanceHoldPath({ root: ROOT })

function config(opts: { freeze?: boolean; database?: boolean } = {}) {
  const yaml = `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  v1:
    root: ${ROOT}
    url: http://127.0.0.1:8080
    config: { template: app.ini.tmpl }
    hooks:
      after_install: ["python -m sitecycle_sample.manage migrate"]
${opts.freeze === undefined ? '' : `      freeze: ${opts.freeze}\n`}${opts.database === false ? '' : `    database: { engine: sqlite, name: ${DB} }\n`}`
  return parseConfig(yaml, join(dir, 'sitecycle.yml'))
}

/** A pretend host with site v1: blue live on 1.0.0, green idle on 0.9.0, its database file. */
function host(opts: { probeIdle?: number; restoreFails?: boolean } = {}) {
  const state = {
    slots: { blue: '1.0.0', green: '0.9.0' },
    live: 'blue',
    current: null,
    initialized: true
  }
  const record = (v: string, at: string) => ({
    complete: true,
    bad: false,
    info: { version: v, sha256: 'x', installedAt: at }
  })
  const exec = new RecordingExecutor('recording')
  exec.files.set(DB, 'rows before the deploy')
  const under = (p: string, prefix: string) => p === prefix || p.startsWith(`${prefix}/`)
  const move = (c: Command) => {
    const [from, to] = [c.argv[2], c.argv[3]]
    for (const [p, v] of [...exec.files]) {
      if (under(p, from)) {
        exec.files.delete(p)
        exec.files.set(to + p.slice(from.length), v)
      }
    }
    return {}
  }
  const remove = (c: Command) => {
    const paths = c.argv.slice(c.argv.indexOf('--') + 1)
    for (const p of [...exec.files.keys()]) if (paths.some(q => under(p, q))) exec.files.delete(p)
    return {}
  }
  const exists = (c: Command) => ({
    code: [...exec.files.keys()].some(p => under(p, c.argv[2])) ? 0 : 1
  })
  return fakeLockPrograms(exec)
    .respond(c => c.argv[0] === 'mv' && c.argv[1] === '-T', move)
    .respond(c => c.argv[0] === 'rm', remove)
    .respond(c => c.argv[0] === 'test', exists)
    .respond(
      c => c.argv[0] === 'tee' && c.argv[1] === '-a',
      c => {
        exec.files.set(c.argv[2], (exec.files.get(c.argv[2]) ?? '') + String(c.input ?? ''))
        return {}
      }
    )
    .respond(isScript(SQLITE_BACKUP_PROGRAM), c => {
      exec.files.set(scriptArg(c, 1)!, `copy of: ${exec.files.get(scriptArg(c, 0)!)}`)
      return {}
    })
    .respond(isScript(SQLITE_RESTORE_PROGRAM), c => {
      if (opts.restoreFails) return { code: 1, stderr: 'disk I/O error' }
      exec.files.set(scriptArg(c, 1)!, exec.files.get(scriptArg(c, 0)!)!.replace('copy of: ', ''))
      return {}
    })
    .respond(c => c.argv[0] === 'du', { stdout: '8192\tx\n' })
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
    .respond(isScript(scripts.SIGNAL_GROUP), c => {
      // restart-idle points the slot in the same program (link and target after the run dir
      // and the respawn grace)
      const link = scriptArg(c, 2)
      if (link)
        state.slots[link.split('/').pop() as 'blue' | 'green'] = scriptArg(c, 3)!.split('/').pop()!
      return { stdout: '4141\n' }
    })
    .respond(isScript(scripts.AWAIT_GROUP), { stdout: '4242\n' })
    .respond(isScript(scripts.SWITCH_MAP), { stdout: 'blue\n' })
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
    .respond(isScript(scripts.POINT_LINK), c => {
      // Keep the pretend state in step with the slot links (a recovery reads it).
      const slot = scriptArg(c, 0)!.split('/').pop() as 'blue' | 'green'
      state.slots[slot] = scriptArg(c, 1)!.split('/').pop()!
      return {}
    })
}

/** A matcher that matches the first command `match` matches, and no other. */
function once(match: (c: Command) => boolean): (c: Command) => boolean {
  let used = false
  return c => {
    if (used || !match(c)) return false
    used = true
    return true
  }
}

/** The commands that say what happened, in order, in words. */
function trace(exec: RecordingExecutor): string[] {
  const out: string[] = []
  for (const call of exec.calls) {
    if (call.type !== 'run' || !call.argv) continue
    const a = unniced(call.argv)
    const sc = scriptOf(a)
    if (sc?.program === SQLITE_BACKUP_PROGRAM) out.push(`dump ${sc.args[0]}`)
    else if (sc?.program === SQLITE_RESTORE_PROGRAM)
      out.push(`restore ${sc.args[0]} -> ${sc.args[1]}`)
    else if (sc?.program === scripts.POINT_LINK) out.push(`point-link ${sc.args.join(' ')}`)
    else if (sc?.program === scripts.RESTART_GROUP) out.push(`restart-group ${sc.args[0]}`)
    else if (sc?.program === scripts.SIGNAL_GROUP) out.push(`signal-group ${sc.args.join(' ')}`)
    else if (sc?.program === scripts.AWAIT_GROUP) out.push(`await-group ${sc.args[0]}`)
    else if (sc?.program === scripts.SWITCH_MAP) out.push(`switch-map ${sc.args[1]}`)
    else if (sc?.program === scripts.PROBE_HTTP) out.push(`probe ${sc.args[2] || 'live'}`)
    else if (sc?.program === COMMIT_FILE_PROGRAM && sc.args[0] === FLAG) out.push('freeze')
    else if (a[0] === 'rm' && a.at(-1) === FLAG) out.push('unfreeze')
    else if (a[0] === 'mv' && a[3] === HOLD) out.push('hold')
    else if (a[0] === 'rm' && a.at(-1) === HOLD) out.push('release')
    else if (sc?.program === scripts.TAKE_LOCK) out.push('lock')
    else if (releasedLock(call)) out.push('unlock')
    else if (a.includes('install') && a.includes('pip')) out.push('pip install')
    else if (a[0].endsWith('/bin/python') && a[2] === 'sitecycle_sample.manage') out.push('hook')
    else if (a[0] === 'rm' && a.some(p => p.includes('/pre-deploy-')))
      out.push(`rm ${a.filter(p => p.includes('/pre-deploy-')).join(' ')}`)
    else if (a[0] === 'rm' && a.some(p => p.endsWith('/releases/2.0.0')))
      out.push('rm releases/2.0.0')
  }
  return out
}

const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const request = (c: ReturnType<typeof config>, exec: RecordingExecutor) => ({
  config: c,
  site: c.sites.v1,
  exec,
  reporter: reporter(),
  release: releases,
  version: '2.0.0'
})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-unit-freeze-'))
  releases = join(dir, 'releases')
  await buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\nkey = value\n')
})
afterAll(() => rm(dir, { recursive: true, force: true }))
beforeEach(() => {
  lines.length = 0
})

const PLAIN = [
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
]
const FROZEN = [
  'preflight',
  'upload',
  'create-venv',
  'restart-idle',
  'install',
  'link-shared',
  'render-config',
  'freeze',
  'snapshot-db',
  'hooks',
  'complete-release',
  'await-idle',
  'verify-idle',
  'switch',
  'verify-live',
  'unfreeze',
  'prune',
  'remove-db-snapshot'
]

test('the steps: without freeze as before; with freeze, freeze and snapshot-db before the hooks, unfreeze after verify-live', () => {
  expect(deploySteps().map(s => s.name)).toEqual(PLAIN)
  expect(deploySteps({ freeze: false }).map(s => s.name)).toEqual(PLAIN)
  expect(deploySteps({ freeze: true }).map(s => s.name)).toEqual(FROZEN)
  const undoable = deploySteps({ freeze: true })
    .filter(s => s.undo)
    .map(s => s.name)
  expect(undoable).toEqual(expect.arrayContaining(['freeze', 'snapshot-db']))
  // The plan shows them for a site that freezes, and only then.
  const plan = (c: ReturnType<typeof config>) => deployPlan(c.sites.v1).map(l => l.split(':')[0])
  expect(plan(config({ freeze: true }))).toEqual(
    FROZEN.map((n, i) => `${String(i + 1).padStart(2)}. ${n}`)
  )
  expect(plan(config())).toHaveLength(PLAIN.length)
  expect(plan(config({ freeze: false }))).toHaveLength(PLAIN.length)
})

test('hooks.freeze in the config: false by default, true when set, refused without a database', () => {
  expect(config().sites.v1.hooks.freeze ?? false).toBe(false)
  expect(config({ freeze: true }).sites.v1.hooks.freeze).toBe(true)
  let err: unknown
  try {
    config({ freeze: true, database: false })
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(ConfigError)
  expect((err as ConfigError).message).toMatch(/sites\.v1\.hooks\.freeze/)
  expect((err as ConfigError).message).toMatch(/no database/)
  expect((err as ConfigError).line).toBe(12)
  expect(() =>
    parseConfig(
      `app: { package: p, wsgi: "m:a" }\nsites:\n  v1: { root: /srv/a, url: "http://127.0.0.1:1", hooks: { freeze: "yes" } }\n`,
      join(dir, 'bad.yml')
    )
  ).toThrow(/freeze.*true or false/s)
})

test('a frozen deploy: freeze, dump, hooks, verify, switch, verify, unfreeze, then the dump is removed', async () => {
  const c = config({ freeze: true })
  const exec = host()
  const o = await deploy(request(c, exec))
  expect(o).toMatchObject({ status: 'deployed', version: '2.0.0' })
  const dump = preDeployDumpPath(ROOT, o.operationId)
  expect(dump).toBe(`${ROOT}/.sitecycle/pre-deploy-${o.operationId}.dump`)
  expect(trace(exec)).toEqual([
    'lock',
    `signal-group ${ROOT}/run/green 10 ${ROOT}/slots/green ../releases/2.0.0`,
    'pip install',
    'freeze',
    // the requests admitted before the freeze finish on the live group's daemons
    `restart-group ${ROOT}/run/blue`,
    `dump ${DB}`,
    'hook',
    `await-group ${ROOT}/run/green`,
    'probe green',
    `switch-map green`,
    'probe live',
    'unfreeze',
    `rm ${dump}`,
    'unlock'
  ])
  // The dump was written aside and renamed to its place, then removed; the site is open.
  expect(exec.files.has(dump)).toBe(false)
  expect(exec.files.has(FLAG)).toBe(false)
  expect(exec.files.get(DB)).toBe('rows before the deploy')
  const journal = exec.files.get(`${ROOT}/.sitecycle/journal.jsonl`)!
  const start = journal
    .split('\n')
    .map(l => l && JSON.parse(l))
    .find(e => e && e.event === 'start')
  expect(start).toMatchObject({ freeze: true, frozen: false })
  expect(o.steps.find(s => s.name === 'freeze')?.status).toBe('ok')
})

test('verify-idle fails with freeze: the undos hold every request, restart the groups around the restore of the dump, release, then unfreeze', async () => {
  const c = config({ freeze: true })
  const exec = host({ probeIdle: 500 })
  // What the hook does to the database: its migration.
  exec.respondFirst(
    cm => cm.argv[2] === 'sitecycle_sample.manage',
    () => {
      exec.files.set(DB, 'migrated rows')
      return {}
    }
  )
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err).toBeInstanceOf(OperationFailed)
  const dump = preDeployDumpPath(ROOT, err.outcome.operationId)
  expect(err.outcome).toMatchObject({
    failedStep: 'verify-idle',
    version: '1.0.0',
    rolledBack: true,
    undoComplete: true
  })
  const t = trace(exec)
  expect(t.slice(t.indexOf('probe green') + 1)).toEqual([
    // snapshot-db undone: no request reaches a daemon (the health path neither), whose
    // connections close as they restart, then the database from before the hooks, and no
    // process keeps the migrated one
    'hold',
    `restart-group ${ROOT}/run/blue`,
    `restart-group ${ROOT}/run/green`,
    `restore ${dump} -> ${DB}`,
    `restart-group ${ROOT}/run/blue`,
    `restart-group ${ROOT}/run/green`,
    'release',
    // freeze undone: only now do users come back
    'unfreeze',
    // restart-idle undone: the release kept for a rollback is in the idle slot again
    `point-link ${ROOT}/slots/green ../releases/0.9.0`,
    `restart-group ${ROOT}/run/green`,
    // create-venv undone
    'rm releases/2.0.0',
    `rm ${dump}`,
    'unlock'
  ])
  expect(exec.files.get(DB)).toBe('rows before the deploy')
  expect(exec.files.has(FLAG)).toBe(false)
  expect(exec.files.has(HOLD)).toBe(false)
  expect(err.message).toMatch(/HTTP 500/)
  expect(err.message).toContain(`the database was restored from ${dump}`)
  expect(err.message).not.toContain('code-only')
  expect(err.outcome.notes).toEqual([expect.stringMatching(/no user write is lost/)])
  expect(err.outcome.steps.find(s => s.name === 'snapshot-db')?.status).toBe('undone')
})

test('a live group that does not restart at the freeze fails the deploy there, and users are not left frozen out', async () => {
  const c = config({ freeze: true })
  const exec = host()
  exec.respondFirst(once(isScript(scripts.RESTART_GROUP)), { code: 3, stderr: 'no daemon runs' })
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err).toBeInstanceOf(OperationFailed)
  expect(err.outcome).toMatchObject({ failedStep: 'freeze', version: '1.0.0', undoComplete: true })
  expect(err.message).toMatch(/no Apache daemon process of site v1 slot blue/)
  const t = trace(exec)
  expect(t.slice(t.indexOf('freeze'), t.indexOf('freeze') + 3)).toEqual([
    'freeze',
    `restart-group ${ROOT}/run/blue`,
    'unfreeze'
  ])
  expect(t).not.toContain('hook')
  expect(exec.files.has(FLAG)).toBe(false)
  expect(exec.files.get(DB)).toBe('rows before the deploy')
})

test('a group that does not restart before the restore is warned about, and the database goes back all the same', async () => {
  const c = config({ freeze: true })
  const exec = host({ probeIdle: 500 })
  exec.respondFirst(
    cm => cm.argv[2] === 'sitecycle_sample.manage',
    () => {
      exec.files.set(DB, 'migrated rows')
      // From now on (the undo), the first restart of blue fails once.
      exec.respondFirst(
        once(cm => isScript(scripts.RESTART_GROUP)(cm) && scriptArg(cm, 0) === `${ROOT}/run/blue`),
        { code: 1, stderr: 'the daemon processes of this group did not restart within 30s' }
      )
      return {}
    }
  )
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err.outcome).toMatchObject({ failedStep: 'verify-idle', undoComplete: true })
  expect(exec.files.get(DB)).toBe('rows before the deploy')
  expect(exec.files.has(HOLD)).toBe(false)
  expect(exec.files.has(FLAG)).toBe(false)
  expect(lines.join('\n')).toMatch(
    /could not be restarted before its database is put back.*did not restart within 30s/
  )
})

test('without freeze a failure after the hooks is a code-only rollback, and says so', async () => {
  const c = config()
  const exec = host({ probeIdle: 500 })
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err).toBeInstanceOf(OperationFailed)
  expect(err.outcome.error).toContain(CODE_ONLY_ROLLBACK)
  expect(err.outcome.notes).toEqual([CODE_ONLY_ROLLBACK])
  expect(err.message).toContain(
    'code-only rollback: the database was not restored (the site was not frozen before its hooks)'
  )
  expect(err.message).toMatch(/rolled back: 1\.0\.0 serves again/)
  const t = trace(exec)
  expect(t.filter(l => /freeze|dump|restore|pre-deploy/.test(l))).toEqual([])
  expect(t).toContain('hook')
})

test('a site without a database says nothing about one when its hooks ran and the deploy failed', async () => {
  const c = config({ database: false })
  const exec = host({ probeIdle: 500 })
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err).toBeInstanceOf(OperationFailed)
  expect(trace(exec)).toContain('hook')
  expect(err.message).not.toMatch(/code-only|database/)
  expect(err.outcome.notes).toEqual([])
})

test('a failure before the hooks ran says nothing about the database', async () => {
  const c = config()
  const exec = host()
  exec.respondFirst(cm => cm.argv.includes('install') && cm.argv.includes('pip'), {
    code: 1,
    stderr: 'no matching distribution'
  })
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  expect(err.outcome.failedStep).toBe('install')
  expect(err.message).not.toContain('code-only')
  expect(err.outcome.notes).toEqual([])
})

test('when the dump cannot be restored, the site stays frozen and the dump is kept', async () => {
  const c = config({ freeze: true })
  const exec = host({ probeIdle: 500, restoreFails: true })
  const err = (await deploy(request(c, exec)).catch(e => e)) as OperationFailed
  const dump = preDeployDumpPath(ROOT, err.outcome.operationId)
  expect(err.outcome).toMatchObject({ failedStep: 'verify-idle', undoComplete: false })
  expect(trace(exec)).not.toContain('unfreeze')
  expect(exec.files.has(FLAG)).toBe(true)
  // The hold ends even so: the health path reaches the previous release again.
  expect(trace(exec)).toContain('release')
  expect(exec.files.has(HOLD)).toBe(false)
  expect(exec.files.has(dump)).toBe(true)
  expect(err.message).toContain(`site v1 stays frozen; its dump from before the hooks is ${dump}`)
  const undo = Object.fromEntries(err.outcome.steps.map(s => [s.name, s.status]))
  expect(undo).toMatchObject({ 'snapshot-db': 'undo-failed', freeze: 'undo-failed' })
})

test('a site frozen before the deploy keeps its page and stays frozen', async () => {
  const c = config({ freeze: true })
  const exec = host()
  exec.files.set(FLAG, 'frozen since 2026-03-01T00:00:00.000Z\nretry_after 300\n')
  exec.files.set(`${ROOT}/maintenance/index.html`, 'upgrade attempt: go to the preview')
  const o = await deploy(request(c, exec))
  expect(o.status).toBe('deployed')
  const t = trace(exec)
  expect(t.filter(l => l === 'freeze' || l === 'unfreeze')).toEqual([])
  expect(t).toContain(`dump ${DB}`)
  expect(exec.files.get(`${ROOT}/maintenance/index.html`)).toBe(
    'upgrade attempt: go to the preview'
  )
  expect(exec.files.has(FLAG)).toBe(true)
  expect(o.steps.find(s => s.name === 'unfreeze')?.status).toBe('skipped')
})

/** A frozen deploy killed after its hooks, as its journal, flag, dump and database show it. */
function killedFrozenDeploy(exec: RecordingExecutor): { killed: string; dump: string } {
  const killed = '20260301T000000-killed'
  const dump = preDeployDumpPath(ROOT, killed)
  const ev = (e: Record<string, unknown>) =>
    JSON.stringify({ at: '2026-03-01T00:00:00.000Z', id: killed, op: 'deploy', ...e })
  exec.files.set(
    `${ROOT}/.sitecycle/journal.jsonl`,
    [
      ev({
        event: 'start',
        liveSlot: 'blue',
        live: '1.0.0',
        idle: '0.9.0',
        freeze: true,
        frozen: false
      }),
      ...['upload', 'install', 'render-config', 'freeze', 'snapshot-db', 'hooks'].map(step =>
        ev({ event: 'step', step, phase: 'run', status: 'ok', ms: 1 })
      )
    ].join('\n') + '\n'
  )
  exec.files.set(FLAG, 'frozen since 2026-03-01T00:00:00.000Z\nretry_after 300\n')
  exec.files.set(dump, 'copy of: rows before the killed deploy')
  exec.files.set(DB, 'migrated by the killed deploy')
  return { killed, dump }
}

test('a frozen deploy killed after its hooks: the next deploy restores its dump and unfreezes first', async () => {
  const c = config({ freeze: true })
  const exec = host()
  const { dump } = killedFrozenDeploy(exec)
  const o = await deploy(request(c, exec))
  expect(o.status).toBe('deployed')
  const t = trace(exec)
  // The killed run's database and freeze are put back before this run freezes again.
  expect(t.slice(0, 10)).toEqual([
    'lock',
    'hold',
    `restart-group ${ROOT}/run/blue`,
    `restart-group ${ROOT}/run/green`,
    `restore ${dump} -> ${DB}`,
    `restart-group ${ROOT}/run/blue`,
    `restart-group ${ROOT}/run/green`,
    'release',
    'unfreeze',
    `rm ${dump}`
  ])
  expect(t.indexOf('freeze')).toBeGreaterThan(t.indexOf(`rm ${dump}`))
  expect(exec.files.get(DB)).toBe('rows before the killed deploy')
  expect(exec.files.has(FLAG)).toBe(false)
  expect(lines.join('\n')).toContain(`recovered: the database was restored from ${dump}`)
  // This run saw an open site once the killed one was finished: it unfroze it at its end.
  const events = exec.files
    .get(`${ROOT}/.sitecycle/journal.jsonl`)!
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l) as Record<string, unknown>)
  expect(events.find(e => e.id === o.operationId && e.event === 'start')).toMatchObject({
    frozen: false,
    recoveredFreeze: expect.arrayContaining([expect.stringMatching(/unfrozen/)])
  })
})

test('a frozen deploy killed after its hooks is finished by the next operation of any kind, here maintenance off', async () => {
  const c = config({ freeze: true })
  const exec = host()
  const { killed, dump } = killedFrozenDeploy(exec)
  // Killed while it held every request (as its own undo would have): the hold ends too.
  exec.files.set(HOLD, 'held since 2026-03-01T00:00:00.000Z\n')
  const o = await setMaintenance({
    config: c,
    site: c.sites.v1,
    exec,
    reporter: reporter(),
    action: 'off'
  })
  expect(o.status).toBe('unfrozen')
  const t = trace(exec)
  expect(t.slice(0, 5)).toEqual([
    'lock',
    'hold',
    `restart-group ${ROOT}/run/blue`,
    `restart-group ${ROOT}/run/green`,
    `restore ${dump} -> ${DB}`
  ])
  expect(exec.files.get(DB)).toBe('rows before the killed deploy')
  expect(exec.files.has(dump)).toBe(false)
  expect(exec.files.has(FLAG)).toBe(false)
  expect(exec.files.has(HOLD)).toBe(false)
  const recovered = exec.files
    .get(`${ROOT}/.sitecycle/journal.jsonl`)!
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l) as Record<string, unknown>)
    .find(e => e.id === killed && e.event === 'recovered')
  expect(recovered).toBeDefined()
})
