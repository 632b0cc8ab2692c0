/**
 * `hooks.freeze` on a real site: private Apache, blue/green mod_wsgi groups, a real SQLite
 * database migrated by a real hook. Users get 503 and Retry-After from the freeze to the end of
 * the deploy while the health path keeps answering; a release that fails verification after its
 * hook migrated the database leaves the database exactly as it was before the hook, the site
 * open and the previous release serving. Without freeze the same failure is a code-only rollback
 * that says so, and the migration stays.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { maintenanceFlagPath } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { CODE_ONLY_ROLLBACK, deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const PYTHON = '/usr/bin/python3'
/** A migration: a table and a column added, every row touched, its version recorded; then a marker file. */
const MIGRATE = `import os, sqlite3, sys
db, marker = sys.argv[1], sys.argv[2]
version = os.environ["SITECYCLE_VERSION"]
c = sqlite3.connect(db)
c.execute("create table if not exists schema_migrations (version text primary key)")
c.execute("insert or replace into schema_migrations values (?)", (version,))
if "migrated_to" not in [r[1] for r in c.execute("pragma table_info(notes)")]:
    c.execute("alter table notes add column migrated_to text")
c.execute("update notes set migrated_to = ?", (version,))
c.commit()
c.close()
with open(marker, "a") as f:
    f.write(version + "\\n")
`

let apache: TestApache
let site: TestSite
let config: SitecycleConfig
let frozenSite: SiteConfig
let releases: string
let db: string
let marker: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

/** The database as data: its schema and every row of every table. */
function dumpDb(): string {
  return execFileSync(PYTHON, [
    '-c',
    `import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
out = {}
for name, sql in c.execute("select name, sql from sqlite_master where type='table' order by name"):
    out[name] = {"sql": sql, "rows": c.execute('select * from "%s" order by 1' % name).fetchall()}
print(json.dumps(out, sort_keys=True))`,
    db
  ]).toString()
}

async function checksums() {
  return getEngine('sqlite').checksums(exec, { engine: 'sqlite', name: db, python: PYTHON })
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false
  )
}

/** GET `/` and the health path as users, every 25 ms, until stop(); the answers in order. */
function pollUsers(url: string) {
  const seen: { path: string; status: number; retryAfter: string | null; body: string }[] = []
  let running = true
  const round = async () => {
    for (const path of ['/', '/.sitecycle/health']) {
      try {
        const r = await fetch(`${url}${path}`)
        seen.push({
          path,
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: (await r.text()).trim()
        })
      } catch (e) {
        seen.push({ path, status: 0, retryAfter: null, body: String(e) })
      }
    }
  }
  const loop = (async () => {
    while (running) {
      await round()
      await new Promise(r => setTimeout(r, 25))
    }
  })()
  return {
    seen,
    /** Stop, then one more round: the last answers are to requests sent after the caller's
     * operation ended (the loop's own last request may have been sent before it unfroze). */
    async stop() {
      running = false
      await loop
      await round()
      return seen
    }
  }
}

function deployTo(s: SiteConfig, version: string) {
  return deploy({ config, site: s, exec, reporter: reporter(), release: releases, version })
}

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'freeze-secret-0123456789'
  releases = await makeTempDir('sitecycle-freeze-releases-')
  ;[apache] = await Promise.all([
    startApache(),
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '3.0.0', releasesDir: releases, broken: 'health' })
  ])
  const work = await makeTempDir('sitecycle-freeze-data-')
  await mkdir(join(work, 'data'))
  db = join(work, 'data', 'app.db')
  marker = join(work, 'migrated.txt')
  const script = join(work, 'migrate.py')
  await writeFile(script, MIGRATE)
  site = await makeTestSite({
    apache,
    hooks: ['python -m sitecycle_sample.manage check', `python ${script} ${db} ${marker}`],
    siteYaml: `database: { engine: sqlite, name: ${db} }`
  })
  // hooks.freeze belongs in the hooks mapping the helper writes: add it there, through the loader.
  const file = join(site.dir, 'sitecycle.yml')
  const yaml = (await readFile(file, 'utf8')).replace(
    /^( {6}after_install: .*)$/m,
    '$1\n      freeze: true'
  )
  await writeFile(file, yaml)
  config = parseConfig(yaml, file)
  frozenSite = config.sites.v1
  expect(frozenSite.hooks.freeze).toBe(true)
  execFileSync(PYTHON, [
    '-c',
    `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("create table notes (id integer primary key, body text not null)")
c.executemany("insert into notes (body) values (?)", [("note %d" % i,) for i in range(50)])
c.commit()`,
    db
  ])
  // The application's data is its own: the hooks run as the site's user and migrate it.
  execFileSync('chown', ['-R', 'www-data:www-data', work])
  await initSite({ config, site: frozenSite, exec, reporter: reporter() })
  await deployTo(frozenSite, '1.0.0')
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
  if (db) await rm(join(db, '..', '..'), { recursive: true, force: true })
})

test('a frozen deploy: users get 503 with Retry-After while the hooks migrate, the health path answers, then the new release', async () => {
  expect((await httpGet(`${site.url}/`)).status).toBe(200)
  const poll = pollUsers(site.url)
  const o = await deployTo(frozenSite, '2.0.0')
  const seen = await poll.stop()
  expect(o).toMatchObject({ status: 'deployed', version: '2.0.0' })
  expect(o.steps.filter(s => s.status === 'ok').map(s => s.name)).toEqual(
    expect.arrayContaining(['freeze', 'snapshot-db', 'hooks', 'unfreeze', 'remove-db-snapshot'])
  )
  const users = seen.filter(s => s.path === '/')
  // Users were frozen out for a while, with the page and Retry-After, and got nothing else but 200s.
  const frozen = users.filter(s => s.status === 503)
  expect(frozen.length).toBeGreaterThan(0)
  expect(frozen.every(s => s.retryAfter === '300')).toBe(true)
  expect(users.every(s => s.status === 200 || s.status === 503)).toBe(true)
  // sitecycle's health path is exempt: it answered 200 all along, first 1.0.0 and then 2.0.0.
  const health = seen.filter(s => s.path === '/.sitecycle/health')
  expect(health.every(s => s.status === 200)).toBe(true)
  expect(new Set(health.map(s => (JSON.parse(s.body) as { version: string }).version))).toEqual(
    new Set(['1.0.0', '2.0.0'])
  )
  // The last user answers: open again, on the new release.
  expect(users[users.length - 1].status).toBe(200)
  expect(await exists(maintenanceFlagPath(frozenSite))).toBe(false)
  expect((await httpGet(`${site.url}/`)).status).toBe(200)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  expect(dumpDb()).toContain('"2.0.0"')
  // The dump taken after the freeze is gone.
  const state = await readdir(join(site.root, '.sitecycle'))
  expect(state.filter(f => f.startsWith('pre-deploy-'))).toEqual([])
})

test('a failed frozen deploy after its hook migrated the database: the database is exactly as before, the site open, the previous release serves', async () => {
  const before = dumpDb()
  const sumsBefore = await checksums()
  const markerBefore = await readFile(marker, 'utf8')
  const poll = pollUsers(site.url)
  const err = (await deployTo(frozenSite, '3.0.0').catch(e => e)) as OperationFailed
  const seen = await poll.stop()
  expect(err).toBeInstanceOf(OperationFailed)
  expect(err.outcome).toMatchObject({
    failedStep: 'verify-idle',
    version: '2.0.0',
    rolledBack: true,
    undoComplete: true
  })
  // The hook did run and migrate 3.0.0 into the database ...
  expect(await readFile(marker, 'utf8')).toBe(`${markerBefore}3.0.0\n`)
  // ... and the database is back to what it was before it, schema and rows.
  expect(dumpDb()).toBe(before)
  expect(await checksums()).toEqual(sumsBefore)
  expect(err.message).toMatch(/HTTP 500/)
  expect(err.message).toContain('the database was restored from')
  expect(err.message).not.toContain('code-only')
  // Users were frozen out during the deploy, never served 3.0.0, and are served 2.0.0 again.
  const users = seen.filter(s => s.path === '/')
  expect(users.some(s => s.status === 503)).toBe(true)
  expect(users.every(s => s.status === 200 || s.status === 503)).toBe(true)
  expect(seen.some(s => s.body.includes('3.0.0'))).toBe(false)
  expect(await exists(maintenanceFlagPath(frozenSite))).toBe(false)
  expect((await httpGet(`${site.url}/`)).status).toBe(200)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  const state = await readdir(join(site.root, '.sitecycle'))
  expect(state.filter(f => f.startsWith('pre-deploy-'))).toEqual([])
})

test('without freeze the same failure is a code-only rollback: it says so, and the migration stays', async () => {
  const open: SiteConfig = { ...frozenSite, hooks: { ...frozenSite.hooks, freeze: false } }
  const before = dumpDb()
  const poll = pollUsers(site.url)
  const err = (await deployTo(open, '3.0.0').catch(e => e)) as OperationFailed
  const seen = await poll.stop()
  expect(err).toBeInstanceOf(OperationFailed)
  expect(err.outcome.failedStep).toBe('verify-idle')
  expect(err.message).toContain(CODE_ONLY_ROLLBACK)
  expect(err.outcome.notes).toEqual([CODE_ONLY_ROLLBACK])
  expect(dumpDb()).not.toBe(before)
  expect(dumpDb()).toContain('"3.0.0"')
  // Users were never frozen out.
  expect(seen.filter(s => s.path === '/').every(s => s.status === 200)).toBe(true)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
})
