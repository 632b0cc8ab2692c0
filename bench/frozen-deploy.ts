/**
 * The frozen-deploy benchmark (`npm run bench:frozen`): what putting a database back costs a
 * frozen site (`hooks.freeze`) whose application keeps a PostgreSQL connection per daemon thread.
 * It starts a private Apache and PostgreSQL on loopback, deploys the test application
 * (__tests__/fixtures/pg-app) at 1.0.0, then, under load on `/` (users) and on the health path
 * (monitors), a 2.0.0 whose hook migrates and whose health check fails, and prints:
 *
 * - `freeze_step_s`: the freeze step (flag written, live group restarted so that the requests
 *   admitted before it finish before the dump);
 * - `failed_deploy_s`: the whole failed deploy, undos included;
 * - `health_held_s`: from the first to the last maintenance answer the health path got (the site
 *   is held while its database goes back);
 * - `users_503_count`, `bad_answers_count` (anything but 200 and the maintenance answer, users and
 *   monitors: must be 0), `terminated_connections_count` (PostgreSQL's "terminating connection
 *   due to administrator command" lines: must be 0).
 *
 * Figures go to stdout, one a line, as `name value unit`; progress goes to stderr. Wheels of
 * psycopg2-binary come from SITECYCLE_TEST_WHEELHOUSE (default ../shared/wheelhouse).
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig } from '../src/config/load-config.js'
import { startApache } from '../src/demo/private-apache.js'
import { LocalExecutor } from '../src/hosts/local-executor.js'
import { deploy } from '../src/pipelines/deploy.js'
import { initSite } from '../src/pipelines/init.js'
import { buildRelease } from '../src/releases/build.js'
import type { Reporter } from '../src/util/reporter.js'
import { startPostgres } from '../__tests__/helpers/databases.js'
import { now, startLoad, type LoadSample } from '../__tests__/helpers/load.js'
import { makeTestSite } from '../__tests__/helpers/site.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const WHEELHOUSE =
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? resolve(REPO, '..', 'shared', 'wheelhouse')
const DB = 'shop'
const PAGE = '<title>Maintenance</title>'

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`)
}

function figure(name: string, value: number, unit: string, digits = 3): void {
  process.stdout.write(`${name} ${value.toFixed(digits)} ${unit}\n`)
}

/** A Reporter that keeps how long each step took. */
class StepTimes implements Reporter {
  readonly ms = new Map<string, number>()
  info(): void {}
  warn(m: string): void {
    progress(`warning: ${m}`)
  }
  stepStart(): void {}
  stepEnd(name: string, _status: string, ms: number): void {
    this.ms.set(name, ms)
  }
  addSecret(): void {}
}

const maintenance = (s: LoadSample) => s.status === 503 && s.body.includes(PAGE)

async function bench(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'sitecycle-bench-frozen-'))
  const releases = join(tmp, 'releases')
  await mkdir(releases)
  process.env.PIP_CONFIG_FILE = '/dev/null'
  for (const k of ['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL']) delete process.env[k]
  process.env.SAMPLE_SECRET_KEY = 'bench-frozen-secret-0123456789'
  progress('starting Apache and PostgreSQL')
  const [apache, pg] = await Promise.all([startApache(), startPostgres()])
  const exec = new LocalExecutor()
  try {
    for (const [version, broken] of [
      ['1.0.0', false],
      ['2.0.0', true]
    ] as const) {
      progress(`building the test application ${version}`)
      const src = join(tmp, `src-${version}`)
      await cp(join(REPO, '__tests__', 'fixtures', 'pg-app'), src, { recursive: true })
      await writeFile(
        join(src, 'pgapp', '_version.py'),
        `__version__ = "${version}"\nBROKEN = ${broken ? 'True' : 'False'}\n`
      )
      await buildRelease({
        sourceDir: src,
        outDir: releases,
        commit: null,
        wheelhouse: { findLinks: [WHEELHOUSE] }
      })
    }
    pg.sql('postgres', `create database ${DB}`)
    pg.sql(
      DB,
      `create table notes (id int primary key, body text not null);
       insert into notes select i, 'note ' || i from generate_series(1, 1000) i;`
    )
    const site = await makeTestSite({
      apache,
      hooks: ['python -m pgapp.migrate'],
      siteYaml: `database: { engine: postgres, name: ${DB}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }`,
      template: `dsn = host=${pg.socketDir} port=${pg.port} dbname=${DB} user=postgres\n`
    })
    const file = join(site.dir, 'sitecycle.yml')
    const yaml = (await readFile(file, 'utf8'))
      .replace('package: sitecycle-sample', 'package: sitecycle-pgapp')
      .replace('wsgi: sitecycle_sample.wsgi:application', 'wsgi: pgapp.wsgi:application')
      .replace(/^( {6}after_install: .*)$/m, '$1\n      freeze: true')
    await writeFile(file, yaml)
    const config = parseConfig(yaml, file)
    const s = config.sites.v1
    await initSite({ config, site: s, exec, reporter: new StepTimes() })
    progress('deploying 1.0.0')
    await deploy({
      config,
      site: s,
      exec,
      reporter: new StepTimes(),
      release: releases,
      version: '1.0.0'
    })
    await startLoad({ url: `${site.url}/`, concurrency: 16, maxRequests: 400 }).stop()

    progress('deploying 2.0.0 (fails its health check after migrating) under load')
    const logFrom = (await readFile(pg.logFile, 'utf8')).length
    const users = startLoad({ url: `${site.url}/`, concurrency: 8, maxSeconds: 300 })
    const monitors = startLoad({ url: `${site.url}/__version__`, concurrency: 2, maxSeconds: 300 })
    const times = new StepTimes()
    const t0 = now()
    const failed = await deploy({
      config,
      site: s,
      exec,
      reporter: times,
      release: releases,
      version: '2.0.0'
    }).then(
      () => false,
      () => true
    )
    const t1 = now()
    const [u, m] = await Promise.all([users.stop(), monitors.stop()])
    if (!failed) throw new Error('the deploy of 2.0.0 was expected to fail its health check')
    const held = m.samples.filter(maintenance)
    const bad = [...u.samples, ...m.samples].filter(x => x.status !== 200 && !maintenance(x))
    const log = (await readFile(pg.logFile, 'utf8')).slice(logFrom)
    figure('freeze_step_s', (times.ms.get('freeze') ?? NaN) / 1000, 's')
    figure('failed_deploy_s', (t1 - t0) / 1000, 's')
    figure(
      'health_held_s',
      held.length ? (held[held.length - 1].end - held[0].start) / 1000 : 0,
      's'
    )
    figure('users_503_count', u.samples.filter(maintenance).length, 'requests', 0)
    figure('requests_count', u.total + m.total, 'requests', 0)
    figure('bad_answers_count', bad.length, 'requests', 0)
    figure(
      'terminated_connections_count',
      log.split('\n').filter(l => l.includes('terminating connection due to administrator')).length,
      'connections',
      0
    )
    await site.cleanup()
  } finally {
    await apache.stop()
    await pg.stop()
    await rm(tmp, { recursive: true, force: true })
  }
}

bench().catch(e => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})
