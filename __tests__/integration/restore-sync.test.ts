/**
 * Restore and preview sync for real: SQLite and PostgreSQL (a throwaway cluster), a private
 * Apache, the sample app deployed on the previews. Production data synced into a preview
 * (checksums equal, data folders and the shared file equal, the file with the preview's owner and
 * mode, the preview's own hook run on the copy, the preview
 * answering over HTTP), an anonymising script applied, a snapshot restored into production, and a
 * sync over SSH between two site roots (kills at every step: data-interrupted-sync.test.ts and
 * data-interrupted-restore.test.ts) (same host: hard links; local to SSH: carried through this
 * machine).
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  unlink,
  writeFile
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import type { DatabaseConfig, TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { DataOperationFailed, restoreSite } from '../../src/pipelines/restore.js'
import { syncSite } from '../../src/pipelines/sync.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { snapshotTables } from '../helpers/snapshot-tables.js'
import { startSshd, type Sshd } from '../helpers/sshd.js'
import { httpGet, servedVersion } from '../helpers/site.js'

const PY = '/usr/bin/python3'
const PASSWORD_ENV = 'SITECYCLE_TEST_SYNC_PASSWORD'
const PASSWORD = 'sync-preview-Pa55-7c1e'
const exec = new LocalExecutor()
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const apacheUid = Number(execFileSync('id', ['-u', 'www-data']).toString().trim())
const apacheGid = Number(execFileSync('id', ['-g', 'www-data']).toString().trim())
const auth = { Authorization: `Basic ${Buffer.from(`sitecycle:${PASSWORD}`).toString('base64')}` }

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
  { engine: 'sqlite', prod: 's1', preview: 's2' },
  { engine: 'postgres', prod: 'p1', preview: 'p2' }
]

const sqlitePath = (site: string) => join(dir, site, 'shared', 'app.sqlite3')
const pgName = (site: string) => `${site}_db`

function sqlite(db: string, text: string): string {
  return execFileSync('/usr/bin/sqlite3', [db], { input: text, encoding: 'utf8' })
}

/** Run SQL on a site's database (sqlite file or postgres database). */
function sql(site: string, text: string): string {
  return site.startsWith('s') ? sqlite(sqlitePath(site), text) : pg.sql(pgName(site), text)
}

function dbOf(site: string): DatabaseConfig {
  return { ...config.sites[site].database!, python: PY }
}

async function checksums(site: string): Promise<TableChecksum[]> {
  return getEngine(dbOf(site).engine).checksums(exec, dbOf(site))
}

const without = (tables: TableChecksum[], ...names: string[]) =>
  tables.filter(t => !names.includes(t.table))

/** The hook: the preview's code "migrates" the copied data by recording itself in a table. */
function hookFor(site: string): string {
  if (site.startsWith('s'))
    return `python -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE IF NOT EXISTS migrated (by TEXT)'); c.execute('INSERT INTO migrated VALUES (?)', (sys.argv[2],)); c.commit()" ${sqlitePath(site)} ${site}`
  return `psql -X -q -v ON_ERROR_STOP=1 -h ${pg.socketDir} -p ${pg.port} -U postgres -d ${pgName(site)} -c "CREATE TABLE IF NOT EXISTS migrated (by text); INSERT INTO migrated VALUES ('${site}')"`
}

async function siteYaml(name: string, role: string, from?: string): Promise<string> {
  const port = await freePort()
  const db = name.startsWith('s')
    ? `{ engine: sqlite, name: ${sqlitePath(name)} }`
    : `{ engine: postgres, name: ${pgName(name)}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }`
  return `
  ${name}:
    role: ${role}
${from ? `    from: ${from}\n` : ''}    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(role === 'preview' ? [hookFor(name)] : [])} }
    database: ${db}
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
${role === 'preview' ? `    access: { basic_auth: { password_env: ${PASSWORD_ENV} } }\n` : ''}    apache:
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
INSERT INTO posts (id, user_id, body) VALUES (1, 1, 'hello'), (2, 2, 'world'), (3, 1, 'again');
`
const PREVIEW_SQL = `CREATE TABLE stale (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO stale VALUES (1, 'old preview data');`

async function seedFiles(site: string, files: Record<string, string | Buffer>): Promise<void> {
  const uploads = join(dir, site, 'shared', 'uploads')
  await mkdir(join(uploads, 'avatars'), { recursive: true })
  for (const [name, content] of Object.entries(files)) await writeFile(join(uploads, name), content)
}

/** Relative path → content of every file in a site's uploads. */
async function uploadsOf(site: string): Promise<Record<string, string>> {
  const top = join(dir, site, 'shared', 'uploads')
  const out: Record<string, string> = {}
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(top, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) await walk(p)
      else out[p] = (await readFile(join(top, p))).toString('base64')
    }
  }
  await walk('')
  return out
}

const frozen = (site: string) =>
  stat(join(dir, site, 'maintenance', 'ON')).then(
    () => true,
    () => false
  )

beforeAll(async () => {
  process.env[PASSWORD_ENV] = PASSWORD
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-sync-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
  let sites = ''
  for (const p of PAIRS)
    sites += (await siteYaml(p.prod, 'production')) + (await siteYaml(p.preview, 'preview', p.prod))
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application", shared: [{ path: local.ini, kind: file }] }\nsites:${sites}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  config = parseConfig(yaml, configFile)
  for (const p of PAIRS) {
    await mkdir(join(dir, p.prod, 'shared'), { recursive: true })
    await mkdir(join(dir, p.preview, 'shared'), { recursive: true })
    if (p.engine === 'postgres') {
      pg.sql('postgres', `CREATE DATABASE ${pgName(p.prod)}; CREATE DATABASE ${pgName(p.preview)};`)
    }
    sql(p.prod, PROD_SQL)
    sql(p.preview, PREVIEW_SQL)
    await seedFiles(p.prod, {
      'avatars/alice.png': randomBytes(20_000),
      'report.pdf': randomBytes(30_000),
      'notes.txt': `notes of ${p.prod}\n`
    })
    await seedFiles(p.preview, { 'preview-only.txt': 'old preview file\n' })
    // The preview's hook migrates its SQLite database as the site's user: the data is the app's.
    if (p.engine === 'sqlite')
      execFileSync('chown', ['-R', 'www-data:www-data', join(dir, p.preview, 'shared')])
    for (const name of [p.prod, p.preview])
      await initSite({ config, site: config.sites[name], exec, reporter: reporter() })
    const o = await deploy({
      config,
      site: config.sites[p.preview],
      exec,
      reporter: reporter(),
      release: releases,
      version: '1.0.0'
    })
    expect(o.status).toBe('deployed')
  }
})

afterAll(async () => {
  delete process.env[PASSWORD_ENV]
  await apache?.stop()
  await pg?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe.each(PAIRS)('$engine: sync and restore', p => {
  const site = (name: string): SiteConfig => config.sites[name]

  test('sync copies production into the preview: equal checksums and files, the preview hook ran on the copy, HTTP 200, both journals', async () => {
    const before = await checksums(p.prod)
    const prodFiles = await uploadsOf(p.prod)
    // The shared file (app.shared, kind: file): production's is root's, mode 0600.
    const ini = (name: string) => join(dir, name, 'shared', 'local.ini')
    await writeFile(ini(p.prod), `[local]\nfrom = ${p.prod}\n`)
    execFileSync('chown', ['root:root', ini(p.prod)])
    await chmod(ini(p.prod), 0o600)
    await writeFile(ini(p.preview), 'old preview settings\n')
    const o = await syncSite({ config, site: site(p.preview), exec, reporter: reporter() })
    expect(o).toMatchObject({
      status: 'synced',
      site: p.preview,
      source: { site: p.prod },
      anonymized: false,
      hooks: 1,
      live: '1.0.0',
      frozen: false
    })
    // The copy equals production table by table; the old preview table is gone.
    expect(o.database!.tables).toEqual(before)
    // PostgreSQL on one host: the copy was restored from the snapshot's plain dump while the
    // snapshot compressed it, and checked against the snapshot's checksums all the same.
    const staged = o.steps.find(s => s.name === 'stage-database')!.note ?? ''
    expect(/restored from the plain dump/.test(staged)).toBe(p.engine === 'postgres')
    const after = await checksums(p.preview)
    expect(without(after, 'migrated')).toEqual(before)
    expect(after.map(t => t.table)).not.toContain('stale')
    // The preview's own hook ran once, on the copied data (production has no such table).
    expect(sql(p.preview, 'SELECT by FROM migrated;').trim()).toBe(p.preview)
    expect(await checksums(p.prod)).toEqual(before)
    expect(await uploadsOf(p.preview)).toEqual(prodFiles)
    // The file: production's content, with the preview's owner (the Apache user) and mode.
    expect(await readFile(ini(p.preview), 'utf8')).toBe(`[local]\nfrom = ${p.prod}\n`)
    const s = await stat(ini(p.preview))
    expect([s.uid, s.gid, s.mode & 0o7777]).toEqual([apacheUid, apacheGid, 0o660])
    expect((await stat(ini(p.prod))).mode & 0o7777).toBe(0o600)
    // Users reach the preview again (with its password), not frozen.
    expect(await frozen(p.preview)).toBe(false)
    expect((await httpGet(`${site(p.preview).url}/`, auth)).body).toContain(
      `hello from ${p.preview}`
    )
    expect(await servedVersion(site(p.preview).url)).toBe('1.0.0')
    // Both journals record it.
    const ends = async (name: string) =>
      (await readFile(join(dir, name, '.sitecycle', 'journal.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map(l => JSON.parse(l) as { op: string; event: string; status?: string; to?: string })
        .filter(e => e.event === 'end')
        .map(e => `${e.op} ${e.status}${e.to ? ` ${e.to}` : ''}`)
    expect(await ends(p.preview)).toContain('sync synced')
    expect(await ends(p.prod)).toEqual(
      expect.arrayContaining(['snapshot created', `sync-out synced ${p.preview}`])
    )
  })

  test('an anonymising script changes the targeted column on the preview only', async () => {
    const script = join(dir, `anonymize-${p.engine}.sql`)
    await writeFile(script, "UPDATE users SET email = 'user' || id || '@example.invalid';\n")
    const before = await checksums(p.prod)
    const o = await syncSite({
      config,
      site: { ...site(p.preview), anonymize: script },
      exec,
      reporter: reporter(),
      useLatest: true
    })
    expect(o.anonymized).toBe(true)
    expect(sql(p.preview, 'SELECT email FROM users ORDER BY id;').trim().split('\n')).toEqual([
      'user1@example.invalid',
      'user2@example.invalid',
      'user3@example.invalid'
    ])
    const after = await checksums(p.preview)
    expect(after.find(t => t.table === 'users')!.checksum).not.toBe(
      before.find(t => t.table === 'users')!.checksum
    )
    expect(after.find(t => t.table === 'posts')).toEqual(before.find(t => t.table === 'posts'))
    expect(sql(p.prod, 'SELECT email FROM users WHERE id = 1;').trim()).toBe('alice@example.org')
  })

  test('a sync taking a new snapshot anonymises the copy while the snapshot is stored (postgres), checked as ever', async () => {
    const script = join(dir, `anonymize-new-${p.engine}.sql`)
    await writeFile(script, "UPDATE users SET email = 'early' || id || '@example.invalid';\n")
    const before = await checksums(p.prod)
    const o = await syncSite({
      config,
      site: { ...site(p.preview), anonymize: script },
      exec,
      reporter: reporter()
    })
    expect(o.anonymized).toBe(true)
    const note = (name: string) => o.steps.find(s => s.name === name)!.note ?? ''
    // PostgreSQL on one host: restored from the plain dump, then checked and anonymised there,
    // all before the snapshot-source step ended; the anonymize step reports that work.
    expect(/restored from the plain dump/.test(note('stage-database'))).toBe(
      p.engine === 'postgres'
    )
    expect(note('anonymize')).toMatch(/1 column\(s\) checked \(users\.email;/)
    expect(/while the snapshot was stored/.test(note('anonymize'))).toBe(p.engine === 'postgres')
    expect(o.database!.tables).toEqual(before)
    expect(sql(p.preview, 'SELECT email FROM users ORDER BY id;').trim().split('\n')).toEqual([
      'early1@example.invalid',
      'early2@example.invalid',
      'early3@example.invalid'
    ])
    expect(sql(p.prod, 'SELECT email FROM users WHERE id = 1;').trim()).toBe('alice@example.org')
    expect(await checksums(p.prod)).toEqual(before)
  })

  test('restore brings a snapshot back into production: tables equal to the snapshot, files as they were', async () => {
    const snap = await takeSnapshot({
      config,
      site: site(p.prod),
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })
    const files = await uploadsOf(p.prod)
    sql(
      p.prod,
      "DELETE FROM posts WHERE id > 1; INSERT INTO users (id, name) VALUES (9, 'mallory');"
    )
    await unlink(join(dir, p.prod, 'shared', 'uploads', 'report.pdf'))
    await writeFile(join(dir, p.prod, 'shared', 'uploads', 'added-later.txt'), 'x')
    // A sqlite snapshot lists its tables; their checksums are the dump's own, read from it.
    const inSnapshot = await snapshotTables(exec, dbOf(p.prod), snap.dir, snap.manifest)
    expect(inSnapshot.every(t => t.checksum.length >= 16)).toBe(true)
    expect(await checksums(p.prod)).not.toEqual(inSnapshot)
    const o = await restoreSite({ config, site: site(p.prod), exec, reporter: reporter() })
    expect(o).toMatchObject({ status: 'restored', snapshot: snap.id, frozen: false })
    expect(await checksums(p.prod)).toEqual(inSnapshot)
    if (p.engine === 'postgres')
      // The planner's statistics, which the dump did not carry: every table analysed.
      expect(
        sql(
          p.prod,
          "SELECT count(DISTINCT tablename) FROM pg_stats WHERE schemaname = 'public'"
        ).trim()
      ).toBe(sql(p.prod, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").trim())
    expect(await uploadsOf(p.prod)).toEqual(files)
    expect(await frozen(p.prod)).toBe(false)
    // No hidden sibling of the swap is left behind.
    expect((await readdir(join(dir, p.prod, 'shared'))).filter(n => n.includes('.sc-'))).toEqual([])
  })

  test('a restore from a corrupt dump touches nothing', async () => {
    const snap = await takeSnapshot({
      config,
      site: site(p.prod),
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })
    sql(p.prod, "INSERT INTO users (id, name) VALUES (10, 'after the snapshot');")
    const before = await checksums(p.prod)
    // postgres: a table file of the stored directory dump; sqlite: the dump file itself.
    const dumpDir = join(snap.dir, 'database.dump')
    const dump = (await stat(dumpDir)).isDirectory()
      ? join(
          dumpDir,
          (await readdir(dumpDir)).find(f => f.endsWith('.dat.zst'))!
        )
      : dumpDir
    const bytes = await readFile(dump)
    bytes[bytes.length - 10] ^= 0xff
    await writeFile(dump, bytes)
    const e = await restoreSite({ config, site: site(p.prod), exec, reporter: reporter() }).catch(
      x => x
    )
    expect(e).toBeInstanceOf(DataOperationFailed)
    expect((e as DataOperationFailed).failedStep).toBe('check-snapshot')
    expect((e as Error).message).toMatch(/is corrupt: sha256 [0-9a-f]{64}, the manifest says/)
    expect(await checksums(p.prod)).toEqual(before)
    expect(await frozen(p.prod)).toBe(false)
    await rm(snap.dir, { recursive: true, force: true })
  })
})

describe('over SSH', () => {
  let sshd: Sshd
  let sdir: string
  beforeAll(async () => {
    sshd = await startSshd()
    sdir = await mkdtemp(join(tmpdir(), 'sitecycle-sync-ssh-'))
  })
  afterAll(async () => {
    await sshd?.stop()
    if (sdir) await rm(sdir, { recursive: true, force: true })
  })

  test.each([
    ['ssh', 'ssh'],
    ['local', 'ssh']
  ])(
    'a snapshot of a site on %s synced into a site on %s with another root',
    async (fromKind, toKind) => {
      const ssh = `ssh://root@127.0.0.1:${sshd.port}`
      const base = join(sdir, `${fromKind}-${toKind}`)
      const db = (s: string) => join(base, s, 'shared', 'app.sqlite3')
      const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
ssh: { key_file: ${sshd.keyFile}, known_hosts: ${sshd.knownHostsFile} }
sites:
  a:
    host: ${fromKind === 'ssh' ? ssh : 'local'}
    root: ${join(base, 'a')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${db('a')} }
    data: [shared/uploads]
  b:
    role: preview
    from: a
    host: ${ssh}
    root: ${join(base, 'b')}
    url: http://127.0.0.1:9
    access: { basic_auth: false }
    database: { engine: sqlite, name: ${db('b')} }
    data: [shared/uploads]
`
      const cfg = parseConfig(yaml, join(base, 'sitecycle.yml'))
      await mkdir(join(base, 'a', 'shared', 'uploads'), { recursive: true })
      await mkdir(join(base, 'b', 'shared'), { recursive: true })
      // Site roots as init leaves them (the lock lives in .sitecycle/); no vhost is needed here.
      for (const s of ['a', 'b']) await mkdir(join(base, s, '.sitecycle'))
      await writeFile(join(base, 'a', 'shared', 'uploads', 'photo.jpg'), randomBytes(10_000))
      sqlite(db('a'), PROD_SQL)
      sqlite(db('b'), PREVIEW_SQL)
      const target = createExecutor(cfg.sites.b.host, cfg.ssh)
      const source = createExecutor(cfg.sites.a.host, cfg.ssh)
      try {
        const o = await syncSite({
          config: cfg,
          site: cfg.sites.b,
          exec: target,
          sourceExec: source,
          progressIntervalMs: 0,
          reporter: reporter()
        })
        expect(o.host).toBe(ssh)
        expect(o.source.host).toBe(fromKind === 'ssh' ? ssh : 'local')
        const engine = getEngine('sqlite')
        const want = await engine.checksums(exec, { engine: 'sqlite', name: db('a'), python: PY })
        expect(
          await engine.checksums(exec, { engine: 'sqlite', name: db('b'), python: PY })
        ).toEqual(want)
        expect(await readFile(join(base, 'b', 'shared', 'uploads', 'photo.jpg'))).toEqual(
          await readFile(join(base, 'a', 'shared', 'uploads', 'photo.jpg'))
        )
        const step = o.steps.find(s => s.name === 'fetch-snapshot')!
        expect(step.note).toMatch(fromKind === 'ssh' ? /^hard-linked / : /^copied from local/)
      } finally {
        await target.close()
        await source.close()
      }
    }
  )
})
