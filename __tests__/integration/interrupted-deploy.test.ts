/**
 * A deploy killed (SIGKILL, as when a runner or machine is lost) at every step boundary, and
 * once in the middle of pip: users keep getting a working release, and the next deploy
 * recovers what was left (lock, journal, idle slot, half-installed release) and succeeds.
 * Real CLI, real private Apache, versions rotated so each round installs for real.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { deploySteps } from '../../src/pipelines/deploy.js'
import type { SiteStatus } from '../../src/pipelines/status.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import {
  describeRun,
  expectExit,
  runCli,
  startCli,
  type CliResult,
  type RunningCli
} from '../helpers/cli.js'
import { pipInstallingWith } from '../helpers/processes.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'interrupted-secret-0123456789'
const VERSIONS = ['1.0.0', '2.0.0', '3.0.0']
// link-shared runs only for a site with shared: links (the sample site has none): a kill after a
// step that does not run never fires.
const STEPS = deploySteps()
  .map(s => s.name)
  .filter(name => name !== 'link-shared')
const SWITCH = STEPS.indexOf('switch')
/** After each step, plus once while pip installs (just before 'install' completes). */
const CASES = STEPS.flatMap(s => (s === 'install' ? ['mid-install', s] : [s]))

let apache: TestApache
let site: TestSite
let releases: string
let config: string

interface JournalLine {
  id: string
  op: string
  event: string
  by?: string
  notes?: string[]
  status?: string
}

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli([...args, '-c', config], { env: { SAMPLE_SECRET_KEY: SECRET, ...env } })
}

async function status(): Promise<SiteStatus> {
  const r = await cli(['status', 'v1', '--json'])
  if (r.code !== 0) throw new Error(`sitecycle status: ${describeRun(r)}`)
  return JSON.parse(r.stdout) as SiteStatus
}

async function journal(): Promise<JournalLine[]> {
  const text = await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8')
  return text
    .split('\n')
    .filter(l => l.trim())
    .map(l => JSON.parse(l) as JournalLine)
}

/** Version answered to users, and by the idle slot through the private route. */
async function served(slot?: string): Promise<{ status: number; body: string }> {
  return httpGet(`${site.url}/__version__`, slot ? { 'X-Sitecycle-Slot': slot } : {})
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false
  )
}

/** Release directories under releases/ without release.json (`_empty` is the placeholder venv). */
async function halfInstalled(): Promise<string[]> {
  const dir = join(site.root, 'releases')
  const out: string[] = []
  for (const name of await readdir(dir)) {
    if (name === '_empty') continue
    if (!(await exists(join(dir, name, 'release.json')))) out.push(name)
  }
  return out
}

/** Deploy `version` and SIGKILL the CLI and its children while pip installs into releases/<version>. */
async function deployKilledDuringPip(version: string): Promise<RunningCli> {
  const running = startCli(
    ['deploy', 'v1', '--release', releases, '--version', version, '-c', config],
    {
      env: { SAMPLE_SECRET_KEY: SECRET }
    }
  )
  const target = join(site.root, 'releases', version)
  const deadline = Date.now() + 30000
  let ended = false
  void running.result.then(() => (ended = true))
  for (;;) {
    if (ended)
      throw new Error(`the deploy ended before pip ran: ${describeRun(await running.result)}`)
    if (Date.now() > deadline) {
      running.killGroup()
      throw new Error('pip never ran into the release directory')
    }
    if ((await pipInstallingWith(`${target}/bin/python`)).length) break
    await new Promise(r => setTimeout(r, 10))
  }
  // The release is half-installed at this moment: pip runs, release.json is not there yet.
  expect(await exists(join(target, 'release.json'))).toBe(false)
  running.killGroup('SIGKILL')
  return running
}

beforeAll(async () => {
  const work = await makeTempDir('sitecycle-interrupted-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    ...VERSIONS.map(version => buildSampleRelease({ version, releasesDir: releases }))
  ])
  // keep_releases 2: each round's target was pruned before, so most rounds install for real.
  site = await makeTestSite({ apache, keepReleases: 2 })
  config = join(site.dir, 'sitecycle.yml')
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--release', releases, '--version', '2.0.0'],
    ['deploy', 'v1', '--release', releases, '--version', '1.0.0']
  ]) {
    const r = await cli(args)
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  if (releases) await rm(join(releases, '..'), { recursive: true, force: true })
})

test('the step list covers what the deploy does, with the switch in the middle', () => {
  expect(STEPS.slice(0, 5)).toEqual([
    'preflight',
    'upload',
    'create-venv',
    'restart-idle',
    'install'
  ])
  expect(SWITCH).toBeGreaterThan(STEPS.indexOf('verify-idle'))
  expect(SWITCH).toBeLessThan(STEPS.length - 1)
})

test.each(CASES)(
  'a deploy killed after %s: users keep a working release; the next deploy recovers and succeeds',
  async kill => {
    const before = await status()
    expect(before.lock).toBeNull()
    expect(before.unfinished).toEqual([])
    const live = before.live!
    const idle = before.idle!
    const target = VERSIONS.find(v => v !== live && v !== idle)!
    const installedBefore = before.releases.some(r => r.dir === target)
    if (['mid-install', 'install'].includes(kill)) expect(installedBefore).toBe(false)

    // 1. The interrupted deploy.
    const run =
      kill === 'mid-install'
        ? await deployKilledDuringPip(target)
        : startCli(['deploy', 'v1', '--release', releases, '--version', target, '-c', config], {
            env: { SAMPLE_SECRET_KEY: SECRET, SITECYCLE_FAULT_KILL_AFTER: kill }
          })
    const killed = await run.result
    expect(killed).toMatchObject({ code: null, signal: 'SIGKILL' })
    const switched = kill !== 'mid-install' && STEPS.indexOf(kill) >= SWITCH
    const expectLive = switched ? target : live
    // Users get a working release: the one before, or the new one once the switch happened.
    expect(await served()).toEqual({ status: 200, body: expectLive })
    expect((await httpGet(`${site.url}/`)).status).toBe(200)

    const left = await status()
    expect(left.live).toBe(expectLive)
    expect(left.lock).toMatchObject({ op: 'deploy', pid: run.pid, state: 'dead' })
    expect(left.unfinished).toHaveLength(1)
    const interrupted = left.unfinished[0]
    const steps = (await journal())
      .filter(e => e.id === interrupted && e.event === 'step')
      .map(e => (e as JournalLine & { step: string }).step)
    // Every step up to the kill was journaled (skipped steps write nothing).
    expect(steps[steps.length - 1]).toBe(kill === 'mid-install' ? 'restart-idle' : kill)
    if (kill === 'mid-install') expect(await halfInstalled()).toEqual([target])

    // 2. The next deploy, without a fault: it recovers what was left and succeeds.
    const next = await cli(['deploy', 'v1', '--release', releases, '--version', target, '--json'])
    expectExit(next, 0)
    expect(next.stderr).toContain(
      `taking over the lock of a run that is gone: deploy ${interrupted}`
    )
    expect(next.stderr).toContain(`an earlier deploy (${interrupted}`)
    // What the recovery put back, as it reports it.
    const at = kill === 'mid-install' ? STEPS.indexOf('install') - 1 : STEPS.indexOf(kill)
    const restarted = `recovered: idle slot ${before.liveSlot === 'blue' ? 'green' : 'blue'} points at ${idle} again`
    const hadSwitched = `recovered: the interrupted run had switched: ${target} is live (it was verified before the switch)`
    const removed = `recovered: removed half-installed ${target}`
    const notes = next.stderr
      .split('\n')
      .filter(l => l.startsWith('recovered: '))
      .sort()
    // A release without release.json (written by complete-release) is half-installed.
    const halfDone = at >= STEPS.indexOf('create-venv') && at < STEPS.indexOf('complete-release')
    const expected = [
      ...(at >= STEPS.indexOf('restart-idle') && at < SWITCH ? [restarted] : []),
      ...(at >= SWITCH ? [hadSwitched] : []),
      ...(halfDone ? [removed] : [])
    ].sort()
    expect(notes).toEqual(expected)
    const outcome = JSON.parse(next.stdout) as {
      status: string
      version: string
      operationId: string
    }
    expect(outcome).toMatchObject({ status: switched ? 'unchanged' : 'deployed', version: target })
    expect(await served()).toEqual({ status: 200, body: target })

    const after = await status()
    expect(after).toMatchObject({ live: target, idle: live, lock: null, unfinished: [] })
    // The previous release is warm in the idle slot again, ready for a rollback.
    expect(await served(after.liveSlot === 'blue' ? 'green' : 'blue')).toEqual({
      status: 200,
      body: live
    })
    // The journal records the interrupted operation as recovered by this deploy.
    const recovered = (await journal()).filter(e => e.id === interrupted && e.event === 'recovered')
    expect(recovered).toEqual([expect.objectContaining({ op: 'deploy', by: outcome.operationId })])
    expect(after.history.find(h => h.id === interrupted)?.status).toBe('recovered')
    // Nothing half-installed, no upload left over.
    expect(await halfInstalled()).toEqual([])
    const incoming = join(site.root, '.sitecycle', 'incoming')
    expect((await exists(incoming)) ? await readdir(incoming) : []).toEqual([])
  }
)

test('a deploy killed after await-idle, its lock cleared: the rollback finds the unfinished run, recovers it, then goes back', async () => {
  const before = await status()
  expect(before.unfinished).toEqual([])
  const { live, idle } = before
  const target = VERSIONS.find(v => v !== live && v !== idle)!
  const run = startCli(['deploy', 'v1', '--release', releases, '--version', target, '-c', config], {
    env: { SAMPLE_SECRET_KEY: SECRET, SITECYCLE_FAULT_KILL_AFTER: 'await-idle' }
  })
  expect(await run.result).toMatchObject({ signal: 'SIGKILL' })
  expectExit(await cli(['unlock', 'v1']), 0)
  const left = await status()
  expect(left).toMatchObject({ lock: null, live })
  expect(left.unfinished).toHaveLength(1)

  const rb = await cli(['rollback', 'v1', '--json'])
  expectExit(rb, 0)
  // The one host program took the lock and saw the unfinished run: the full path recovered it
  // (the idle slot holds the warm release again) before going back to that release.
  expect(rb.stderr).toContain('the journal has an unfinished operation')
  expect(rb.stderr).toContain(`an earlier deploy (${left.unfinished[0]}`)
  expect(rb.stderr).toContain(
    `recovered: idle slot ${before.liveSlot === 'blue' ? 'green' : 'blue'} points at ${idle} again`
  )
  const outcome = JSON.parse(rb.stdout) as { status: string; version: string; operationId: string }
  expect(outcome).toMatchObject({ status: 'rolled-back', version: idle })
  expect(await served()).toEqual({ status: 200, body: idle })
  const lines = (await journal()).filter(
    e => e.id === left.unfinished[0] || e.id === outcome.operationId
  )
  expect(
    lines.map(e => `${e.id === outcome.operationId ? 'rollback' : 'killed'} ${e.event}`).slice(-7)
  ).toEqual([
    'killed recovered',
    'rollback start',
    'rollback step',
    'rollback step',
    'rollback mark-bad',
    'rollback step',
    'rollback end'
  ])
  expect(await status()).toMatchObject({ live: idle, lock: null, unfinished: [] })
})
