/**
 * The deploy benchmark (`npm run bench:deploy`): how much a sitecycle deploy costs over a bare
 * pip install of the same wheel, and whether users notice deploys and rollbacks at all.
 *
 * It sets up everything itself on loopback (a private Apache with mod_wsgi, a blue/green site
 * in a temp dir, the sample application built at three versions), measures, and removes it all.
 * The load runs in a child process (this same file with --load-child) so that the deploy's own
 * work in this process does not delay the load generator's timers and inflate its latencies.
 *
 * Figures go to stdout, one a line, as `name value unit`; progress goes to stderr.
 */
import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../src/config/model.js'
import { freePort, startApache, type PrivateApache } from '../src/demo/private-apache.js'
import type { Command } from '../src/commands/command.js'
import type { RunOptions, RunResult } from '../src/hosts/executor.js'
import { LocalExecutor } from '../src/hosts/local-executor.js'
import { deploy } from '../src/pipelines/deploy.js'
import { initSite } from '../src/pipelines/init.js'
import { rollback } from '../src/pipelines/rollback.js'
import { buildRelease } from '../src/releases/build.js'
import { benchRealDeploy } from './deploy-real.js'
import { median, timeBareInstall } from './bare-install.js'
import { prepareSampleSource } from '../src/releases/sample-source.js'
import type { Reporter } from '../src/util/reporter.js'
import {
  isFailure,
  latencies,
  now,
  percentile,
  settleAfter,
  startedBetween,
  startLoad,
  type LoadSample
} from '../__tests__/helpers/load.js'

/** Settings of one benchmark run (command-line flags). */
interface BenchSettings {
  /** Concurrent keep-alive connections of the load (--concurrency). */
  concurrency: number
  /** Requests per second of the load in all; 0: as fast as answers come (--rate). */
  rate: number
  /** Seconds of load with no deploy, for p99_rest_ms (--rest-seconds). */
  restSeconds: number
  /** Bare installs timed; their median is bare_install_s (--bare-runs). */
  bareRuns: number
  /** Deploys without load timed, each of a new version; their median is deploy_s (--deploy-runs). */
  deployRuns: number
  /** Deploys of the Django example timed, each of a new version (--real-runs; 0: not measured). */
  realRuns: number
  /** Measure the Django example only, not the sample (--only real). */
  onlyReal: boolean
  /** Print the pipelines' step lines on stderr (--verbose). */
  verbose: boolean
}

/** The first deploy's version (not measured), the measured deploys' (one per --deploy-runs:
 * 2.0.0, 2.1.0, ...), and the one deployed under load. */
const FIRST = '1.0.0'
const UNDER_LOAD = '3.0.0'
const measuredVersions = (runs: number) => Array.from({ length: runs }, (_, i) => `2.${i}.0`)

function parseArgs(argv: string[]): BenchSettings {
  const s: BenchSettings = {
    concurrency: 16,
    rate: 0,
    restSeconds: 5,
    bareRuns: 3,
    deployRuns: 3,
    realRuns: 3,
    onlyReal: false,
    verbose: false
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const num = (): number => {
      const v = Number(argv[++i])
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number, got '${argv[i]}'`)
      return v
    }
    if (a === '--concurrency') s.concurrency = Math.round(num())
    else if (a === '--rate') s.rate = num()
    else if (a === '--rest-seconds') s.restSeconds = num()
    else if (a === '--bare-runs') s.bareRuns = Math.round(num())
    else if (a === '--deploy-runs') s.deployRuns = Math.max(1, Math.round(num()))
    else if (a === '--real-runs') s.realRuns = Math.round(num())
    else if (a === '--only' && argv[i + 1] === 'real') s.onlyReal = Boolean(++i)
    else if (a === '--verbose') s.verbose = true
    else
      throw new Error(
        `unknown argument '${a}': expected --concurrency N, --rate R, --rest-seconds S, --bare-runs N, --deploy-runs N, --real-runs N, --only real, --verbose`
      )
  }
  return s
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

/** Print one figure: `name value unit`. */
function figure(name: string, value: number, unit: string, digits = 3): void {
  process.stdout.write(`${name} ${value.toFixed(digits)} ${unit}\n`)
}

/** A Reporter that keeps when each step started and ended, and how long it took. */
class TimingReporter implements Reporter {
  readonly starts = new Map<string, number>()
  readonly ends = new Map<string, number>()
  readonly durations = new Map<string, number>()
  constructor(private readonly verbose: boolean) {}
  info(m: string): void {
    if (this.verbose) progress(m)
  }
  warn(m: string): void {
    progress(`warning: ${m}`)
  }
  stepStart(name: string): void {
    this.starts.set(name, now())
  }
  stepEnd(name: string, status: string, ms: number, note?: string): void {
    this.ends.set(name, now())
    this.durations.set(name, ms)
    if (this.verbose || status !== 'ok')
      progress(`   ${name} ${status} ${ms} ms${note ? `: ${note}` : ''}`)
  }
  addSecret(): void {}
}

/** One command an operation ran on the host, and when. */
interface CommandTiming {
  start: number
  ms: number
  /** `python -c` (a host script), `pip`, `venv`, `compileall`, or the program's name. */
  kind: string
}

/** The local Executor, timing every command it runs (to say what an operation's time goes to). */
class TimingExecutor extends LocalExecutor {
  readonly commands: CommandTiming[] = []
  override async tryRun(command: Command, options?: RunOptions): Promise<RunResult> {
    const start = now()
    try {
      return await super.tryRun(command, options)
    } finally {
      this.commands.push({ start, ms: now() - start, kind: commandKind(command.argv) })
    }
  }
  /** Commands started in [from, to), by kind: count and seconds. */
  between(from: number, to: number): Map<string, { count: number; s: number }> {
    const out = new Map<string, { count: number; s: number }>()
    for (const c of this.commands.filter(c => c.start >= from && c.start < to)) {
      const k = out.get(c.kind) ?? { count: 0, s: 0 }
      out.set(c.kind, { count: k.count + 1, s: k.s + c.ms / 1000 })
    }
    return out
  }
}

function commandKind(niced: string[]): string {
  // The deploy's heavy work runs under `nice -n N`: count it as what it runs.
  const argv = niced[0] === 'nice' && niced[1] === '-n' ? niced.slice(3) : niced
  // A host script: python -I [-S] -c PROGRAM ...
  const flags = argv.slice(1, argv.indexOf('-c') + 1)
  if (flags.length && flags.every(a => /^-[A-Za-z]$/.test(a))) return 'python_c'
  const pipVerb = () =>
    `pip_${argv.find(a => !a.startsWith('-') && ['install', 'wheel'].includes(a)) ?? 'other'}`
  // pip run in a virtualenv's interpreter through pip's own runner
  if (argv[1]?.endsWith('/__pip-runner__.py')) return pipVerb()
  if (argv[1] === '-m') return argv[2] === 'pip' ? pipVerb() : argv[2]
  return basename(argv[0]).replace(/\W/g, '_')
}

/** Print, for the commands an operation ran in [from, to), their count and seconds by kind. */
function commandFigures(prefix: string, exec: TimingExecutor, from: number, to: number): void {
  let count = 0
  let total = 0
  for (const [kind, v] of [...exec.between(from, to)].sort((a, b) => b[1].s - a[1].s)) {
    figure(`${prefix}_${kind}_count`, v.count, 'commands', 0)
    figure(`${prefix}_${kind}_s`, v.s, 's')
    count += v.count
    total += v.s
  }
  figure(`${prefix}_commands_count`, count, 'commands', 0)
  figure(`${prefix}_commands_s`, total, 's')
}

// ---------------------------------------------------------------------------------------------
// The load, in a child process

interface LoadResult {
  samples: LoadSample[]
}

/** Child mode: run the load until a line arrives on stdin, then print the samples as JSON. */
async function runLoadChild(
  url: string,
  concurrency: number,
  rate: number,
  maxSeconds: number
): Promise<void> {
  const load = startLoad({ url, concurrency, ratePerSecond: rate || undefined, maxSeconds })
  process.stdout.write('started\n')
  const lines = createInterface({ input: process.stdin })
  await new Promise<void>(resolve => {
    lines.once('line', () => resolve())
    lines.once('close', () => resolve())
  })
  const report = await load.stop()
  const compact = report.samples.map(s => [s.start, s.end, s.status, s.version, s.error ?? null])
  process.stdout.write(JSON.stringify(compact) + '\n', () => process.exit(0))
}

/** A load running in a child process; stop() returns its samples. */
interface ChildLoad {
  stop(): Promise<LoadResult>
}

async function startChildLoad(url: string, s: BenchSettings, maxSeconds = 300): Promise<ChildLoad> {
  const self = fileURLToPath(import.meta.url)
  const args = [
    self,
    '--load-child',
    url,
    String(s.concurrency),
    String(s.rate),
    String(maxSeconds)
  ]
  // process.execArgv: the loader hook this process runs with (bench/deploy.mjs), which the host
  // programs' text imports need in the child as well.
  const child = spawn(process.execPath, [...process.execArgv, ...args], {
    stdio: ['pipe', 'pipe', 'inherit']
  })
  const chunks: Buffer[] = []
  let started: () => void
  const ready = new Promise<void>(r => (started = r))
  child.stdout.on('data', (b: Buffer) => {
    chunks.push(b)
    if (Buffer.concat(chunks).includes('started\n')) started()
  })
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => resolve(code ?? 1))
  })
  await Promise.race([
    ready,
    exited.then(code =>
      Promise.reject(new Error(`the load process exited with code ${code} before it started`))
    )
  ])
  return {
    async stop() {
      child.stdin.end('stop\n')
      const code = await exited
      const out = Buffer.concat(chunks).toString('utf8')
      const json = out.slice(out.indexOf('started\n') + 'started\n'.length).trim()
      if (code !== 0 || !json) throw new Error(`the load process failed (exit code ${code})`)
      const rows = JSON.parse(json) as [
        number,
        number,
        number | null,
        string | null,
        string | null
      ][]
      return {
        samples: rows.map(([start, end, status, version, error]) => ({
          start,
          end,
          status,
          version,
          body: '',
          ...(error ? { error } : {})
        }))
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms))
}

function describeFailures(samples: LoadSample[]): string {
  const failed = samples.filter(isFailure)
  return failed
    .slice(0, 5)
    .map(s => `status=${s.status} version=${s.version} ${s.error ?? ''}`)
    .join('; ')
}

// ---------------------------------------------------------------------------------------------
// Set-up

async function buildSample(work: string, version: string): Promise<void> {
  const source = await prepareSampleSource({ version, into: join(work, 'src') })
  await buildRelease({ sourceDir: source, outDir: join(work, 'releases'), commit: null })
}

async function makeSite(
  work: string,
  apache: PrivateApache
): Promise<{ config: SitecycleConfig; site: SiteConfig; url: string }> {
  const port = await freePort()
  const root = join(work, 'site')
  await mkdir(join(work, 'deploy'), { recursive: true })
  await writeFile(
    join(work, 'deploy', 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nroot = {{ site.root }}\nversion = {{ release.version }}\n'
  )
  // No after_install hooks: they are the application's own work, not sitecycle's overhead.
  const yaml = `
app:
  package: sitecycle-sample
  wsgi: sitecycle_sample.wsgi:application
sites:
  bench:
    host: local
    root: ${root}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    keep_releases: 5
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
      mode: blue-green
`
  const file = join(work, 'sitecycle.yml')
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  return { config, site: config.sites.bench, url: `http://127.0.0.1:${port}` }
}

/** Seconds of one bare install of the sample's wheel alone (its dependencies are none). */
function bareInstall(work: string, wheel: string, n: number): Promise<number> {
  return timeBareInstall(join(work, `bare-${n}`), ['--no-deps', wheel])
}

function expectOk(what: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${what}: ${detail}`)
}

// ---------------------------------------------------------------------------------------------
// The measurements

async function bench(settings: BenchSettings): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sitecycle-bench-'))
  await chmod(work, 0o755)
  let apache: PrivateApache | undefined
  const exec = new TimingExecutor()
  const real = () =>
    benchRealDeploy({
      work,
      apache: apache!,
      exec,
      runs: settings.realRuns,
      bareRuns: settings.bareRuns,
      reporter: () => new TimingReporter(settings.verbose),
      figure,
      progress
    })
  try {
    if (settings.onlyReal) {
      apache = await startApache(join(work, 'apache'))
      return await real()
    }
    const measured = measuredVersions(settings.deployRuns)
    const versions = [FIRST, ...measured, UNDER_LOAD]
    progress(`building the sample at ${versions.join(', ')} in ${work}`)
    for (const v of versions) await buildSample(work, v)
    apache = await startApache(join(work, 'apache'))
    const { config, site, url } = await makeSite(work, apache)
    const releases = join(work, 'releases')
    const health = `${url}/__version__`
    const reporter = () => new TimingReporter(settings.verbose)

    progress(`init and first deploy (${FIRST}, not measured)`)
    await initSite({ config, site, exec, reporter: reporter() })
    await deploy({ config, site, exec, reporter: reporter(), release: releases, version: FIRST })

    progress(`bare install of the ${measured[0]} wheel, ${settings.bareRuns} times`)
    const wheelDir = join(releases, measured[0])
    const wheel = join(
      wheelDir,
      (await readdir(wheelDir)).find(f => f.endsWith('.whl')) ?? 'missing.whl'
    )
    const bare: number[] = []
    for (let i = 0; i < settings.bareRuns; i++) bare.push(await bareInstall(work, wheel, i))

    // Each measured deploy installs a new version (same package, same size), as the bare
    // installs install the same wheel again: deploy_s is their median, as bare_install_s is.
    const runs: { version: string; s: number; t0: number; steps: TimingReporter }[] = []
    for (const version of measured) {
      progress(`deploy of ${version} without load`)
      const steps = reporter()
      const t0 = now()
      const o = await deploy({ config, site, exec, reporter: steps, release: releases, version })
      runs.push({ version, s: (now() - t0) / 1000, t0, steps })
      expectOk(`deploy ${version}`, o.status === 'deployed', JSON.stringify(o))
    }
    // The median run (the lower middle one of an even count): its steps and commands are shown.
    const middle = [...runs].sort((a, b) => a.s - b.s)[Math.floor((runs.length - 1) / 2)]
    const deployS = middle.s
    const d2 = middle.steps
    const t2 = middle.t0
    const lastMeasured = measured[measured.length - 1]

    const pace = settings.rate ? `${settings.rate} requests/s` : 'closed loop'
    progress(
      `${settings.restSeconds} s of load at concurrency ${settings.concurrency} (${pace}), no deploy`
    )
    const rest = await startChildLoad(health, settings)
    await sleep(settings.restSeconds * 1000)
    const restSamples = (await rest.stop()).samples

    progress(`deploy of ${UNDER_LOAD} under load`)
    const deployLoad = await startChildLoad(health, settings)
    await sleep(1000)
    const d3 = reporter()
    const t3 = now()
    const o3 = await deploy({
      config,
      site,
      exec,
      reporter: d3,
      release: releases,
      version: UNDER_LOAD
    })
    const t3end = now()
    await sleep(1000)
    const deploySamples = (await deployLoad.stop()).samples
    expectOk(`deploy ${UNDER_LOAD}`, o3.status === 'deployed', JSON.stringify(o3))

    progress(`rollback to ${lastMeasured} under load`)
    const rollbackLoad = await startChildLoad(health, settings)
    await sleep(1000)
    const rb = reporter()
    const tb = now()
    const ob = await rollback({ config, site, exec, reporter: rb })
    const tbend = now()
    await sleep(1000)
    const rollbackSamples = (await rollbackLoad.stop()).samples
    expectOk(
      'rollback',
      ob.status === 'rolled-back' && ob.version === lastMeasured,
      JSON.stringify(ob)
    )

    // deploy_s against a bare install of the same wheel
    const bareS = median(bare)
    for (const [i, r] of runs.entries()) figure(`deploy_run_${i + 1}_s`, r.s, 's')
    figure('deploy_s', deployS, 's')
    figure('bare_install_s', bareS, 's')
    figure('deploy_ratio', deployS / bareS, 'x', 2)
    // Apache's parent respawns the idle group's daemons on its once-a-second maintenance tick:
    // restart-idle signals them before pip runs, and await-idle waits for what of that tick
    // the install did not cover (0 to about 0.3 s here, by chance). The same figures without
    // that wait, to compare runs whatever the tick did.
    const awaitIdleS = (d2.durations.get('await-idle') ?? 0) / 1000
    figure('deploy_without_await_idle_s', deployS - awaitIdleS, 's')
    figure('deploy_ratio_without_await_idle', (deployS - awaitIdleS) / bareS, 'x', 2)
    for (const [name, ms] of d2.durations)
      figure(`deploy_step_${name.replace(/-/g, '_')}_s`, ms / 1000, 's')
    commandFigures('deploy_cmd', exec, t2, t2 + deployS * 1000)

    // Failed requests and latency
    for (const [name, samples] of [
      ['rest', restSamples],
      ['deploy', deploySamples],
      ['rollback', rollbackSamples]
    ] as const) {
      const failed = samples.filter(isFailure).length
      figure(`failed_requests_${name}`, failed, 'requests', 0)
      figure(`requests_${name}`, samples.length, 'requests', 0)
      if (failed) progress(`failed requests during ${name}: ${describeFailures(samples)}`)
    }
    const p99Rest = percentile(latencies(restSamples), 99)
    const during3 = startedBetween(deploySamples, t3, t3end)
    const p99Switch = percentile(latencies(during3), 99)
    const switch3 = d3.starts.get('switch') ?? t3
    const aroundSwitch = startedBetween(
      deploySamples,
      switch3 - 500,
      (d3.ends.get('switch') ?? switch3) + 500
    )
    figure('p50_rest_ms', percentile(latencies(restSamples), 50), 'ms', 2)
    figure('p99_rest_ms', p99Rest, 'ms', 2)
    figure('p99_switch_ms', p99Switch, 'ms', 2)
    figure('p99_switch_ratio', p99Rest ? p99Switch / p99Rest : 0, 'x', 2)
    figure('p99_around_switch_ms', percentile(latencies(aroundSwitch), 99), 'ms', 2)
    figure('deploy_under_load_s', (t3end - t3) / 1000, 's')
    // What raises the tail during a deploy: p99 of the requests started during each step.
    for (const [name, start] of d3.starts) {
      const during = startedBetween(deploySamples, start, d3.ends.get(name) ?? t3end)
      if (during.length >= 100)
        figure(
          `p99_during_${name.replace(/-/g, '_')}_ms`,
          percentile(latencies(during), 99),
          'ms',
          2
        )
    }

    // Rollback: the call, and until the load sees only the old release
    const settle = settleAfter(rollbackSamples, lastMeasured, tb)
    const firstAllOld =
      rollbackSamples.find(s => s.start > (settle.lastOtherStart ?? tb))?.start ?? tb
    const rollbackSwitch = rb.starts.get('switch') ?? tb
    figure('rollback_s', (firstAllOld - tb) / 1000, 's')
    figure('rollback_call_s', (tbend - tb) / 1000, 's')
    figure('rollback_until_switch_step_s', (rollbackSwitch - tb) / 1000, 's')
    figure('rollback_switch_lag_ms', Math.max(0, firstAllOld - rollbackSwitch), 'ms', 1)
    for (const [name, ms] of rb.durations)
      figure(`rollback_step_${name.replace(/-/g, '_')}_s`, ms / 1000, 's')
    commandFigures('rollback_cmd_before_switch', exec, tb, rollbackSwitch)

    // The same comparison for a real application: the Django example with its dependencies.
    await real()
  } finally {
    if (apache) await apache.stop().catch(e => progress(`could not stop Apache: ${e}`))
    await rm(work, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv[0] === '--load-child')
    return runLoadChild(argv[1], Number(argv[2]), Number(argv[3]), Number(argv[4]))
  await bench(parseArgs(argv))
}

main().catch(e => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})
