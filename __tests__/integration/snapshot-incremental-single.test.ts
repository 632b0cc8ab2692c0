/**
 * Incremental snapshots of single-file dumps for real (SQLite's backup-API copy, a throwaway
 * MariaDB's mysqldump SQL, zstd, sha256sum): a site's first snapshot keeps its dump as written
 * (a base), each one after it stores a zstd delta against that base, far smaller than the dump
 * when 1 % of rows changed; the delta restores to the rows it was taken with, by sitecycle and by
 * the README's standard command; `sha256sum -c SHA256SUMS` passes; verify restores it and
 * catches a flipped byte in its base's dump; retention that drops the base keeps it hidden while
 * the delta needs it; a restore of the delta through the CLI brings its rows back.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { BASES_DIR, materializeDump } from '../../src/snapshots/dump-store.js'
import { listSnapshots, readManifest } from '../../src/snapshots/list.js'
import { snapshotPlan, takeSnapshot } from '../../src/snapshots/snapshot.js'
import { verifySnapshot, verifySnapshots, VerifyFailed } from '../../src/snapshots/verify.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { runCli } from '../helpers/cli.js'
import { startMariaDb, type MariaDbServer } from '../helpers/databases.js'

const exec = new LocalExecutor()
const PY = '/usr/bin/python3'
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const day = (n: number) => () => new Date(Date.UTC(2024, 4, 1 + n, 3))

/** What each engine's test needs. */
interface Engine {
  database: (root: string) => string
  /** Make the database with 20,000 rows. */
  create(root: string): void
  /** Change `count` rows (of day `n`). */
  change(root: string, n: number, count: number): void
  /** The rows' digest in the live database, and in a plain dump file (restored aside). */
  live(root: string): string
  ofDump(path: string): string
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-incr-single-'))
  await chmod(dir, 0o755)
})
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function scenario(name: string, k: Engine): Promise<void> {
  const root = join(dir, name)
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  await mkdir(join(root, 'shared'), { recursive: true })
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  ${name}:
    root: ${root}
    url: http://127.0.0.1:9
    database: ${k.database(root)}
    snapshots: { keep_last: 3, daily: 0, weekly: 0, monthly: 0 }
`
  const file = join(dir, `${name}.yml`)
  await writeFile(file, yaml)
  const config: SitecycleConfig = parseConfig(yaml, file)
  const site = config.sites[name]
  const snapshots = join(root, 'snapshots')
  k.create(root)
  const take = async (n: number) =>
    (
      await takeSnapshot({
        config,
        site,
        exec,
        reporter: reporter(),
        now: day(n),
        progressIntervalMs: 0
      })
    ).id

  // Day 0: the base, its dump as written.
  const base = await take(0)
  const m0 = (await readManifest(exec, snapshots, base))!
  expect(m0.database?.dump).toBe('database.dump')
  expect(m0.database?.store).toMatchObject({ compression: 'none', base: null, depth: 0 })
  const baseBytes = (await stat(join(snapshots, base, 'database.dump'))).size

  // Day 1: 1 % of the rows changed, a delta far smaller than the dump.
  k.change(root, 1, 200)
  const want = k.live(root)
  const delta = await take(1)
  const m1 = (await readManifest(exec, snapshots, delta))!
  expect(m1.database?.dump).toBe('database.dump.zst')
  expect(m1.database?.store).toMatchObject({
    compression: 'zstd',
    base,
    depth: 1,
    deltas: ['database.dump.zst']
  })
  expect(await readdir(join(snapshots, delta))).not.toContain('database.dump')
  const deltaBytes = (await stat(join(snapshots, delta, 'database.dump.zst'))).size
  expect(deltaBytes).toBeLessThan(baseBytes / 20)
  expect(m1.database?.size).toBe(deltaBytes)

  // It restores to the rows it was taken with: by sitecycle, and by the README's command.
  const into = join(dir, `${name}-materialized`)
  const path = await materializeDump(exec, PY, join(snapshots, delta), m1, into)
  expect(k.ofDump(path)).toBe(want)
  await rm(into, { recursive: true, force: true })
  const byHand = join(dir, `${name}-by-hand.dump`)
  execFileSync('zstd', [
    '-q',
    '-d',
    '--long=31',
    `--patch-from=${join(snapshots, base, 'database.dump')}`,
    join(snapshots, delta, 'database.dump.zst'),
    '-o',
    byHand
  ])
  expect(k.ofDump(byHand)).toBe(want)
  // sha256sum -c passes on both.
  for (const id of [base, delta])
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: join(snapshots, id) })

  // verify restores the delta; a flipped byte in its base's dump is caught, naming the base.
  const ok = await verifySnapshot({ config, site, exec, reporter: reporter(), snapshot: delta })
  expect(ok.status).toBe('verified')
  expect(ok.database!.tables.every(t => t.ok)).toBe(true)
  const baseDump = join(snapshots, base, 'database.dump')
  const original = await readFile(baseDump)
  const flipped = Buffer.from(original)
  flipped[Math.floor(flipped.length / 2)] ^= 0x01
  await writeFile(baseDump, flipped)
  const bad = (await verifySnapshot({
    config,
    site,
    exec,
    reporter: reporter(),
    snapshot: delta
  }).catch((x: unknown) => x)) as VerifyFailed
  expect(bad).toBeInstanceOf(VerifyFailed)
  expect(bad.outcome.problems.join('\n')).toContain(
    `of base snapshot ${base} (snapshot ${delta} is stored as deltas against it) is corrupt`
  )
  await writeFile(baseDump, original)

  // Two more days: keep_last 3 keeps day 1 to 3; day 3 is a new base (the old one would not be
  // kept), and the old base is kept hidden while day 1 and 2 need it.
  k.change(root, 2, 200)
  const second = await take(2)
  const rows = k.live(root)
  expect((await readManifest(exec, snapshots, second))!.database?.store?.base).toBe(base)
  k.change(root, 3, 200)
  const last = await take(3)
  const listed = (await readdir(snapshots)).filter(d => !d.startsWith('.')).sort()
  expect(listed).toEqual([delta, second, last])
  expect(await readdir(join(snapshots, BASES_DIR))).toEqual([base])
  expect((await readManifest(exec, snapshots, last))!.database?.store).toMatchObject({
    compression: 'none',
    base: null
  })

  // A restore of day 2's delta through the CLI, its base hidden, brings its rows back.
  k.change(root, 4, 500)
  expect(k.live(root)).not.toBe(rows)
  const r = await runCli(['restore', name, '--snapshot', second, '-c', file])
  expect(r.stderr).not.toMatch(/Error:| {4}at /)
  expect(r.code).toBe(0)
  expect(k.live(root)).toBe(rows)
  expect(lines.join('\n')).not.toMatch(/Error:| {4}at /)
}

const SQLITE = '/usr/bin/sqlite3'
const sqliteDigest = (db: string) =>
  execFileSync(
    SQLITE,
    [
      db,
      'SELECT count(*), sum(length(name)), group_concat(name) FROM (SELECT name FROM users ORDER BY id);'
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 28
    }
  )

test('SQLite: the first snapshot is the base as written, the next ones zstd deltas against it', async () => {
  await scenario('sq1', {
    database: root => `{ engine: sqlite, name: ${join(root, 'shared', 'app.sqlite3')} }`,
    create: root =>
      execFileSync(PY, [
        '-c',
        `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute('CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, name TEXT, bio TEXT)')
c.executemany('INSERT INTO users VALUES (?, ?, ?, ?)', ((i, 'u%d@example.org' % i, 'name %d' % i, 'bio %d ' % i * 20) for i in range(1, 20001)))
c.commit()
`,
        join(root, 'shared', 'app.sqlite3')
      ]),
    change: (root, n, count) =>
      execFileSync(SQLITE, [
        join(root, 'shared', 'app.sqlite3'),
        `UPDATE users SET name = 'day ${n} ' || id WHERE id % 100 = ${n} AND id <= ${count * 100};`
      ]),
    live: root => sqliteDigest(join(root, 'shared', 'app.sqlite3')),
    ofDump: path => sqliteDigest(path)
  })
})

describe('MariaDB', () => {
  let maria: MariaDbServer
  beforeAll(async () => {
    maria = await startMariaDb()
  })
  afterAll(async () => maria?.stop())

  test('the first snapshot is the base as written, the next ones zstd deltas against it', async () => {
    const digest = (db: string) =>
      maria.sql(
        "SELECT COUNT(*), SUM(LENGTH(name)), MD5(GROUP_CONCAT(name ORDER BY id SEPARATOR ',')) FROM users;",
        db
      )
    let restored = 0
    await scenario('mq1', {
      database: () => `{ engine: mysql, name: mq1, host: ${maria.socket}, user: root }`,
      create: () => {
        maria.sql('CREATE DATABASE mq1; SET SESSION group_concat_max_len = 100000000;')
        maria.sql(
          `CREATE TABLE users (id int PRIMARY KEY, email varchar(100), name varchar(100), bio text) ENGINE=InnoDB;
           INSERT INTO users SELECT seq, CONCAT('u', seq, '@example.org'), CONCAT('name ', seq), REPEAT(CONCAT('bio ', seq, ' '), 20) FROM seq_1_to_20000;`,
          'mq1'
        )
      },
      change: (_root, n, count) =>
        void maria.sql(
          `UPDATE users SET name = CONCAT('day ${n} ', id) WHERE id % 100 = ${n} AND id <= ${count * 100};`,
          'mq1'
        ),
      live: () => digest('mq1'),
      ofDump: path => {
        const name = `mq1_check_${++restored}`
        maria.sql(`CREATE DATABASE ${name};`)
        execFileSync('sh', [
          '-c',
          `mariadb --no-defaults --socket=${maria.socket} -u root ${name} < "$1"`,
          'sh',
          path
        ])
        return digest(name)
      }
    })
  })
})

/** A site `name` whose SQLite database `sql` makes, with `extra` lines of its config. */
async function sqliteSite(name: string, sql: string, extra = '') {
  const root = join(dir, name)
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  await mkdir(join(root, 'shared'), { recursive: true })
  const db = join(root, 'shared', 'app.sqlite3')
  execFileSync(SQLITE, [db], { input: sql })
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  ${name}:
    root: ${root}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${db} }
${extra
  .split('\n')
  .filter(Boolean)
  .map(l => `    ${l}`)
  .join('\n')}
`
  const file = join(dir, `${name}.yml`)
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  return { root, db, file, config, site: config.sites[name] }
}

test('SQLite: a snapshot SIGKILLed after each of its steps leaves every listed snapshot whole, each delta with its base, and all verify', async () => {
  const { root, db, file, config, site } = await sqliteSite(
    'sqk',
    `CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
      INSERT INTO users (name) SELECT 'name ' || i FROM n;`,
    'data: [shared/uploads]\nsnapshots: { keep_last: 3, daily: 0, weekly: 0, monthly: 0 }'
  )
  await mkdir(join(root, 'shared', 'uploads'))
  await writeFile(join(root, 'shared', 'uploads', 'a.txt'), 'a file\n')
  const snapshots = join(root, 'snapshots')
  const steps = snapshotPlan().map(line => line.trim().split(/[.:]\s*/)[1])
  expect(await runCli(['snapshot', 'sqk', '--config', file])).toMatchObject({ code: 0 })
  for (const [i, step] of steps.entries()) {
    execFileSync(SQLITE, [db, `UPDATE users SET name = 'kill ${i} ' || id WHERE id % 97 = ${i};`])
    const killed = await runCli(['snapshot', 'sqk', '--config', file], {
      env: { SITECYCLE_FAULT_KILL_AFTER: step }
    })
    expect([step, killed.signal]).toEqual([step, 'SIGKILL'])
    expect(await runCli(['snapshot', 'sqk', '--config', file])).toMatchObject({ code: 0 })
    for (const snap of await listSnapshots(exec, site, PY)) {
      expect(snap.complete).toBe(true)
      const m = (await readManifest(exec, snapshots, snap.id))!
      const base = m.database!.store!.base
      if (base)
        expect(
          [join(snapshots, base), join(snapshots, BASES_DIR, base)].some(d =>
            existsSync(join(d, 'database.dump'))
          )
        ).toBe(true)
    }
  }
  const v = await verifySnapshots({ config, site, exec, reporter: reporter(), snapshots: 'all' })
  expect(v.every(o => o.status === 'verified')).toBe(true)
  expect((await readdir(snapshots)).filter(n => n.startsWith('.sc-'))).toEqual([])
  // The newest is a delta, and holds the database as it is now.
  const newest = (await listSnapshots(exec, site, PY)).at(-1)!
  const m = (await readManifest(exec, snapshots, newest.id))!
  expect(m.database!.dump).toBe('database.dump.zst')
  const path = await materializeDump(exec, PY, join(snapshots, newest.id), m, join(dir, 'sqk-m'))
  expect(sqliteDigest(path)).toBe(sqliteDigest(db))
})

test('SQLite: a host without the memory a delta needs keeps the dump whole, and says why', async () => {
  const { db, config, site } = await sqliteSite(
    'sqm',
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);'
  )
  // A host with 16 kB available: what /proc/meminfo says there.
  class SmallHost extends LocalExecutor {
    override async readFile(path: string): Promise<string | undefined> {
      if (path === '/proc/meminfo') return 'MemTotal:  2048 kB\nMemAvailable:  16 kB\n'
      return super.readFile(path)
    }
  }
  const said: string[] = []
  const take = async (n: number, on: LocalExecutor) =>
    takeSnapshot({
      config,
      site,
      exec: on,
      reporter: new StreamReporter(l => said.push(l)),
      now: day(n),
      progressIntervalMs: 0
    })
  await take(0, exec)
  execFileSync(SQLITE, [db, "INSERT INTO t (v) VALUES ('one');"])
  const small = await take(1, new SmallHost())
  expect(small.manifest.database).toMatchObject({
    dump: 'database.dump',
    store: { compression: 'none', base: null }
  })
  expect(said.join('\n')).toMatch(
    /the dump is kept whole: a delta against snapshot \S+ needs about .* of memory, and local has 16 KB available/
  )
  // With the memory, the next one is a delta again (against the new base).
  execFileSync(SQLITE, [db, "INSERT INTO t (v) VALUES ('two');"])
  const next = await take(2, exec)
  expect(next.manifest.database).toMatchObject({
    dump: 'database.dump.zst',
    store: { compression: 'zstd', base: small.id }
  })
})
