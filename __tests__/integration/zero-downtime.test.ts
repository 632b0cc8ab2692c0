/**
 * Zero downtime, measured: a real private Apache serves the sample under continuous keep-alive
 * load while the site goes through deploy v1 -> v2, two broken v3s (one answers 500, one fails
 * to import: both refused at the idle slot, so users never see them), a rollback to v1 and a
 * deploy of v4. Not one request may fail, no user
 * may see a release before its switch, and every request started a short window after a
 * switch must be answered by the release switched to.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import type { Reporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import {
  now,
  settleAfter,
  startedBetween,
  startLoad,
  type LoadReport,
  type LoadSample,
  type RunningLoad
} from '../helpers/load.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

/**
 * After the rename of live.map, each Apache child re-reads the map on its next request that
 * needs it (it stats the file per lookup), so a request sent after the switch step ended is
 * routed to the new release; requests already past the rewrite when the rename happened still
 * finish on the old group. The checks below are about order (sent before or after the step),
 * never about how long anything took.
 */
const CONCURRENCY = 16

/** A Reporter that remembers when each step started and ended (the `switch` step holds the rename). */
class TimingReporter implements Reporter {
  readonly starts = new Map<string, number>()
  readonly ends = new Map<string, number>()
  readonly lines: string[] = []
  info(m: string): void {
    this.lines.push(m)
  }
  warn(m: string): void {
    this.lines.push(`warning: ${m}`)
  }
  stepStart(name: string): void {
    this.starts.set(name, now())
  }
  stepEnd(name: string, status: string, ms: number, note?: string): void {
    this.ends.set(name, now())
    this.lines.push(`${name} ${status} ${ms}ms ${note ?? ''}`)
  }
  addSecret(): void {}
  /** When the switch step ran: the rename happened in [start, end]. */
  switchWindow(): { start: number; end: number } {
    const start = this.starts.get('switch')
    const end = this.ends.get('switch')
    if (start === undefined || end === undefined)
      throw new Error(`no switch step was reported:\n${this.lines.join('\n')}`)
    return { start, end }
  }
}

let apache: TestApache
let site: TestSite
let releases: string
const exec = new LocalExecutor()

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'zero-downtime-secret'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '3.0.0', releasesDir: releases, broken: 'health' }),
    buildSampleRelease({ version: '3.0.1', releasesDir: releases, broken: 'import' }),
    buildSampleRelease({ version: '4.0.0', releasesDir: releases })
  ])
  apache = await startApache()
  site = await makeTestSite({ apache, hooks: [] })
  await initSite({ config: site.config, site: site.site, exec, reporter: new TimingReporter() })
  await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: new TimingReporter(),
    release: releases,
    version: '1.0.0'
  })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  if (releases) await rm(releases, { recursive: true, force: true })
})

function describeSamples(samples: LoadSample[], origin: number): string {
  return samples
    .slice(0, 5)
    .map(
      s =>
        `+${(s.start - origin).toFixed(1)}ms status=${s.status} version=${s.version} ${s.error ?? s.body.slice(0, 80)}`
    )
    .join('\n')
}

interface SwitchCheck {
  /** When the switch step started and ended (the rename is inside). */
  window: { start: number; end: number }
  from: string
  to: string
  /** The previous switch's end (or the load's start): `to` must not answer from here to the rename. */
  since: number
  /** The next switch's start, if any: the check stops there. */
  until?: number
}

/** Check one switch seen by the load: no request answered before the switch step began got
 * `to`; every request sent after it ended got `to`. Returns the lag: from the start of the
 * switch step (the rename, done here or by a host program) to the start of the last request
 * still answered by another release (reported, not asserted). */
function expectSwitch(samples: LoadSample[], c: SwitchCheck): number {
  const until = c.until ?? Infinity
  // Answered before the switch step began: a request still in flight then may be routed after
  // the rename (it is routed when Apache rewrites it), so only those already answered count.
  const early = startedBetween(samples, c.since, c.window.start).filter(
    s => s.version === c.to && s.end <= c.window.start
  )
  expect(describeSamples(early, c.window.start)).toBe('')
  // Up to the next switch: requests still in flight when it began may be routed after its rename.
  const before = samples.filter(s => s.end <= until)
  const late = settleAfter(before, c.to, c.window.end, until)
  expect(describeSamples(late.other, c.window.end)).toBe('')
  // The old release served up to the switch, the new one after: the load saw the change happen.
  expect(
    startedBetween(samples, c.window.start - 500, c.window.start).some(s => s.version === c.from)
  ).toBe(true)
  expect(startedBetween(samples, c.window.end, until).some(s => s.version === c.to)).toBe(true)
  return settleAfter(before, c.to, c.window.start, until).lagMs
}

test('under continuous load, deploys, refused broken releases and a rollback fail no request and switch versions as expected', async () => {
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  const load: RunningLoad = startLoad({
    url: `${site.url}/__version__`,
    concurrency: CONCURRENCY,
    maxSeconds: 90
  })
  let report: LoadReport
  const d2 = new TimingReporter()
  const r3 = new TimingReporter()
  const r31 = new TimingReporter()
  const rb = new TimingReporter()
  const d4 = new TimingReporter()
  let err3: unknown
  let err31: unknown
  const t0 = now()
  try {
    await new Promise(r => setTimeout(r, 500))
    await deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: d2,
      release: releases,
      version: '2.0.0'
    })
    await new Promise(r => setTimeout(r, 300))
    await deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: r3,
      release: releases,
      version: '3.0.0'
    }).catch(e => {
      err3 = e
    })
    await deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: r31,
      release: releases,
      version: '3.0.1'
    }).catch(e => {
      err31 = e
    })
    await new Promise(r => setTimeout(r, 300))
    const back = await rollback({ config: site.config, site: site.site, exec, reporter: rb })
    expect(back).toMatchObject({
      status: 'rolled-back',
      version: '1.0.0',
      previousVersion: '2.0.0'
    })
    await new Promise(r => setTimeout(r, 300))
    await deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: d4,
      release: releases,
      version: '4.0.0'
    })
    await new Promise(r => setTimeout(r, 500))
  } finally {
    report = await load.stop()
  }
  const samples = report.samples

  // The broken releases (one answers 500, one fails to import) were refused before users
  // reached them, and their undo left v2 serving.
  for (const [err, rep] of [
    [err3, r3],
    [err31, r31]
  ] as const) {
    expect(err).toBeInstanceOf(OperationFailed)
    expect((err as OperationFailed).outcome).toMatchObject({
      failedStep: 'verify-idle',
      version: '2.0.0'
    })
    expect(rep.starts.has('switch')).toBe(false)
  }

  // Enough load to mean something: many requests, in flight through every operation.
  expect(report.total).toBeGreaterThan(1000)
  expect(report.failures.map(f => `status=${f.status} ${f.error ?? f.body}`)).toEqual([])
  expect(report.failed).toBe(0)

  // Only the releases that were switched in ever answered a user; no broken v3 ever did.
  expect(Object.keys(report.versions).sort()).toEqual(['1.0.0', '2.0.0', '4.0.0'])
  expect(samples.every(s => s.version !== null)).toBe(true)

  const [w2, wb, w4] = [d2.switchWindow(), rb.switchWindow(), d4.switchWindow()]
  const lags = [
    expectSwitch(samples, {
      window: w2,
      from: '1.0.0',
      to: '2.0.0',
      since: report.startedAt,
      until: wb.start
    }),
    expectSwitch(samples, {
      window: wb,
      from: '2.0.0',
      to: '1.0.0',
      since: w2.end,
      until: w4.start
    }),
    expectSwitch(samples, { window: w4, from: '1.0.0', to: '4.0.0', since: wb.end })
  ]
  // Through the refused deploys of v3, from their start to the rollback's switch, only v2 answered.
  const v3From = r3.starts.get('preflight') ?? t0
  const during3 = startedBetween(samples, v3From, wb.start).filter(s => s.end <= wb.start)
  expect(during3.length).toBeGreaterThan(0)
  expect(
    describeSamples(
      during3.filter(s => s.version !== '2.0.0'),
      v3From
    )
  ).toBe('')
  // The last requests are v4.
  expect(samples[samples.length - 1].version).toBe('4.0.0')
  // No request answered by v4 ended before its switch step began.
  expect(samples.filter(s => s.version === '4.0.0' && s.end < w4.start)).toEqual([])

  // Printed for whoever reads the test log: the measured lag after each rename.
  console.log(
    `zero-downtime: ${report.total} requests, ${report.failed} failed, p50 ${report.p50Ms.toFixed(1)} ms, p99 ${report.p99Ms.toFixed(1)} ms, ` +
      `last old answer after the switch step started (deploy v2, rollback, deploy v4): ${lags.map(l => l.toFixed(1)).join(', ')} ms; ` +
      `switch steps took ${[w2, wb, w4].map(w => (w.end - w.start).toFixed(1)).join(', ')} ms`
  )
})
