/**
 * A failed frozen deploy (`hooks.freeze`) under continuous load, on a real PostgreSQL, with an
 * application that keeps one connection open per daemon thread and queries on every request,
 * the health path included (as a Django project with persistent connections does). The new
 * release's hook migrates the database (a column, a table, every row touched), then the release
 * fails: its health check in the idle slot, or a kill of the CLI after the hook followed by
 * another operation that completes the frozen deploy. Users must get 200 or the maintenance
 * answer (503, Retry-After, the page), never a 500 or a socket error, monitors on the health
 * path likewise; PostgreSQL never terminates a connection of the application (its log says so
 * when it does); and the database is as it was before the hook, checked by query.
 */
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { maintenanceFlagPath, maintenanceHoldPath } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { setMaintenance } from '../../src/pipelines/maintenance.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { buildRelease } from '../../src/releases/build.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, startCli } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { REPO } from '../helpers/harness-repo.js'
import { startLoad, type LoadSample, type RunningLoad } from '../helpers/load.js'
import { makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const PYTHON = '/usr/bin/python3'
/** Wheels of psycopg2-binary (the package index is not reachable from CI). */
const WHEELHOUSE =
  process.env.SITECYCLE_TEST_WHEELHOUSE ?? resolve(REPO, '..', 'shared', 'wheelhouse')
const DB = 'shop'
const SECRET = 'frozen-load-secret-0123456789'
/** The title of the page a frozen site answers with (sites/maintenance.ts). */
const PAGE = '<title>Maintenance</title>'
const TERMINATED = 'terminating connection due to administrator command'

let apache: TestApache
let pg: PostgresServer
let site: TestSite
let config: SitecycleConfig
let frozenSite: SiteConfig
let tmp: string
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

/** Build the test application at `version` (its health path answers 500 when `broken`). */
async function buildApp(version: string, broken = false) {
  const src = join(tmp, `src-${version}`)
  await cp(join(REPO, '__tests__', 'fixtures', 'pg-app'), src, { recursive: true })
  await writeFile(
    join(src, 'pgapp', '_version.py'),
    `__version__ = "${version}"\nBROKEN = ${broken ? 'True' : 'False'}\n`
  )
  return buildRelease({
    sourceDir: src,
    outDir: releases,
    commit: null,
    wheelhouse: { findLinks: [WHEELHOUSE] }
  })
}

/** The database as data: tables, columns, and every row of notes and schema_migrations. */
function databaseText(): string {
  return pg.sql(
    DB,
    `select string_agg(table_name || '.' || column_name, ' ' order by table_name, column_name)
       from information_schema.columns where table_schema = 'public';
     select string_agg(version, ' ' order by version) from schema_migrations;
     select string_agg(n::text, ' ' order by id) from notes n;`
  )
}

/** Users on `/` and monitors on the health path, each on keep-alive connections, until stop(). */
function startUsers(): { users: RunningLoad; monitors: RunningLoad } {
  return {
    users: startLoad({ url: `${site.url}/`, concurrency: 8, maxSeconds: 300 }),
    monitors: startLoad({ url: `${site.url}/.sitecycle/health`, concurrency: 2, maxSeconds: 300 })
  }
}

/** What no user or monitor may get: an answer other than 200 or the maintenance page's 503. */
function badAnswers(samples: readonly LoadSample[]): string[] {
  return samples
    .filter(s => s.status !== 200 && !(s.status === 503 && s.body.includes(PAGE)))
    .map(s => `${s.status ?? 'no answer'}: ${s.error ?? s.body.slice(0, 120)}`)
}

/** The lines PostgreSQL logged since `from` (its log grows; an offset in characters). */
async function serverLogSince(from: number): Promise<string> {
  return (await readFile(pg.logFile, 'utf8')).slice(from)
}

function deployTo(version: string) {
  return deploy({
    config,
    site: frozenSite,
    exec,
    reporter: reporter(),
    release: releases,
    version
  })
}

beforeAll(async () => {
  if (!existsSync(WHEELHOUSE))
    throw new Error(
      `no wheelhouse at ${WHEELHOUSE}: set SITECYCLE_TEST_WHEELHOUSE to a folder with psycopg2-binary`
    )
  process.env.SAMPLE_SECRET_KEY = SECRET
  tmp = await makeTempDir('sitecycle-frozen-load-')
  releases = join(tmp, 'releases')
  await mkdir(releases)
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
  // One at a time: each build runs pip over the same wheel cache.
  await buildApp('1.0.0')
  await buildApp('2.0.0', true)
  pg.sql('postgres', `create database ${DB}`)
  pg.sql(
    DB,
    `create table notes (id int primary key, body text not null);
     insert into notes select i, 'note ' || i from generate_series(1, 200) i;`
  )
  site = await makeTestSite({
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
  config = parseConfig(yaml, file)
  frozenSite = config.sites.v1
  expect(frozenSite.hooks.freeze).toBe(true)
  await initSite({ config, site: frozenSite, exec, reporter: reporter() })
  await deployTo('1.0.0')
  // Every daemon thread holds its connection: the load warms them all up.
  const warm = startLoad({ url: `${site.url}/`, concurrency: 16, maxRequests: 400 })
  const r = await warm.stop()
  expect(r.failed).toBe(0)
})

afterAll(async () => {
  await apache?.stop()
  await pg?.stop()
  await site?.cleanup()
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

test('a frozen deploy whose release fails after its hook migrated: no 500, no socket error, no connection killed, the database as before', async () => {
  const before = databaseText()
  expect(before).toContain('notes.migrated_1_0_0')
  const sums = await getEngine('postgres').checksums(exec, {
    ...frozenSite.database!,
    python: PYTHON
  })
  const logFrom = (await readFile(pg.logFile, 'utf8')).length
  const { users, monitors } = startUsers()
  const err = (await deployTo('2.0.0').catch(e => e)) as OperationFailed
  const [u, m] = await Promise.all([users.stop(), monitors.stop()])
  expect(err).toBeInstanceOf(OperationFailed)
  expect(err.outcome).toMatchObject({
    failedStep: 'verify-idle',
    version: '1.0.0',
    rolledBack: true,
    undoComplete: true
  })
  expect(err.outcome.steps.find(s => s.name === 'hooks')?.status).toBe('ok')
  expect(err.message).toContain('the database was restored from')
  expect(lines.join('\n')).not.toMatch(/no hold rule|could not be restarted/)
  // Users were frozen out for a while and got nothing but 200 and the maintenance answer.
  expect(u.total).toBeGreaterThan(50)
  expect(badAnswers(u.samples)).toEqual([])
  expect(u.samples.some(s => s.status === 503)).toBe(true)
  expect(badAnswers(m.samples)).toEqual([])
  expect(m.samples.some(s => s.status === 200)).toBe(true)
  // The application's connections were closed by their daemons, not terminated under them.
  expect(await serverLogSince(logFrom)).not.toContain(TERMINATED)
  // The migration of 2.0.0 is gone: schema and rows as before, checked by query.
  expect(databaseText()).toBe(before)
  expect(
    await getEngine('postgres').checksums(exec, { ...frozenSite.database!, python: PYTHON })
  ).toEqual(sums)
  expect(existsSync(maintenanceFlagPath(frozenSite))).toBe(false)
  expect(existsSync(maintenanceHoldPath(frozenSite))).toBe(false)
  expect(await httpGet(`${site.url}/`)).toEqual({ status: 200, body: '200 notes' })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})

test('a frozen deploy killed after its hook, completed by the next operation: no 500, no socket error, the database as before', async () => {
  const before = databaseText()
  const logFrom = (await readFile(pg.logFile, 'utf8')).length
  const { users, monitors } = startUsers()
  const run = startCli(
    [
      'deploy',
      'v1',
      '--release',
      releases,
      '--version',
      '2.0.0',
      '-c',
      join(site.dir, 'sitecycle.yml')
    ],
    { env: { SAMPLE_SECRET_KEY: SECRET, SITECYCLE_FAULT_KILL_AFTER: 'hooks' } }
  )
  const killed = await run.result
  if (killed.signal !== 'SIGKILL') throw new Error(describeRun(killed))
  // Left frozen, with the migration of 2.0.0 in the database.
  expect(existsSync(maintenanceFlagPath(frozenSite))).toBe(true)
  expect(databaseText()).toContain('2.0.0')
  const o = await setMaintenance({
    config,
    site: frozenSite,
    exec,
    reporter: reporter(),
    action: 'off'
  })
  const [u, m] = await Promise.all([users.stop(), monitors.stop()])
  expect(o.status).toBe('unfrozen')
  expect(lines.join('\n')).toMatch(/recovered: the database was restored from/)
  expect(badAnswers(u.samples)).toEqual([])
  expect(u.samples.some(s => s.status === 503)).toBe(true)
  expect(badAnswers(m.samples)).toEqual([])
  expect(await serverLogSince(logFrom)).not.toContain(TERMINATED)
  expect(databaseText()).toBe(before)
  expect(existsSync(maintenanceFlagPath(frozenSite))).toBe(false)
  expect(existsSync(maintenanceHoldPath(frozenSite))).toBe(false)
  expect(await httpGet(`${site.url}/`)).toEqual({ status: 200, body: '200 notes' })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})
