/**
 * One operation per site at a time, through the real CLI on a private Apache: of two deploys
 * started at once one runs and the other is refused naming the holder; with --lock-wait both
 * run, one after the other; `sitecycle unlock` refuses while the holder runs and clears the
 * lock once it is gone.
 */
import { readFile, rm } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
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
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'concurrent-secret-0123456789'
const VERSIONS = ['1.0.0', '2.0.0', '3.0.0']

let apache: TestApache
/** The site the deploys race on. */
let site: TestSite
/** A site whose hook sleeps, so a deploy holds its lock long enough to try `unlock` on it. */
let slow: TestSite
let work: string
let releases: string

interface JournalLine {
  id: string
  op: string
  event: string
  at: string
  status?: string
}

const configOf = (s: TestSite) => join(s.dir, 'sitecycle.yml')

/** Start a deploy as `actor` (the lock names the actor from $USER outside GitHub). */
function startDeploy(
  s: TestSite,
  version: string,
  actor: string,
  extra: string[] = []
): RunningCli {
  return startCli(
    [
      'deploy',
      'v1',
      '-c',
      configOf(s),
      '--release',
      releases,
      '--version',
      version,
      '--json',
      ...extra
    ],
    {
      env: { SAMPLE_SECRET_KEY: SECRET, USER: actor, SUDO_USER: undefined }
    }
  )
}

async function cli(s: TestSite, args: string[]): Promise<CliResult> {
  return runCli([...args, '-c', configOf(s)], { env: { SAMPLE_SECRET_KEY: SECRET } })
}

async function status(s: TestSite): Promise<SiteStatus> {
  const r = await cli(s, ['status', 'v1', '--json'])
  if (r.code !== 0) throw new Error(`sitecycle status: ${describeRun(r)}`)
  return JSON.parse(r.stdout) as SiteStatus
}

async function journal(s: TestSite): Promise<JournalLine[]> {
  const text = await readFile(join(s.root, '.sitecycle', 'journal.jsonl'), 'utf8')
  return text
    .split('\n')
    .filter(l => l.trim())
    .map(l => JSON.parse(l) as JournalLine)
}

const served = async (s: TestSite) => (await httpGet(`${s.url}/__version__`)).body

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-concurrent-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    ...VERSIONS.map(version => buildSampleRelease({ version, releasesDir: releases }))
  ])
  site = await makeTestSite({ apache })
  slow = await makeTestSite({ apache, hooks: ['python -c "import time; time.sleep(30)"'] })
  for (const [s, args] of [
    [site, ['init', 'v1']],
    // The second site on this Apache: init reloads it only when told (--reload).
    [slow, ['init', 'v1', '--reload']],
    [site, ['deploy', 'v1', '--release', releases, '--version', '1.0.0']]
  ] as const) {
    const r = await cli(s, [...args])
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await slow?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

test('two deploys at once: one runs, the other exits 3 naming the holder (op, pid, actor)', async () => {
  const opsBefore = new Set((await journal(site)).map(e => e.id))
  // --lock-wait 0: the default wait (a few seconds) could outlast a quick deploy.
  const alice = startDeploy(site, '2.0.0', 'alice', ['--lock-wait', '0'])
  const bob = startDeploy(site, '3.0.0', 'bob', ['--lock-wait', '0'])
  const [a, b] = await Promise.all([alice.result, bob.result])
  expect([a.code, b.code].sort()).toEqual([0, 3])
  const [winner, loser, winnerRun, winnerActor, winnerVersion] =
    a.code === 0 ? [a, b, alice, 'alice', '2.0.0'] : [b, a, bob, 'bob', '3.0.0']
  expectExit(winner, 0)
  const outcome = JSON.parse(winner.stdout) as {
    status: string
    version: string
    operationId: string
  }
  expect(outcome).toMatchObject({ status: 'deployed', version: winnerVersion })

  // The refusal names the holder: operation and its id, actor, pid and machine, and what to do.
  expect(loser.stdout).toBe('')
  expect(loser.stderr).toMatch(
    new RegExp(
      `is locked by deploy ${escape(outcome.operationId)} by ${winnerActor} \\(pid ${winnerRun.pid} on ${escape(hostname())}\\) since \\S+; ` +
        `wait for it \\(--lock-wait SECONDS\\)`
    )
  )
  expect(loser.stderr).toContain('sitecycle unlock')
  // The loser touched nothing: the journal has exactly the winner's operation, finished.
  const added = (await journal(site)).filter(e => !opsBefore.has(e.id))
  expect(new Set(added.map(e => e.id))).toEqual(new Set([outcome.operationId]))
  expect(added.filter(e => e.event === 'end')).toEqual([
    expect.objectContaining({ status: 'deployed' })
  ])
  expect(await served(site)).toBe(winnerVersion)
  expect((await status(site)).lock).toBeNull()
})

test('with --lock-wait 120 both deploys succeed, one after the other', async () => {
  const live = (await status(site)).live!
  const [first, second] = VERSIONS.filter(v => v !== live)
  const carol = startDeploy(site, first, 'carol', ['--lock-wait', '120'])
  const dave = startDeploy(site, second, 'dave', ['--lock-wait', '120'])
  const [c, d] = await Promise.all([carol.result, dave.result])
  expectExit(c, 0)
  expectExit(d, 0)
  const oc = JSON.parse(c.stdout) as {
    version: string
    previousVersion: string
    operationId: string
  }
  const od = JSON.parse(d.stdout) as {
    version: string
    previousVersion: string
    operationId: string
  }
  // Whichever got the lock first ran first: the other waited, then deployed on top of it.
  const [early, late, lateRun] = oc.previousVersion === live ? [oc, od, d] : [od, oc, c]
  expect(early).toMatchObject({ previousVersion: live })
  expect(late).toMatchObject({ previousVersion: early.version })
  expect(lateRun.stderr).toContain(`waiting for the lock held by deploy ${early.operationId}`)
  // In the journal the two operations do not interleave.
  const lines = await journal(site)
  const lastOfEarly = lines.map(e => e.id).lastIndexOf(early.operationId)
  const firstOfLate = lines.findIndex(e => e.id === late.operationId)
  expect(lastOfEarly).toBeGreaterThanOrEqual(0)
  expect(firstOfLate).toBeGreaterThan(lastOfEarly)
  expect(await served(site)).toBe(late.version)
  const st = await status(site)
  expect(st).toMatchObject({ live: late.version, idle: early.version, lock: null, unfinished: [] })
})

test('unlock refuses while the holder runs, and clears the lock once the holder was killed', async () => {
  expect(await cli(slow, ['unlock', 'v1'])).toMatchObject({
    code: 0,
    stdout: 'site v1 is not locked\n'
  })
  const holder = startDeploy(slow, '1.0.0', 'erin')
  try {
    // Wait until the deploy is inside its slow hook: it holds the lock for seconds more.
    const deadline = Date.now() + 30000
    while (!holder.stderrSoFar().includes('hook: python -c')) {
      if (Date.now() > deadline)
        throw new Error(`the deploy never reached its hook:\n${holder.stderrSoFar()}`)
      await new Promise(r => setTimeout(r, 50))
    }
    const refused = await cli(slow, ['unlock', 'v1'])
    expect(refused.code).not.toBe(0)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(
      new RegExp(`locked by deploy \\S+ by erin \\(pid ${holder.pid} on .*which is still running`)
    )
    const held = await status(slow)
    expect(held.lock).toMatchObject({
      op: 'deploy',
      actor: 'erin',
      pid: holder.pid,
      state: 'alive'
    })
    // Under way, not unfinished; its release in the idle slot is not yet a rollback target.
    expect(held).toMatchObject({ running: [held.lock!.id], unfinished: [], idleComplete: false })
    const heldText = (await cli(slow, ['status', 'v1'])).stdout
    expect(heldText).toContain('(in the idle slot, being installed by the running operation)')
    expect(heldText).toMatch(new RegExp(`running: +${held.lock!.id} \\(holds the lock\\)`))
    expect(heldText).not.toMatch(/unfinished|warm in the idle slot/)
    // --force does not override a holder known to be alive either.
    expect((await cli(slow, ['unlock', 'v1', '--force'])).code).toBe(3)
    expect((await status(slow)).lock).toMatchObject({ pid: holder.pid })
  } finally {
    holder.killGroup('SIGKILL')
  }
  const killed = await holder.result
  expect(killed.signal).toBe('SIGKILL')
  const gone = await status(slow)
  expect(gone.lock).toMatchObject({ pid: holder.pid, state: 'dead' })
  const opId = gone.lock!.id
  // Killed: unfinished now, and the release it left in the idle slot is half-installed.
  expect(gone).toMatchObject({ running: [], unfinished: [opId], idleComplete: false })
  const goneText = (await cli(slow, ['status', 'v1'])).stdout
  expect(goneText).toContain('half-installed: not a rollback target')
  expect(goneText).not.toContain('warm in the idle slot')

  const cleared = await cli(slow, ['unlock', 'v1'])
  expectExit(cleared, 0)
  expect(cleared.stdout).toBe(`lock of deploy ${opId} (erin) on site v1 cleared\n`)
  const after = await status(slow)
  expect(after.lock).toBeNull()
  // The killed deploy is still known as unfinished: the next operation recovers it.
  expect(after.unfinished).toEqual([opId])
})
