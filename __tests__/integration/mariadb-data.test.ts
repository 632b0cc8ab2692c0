/**
 * MariaDB end to end: a real mariadbd started by the test, a production site and a preview site
 * whose databases live on it (production over the unix socket, the preview over TCP, both as a
 * user with a password from password_env), a private Apache serving the preview. Snapshot
 * production, verify it, change production and restore the snapshot (checksums equal the
 * snapshot's; the view and trigger work again); sync into the preview (checksums equal
 * production's, the preview's hook ran on the copy, HTTP 200); an anonymising script changes the
 * targeted columns on the preview only, and one that fails halfway never reaches the preview (it
 * ran on the scratch copy); a corrupt dump is refused by verify; a CLI sync killed with SIGKILL
 * after staging, after the swap or after the hooks, followed by another operation, leaves the
 * preview as before or with the whole copy (view and trigger working), production untouched; a
 * sync failing after the swap puts the previous database back whole. A table with an awkward name
 * rides along.
 */
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import type { DatabaseConfig, TableChecksum } from '../../src/databases/engine.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { DataOperationFailed, restoreSite } from '../../src/pipelines/restore.js'
import { syncSite } from '../../src/pipelines/sync.js'
import { parseManifest, renderManifest } from '../../src/snapshots/manifest.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot, VerifyFailed } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { expectExit, runCli } from '../helpers/cli.js'
import { startMariaDb, type MariaDbServer } from '../helpers/databases.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, servedVersion } from '../helpers/site.js'

const PY = '/usr/bin/python3'
const PROD = 'm1'
const PREVIEW = 'm2'
/** Database names with a hyphen: every statement must quote them. */
const DB = { [PROD]: 'm1-prod', [PREVIEW]: 'm2-preview' } as Record<string, string>
const AWKWARD = `odd "table" it's`
const Q_AWKWARD = '`odd "table" it\'s`'
const DB_PASSWORD_ENV = 'SITECYCLE_TEST_MARIA_DB_PASSWORD'
const DB_PASSWORD = `db pw 'with' $quotes "and" \\ backslash`
const AUTH_ENV = 'SITECYCLE_TEST_MARIA_AUTH_PASSWORD'
const AUTH_PASSWORD = 'maria-preview-Pa55-41d2'
const auth = {
  Authorization: `Basic ${Buffer.from(`sitecycle:${AUTH_PASSWORD}`).toString('base64')}`
}
const exec = new LocalExecutor()
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))

let apache: TestApache
let maria: MariaDbServer
let dir: string
let configFile: string
let config: SitecycleConfig

const site = (name: string): SiteConfig => config.sites[name]
const sql = (name: string, text: string): string => maria.sql(text, DB[name])
const dbOf = (name: string): DatabaseConfig => ({ ...site(name).database!, python: PY })
const checksums = (name: string): Promise<TableChecksum[]> =>
  getEngine('mysql').checksums(exec, dbOf(name))
const without = (tables: TableChecksum[], ...names: string[]) =>
  tables.filter(t => !names.includes(t.table))
/** Databases left behind by a restore or verify (`…__sc_…`). */
const scratchLeft = (): string =>
  maria
    .sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%\\_\\_sc\\_%'`)
    .trim()
const frozen = (name: string) =>
  stat(join(dir, name, 'maintenance', 'ON')).then(
    () => true,
    () => false
  )
const journalEnds = async (name: string): Promise<string[]> =>
  (await readFile(join(dir, name, '.sitecycle', 'journal.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; status?: string })
    .filter(e => e.event === 'end')
    .map(e => `${e.op} ${e.status}`)

const PROD_SQL = `
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, email VARCHAR(80)) ENGINE=InnoDB;
CREATE TABLE posts (id INT PRIMARY KEY, user_id INT, body TEXT, raw VARBINARY(16)) ENGINE=InnoDB;
CREATE TABLE audit (post_id INT, what VARCHAR(20)) ENGINE=InnoDB;
CREATE TABLE ${Q_AWKWARD} (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT) ENGINE=InnoDB;
CREATE TRIGGER posts_audit AFTER INSERT ON posts FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'insert');
CREATE VIEW user_posts AS SELECT u.name, p.body FROM users u JOIN posts p ON p.user_id = u.id;
INSERT INTO users VALUES (1, 'alice', 'alice@example.org'), (2, 'bob', 'bob@example.org'), (3, 'carol', NULL);
INSERT INTO posts WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200)
  SELECT n, n % 3 + 1, CONCAT('post ', n, ' \\'quoted\\'\\ttab'), UNHEX(MD5(n)) FROM g;
INSERT INTO ${Q_AWKWARD} (note) VALUES ('tab\\there'), ('quote '' here'), ('secret note'), (NULL);
`
const PREVIEW_SQL = `CREATE TABLE stale (id INT PRIMARY KEY, note TEXT); INSERT INTO stale VALUES (1, 'old preview data');`

/** The preview's own code "migrates" the copied data: it records itself in a table. */
// Hooks run as the site's user (www-data), not root: it logs in as the app over TCP, its password
// in MYSQL_PWD from the application environment (a secret: masked, never on the command line).
const hook = (port: number) =>
  `mariadb --no-defaults --protocol=TCP -h 127.0.0.1 -P ${port} -u app --database=${DB[PREVIEW]} -e "CREATE TABLE IF NOT EXISTS migrated (by_site VARCHAR(10)); INSERT INTO migrated VALUES ('${PREVIEW}')"`

async function siteYaml(name: string, role: 'production' | 'preview'): Promise<string> {
  const port = await freePort()
  // Production reaches MariaDB over its unix socket, the preview over TCP: both forms are used.
  const where =
    role === 'production' ? `host: ${maria.socket}` : `host: 127.0.0.1, port: ${maria.port}`
  return `
  ${name}:
    role: ${role}
${role === 'preview' ? `    from: ${PROD}\n` : ''}    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(role === 'preview' ? [hook(maria.port)] : [])} }
${role === 'preview' ? `    env: { MYSQL_PWD: "{{ secret.${DB_PASSWORD_ENV} }}" }\n` : ''}
    database: { engine: mysql, name: ${DB[name]}, ${where}, user: app, password_env: ${DB_PASSWORD_ENV} }
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
${role === 'preview' ? `    access: { basic_auth: { password_env: ${AUTH_ENV} } }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

beforeAll(async () => {
  process.env[DB_PASSWORD_ENV] = DB_PASSWORD
  process.env[AUTH_ENV] = AUTH_PASSWORD
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-maria-data-'))
  await chmod(dir, 0o755)
  const releases = join(dir, 'releases')
  ;[apache, maria] = await Promise.all([
    startApache(),
    startMariaDb(),
    buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  ]).then(([a, m]) => [a, m] as const)
  for (const host of ['localhost', '127.0.0.1'])
    maria.sql(
      `CREATE USER 'app'@'${host}' IDENTIFIED BY '${DB_PASSWORD.replace(/\\/g, '\\\\').replace(/'/g, "''")}'; GRANT ALL ON *.* TO 'app'@'${host}';`
    )
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:${await siteYaml(PROD, 'production')}${await siteYaml(PREVIEW, 'preview')}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  config = parseConfig(yaml, configFile)
  maria.sql(
    `CREATE DATABASE \`${DB[PROD]}\` CHARACTER SET utf8mb4; CREATE DATABASE \`${DB[PREVIEW]}\`;`
  )
  sql(PROD, PROD_SQL)
  sql(PREVIEW, PREVIEW_SQL)
  for (const name of [PROD, PREVIEW]) {
    await mkdir(join(dir, name, 'shared', 'uploads'), { recursive: true })
    await initSite({ config, site: site(name), exec, reporter: reporter() })
  }
  await writeFile(join(dir, PROD, 'shared', 'uploads', 'photo.jpg'), randomBytes(20_000))
  await writeFile(join(dir, PREVIEW, 'shared', 'uploads', 'preview-only.txt'), 'old\n')
  const o = await deploy({
    config,
    site: site(PREVIEW),
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect(o.status).toBe('deployed')
})

afterAll(async () => {
  delete process.env[DB_PASSWORD_ENV]
  delete process.env[AUTH_ENV]
  await apache?.stop()
  await maria?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

afterEach(() => {
  // The database password never reaches a log line.
  expect(lines.join('\n')).not.toContain(DB_PASSWORD)
})

test('snapshot production, verify it, change production, restore: checksums equal the snapshot, objects work again', async () => {
  const before = await checksums(PROD)
  expect(before.map(t => [t.table, t.rows])).toEqual([
    ['audit', 200],
    [AWKWARD, 4],
    ['posts', 200],
    ['users', 3]
  ])
  const snap = await takeSnapshot({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    progressIntervalMs: 0
  })
  expect(snap.manifest.database).toMatchObject({ engine: 'mysql', tables: before })

  const v = await verifySnapshot({ config, site: site(PROD), exec, reporter: reporter() })
  expect(v.status).toBe('verified')
  expect(v.snapshot).toBe(snap.id)
  expect(v.database!.restored).toBe(true)
  expect(v.database!.tables.map(t => [t.table, t.ok])).toEqual(before.map(t => [t.table, true]))
  expect(v.database!.scratch).toMatch(/^m1-prod__sc_verify_[0-9a-f]{8}$/)
  expect(scratchLeft()).toBe('0')

  sql(
    PROD,
    `DELETE FROM posts WHERE id > 100; UPDATE ${Q_AWKWARD} SET note = 'changed'; INSERT INTO users VALUES (9, 'mallory', 'm@evil.example');
     DROP VIEW user_posts; CREATE TABLE added_later (x INT);`
  )
  expect(await checksums(PROD)).not.toEqual(before)
  const o = await restoreSite({ config, site: site(PROD), exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'restored', snapshot: snap.id, frozen: false })
  expect(await checksums(PROD)).toEqual(snap.manifest.database!.tables)
  expect(scratchLeft()).toBe('0')
  // The view and the trigger came back and work on the restored tables.
  expect(sql(PROD, 'SELECT COUNT(*) FROM user_posts').trim()).toBe('200')
  sql(PROD, "INSERT INTO posts VALUES (500, 1, 'after restore', NULL);")
  expect(sql(PROD, 'SELECT what FROM audit WHERE post_id = 500').trim()).toBe('insert')
  sql(PROD, 'DELETE FROM posts WHERE id = 500; DELETE FROM audit WHERE post_id = 500;')
  expect(await checksums(PROD)).toEqual(before)
  expect(await journalEnds(PROD)).toEqual([
    'snapshot created',
    'verify verified',
    'restore restored'
  ])
})

test('sync into the preview: checksums equal production, the preview hook ran on the copy, HTTP 200', async () => {
  const before = await checksums(PROD)
  const o = await syncSite({ config, site: site(PREVIEW), exec, reporter: reporter() })
  expect(o).toMatchObject({
    status: 'synced',
    site: PREVIEW,
    source: { site: PROD },
    anonymized: false,
    hooks: 1,
    live: '1.0.0',
    frozen: false
  })
  expect(o.database!.tables).toEqual(before)
  const after = await checksums(PREVIEW)
  expect(without(after, 'migrated')).toEqual(before)
  expect(after.map(t => t.table)).not.toContain('stale')
  expect(sql(PREVIEW, 'SELECT by_site FROM migrated').trim()).toBe(PREVIEW)
  expect(sql(PREVIEW, 'SELECT COUNT(*) FROM user_posts').trim()).toBe('200')
  expect(await checksums(PROD)).toEqual(before)
  expect(scratchLeft()).toBe('0')
  expect(await readdir(join(dir, PREVIEW, 'shared', 'uploads'))).toEqual(['photo.jpg'])
  expect(await frozen(PREVIEW)).toBe(false)
  const page = await httpGet(`${site(PREVIEW).url}/`, auth)
  expect(page.status).toBe(200)
  expect(page.body).toContain(`hello from ${PREVIEW}`)
  expect((await httpGet(`${site(PREVIEW).url}/`)).status).toBe(401)
  // Only the reserved health path passes a preview's basic auth (from loopback).
  expect(await servedVersion(site(PREVIEW).url)).toBe('1.0.0')
})

test('an anonymising script changes the targeted columns on the preview only', async () => {
  const script = join(dir, 'anonymize.sql')
  await writeFile(
    script,
    `UPDATE users SET email = CONCAT('user', id, '@example.invalid') WHERE email IS NOT NULL;\nUPDATE ${Q_AWKWARD} SET note = 'redacted' WHERE note IS NOT NULL;\n`
  )
  const prodBefore = await checksums(PROD)
  const o = await syncSite({
    config,
    site: { ...site(PREVIEW), anonymize: script },
    exec,
    reporter: reporter(),
    useLatest: true
  })
  expect(o.anonymized).toBe(true)
  expect(
    sql(PREVIEW, 'SELECT IFNULL(email, "-") FROM users ORDER BY id').trim().split('\n')
  ).toEqual(['user1@example.invalid', 'user2@example.invalid', '-'])
  expect(
    sql(PREVIEW, `SELECT IFNULL(note, "-") FROM ${Q_AWKWARD} ORDER BY id`).trim().split('\n')
  ).toEqual(['redacted', 'redacted', 'redacted', '-'])
  const after = await checksums(PREVIEW)
  const pick = (ts: TableChecksum[], t: string) => ts.find(x => x.table === t)!
  for (const t of ['users', AWKWARD]) {
    expect(pick(after, t).checksum).not.toBe(pick(prodBefore, t).checksum)
    expect(pick(after, t).rows).toBe(pick(prodBefore, t).rows)
  }
  expect(pick(after, 'posts')).toEqual(pick(prodBefore, 'posts'))
  expect(await checksums(PROD)).toEqual(prodBefore)
  expect(sql(PROD, 'SELECT email FROM users WHERE id = 1').trim()).toBe('alice@example.org')
})

test('an anonymising script that fails halfway never reaches the preview: its data and openness as before', async () => {
  const script = join(dir, 'anonymize-broken.sql')
  await writeFile(
    script,
    "UPDATE users SET email = 'half@example.invalid';\nUPDATE no_such_table SET x = 1;\n"
  )
  const prodBefore = await checksums(PROD)
  const previewBefore = await checksums(PREVIEW)
  const e = await syncSite({
    config,
    site: { ...site(PREVIEW), anonymize: script },
    exec,
    reporter: reporter(),
    useLatest: true
  }).catch(x => x as DataOperationFailed)
  expect(e).toBeInstanceOf(DataOperationFailed)
  expect((e as DataOperationFailed).failedStep).toBe('anonymize')
  expect((e as Error).message).toContain(`the anonymising script ${script} failed`)
  expect((e as Error).message).toContain(`site ${PREVIEW} holds its data from before, unchanged`)
  // The copy was anonymised (and failed) in a scratch database: the preview never saw it.
  expect(await checksums(PREVIEW)).toEqual(previewBefore)
  expect(await frozen(PREVIEW)).toBe(false)
  expect(await checksums(PROD)).toEqual(prodBefore)
  expect(scratchLeft()).toBe('0')
})

test('verify refuses a corrupt dump: bytes flipped (sha256), and a dump that does not load (sha256 rewritten), which a restore then refuses too', async () => {
  const snap = await takeSnapshot({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    progressIntervalMs: 0
  })
  // The dump as stored: the SQL, or (after a first snapshot) a zstd delta against it.
  const dump = join(snap.dir, snap.manifest.database!.dump)
  const bytes = await readFile(dump)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  await writeFile(dump, bytes)
  const e1 = await verifySnapshot({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    snapshot: snap.id
  }).catch(e => e as VerifyFailed)
  expect(e1).toBeInstanceOf(VerifyFailed)
  expect((e1 as VerifyFailed).outcome.database!.dumpSha256Ok).toBe(false)
  expect((e1 as VerifyFailed).message).toMatch(
    /database dump database\.dump(\.zst)? in snapshot \S+ is corrupt: sha256 [0-9a-f]{64}, the manifest and SHA256SUMS say [0-9a-f]{64}/
  )
  expect(scratchLeft()).toBe('0')

  // A dump cut short with garbage after it, its manifest's sha256 made to match: the restore
  // into the scratch database must fail and say so.
  const other = await takeSnapshot({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    progressIntervalMs: 0
  })
  const mPath = join(other.dir, 'manifest.json')
  const m = parseManifest(await readFile(mPath, 'utf8'), mPath)
  // A delta (database.dump.zst) is cut in what it holds: decompressed through its base, cut,
  // made a delta against the same base again.
  const stored = m.database!.dump
  const dump2 = join(other.dir, stored)
  const base = m.database!.store?.base
  const patch = base ? [`--patch-from=${join(other.dir, '..', base, 'database.dump')}`] : []
  const plainDump = base ? `${dump2}.plain` : dump2
  if (base) execFileSync('zstd', ['-q', '-f', '-d', '--long=31', ...patch, dump2, '-o', plainDump])
  const text = await readFile(plainDump, 'utf8')
  await writeFile(plainDump, `${text.slice(0, Math.floor(text.length * 0.6))}\nTHIS IS NOT SQL;\n`)
  if (base) {
    execFileSync('zstd', ['-q', '-f', '-1', '--long=31', ...patch, plainDump, '-o', dump2])
    await rm(plainDump)
  }
  // The dump's plain sha256 written everywhere a snapshot records it: the manifest's dump
  // record and its files, SHA256SUMS, and the manifest's sha256 of SHA256SUMS.
  const cut = await readFile(dump2)
  const plain = createHash('sha256').update(cut).digest('hex')
  const sumsPath = join(other.dir, 'SHA256SUMS')
  const sums = (await readFile(sumsPath, 'utf8')).replace(
    new RegExp(`^[0-9a-f]{64}(?= {2}${stored.replace(/\./g, '\\.')}$)`, 'm'),
    plain
  )
  await writeFile(sumsPath, sums)
  m.database!.sha256 = plain
  m.database!.size = cut.length
  m.database!.files = [{ path: stored, size: cut.length, sha256: plain }]
  m.sums!.sha256 = createHash('sha256').update(sums).digest('hex')
  await writeFile(mPath, renderManifest(m))
  const e2 = await verifySnapshot({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    snapshot: other.id
  }).catch(e => e as VerifyFailed)
  expect(e2).toBeInstanceOf(VerifyFailed)
  const out = (e2 as VerifyFailed).outcome
  expect(out.database!.dumpSha256Ok).toBe(true)
  expect(out.database!.restored).toBe(false)
  expect(out.problems.join('\n')).toMatch(/database dump does not restore/)
  expect(scratchLeft()).toBe('0')
  // A restore of it fails in the scratch database: production is untouched and open.
  const prodBefore = await checksums(PROD)
  const e3 = await restoreSite({
    config,
    site: site(PROD),
    exec,
    reporter: reporter(),
    snapshot: other.id
  }).catch(e => e as DataOperationFailed)
  expect(e3).toBeInstanceOf(DataOperationFailed)
  expect((e3 as DataOperationFailed).failedStep).toBe('stage-database')
  expect((e3 as Error).message).toContain(`site ${PROD} holds its data from before, unchanged`)
  expect(await checksums(PROD)).toEqual(prodBefore)
  expect(await frozen(PROD)).toBe(false)
  expect(scratchLeft()).toBe('0')
  await rm(snap.dir, { recursive: true, force: true })
  await rm(other.dir, { recursive: true, force: true })
})

test.each([
  ['stage-database', ['maintenance', 'off'], false],
  ['swap-data', ['snapshot'], false],
  ['hooks', ['sync'], true]
] as const)(
  'a CLI sync killed with SIGKILL after %s, then %j: preview as before (or the whole copy), production untouched',
  async (step, next, complete) => {
    sql(PROD, `INSERT INTO posts VALUES (${700 + step.length}, 2, 'new before ${step}', NULL);`)
    const prodBefore = await checksums(PROD)
    const previewBefore = await checksums(PREVIEW)
    expect(without(previewBefore, 'migrated')).not.toEqual(prodBefore)
    const cli = (args: string[], env: Record<string, string> = {}) =>
      runCli([...args, PREVIEW, '-c', configFile], { env })

    const killed = await cli(['sync'], { SITECYCLE_FAULT_KILL_AFTER: step })
    expect(killed.signal).toBe('SIGKILL')
    expect(await checksums(PROD)).toEqual(prodBefore)

    const r = await cli([...next])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(r.stderr + r.stdout).not.toContain(DB_PASSWORD)
    const now = await checksums(PREVIEW)
    if (complete) expect(without(now, 'migrated')).toEqual(prodBefore)
    else expect(now).toEqual(previewBefore)
    // The view works on whichever tables are there.
    expect(Number(sql(PREVIEW, 'SELECT COUNT(*) FROM user_posts').trim())).toBeGreaterThan(0)
    expect(await checksums(PROD)).toEqual(prodBefore)
    expect(await frozen(PREVIEW)).toBe(false)
    expect((await httpGet(`${site(PREVIEW).url}/`, auth)).status).toBe(200)
    expect(scratchLeft()).toBe('0')
  }
)

test('a sync failing after the swap (its hook) puts the previous database back whole, view and trigger included', async () => {
  const previewBefore = await checksums(PREVIEW)
  const r = await runCli(['sync', PREVIEW, '-c', configFile], {
    env: { SITECYCLE_FAULT_FAIL_AT: 'hooks' }
  })
  expect(r.code).not.toBe(0)
  expect(r.stderr).toContain(`site ${PREVIEW} holds its data from before, unchanged`)
  expect(await checksums(PREVIEW)).toEqual(previewBefore)
  expect(Number(sql(PREVIEW, 'SELECT COUNT(*) FROM user_posts').trim())).toBeGreaterThan(0)
  expect(await frozen(PREVIEW)).toBe(false)
  expect(scratchLeft()).toBe('0')
})
