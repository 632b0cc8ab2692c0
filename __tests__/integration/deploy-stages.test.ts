/**
 * A deploy in stages (src/pipelines/deploy-stages.ts) on a real private Apache with mod_wsgi:
 * prepare leaves the new release verified in the idle slot, reachable with the slot header from
 * loopback while users stay on the old one, and the lock held by the run; only that run takes
 * the next stage, in order, on a site that did not change; undo puts users back whichever stage
 * was reached, with no failed request under load; a run that dies between stages leaves the
 * lock to its deadline, after which the next deploy recovers the site from the journal.
 */
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import {
  prepareStage,
  resumeStage,
  runAgainstIdle,
  type StageRun
} from '../../src/pipelines/deploy-stages.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { siteLayout } from '../../src/sites/layout.js'
import { readHolder } from '../../src/sites/lock.js'
import { pointSlot, readSiteState } from '../../src/sites/site-state.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { isFailure, startLoad } from '../helpers/load.js'
import { buildSampleRelease, makeTempDir, removeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'stages-secret-0123456789'
const RUN_A: StageRun = { run: 'acme/app/actions/runs/111', attempt: '1' }
const RUN_B: StageRun = { run: 'acme/app/actions/runs/222', attempt: '1' }
const exec = new LocalExecutor()
/** A smoke test: GET the idle slot's /__version__ through the environment it is given. */
const SMOKE_TEST = `
import os, sys, urllib.request
name, value = os.environ['SITECYCLE_IDLE_HEADER'].split(': ')
req = urllib.request.Request(os.environ['SITECYCLE_IDLE_URL'] + '/__version__',
    headers={name: value, 'Host': os.environ['SITECYCLE_IDLE_HOST']})
body = urllib.request.urlopen(req).read().decode().strip()
open(sys.argv[1], 'w').write(body + ' from ' + os.environ['SITECYCLE_IDLE_SLOT'])
`
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))

let apache: TestApache
let site: TestSite
let releases: string

interface JournalLine {
  id: string
  op: string
  event: string
  status?: string
  step?: string
}

async function journal(): Promise<JournalLine[]> {
  const text = await readFile(siteLayout(site.root).journal, 'utf8')
  return text
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as JournalLine)
}

const req = () => ({ config: site.config, site: site.site, exec, reporter: reporter() })

function prepare(version: string, run = RUN_A, holdMinutes?: number) {
  return prepareStage({
    ...req(),
    release: releases,
    version,
    run,
    ...(holdMinutes !== undefined && { holdMinutes }),
    lockWait: 0
  })
}

/** The version users get, and the one the idle slot serves through the private route. */
async function served(): Promise<{ users: string; idle: string }> {
  const state = await readSiteState(exec, site.site, site.config.app.python)
  const users = (await httpGet(`${site.url}/__version__`)).body
  const idle = (await httpGet(`${site.url}/__version__`, { 'X-Sitecycle-Slot': state.idleSlot }))
    .body
  return { users, idle }
}

async function refusal(p: Promise<unknown>): Promise<SitecycleError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x
  )
  expect(e).toBeInstanceOf(SitecycleError)
  return e as SitecycleError
}

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = SECRET
  releases = await makeTempDir('sitecycle-stages-')
  ;[apache] = await Promise.all([
    startApache(),
    ...['1.0.0', '2.0.0', '3.0.0', '4.0.0'].map(version =>
      buildSampleRelease({ version, releasesDir: releases })
    )
  ])
  site = await makeTestSite({ apache })
  await initSite({ ...req() })
  for (const version of ['1.0.0', '2.0.0']) await deploy({ ...req(), release: releases, version })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await removeTempDir(releases)
})

describe('a deploy in stages', () => {
  it('prepare, then switch and finish by the same run; other runs and wrong orders are refused', async () => {
    const prepared = await prepare('3.0.0')
    expect(prepared).toMatchObject({
      status: 'prepared',
      version: '2.0.0',
      targetVersion: '3.0.0',
      idle: { url: site.url, header: expect.stringMatching(/^X-Sitecycle-Slot: (blue|green)$/) }
    })
    // Users stay on 2.0.0; the new release answers through the private route only.
    expect(await served()).toEqual({ users: '2.0.0', idle: '3.0.0' })
    const holder = await readHolder(exec, site.root)
    expect(holder?.stage).toMatchObject({ reached: 'prepared', ...RUN_A })

    // Another operation waits for the run (here: refused at once), naming it.
    const other = await refusal(
      deploy({ ...req(), release: releases, version: '4.0.0', lockWait: 0 })
    )
    expect(other.kind).toBe('lock')
    expect(other.message).toContain(`prepared by run ${RUN_A.run} (attempt 1)`)
    // Another run, a re-run of the same one, a stage out of order: refused, nothing touched.
    const b = await refusal(resumeStage({ ...req(), run: RUN_B }, 'switch'))
    expect(b.kind).toBe('lock')
    expect(b.message).toMatch(
      /only that run takes its next stage \(this is run acme\/app\/actions\/runs\/222/
    )
    const rerun = await refusal(resumeStage({ ...req(), run: { ...RUN_A, attempt: '2' } }, 'undo'))
    expect(rerun.kind).toBe('lock')
    const early = await refusal(resumeStage({ ...req(), run: RUN_A }, 'finish'))
    expect(early.kind).toBe('stage')
    expect(early.message).toMatch(/is prepared: its next stage is switch \(or undo\), not finish/)
    expect(await served()).toEqual({ users: '2.0.0', idle: '3.0.0' })

    // A smoke test on this machine reaches the new release through the address it is given.
    const out = join(releases, 'smoke.txt')
    const smoke = await runAgainstIdle({
      ...req(),
      run: RUN_A,
      command: ['/usr/bin/python3', '-c', SMOKE_TEST, out]
    })
    expect(smoke.code).toBe(0)
    expect(await readFile(out, 'utf8')).toBe('3.0.0 from ' + smoke.env.SITECYCLE_IDLE_SLOT)
    expect(smoke.env).toMatchObject({
      SITECYCLE_IDLE_VERSION: '3.0.0',
      SITECYCLE_SITE_URL: site.url
    })
    const failing = await runAgainstIdle({
      ...req(),
      run: RUN_A,
      command: ['/bin/sh', '-c', 'exit 3']
    })
    expect(failing.code).toBe(3)
    const notOurs = await refusal(runAgainstIdle({ ...req(), run: RUN_B, command: ['/bin/true'] }))
    expect(notOurs.kind).toBe('lock')

    const switched = await resumeStage({ ...req(), run: RUN_A }, 'switch')
    expect(switched).toMatchObject({
      status: 'switched',
      version: '3.0.0',
      previousVersion: '2.0.0'
    })
    expect(switched.steps.map(s => [s.name, s.status])).toEqual([
      ['switch', 'ok'],
      ['verify-live', 'ok']
    ])
    expect(await served()).toEqual({ users: '3.0.0', idle: '2.0.0' })
    expect((await readHolder(exec, site.root))?.stage?.reached).toBe('switched')
    const again = await refusal(resumeStage({ ...req(), run: RUN_A }, 'switch'))
    expect(again.message).toMatch(/is switched: its next stage is finish/)

    const finished = await resumeStage({ ...req(), run: RUN_A }, 'finish')
    expect(finished).toMatchObject({ status: 'deployed', version: '3.0.0' })
    expect(await readHolder(exec, site.root)).toBeUndefined()
    const mine = (await journal()).filter(l => l.id === prepared.operationId)
    expect(mine.map(l => (l.event === 'step' ? l.step : l.event))).toEqual(
      expect.arrayContaining(['start', 'verify-idle', 'switch', 'verify-live', 'prune', 'end'])
    )
    expect(mine.filter(l => l.event === 'end')).toEqual([
      expect.objectContaining({ status: 'deployed' })
    ])
    // Nothing held any more: a later stage has nothing to take.
    const none = await refusal(resumeStage({ ...req(), run: RUN_A }, 'switch'))
    expect(none.message).toMatch(/no prepared deploy holds site v1/)
  })

  it.each(['prepared', 'switched'] as const)(
    'undo after the site was %s puts users back, with no failed request under load',
    async reached => {
      // 3.0.0 live, 2.0.0 warm in the idle slot.
      expect(await served()).toEqual({ users: '3.0.0', idle: '2.0.0' })
      await prepare('4.0.0')
      const load = startLoad({ url: `${site.url}/__version__`, concurrency: 4 })
      if (reached === 'switched') await resumeStage({ ...req(), run: RUN_A }, 'switch')
      const undone = await resumeStage({ ...req(), run: RUN_A }, 'undo')
      const report = await load.stop()
      expect(undone).toMatchObject({ status: 'rolled-back', version: '3.0.0', rolledBack: true })
      expect(report.failures).toEqual([])
      expect(report.samples.filter(isFailure)).toEqual([])
      expect(report.total).toBeGreaterThan(0)
      // Users on 3.0.0 again, 2.0.0 warm again; the lock released, the run closed.
      expect(await served()).toEqual({ users: '3.0.0', idle: '2.0.0' })
      expect(await readHolder(exec, site.root)).toBeUndefined()
      const ends = (await journal()).filter(l => l.id === undone.operationId && l.event === 'end')
      expect(ends).toEqual([expect.objectContaining({ status: 'rolled-back' })])
      if (reached === 'switched')
        expect(Object.keys(report.versions).sort()).toEqual(['3.0.0', '4.0.0'])
      else expect(Object.keys(report.versions)).toEqual(['3.0.0'])
    }
  )

  it('a stage killed half-way is undone by its own run', async () => {
    await prepare('4.0.0')
    await resumeStage({ ...req(), run: RUN_A }, 'switch')
    // As a switch stage's process leaves it when killed: the lock held by that (gone) process.
    const file = siteLayout(site.root).lockHolder
    const holder = JSON.parse(await readFile(file, 'utf8'))
    delete holder.stage
    const gone = spawnSync('true')
    holder.pid = gone.pid
    delete holder.start
    await writeFile(file, JSON.stringify(holder))
    // Another run may not; this run's undo finds the switch in the journal and switches back.
    const other = await refusal(resumeStage({ ...req(), run: RUN_B }, 'undo'))
    expect(other.kind).toBe('lock')
    const undone = await resumeStage({ ...req(), run: RUN_A }, 'undo')
    expect(undone).toMatchObject({ status: 'rolled-back', version: '3.0.0' })
    expect(undone.steps.map(s => s.name)).toEqual(['switch-back'])
    expect(await served()).toEqual({ users: '3.0.0', idle: '2.0.0' })
    expect(await readHolder(exec, site.root)).toBeUndefined()
  })

  it('undo with nothing held has nothing to do', async () => {
    const o = await resumeStage({ ...req(), run: RUN_A }, 'undo')
    expect(o).toMatchObject({ status: 'unchanged', version: '3.0.0', notes: ['nothing to undo'] })
  })

  it('refuses to switch a site changed since prepare', async () => {
    await prepare('4.0.0')
    const state = await readSiteState(exec, site.site, site.config.app.python)
    // Someone pointed the idle slot elsewhere by hand meanwhile.
    await pointSlot(exec, site.site, site.config.app.python, state.idleSlot, '1.0.0')
    const e = await refusal(resumeStage({ ...req(), run: RUN_A }, 'switch'))
    expect(e.kind).toBe('stage')
    expect(e.message).toMatch(/changed since the deploy of 4\.0\.0 was prepared/)
    expect((await httpGet(`${site.url}/__version__`)).body).toBe('3.0.0')
    await resumeStage({ ...req(), run: RUN_A }, 'undo')
    expect(await readHolder(exec, site.root)).toBeUndefined()
  })

  it('a run that dies between stages: after its deadline the next deploy recovers the site and goes on', async () => {
    const prepared = await prepare('4.0.0')
    // The run is gone: its deadline passes (written as already passed, instead of waiting).
    const file = siteLayout(site.root).lockHolder
    const holder = JSON.parse(await readFile(file, 'utf8'))
    holder.stage.until = new Date(Date.now() - 1000).toISOString()
    await writeFile(file, JSON.stringify(holder))
    // Its own later stage is refused now (another operation may take the site over).
    const late = await refusal(resumeStage({ ...req(), run: RUN_A }, 'switch'))
    expect(late.message).toMatch(/was held only until/)

    const next = await deploy({ ...req(), release: releases, version: '4.0.0', lockWait: 0 })
    expect(next).toMatchObject({ status: 'deployed', version: '4.0.0', previousVersion: '3.0.0' })
    expect(lines.join('\n')).toContain('taking over the lock of a run that is gone')
    const recovered = (await journal()).filter(
      l => l.id === prepared.operationId && l.event === 'recovered'
    )
    expect(recovered).toHaveLength(1)
    expect(await served()).toEqual({ users: '4.0.0', idle: '3.0.0' })
  })

  it('refuses a staged deploy where it cannot be one, before touching the site', async () => {
    const e = await refusal(
      prepareStage({ ...req(), release: releases, version: '4.0.0', run: RUN_A, allowBad: true })
    )
    expect(e.kind).toBe('input')
    expect(e.message).toMatch(/--allow-bad is not taken by a deploy in stages/)
    expect(e).not.toBeInstanceOf(OperationFailed)
    expect(await readHolder(exec, site.root)).toBeUndefined()
  })
})
