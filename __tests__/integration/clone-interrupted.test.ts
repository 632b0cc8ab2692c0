/**
 * A clone killed half-way, for real (PostgreSQL, a private Apache, the bundled CLI): production
 * `cp1` cloned into a new site `cp2` that has an anonymising script, the clone SIGKILLed after
 * each step of its data copy (SITECYCLE_FAULT_KILL_AFTER), then followed by another kind of
 * operation on the new site (the clone again, a snapshot, maintenance off, a deploy; rotating).
 * Checked by query and on disk:
 *
 * - no production e-mail address is ever in the new site, right after the kill or later;
 * - after the next operation, the new site holds its previous data or the complete anonymised
 *   copy, no staged or kept copy is left (hidden folders, scratch databases), no run is open;
 * - the source is only read.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { syncSteps } from '../../src/pipelines/sync.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'

const exec = new LocalExecutor()
let apache: TestApache
let pg: PostgresServer
let dir: string
let releases: string
let configFile: string

const dbName = (site: string) => `${site}_db`
const STEPS = syncSteps().map(s => s.name)
const VERIFIED = STEPS.indexOf('verify')

async function siteYaml(name: string, role: string, extra = ''): Promise<string> {
  const port = await freePort()
  return `
  ${name}:
    role: ${role}
    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    releases: ${releases}
    database: { engine: postgres, name: ${dbName(name)}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
${extra}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

async function checksums(site: string): Promise<TableChecksum[]> {
  const db = {
    engine: 'postgres' as const,
    name: dbName(site),
    host: pg.socketDir,
    port: pg.port,
    user: 'postgres'
  }
  return getEngine('postgres').checksums(exec, db)
}

function databaseExists(site: string): boolean {
  return (
    pg
      .sql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${dbName(site)}';`)
      .trim() === '1'
  )
}

/** Production's addresses in the new site's users table (0 when it has none). */
function productionEmails(site: string): number {
  if (!databaseExists(site)) return 0
  if (
    pg.sql(dbName(site), "SELECT count(*) FROM pg_tables WHERE tablename = 'users';").trim() === '0'
  )
    return 0
  return Number(
    pg.sql(dbName(site), "SELECT count(*) FROM users WHERE email LIKE '%@example.org';").trim()
  )
}

async function uploads(site: string): Promise<string[]> {
  return readdir(join(dir, site, 'shared', 'uploads')).then(
    names => names.sort(),
    () => []
  )
}

/** Hidden staged or kept copies next to the new site's data, and its scratch databases. */
async function leftovers(site: string): Promise<string[]> {
  const shared = await readdir(join(dir, site, 'shared')).then(
    names => names.filter(n => n.includes('.sc-')),
    () => []
  )
  const dbs = pg
    .sql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE '${dbName(site)}__sc%';`)
    .trim()
  return [...shared, ...(dbs ? dbs.split('\n') : [])]
}

/** Runs started in a site's journal and neither ended nor recovered. */
async function openRuns(site: string): Promise<string[]> {
  const text = await readFile(join(dir, site, '.sitecycle', 'journal.jsonl'), 'utf8').catch(
    () => ''
  )
  const events = text
    .split('\n')
    .filter(l => l.trim())
    .map(l => JSON.parse(l) as { id: string; op: string; event: string })
  return events
    .filter(e => e.event === 'start')
    .filter(st => !events.some(e => e.id === st.id && /^(end|recovered)$/.test(e.event)))
    .map(e => `${e.op} ${e.id}`)
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli([...args, '-c', configFile], { env })

/** The operations on the new site that follow a kill, in turn. */
function followUp(kind: number): string[] {
  return [
    ['clone', 'cp1', 'cp2'],
    ['snapshot', 'cp2'],
    ['maintenance', 'off', 'cp2'],
    ['deploy', 'cp2', '--version', '1.0.0']
  ][kind % 4]
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-clone-kill-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await writeFile(
    join(dir, 'anonymize.sql'),
    "UPDATE users SET email = 'user' || id || '@example.invalid', name = 'anonymous';\n"
  )
  const yaml =
    `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:` +
    (await siteYaml('cp1', 'production')) +
    (await siteYaml(
      'cp2',
      'preview',
      `    anonymize: ${join(dir, 'anonymize.sql')}\n    access: { basic_auth: false }\n`
    ))
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  await mkdir(join(dir, 'cp1', 'shared', 'uploads'), { recursive: true })
  await writeFile(join(dir, 'cp1', 'shared', 'uploads', 'cp1.txt'), 'production upload\n')
  pg.sql('postgres', `CREATE DATABASE ${dbName('cp1')};`)
  pg.sql(
    dbName('cp1'),
    `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
     CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, body TEXT);
     INSERT INTO users VALUES (1, 'alice', 'alice@example.org'), (2, 'bob', 'bob@example.org');
     INSERT INTO posts VALUES (1, 1, 'hello');`
  )
  for (const args of [
    ['init', 'cp1'],
    ['deploy', 'cp1', '--version', '1.0.0']
  ])
    expectExit(await cli(args), 0)
})

afterAll(async () => {
  await apache?.stop()
  await pg?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test.each(STEPS.map((s, i) => [s, i]))(
  'a clone killed after its data step %s, then another operation: never production data, no leftovers',
  async (step, i) => {
    pg.sql(dbName('cp1'), `INSERT INTO posts VALUES (${100 + i}, 2, 'before ${step}');`)
    const source = await checksums('cp1')
    const before = databaseExists('cp2') ? await checksums('cp2') : null
    const beforeFiles = await uploads('cp2')

    const killed = await cli(['clone', 'cp1', 'cp2'], { SITECYCLE_FAULT_KILL_AFTER: step })
    expect(productionEmails('cp2')).toBe(0)
    if (killed.signal !== 'SIGKILL') {
      // A step a clone into a site without a live release skips: the clone went through.
      expectExit(killed, 0)
    } else {
      const next = followUp(i)
      const r = await cli(next)
      if (r.code !== 0) throw new Error(`${next.join(' ')} after the kill: ${describeRun(r)}`)
      expect(r.stderr).toMatch(/did not finish: recovering/)
      expect(productionEmails('cp2')).toBe(0)
      expect(await openRuns('cp2')).toEqual([])
      expect(await leftovers('cp2')).toEqual([])
      const complete = i >= VERIFIED || next[0] === 'clone'
      if (!complete) {
        // The previous data (or none), database and folder together.
        expect(databaseExists('cp2') ? await checksums('cp2') : null).toEqual(before)
        expect(await uploads('cp2')).toEqual(beforeFiles)
        return
      }
    }
    // The copy, whole: production's tables (users anonymised), production's files.
    const users = (t: TableChecksum[]) => t.filter(x => !['users'].includes(x.table))
    expect(users(await checksums('cp2'))).toEqual(users(source))
    expect(pg.sql(dbName('cp2'), 'SELECT DISTINCT name FROM users;').trim()).toBe('anonymous')
    expect(await uploads('cp2')).toEqual(['cp1.txt'])
    expect(await leftovers('cp2')).toEqual([])
    expect(await checksums('cp1')).toEqual(source)
  }
)

test('after all that, a clone completes and the new site answers', async () => {
  expectExit(await cli(['clone', 'cp1', 'cp2']), 0)
  expect(productionEmails('cp2')).toBe(0)
  expect((await httpGet(`${await siteUrl('cp2')}/__version__`)).body).toBe('1.0.0')
  expect(await leftovers('cp2')).toEqual([])
})

async function siteUrl(site: string): Promise<string> {
  const yaml = await readFile(configFile, 'utf8')
  const m = new RegExp(`\\n  ${site}:[\\s\\S]*?url: (\\S+)`).exec(yaml)
  return m![1]
}
