/**
 * Data operations killed half-way, for real (SQLite and PostgreSQL, a private Apache, the bundled
 * CLI): a preview sync with an anonymising script and a production restore, each SIGKILLed after
 * every one of its steps (SITECYCLE_FAULT_KILL_AFTER) and followed by another kind of operation
 * (deploy, snapshot, maintenance off, the same operation again; rotating, so every step and every
 * kind is covered). Checked by query and on disk afterwards:
 *
 * - no production e-mail address is ever in the preview, right after the kill or later;
 * - the site holds its previous data or the complete new data, the database, the data
 *   folders and the shared file together; a run that had verified its data is finished, an earlier one undone;
 * - the next operation reports the recovery, the site is open again, no staged or kept copy is
 *   left (hidden folders, scratch databases), and production is never touched by a sync.
 *
 * Also: an anonymising script failing half-way, and one that leaves source values, never reach
 * the preview, and the error names the script without any program text.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import type { DatabaseConfig, TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { restoreSteps } from '../../src/pipelines/restore.js'
import { syncSteps } from '../../src/pipelines/sync.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { expectedTables } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, startCli } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'

const PY = '/usr/bin/python3'
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)

let apache: TestApache
let pg: PostgresServer
let dir: string
let releases: string
let configFile: string
let config: SitecycleConfig

interface Pair {
  engine: 'sqlite' | 'postgres'
  prod: string
  preview: string
}
const PAIRS: Pair[] = [
  { engine: 'sqlite', prod: 'ks1', preview: 'ks2' },
  { engine: 'postgres', prod: 'kp1', preview: 'kp2' }
]

const sqlitePath = (site: string) => join(dir, site, 'shared', 'app.sqlite3')
const pgName = (site: string) => `${site}_db`
const isSqlite = (site: string) => site.startsWith('ks')

function sql(site: string, text: string): string {
  return isSqlite(site)
    ? execFileSync('/usr/bin/sqlite3', [sqlitePath(site)], { input: text, encoding: 'utf8' })
    : pg.sql(pgName(site), text)
}

function dbOf(site: string): DatabaseConfig {
  return { ...config.sites[site].database!, python: PY }
}

async function checksums(site: string): Promise<TableChecksum[]> {
  return getEngine(dbOf(site).engine).checksums(exec, dbOf(site))
}

const without = (tables: TableChecksum[], ...names: string[]) =>
  tables.filter(t => !names.includes(t.table))

/** Production's addresses found in a site's users table (0 when it has none). */
function productionEmails(site: string): number {
  const has = isSqlite(site)
    ? sql(site, "SELECT count(*) FROM sqlite_master WHERE name = 'users';").trim()
    : sql(site, "SELECT count(*) FROM pg_tables WHERE tablename = 'users';").trim()
  if (has === '0') return 0
  return Number(sql(site, "SELECT count(*) FROM users WHERE email LIKE '%@example.org';").trim())
}

/** The preview's code "migrates" the copied data by recording itself in a table. */
function hookFor(site: string): string {
  if (isSqlite(site))
    return `python -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE IF NOT EXISTS migrated (by TEXT)'); c.execute('INSERT INTO migrated VALUES (?)', (sys.argv[2],)); c.commit()" ${sqlitePath(site)} ${site}`
  return `psql -X -q -v ON_ERROR_STOP=1 -h ${pg.socketDir} -p ${pg.port} -U postgres -d ${pgName(site)} -c "CREATE TABLE IF NOT EXISTS migrated (by text); INSERT INTO migrated VALUES ('${site}')"`
}

async function siteYaml(name: string, role: string, from?: string): Promise<string> {
  const port = await freePort()
  const db = isSqlite(name)
    ? `{ engine: sqlite, name: ${sqlitePath(name)} }`
    : `{ engine: postgres, name: ${pgName(name)}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }`
  const preview = role === 'preview'
  return `
  ${name}:
    role: ${role}
${from ? `    from: ${from}\n` : ''}    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(preview ? [hookFor(name)] : [])} }
    database: ${db}
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
${preview ? `    anonymize: ${join(dir, 'anonymize.sql')}\n    access: { basic_auth: false }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

const PROD_SQL = `
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER, body TEXT);
INSERT INTO users (id, name, email) VALUES (1, 'alice', 'alice@example.org'), (2, 'bob', 'bob@example.org'), (3, 'carol', 'carol@example.org');
INSERT INTO posts (id, user_id, body) VALUES (1, 1, 'hello'), (2, 2, 'world');
`
const PREVIEW_SQL = `
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT);
INSERT INTO users (id, name, email) VALUES (1, 'tester', 'tester@preview.test');
CREATE TABLE stale (id INTEGER PRIMARY KEY, note TEXT);
INSERT INTO stale VALUES (1, 'old preview data');
`

/** Relative path → content of every file in a site's uploads. */
async function uploadsOf(site: string): Promise<Record<string, string>> {
  const top = join(dir, site, 'shared', 'uploads')
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(top, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) await walk(p)
      else out[p] = await readFile(join(top, p), 'utf8')
    }
  }
  await walk('')
  return out
}

/** The shared file of a site (app.shared, kind: file): staged and swapped with the rest. */
const iniOf = (site: string) => join(dir, site, 'shared', 'local.ini')
/** Its content; a kill must never leave it missing (readFile throws then). */
const readIni = (site: string) => readFile(iniOf(site), 'utf8')

const frozen = (site: string) =>
  stat(join(dir, site, 'maintenance', 'ON')).then(
    () => true,
    () => false
  )

/** Hidden staged or kept copies next to a site's data, and scratch databases of the site. */
async function leftovers(site: string): Promise<string[]> {
  const shared = (await readdir(join(dir, site, 'shared'))).filter(n => n.includes('.sc-'))
  if (isSqlite(site)) return shared
  const dbs = pg
    .sql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE '${pgName(site)}__sc%';`)
    .trim()
  return [...shared, ...(dbs ? dbs.split('\n') : [])]
}

/** The journal's events of one operation id. */
async function journalOf(site: string): Promise<{ id: string; op: string; event: string }[]> {
  return (await readFile(join(dir, site, '.sitecycle', 'journal.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { id: string; op: string; event: string })
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli([...args, '-c', configFile], { env })

/** The operations that follow a kill, in turn. */
function followUp(kind: number, site: string, same: string[]): string[] {
  return [
    ['deploy', site, '--release', releases, '--version', '1.0.0'],
    ['snapshot', site],
    ['maintenance', 'off', site],
    same
  ][kind % 4]
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-kill-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
  await writeFile(
    join(dir, 'anonymize.sql'),
    "UPDATE users SET email = 'user' || id || '@example.invalid', name = 'anonymous';\n"
  )
  let sites = ''
  for (const p of PAIRS)
    sites += (await siteYaml(p.prod, 'production')) + (await siteYaml(p.preview, 'preview', p.prod))
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application", shared: [{ path: local.ini, kind: file }] }\nsites:${sites}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  config = parseConfig(yaml, configFile)
  for (const p of PAIRS) {
    for (const name of [p.prod, p.preview]) {
      await mkdir(join(dir, name, 'shared', 'uploads'), { recursive: true })
      await writeFile(join(dir, name, 'shared', 'uploads', 'owner.txt'), `${name}\n`)
    }
    if (p.engine === 'postgres')
      pg.sql('postgres', `CREATE DATABASE ${pgName(p.prod)}; CREATE DATABASE ${pgName(p.preview)};`)
    sql(p.prod, PROD_SQL)
    sql(p.preview, PREVIEW_SQL)
    // The preview's hook migrates its SQLite database as the site's user: the data is the app's.
    if (p.engine === 'sqlite')
      execFileSync('chown', ['-R', 'www-data:www-data', join(dir, p.preview, 'shared')])
    for (const name of [p.prod, p.preview]) {
      await initSite({ config, site: config.sites[name], exec, reporter: reporter() })
      const o = await deploy({
        config,
        site: config.sites[name],
        exec,
        reporter: reporter(),
        release: releases,
        version: '1.0.0'
      })
      expect(o.status).toBe('deployed')
    }
  }
})

afterAll(async () => {
  await apache?.stop()
  await pg?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe.each(PAIRS)('$engine: a preview sync killed after each step', p => {
  const STEPS = syncSteps().map(s => s.name)
  const VERIFIED = STEPS.indexOf('verify')

  test.each(STEPS.map((s, i) => [s, i]))(
    'killed after %s, then another operation: never production data, previous or complete copy',
    async (step, i) => {
      sql(p.prod, `INSERT INTO posts (id, user_id, body) VALUES (${100 + i}, 1, 'before ${step}');`)
      await writeFile(iniOf(p.prod), `production before ${step}\n`)
      const prodBefore = await checksums(p.prod)
      const prodFiles = await uploadsOf(p.prod)
      const previewBefore = await checksums(p.preview)
      const previewFiles = await uploadsOf(p.preview)
      const previewIni = await readIni(p.preview)

      const killed = await cli(['sync', p.preview], { SITECYCLE_FAULT_KILL_AFTER: step })
      expect(killed.signal).toBe('SIGKILL')
      expect(productionEmails(p.preview)).toBe(0)
      expect(await checksums(p.prod)).toEqual(prodBefore)

      const next = followUp(i, p.preview, ['sync', p.preview])
      const r = await cli(next)
      expectExit(r, 0)
      expect(r.stderr).toMatch(/did not finish: recovering/)
      // The killed run is recorded as recovered by the operation that came next: no run is open.
      const journal = await journalOf(p.preview)
      const open = journal
        .filter(e => e.event === 'start')
        .filter(st => !journal.some(e => e.id === st.id && /^(end|recovered)$/.test(e.event)))
      expect(open).toEqual([])
      expect(journal.filter(e => e.event === 'recovered' && e.op === 'sync').length).toBe(i + 1)

      expect(productionEmails(p.preview)).toBe(0)
      const now = await checksums(p.preview)
      const complete = i >= VERIFIED || next[0] === 'sync'
      if (complete) {
        // The copy, whole: production's tables (users anonymised), production's files.
        expect(without(now, 'users', 'migrated')).toEqual(without(prodBefore, 'users'))
        expect(await uploadsOf(p.preview)).toEqual(prodFiles)
        expect(await readIni(p.preview)).toBe(`production before ${step}\n`)
        expect(sql(p.preview, 'SELECT DISTINCT name FROM users;').trim()).toBe('anonymous')
      } else {
        expect(now).toEqual(previewBefore)
        expect(await uploadsOf(p.preview)).toEqual(previewFiles)
        expect(await readIni(p.preview)).toBe(previewIni)
      }
      expect(await frozen(p.preview)).toBe(false)
      expect(await leftovers(p.preview)).toEqual([])
      expect((await httpGet(`${config.sites[p.preview].url}/`)).status).toBe(200)
      expect(await checksums(p.prod)).toEqual(prodBefore)
      expect(await uploadsOf(p.prod)).toEqual(prodFiles)
    }
  )
})

describe.each(PAIRS)('$engine: a production restore killed after each step', p => {
  // Production has no hooks (and the snapshot was taken under the live release): no hooks step.
  const STEPS = restoreSteps()
    .map(s => s.name)
    .filter(s => s !== 'hooks')
  const VERIFIED = STEPS.indexOf('verify')

  test.each(STEPS.map((s, i) => [s, i]))(
    'killed after %s, then another operation: database, folders and shared file all as before, or all restored',
    async (step, i) => {
      await writeFile(iniOf(p.prod), `in snapshot ${i}\n`)
      const snap = await takeSnapshot({
        config,
        site: config.sites[p.prod],
        exec,
        reporter: reporter(),
        progressIntervalMs: 0
      })
      // sqlite: the manifest lists the tables; their checksums are the dump's own.
      const snapTables = await expectedTables(
        exec,
        getEngine(dbOf(p.prod).engine),
        dbOf(p.prod),
        snap.manifest.database!,
        join(snap.dir, snap.manifest.database!.dump)
      )
      const snapFiles = await uploadsOf(p.prod)
      sql(
        p.prod,
        `INSERT INTO posts (id, user_id, body) VALUES (${500 + i}, 2, 'after the snapshot');`
      )
      await writeFile(join(dir, p.prod, 'shared', 'uploads', `later-${i}.txt`), 'later\n')
      await writeFile(iniOf(p.prod), `after snapshot ${i}\n`)
      const before = await checksums(p.prod)
      const beforeFiles = await uploadsOf(p.prod)

      const killed = await cli(['restore', p.prod, '--snapshot', snap.id], {
        SITECYCLE_FAULT_KILL_AFTER: step
      })
      expect(killed.signal).toBe('SIGKILL')

      const next = followUp(i, p.prod, ['restore', p.prod, '--snapshot', snap.id])
      const r = await cli(next)
      expectExit(r, 0)
      expect(r.stderr).toMatch(/did not finish: recovering/)

      const restored = i >= VERIFIED || next[0] === 'restore'
      expect(await checksums(p.prod)).toEqual(restored ? snapTables : before)
      expect(await uploadsOf(p.prod)).toEqual(restored ? snapFiles : beforeFiles)
      // The shared file with them: the snapshot's or the one before, never missing or mixed.
      expect(await readIni(p.prod)).toBe(restored ? `in snapshot ${i}\n` : `after snapshot ${i}\n`)
      expect(await frozen(p.prod)).toBe(false)
      expect(await leftovers(p.prod)).toEqual([])
    }
  )
})

describe.each(PAIRS)('$engine: anonymising that fails or falls short', p => {
  test('a script failing at its second statement: the preview keeps its data, the error names the script', async () => {
    const previewBefore = await checksums(p.preview)
    const script = join(dir, 'anonymize-broken.sql')
    await writeFile(
      script,
      "UPDATE users SET email = 'x' || id || '@example.invalid';\nUPDATE no_such_table SET x = 1;\n"
    )
    const yaml = (await readFile(configFile, 'utf8')).replaceAll(join(dir, 'anonymize.sql'), script)
    const file = join(dir, 'sitecycle-broken.yml')
    await writeFile(file, yaml)
    const r = await runCli(['sync', p.preview, '-c', file])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/anonymize-broken\.sql/)
    expect(r.stderr).not.toMatch(/import |sys\.argv/)
    expect(await checksums(p.preview)).toEqual(previewBefore)
    expect(productionEmails(p.preview)).toBe(0)
    expect(await frozen(p.preview)).toBe(false)
    expect(await leftovers(p.preview)).toEqual([])
  })

  test('a script that leaves some addresses as they were is refused before the swap', async () => {
    const previewBefore = await checksums(p.preview)
    const script = join(dir, 'anonymize-partial.sql')
    await writeFile(
      script,
      "UPDATE users SET email = 'x' || id || '@example.invalid' WHERE id > 1;\n"
    )
    const yaml = (await readFile(configFile, 'utf8')).replaceAll(join(dir, 'anonymize.sql'), script)
    const file = join(dir, 'sitecycle-partial.yml')
    await writeFile(file, yaml)
    const r = await runCli(['sync', p.preview, '-c', file])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/left 1 row\(s\) of users whose email is still as in the source/)
    expect(await checksums(p.preview)).toEqual(previewBefore)
    expect(productionEmails(p.preview)).toBe(0)
    expect(await leftovers(p.preview)).toEqual([])
  })
})

describe('postgres: killed while pg_restore loads the staged copy (not at a step boundary)', () => {
  const p = PAIRS.find(x => x.engine === 'postgres')!

  /** A pg_restore on PATH that loads as the real one, then, for a staged copy, waits to be killed. */
  async function slowRestoreShim(): Promise<{ path: string; mark: string }> {
    const shims = join(dir, 'shims')
    const mark = join(dir, 'pg-restore-loaded')
    await mkdir(shims, { recursive: true })
    await rm(mark, { force: true })
    const real = execFileSync('sh', ['-c', 'command -v pg_restore'], { encoding: 'utf8' }).trim()
    await writeFile(
      join(shims, 'pg_restore'),
      `#!/bin/sh\n${real} "$@" || exit $?\ncase "$*" in *__sc_*) : > ${mark}; sleep 120 ;; esac\n`,
      { mode: 0o755 }
    )
    return { path: `${shims}:${process.env.PATH}`, mark }
  }

  async function killWhileLoading(args: string[]): Promise<void> {
    const shim = await slowRestoreShim()
    const running = startCli([...args, '-c', configFile], { env: { PATH: shim.path } })
    const deadline = Date.now() + 60000
    while (!(await stat(shim.mark).catch(() => null))) {
      if (Date.now() > deadline) {
        running.killGroup()
        throw new Error(
          `pg_restore never loaded a staged copy: ${describeRun(await running.result)}`
        )
      }
      await new Promise(r => setTimeout(r, 50))
    }
    running.killGroup('SIGKILL')
    expect(await running.result).toMatchObject({ signal: 'SIGKILL' })
  }

  test('a sync: the preview keeps its data, and the next operation drops the one scratch database left', async () => {
    const previewBefore = await checksums(p.preview)
    await killWhileLoading(['sync', p.preview])
    // Loaded straight into the database named by the operation: nothing nested inside it.
    const left = await leftovers(p.preview)
    expect(left).toHaveLength(1)
    expect(left[0]).toMatch(/__sc_new_/)
    expect(productionEmails(p.preview)).toBe(0)
    expect(await checksums(p.preview)).toEqual(previewBefore)

    const r = await cli(['snapshot', p.preview])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(await leftovers(p.preview)).toEqual([])
    expect(await checksums(p.preview)).toEqual(previewBefore)
  })

  test('a restore: production as before, and the next operation drops the scratch database', async () => {
    const snap = await takeSnapshot({
      config,
      site: config.sites[p.prod],
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })
    sql(p.prod, "INSERT INTO posts (id, user_id, body) VALUES (900, 2, 'after the snapshot');")
    const before = await checksums(p.prod)
    await killWhileLoading(['restore', p.prod, '--snapshot', snap.id])
    expect(await checksums(p.prod)).toEqual(before)

    const r = await cli(['maintenance', 'off', p.prod])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(await leftovers(p.prod)).toEqual([])
    expect(await checksums(p.prod)).toEqual(before)
    expect(await frozen(p.prod)).toBe(false)
  })
})

describe.each(PAIRS)('$engine: a sync whose way back is gone', p => {
  /** A hook that deletes the previous database the sync kept aside (as a disk or a hand might). */
  async function configLosingKeep(): Promise<string> {
    const script = join(dir, 'lose-keep.py')
    await writeFile(
      script,
      `import glob, os, subprocess, sys
site, engine = sys.argv[1], sys.argv[2]
if engine == 'sqlite':
    for path in glob.glob(os.path.join(${JSON.stringify(dir)}, site, 'shared', '.app.sqlite3.sc-keep-*')):
        os.remove(path)
else:
    psql = ['psql', '-XAtq', '-h', ${JSON.stringify(pg.socketDir)}, '-p', '${pg.port}', '-U', 'postgres', '-d', 'postgres', '-c']
    names = subprocess.run(psql + ["SELECT datname FROM pg_database WHERE datname LIKE '%s__sc_keep_%%'" % (site + '_db')], capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        subprocess.run(psql + ['DROP DATABASE "%s"' % name], check=True)
`
    )
    const yaml = (await readFile(configFile, 'utf8')).replace(
      JSON.stringify([hookFor(p.preview)]),
      JSON.stringify([`python ${script} ${p.preview} ${p.engine}`])
    )
    const file = join(dir, `sitecycle-lose-keep-${p.engine}.yml`)
    await writeFile(file, yaml)
    return file
  }

  const openSyncs = async () => {
    const journal = await journalOf(p.preview)
    return journal
      .filter(e => e.event === 'start')
      .filter(st => !journal.some(e => e.id === st.id && /^(end|recovered)$/.test(e.event)))
      .map(e => e.id)
  }

  test('the site stays in maintenance with its data in doubt until a sync replaces it whole', async () => {
    const prodBefore = await checksums(p.prod)
    const prodFiles = await uploadsOf(p.prod)
    const failed = await runCli(['sync', p.preview, '-c', await configLosingKeep()], {
      env: { SITECYCLE_FAULT_FAIL_AT: 'verify' }
    })
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toMatch(/is gone/)
    // Never guessed: the site is closed, the run open, and no production address anywhere.
    expect(await frozen(p.preview)).toBe(true)
    expect((await httpGet(`${config.sites[p.preview].url}/`)).status).toBe(503)
    const open = await openSyncs()
    expect(open).toHaveLength(1)
    expect(productionEmails(p.preview)).toBe(0)

    // Any other operation finds it, says so and what to run, and leaves it closed.
    const off = await cli(['maintenance', 'off', p.preview])
    expect(off.code).not.toBe(0)
    expect(off.stderr).toContain(`the interrupted sync ${open[0]} could not be put back`)
    expect(off.stderr).toContain(`sitecycle sync ${p.preview}`)
    expect(off.stderr).not.toMatch(/^\s+at /m)
    expect(await frozen(p.preview)).toBe(true)
    expect(await openSyncs()).toEqual(open)

    // A sync replaces the data whole: it goes on, closes the run, and the site opens again.
    const sync = await cli(['sync', p.preview])
    expectExit(sync, 0)
    expect(sync.stderr).toMatch(/replaces the database and data folders .* whole: it goes on/)
    expect(await openSyncs()).toEqual([])
    const journal = await journalOf(p.preview)
    const closing = journal.find(e => e.id === open[0] && e.event === 'recovered') as
      { by: string } | undefined
    expect(closing?.by).toBe(journal[journal.length - 1].id)
    expect(await frozen(p.preview)).toBe(false)
    expect(without(await checksums(p.preview), 'users', 'migrated')).toEqual(
      without(prodBefore, 'users')
    )
    expect(await uploadsOf(p.preview)).toEqual(prodFiles)
    expect(productionEmails(p.preview)).toBe(0)
    expect(await leftovers(p.preview)).toEqual([])
  })
})
