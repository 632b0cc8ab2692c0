/**
 * The database engines against real servers: PostgreSQL 15 and MariaDB started in temp dirs,
 * SQLite files, and one PostgreSQL run over SSH. Each engine: dump, change, restore, and the
 * checksums are those of before; a corrupt dump leaves the target exactly as it was.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import {
  pgChecksumsBesideScript,
  pgDumpWithChecksums
} from '../../src/commands/databases/postgres.js'
import { connectionOf } from '../../src/databases/connection.js'
import type { Command } from '../../src/commands/command.js'
import type { DatabaseConfig } from '../../src/databases/engine.js'
import { storeDump } from '../../src/snapshots/dump-store.js'
import { copyDatabase, getEngine } from '../../src/databases/registry.js'
import { anonymizeAndCheck } from '../../src/pipelines/anonymize.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  startMariaDb,
  startPostgres,
  type MariaDbServer,
  type PostgresServer
} from '../helpers/databases.js'
import { noneLeft, processesMarked } from '../helpers/marked-processes.js'
import { startSshd } from '../helpers/sshd.js'

const PY = '/usr/bin/python3'
const AWKWARD = `odd "table" it's`
const local = new LocalExecutor()

function recorder(): { reporter: StreamReporter; lines: string[] } {
  const lines: string[] = []
  return { reporter: new StreamReporter(l => lines.push(l)), lines }
}

/** Wait until `check` holds (polling), or fail. */
async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 50))
  }
}

/** Spawn `c` (argv, env, input) with `mark` in its environment, as a host runs a program. */
function spawnMarked(c: Command, mark: string): ChildProcess {
  const [name, value] = mark.split('=')
  const child = spawn(c.argv[0], c.argv.slice(1), {
    env: { ...process.env, ...c.env, [name]: value },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  child.stdin!.end(c.input)
  return child
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode)
    else child.once('exit', code => resolve(code))
  })
}

let dir: string
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-db-test-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe('postgres engine', () => {
  let pg: PostgresServer
  const engine = getEngine('postgres')
  const db = (name: string): DatabaseConfig => ({
    engine: 'postgres',
    name,
    host: pg.socketDir,
    port: pg.port,
    user: 'postgres'
  })

  function seed(name: string): void {
    pg.sql('postgres', `CREATE DATABASE "${name}"`)
    pg.sql(
      name,
      `CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2), at timestamptz);
       CREATE TABLE "odd ""table"" it's" (id serial PRIMARY KEY, note text);
       CREATE SCHEMA extra; CREATE TABLE extra.log (n int, payload bytea);
       INSERT INTO items SELECT g, 'item ' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 500) g;
       INSERT INTO "odd ""table"" it's" (note) VALUES ('a|b'), ('quote '' here'), (NULL);
       INSERT INTO extra.log SELECT g, decode(md5(g::text), 'hex') FROM generate_series(1, 50) g;`
    )
  }
  const scratchLeft = (): string =>
    pg
      .sql(
        'postgres',
        `SELECT string_agg(datname, ',') FROM pg_database WHERE datname LIKE '%\\_\\_sc\\_%'`
      )
      .trim()

  beforeAll(async () => {
    pg = await startPostgres()
  })
  afterAll(async () => {
    await pg?.stop()
  })

  test('dump, change, restore (custom format, then directory format with -j 2): checksums as before; size > 0', async () => {
    seed('shop')
    const before = await engine.checksums(local, db('shop'))
    expect(before.map(t => [t.table, t.rows])).toEqual([
      ['extra.log', 50],
      ['items', 500],
      [AWKWARD, 3]
    ])
    expect(await engine.size(local, db('shop'))).toBeGreaterThan(1000)

    for (const jobs of [1, 2]) {
      const { reporter } = recorder()
      const dumpPath = path.join(dir, `shop-${jobs}.dump`)
      const result = await engine.dump(local, db('shop'), dumpPath, reporter, { jobs })
      expect(result.format).toBe(jobs > 1 ? 'pg-directory' : 'pg-custom')
      expect((await fs.stat(dumpPath)).isDirectory()).toBe(jobs > 1)
      expect(result.size).toBeGreaterThan(0)

      pg.sql(
        'shop',
        `DELETE FROM items WHERE id > 10; UPDATE "odd ""table"" it's" SET note = 'changed'; CREATE TABLE added (x int);`
      )
      const changed = await engine.checksums(local, db('shop'))
      expect(changed).not.toEqual(before)

      await engine.restore(local, db('shop'), dumpPath, reporter, { jobs })
      expect(await engine.checksums(local, db('shop'))).toEqual(before)
      expect(scratchLeft()).toBe('')
    }
  })

  test('checksums: the same rows in any order give the same checksum; one changed value or one fewer duplicate row changes it', async () => {
    pg.sql('postgres', 'CREATE DATABASE sums')
    pg.sql(
      'sums',
      `CREATE TABLE a (id int, note text, at timestamptz);
       CREATE TABLE b (id int, note text, at timestamptz);
       CREATE TABLE c (id int, note text, at timestamptz);
       INSERT INTO a SELECT g % 7, 'note ' || (g % 7), '2024-01-01'::timestamptz + g * interval '1 day' FROM generate_series(1, 300) g;
       INSERT INTO b SELECT * FROM a ORDER BY id DESC, at DESC;
       INSERT INTO c SELECT * FROM a;`
    )
    const sums = async (): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await engine.checksums(local, db('sums'))).map(t => [t.table, t.checksum])
      )
    const first = await sums()
    expect(first.a).toMatch(/^h1:-?\d+$/)
    expect(first.b).toBe(first.a)
    expect(first.c).toBe(first.a)
    // duplicates count: rows 1 and 8 of a are equal to others (id 1 recurs); removing one copy changes the sum
    pg.sql('sums', `DELETE FROM c WHERE ctid = (SELECT min(ctid) FROM c WHERE id = 1)`)
    pg.sql('sums', `UPDATE b SET note = 'note x' WHERE at = '2024-01-05'::timestamptz`)
    const second = await sums()
    expect(second.a).toBe(first.a)
    expect(second.b).not.toBe(first.a)
    expect(second.c).not.toBe(first.a)
    // a session's display settings do not change the checksum
    pg.sql('postgres', `ALTER DATABASE sums SET datestyle = 'SQL, DMY'`)
    pg.sql('postgres', `ALTER DATABASE sums SET timezone = 'Asia/Tokyo'`)
    expect((await sums()).a).toBe(first.a)
  })

  test("checksumsThen: the checksums of the tables before its SQL, which runs after them in a fresh session's settings; a failing SQL leaves nothing", async () => {
    seed('sums_then')
    pg.sql('postgres', `ALTER DATABASE sums_then SET timezone = 'Asia/Tokyo'`)
    const before = await engine.checksums(local, db('sums_then'))
    const r = await engine.checksumsThen!(
      local,
      db('sums_then'),
      `BEGIN;
       CREATE TABLE kept AS SELECT current_setting('TimeZone') AS tz, (SELECT at::text FROM items WHERE id = 1) AS at;
       COMMIT;\n`
    )
    expect(r).toEqual({ tables: before, ran: true })
    // The table it created is not among the checksums (listed before); it saw the database's
    // own settings, not the checksums' UTC.
    expect(r.tables.map(t => t.table)).not.toContain('kept')
    const own = pg.sql('sums_then', 'SELECT at::text FROM items WHERE id = 1').trim()
    expect(own).toMatch(/\+09$/)
    expect(pg.sql('sums_then', 'SELECT tz, at FROM kept').trim()).toBe(`Asia/Tokyo|${own}`)
    const failed = await engine.checksumsThen!(
      local,
      db('sums_then'),
      `BEGIN;\nCREATE TABLE half AS SELECT 1 AS n;\nCREATE TABLE broken AS SELECT no_such_column FROM items;\nCOMMIT;\n`
    )
    expect(failed.ran).toBe(false)
    const now = await engine.checksums(local, db('sums_then'))
    expect(failed.tables).toEqual(now)
    expect(now.map(t => t.table)).toContain('kept')
    expect(now.map(t => t.table)).not.toContain('half')
    // A checksum that fails is an error naming the table, whatever follows.
    pg.sql('sums_then', `CREATE ROLE cannot_read LOGIN`)
    await expect(
      engine.checksumsThen!(local, { ...db('sums_then'), user: 'cannot_read' }, 'SELECT 1;\n')
    ).rejects.toThrow(/could not checksum table/)
  })

  test('anonymizeAndCheck (hashes kept in one transaction): the rule that left source values is named, the second of a table too; a literal the source had is not counted', async () => {
    pg.sql('postgres', 'CREATE DATABASE anon_check')
    pg.sql(
      'anon_check',
      `CREATE TABLE users (id int PRIMARY KEY, email text, name text, note text);
       CREATE TABLE pay (id int PRIMARY KEY, holder text);
       INSERT INTO users SELECT g, 'u' || g || '@example.org', 'name ' || g, CASE WHEN g = 3 THEN 'n/a' ELSE 'note ' || g END FROM generate_series(1, 200) g;
       INSERT INTO pay SELECT g, 'holder ' || g FROM generate_series(1, 50) g;`
    )
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-anon-'))
    const script = path.join(dir, 'anonymize.sql')
    const run = async (sql: string) => {
      await fs.writeFile(script, sql)
      return anonymizeAndCheck(local, engine, db('anon_check'), { local: script, onHost: script })
    }
    try {
      // The second of three rules on users leaves two names: refused, naming that rule.
      await expect(
        run(
          `UPDATE users SET email = 'x' || id || '@example.invalid', name = CASE WHEN id IN (7, 9) THEN name ELSE 'anon' END, note = 'n/a';
           UPDATE pay SET holder = 'h' || id;\n`
        )
      ).rejects.toThrow(
        /left 2 row\(s\) of users whose name is still as in the source \(rule `UPDATE users SET name`\)/
      )
      // The same on pay, after users' rules pass (row 3's note was 'n/a' before: the literal the
      // rule assigns is not a survivor).
      pg.sql(
        'anon_check',
        'SET client_min_messages = warning; DROP TABLE IF EXISTS sitecycle_anonymize_check_t0, sitecycle_anonymize_check_t1'
      )
      await expect(
        run(
          `UPDATE users SET email = 'y' || id || '@example.invalid', name = 'anon', note = 'n/a';
           UPDATE pay SET holder = CASE WHEN id = 50 THEN holder ELSE 'j' || id END;\n`
        )
      ).rejects.toThrow(/left 1 row\(s\) of pay whose holder is still as in the source/)
      pg.sql(
        'anon_check',
        'SET client_min_messages = warning; DROP TABLE IF EXISTS sitecycle_anonymize_check_t0, sitecycle_anonymize_check_t1'
      )
      const ok = await run(
        `UPDATE users SET email = 'z' || id || '@example.invalid', name = 'anon', note = 'n/a';
         UPDATE pay SET holder = 'k' || id;\n`
      )
      expect(ok.note).toMatch(
        /4 column\(s\) checked \(users\.email, users\.name, users\.note, pay\.holder;/
      )
      expect(ok.tables).toEqual(['users', 'pay'])
      // The check tables are gone.
      expect(
        pg
          .sql(
            'anon_check',
            `SELECT count(*) FROM pg_class WHERE relname LIKE 'sitecycle_anonymize_check%'`
          )
          .trim()
      ).toBe('0')
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('checksumsBesideScript: the checksums are of the copy before the script that ran beside them (a TRUNCATE in it waits for them); the values kept before it; a failed keep starts no script; a failed script is named', async () => {
    pg.sql('postgres', 'CREATE DATABASE beside')
    const seedBeside = () =>
      pg.sql(
        'beside',
        `SET client_min_messages = warning; DROP TABLE IF EXISTS a_big, sessions, users, kept, marker;
         CREATE TABLE a_big (id int, v text);
         INSERT INTO a_big SELECT g, repeat(md5(g::text), 2000) FROM generate_series(1, 4000) g;
         CREATE TABLE sessions (id int);
         INSERT INTO sessions SELECT g FROM generate_series(1, 300) g;
         CREATE TABLE users (id int PRIMARY KEY, email text);
         INSERT INTO users SELECT g, 'u' || g || '@example.org' FROM generate_series(1, 500) g;`
      )
    seedBeside()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-beside-'))
    const script = path.join(dir, 'anonymize.sql')
    const keep = `CREATE TABLE kept AS SELECT hashtextextended((email)::text, 0) AS h FROM users;\n`
    try {
      const before = await engine.checksums(local, db('beside'))
      // sessions is read after a_big (the tables in name order; 256 MB of text to hash): without
      // the reading session's locks the script's TRUNCATE would commit meanwhile, and the
      // checksums would see sessions empty (TRUNCATE is not MVCC-safe).
      await fs.writeFile(
        script,
        `UPDATE users SET email = 'x' || id || '@example.invalid';\nTRUNCATE sessions;\n`
      )
      const r = await engine.checksumsBesideScript!(local, db('beside'), keep, script)
      expect(r).toEqual({ kept: true, tables: before, script: {} })
      // The script did run, whole.
      expect(pg.sql('beside', `SELECT count(*) FROM sessions`).trim()).toBe('0')
      expect(
        pg.sql('beside', `SELECT count(*) FROM users WHERE email LIKE '%@example.invalid'`).trim()
      ).toBe('500')
      // The hashes kept are the values before the script.
      expect(
        pg
          .sql(
            'beside',
            `SELECT count(*) FROM kept WHERE h IN (SELECT hashtextextended(('u' || g || '@example.org')::text, 0) FROM generate_series(1, 500) g)`
          )
          .trim()
      ).toBe('500')

      // A keep that fails (no such column): the script never starts, nothing changes.
      seedBeside()
      await fs.writeFile(script, `CREATE TABLE marker (x int);\n`)
      const failedKeep = await engine.checksumsBesideScript!(
        local,
        db('beside'),
        `CREATE TABLE kept AS SELECT hashtextextended((no_such_column)::text, 0) AS h FROM users;\n`,
        script
      )
      expect(failedKeep).toEqual({ kept: false })
      expect(
        pg.sql('beside', `SELECT count(*) FROM pg_class WHERE relname IN ('marker', 'kept')`).trim()
      ).toBe('0')

      // A script that fails: its error, with the checksums taken all the same.
      seedBeside()
      await fs.writeFile(script, `UPDATE users SET email = 'y';\nUPDATE no_such_table SET x = 1;\n`)
      const failed = await engine.checksumsBesideScript!(local, db('beside'), keep, script)
      expect(failed.kept && failed.tables).toEqual(before)
      expect(failed.kept && failed.script.error).toMatch(/relation "no_such_table" does not exist/)
      // One transaction: its first UPDATE is not kept either.
      expect(pg.sql('beside', `SELECT count(*) FROM users WHERE email = 'y'`).trim()).toBe('0')
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('the dump with its checksums killed (SIGTERM) while pg_dump waits: neither psql nor pg_dump is left; the store program killed while zstd runs: zstd is not left', async () => {
    pg.sql('postgres', 'CREATE DATABASE dump_kill')
    pg.sql('dump_kill', `CREATE TABLE t (id int); INSERT INTO t VALUES (1)`)
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-dump-kill-'))
    // Another session holds the table: the checksums and pg_dump wait for it.
    const holder = spawn(
      'psql',
      ['-X', '-q', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'dump_kill'],
      {
        stdio: ['pipe', 'ignore', 'ignore']
      }
    )
    holder.stdin!.write('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT 1;\n')
    const mark = `SC_DUMP_KILL=${process.pid}`
    const c = pgDumpWithChecksums(
      PY,
      connectionOf(db('dump_kill')),
      'dump_kill',
      path.join(dir, 'dump'),
      [['public', 't']],
      { directory: true, compress: 0 }
    )
    const waiting = () =>
      pg
        .sql(
          'postgres',
          `SELECT count(*) FROM pg_stat_activity WHERE datname = 'dump_kill' AND wait_event_type = 'Lock'`
        )
        .trim()
    await until(() => waiting() === '0', 'nothing waiting yet')
    const child = spawnMarked(c, mark)
    try {
      await until(() => waiting() === '2', 'the checksums and pg_dump to wait for the lock')
      // The program, psql and pg_dump.
      expect((await processesMarked(mark)).length).toBe(3)
      child.kill('SIGTERM')
      expect(await exited(child)).toBe(143)
      expect(await noneLeft(mark)).toEqual([])
      // The store program, killed while its zstd (here one that sleeps) runs: zstd goes too.
      const bin = path.join(dir, 'bin')
      await fs.mkdir(bin)
      await fs.writeFile(path.join(bin, 'zstd'), '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 })
      await fs.mkdir(path.join(dir, 'raw'))
      await fs.writeFile(path.join(dir, 'raw', '1.dat'), 'rows\n')
      const stored = storeDump(PY, path.join(dir, 'raw'), path.join(dir, 'stored'), null)
      const store = spawnMarked(
        { ...stored, env: { ...stored.env, PATH: `${bin}:${process.env.PATH}` } },
        mark
      )
      await until(
        async () => (await processesMarked(mark)).length === 2,
        'the store program and its zstd'
      )
      store.kill('SIGTERM')
      expect(await exited(store)).toBe(143)
      expect(await noneLeft(mark)).toEqual([])
    } finally {
      child.kill('SIGKILL')
      holder.stdin!.end('ROLLBACK;\n')
      await exited(holder)
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('checksumsBesideScript killed (SIGTERM, as the resident Python passes on a killed run) while the script runs: neither psql is left', async () => {
    pg.sql('postgres', 'CREATE DATABASE beside_kill')
    pg.sql(
      'beside_kill',
      `CREATE TABLE users (id int, email text); INSERT INTO users VALUES (1, 'a')`
    )
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-beside-kill-'))
    const script = path.join(dir, 'anonymize.sql')
    await fs.writeFile(script, `SELECT pg_sleep(60);\n`)
    const mark = `SC_BESIDE_KILL=${process.pid}`
    const marked = () => processesMarked(mark)
    const c = pgChecksumsBesideScript(
      PY,
      connectionOf(db('beside_kill')),
      'beside_kill',
      [['public', 'users']],
      '',
      script
    )
    const child = spawnMarked(c, mark)
    try {
      // The script's session is sleeping: the program and the script's psql run (the reading
      // one may have ended: the checksums of one row are quick).
      await until(
        () =>
          pg
            .sql(
              'postgres',
              `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'`
            )
            .trim() === '1',
        'the script to run'
      )
      expect((await marked()).length).toBeGreaterThanOrEqual(2)
      child.kill('SIGTERM')
      expect(await exited(child)).toBe(143)
      expect(await noneLeft(mark)).toEqual([])
    } finally {
      child.kill('SIGKILL')
      pg.sql(
        'postgres',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'`
      )
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('anonymizeAndCheck with the compaction first (postgres): the check reads the tables as the compaction left them, and the compacted copy keeps no dead rows', async () => {
    expect(engine.compactBeforeCheck).toBe(true)
    pg.sql('postgres', 'CREATE DATABASE anon_compact')
    const seedUsers = () =>
      pg.sql(
        'anon_compact',
        `SET client_min_messages = warning; DROP TABLE IF EXISTS users, sitecycle_anonymize_check_t0;
         CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, bio text);
         INSERT INTO users SELECT g, 'u' || g || '@example.org', repeat('b', 200) FROM generate_series(1, 2000) g;`
      )
    seedUsers()
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-anon-'))
    const script = path.join(dir, 'anonymize.sql')
    await fs.writeFile(
      script,
      `UPDATE users SET email = 'x' || id || '@example.invalid', bio = NULL;\n`
    )
    const seen: string[][] = []
    const run = (between: (tables: string[]) => Promise<string>) =>
      anonymizeAndCheck(
        local,
        engine,
        db('anon_compact'),
        { local: script, onHost: script },
        {
          beforeCheck: async tables => {
            seen.push(tables)
            return between(tables)
          }
        }
      )
    try {
      // Work done between the script and the check that puts one source value back is caught:
      // the check runs after it, on what it left.
      await expect(
        run(async () => {
          pg.sql('anon_compact', `UPDATE users SET email = 'u5@example.org' WHERE id = 5`)
          return 'put back'
        })
      ).rejects.toThrow(/left 1 row\(s\) of users whose email is still as in the source/)
      expect(seen).toEqual([['users']])
      seedUsers()
      const size = () => Number(pg.sql('anon_compact', `SELECT pg_relation_size('users')`).trim())
      const before = size()
      const ok = await run(async tables => {
        await engine.compact!(local, db('anon_compact'), tables)
        return 'compacted'
      })
      expect(ok.note).toMatch(
        /2 column\(s\) checked \(users\.email, users\.bio; .*script [\d.]+ s, compacted, check [\d.]+ s\)/
      )
      // VACUUM FULL rewrote the table: none of the script's dead rows is left, so it is smaller
      // than before the script (which doubled it: every row has a dead version).
      expect(size()).toBeLessThan(before)
      expect(
        pg.sql('anon_compact', `SELECT count(*) FROM users WHERE email LIKE '%@example.org'`).trim()
      ).toBe('0')
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })

  test('a table that cannot be read: the checksum error and the dump error name the table', async () => {
    seed('locked')
    pg.sql('postgres', `CREATE ROLE reader LOGIN`)
    pg.sql(
      'locked',
      `ALTER TABLE items OWNER TO postgres; GRANT SELECT ON extra.log, "odd ""table"" it's" TO reader; GRANT USAGE ON SCHEMA extra TO reader`
    )
    const asReader = { ...db('locked'), user: 'reader' }
    await expect(engine.checksums(local, asReader)).rejects.toThrow(
      /^could not checksum table items of database locked on local: .*permission denied for table items/
    )
    const { reporter } = recorder()
    const dumpPath = path.join(dir, 'locked.dump')
    await expect(engine.dumpWithChecksums!(local, asReader, dumpPath, reporter)).rejects.toThrow(
      /^could not checksum table items of database locked on local: .*permission denied/
    )
    await expect(fs.stat(dumpPath)).rejects.toThrow()
    expect((await fs.readdir(dir)).filter(f => f.startsWith('locked.dump'))).toEqual([])
    // pg_dump itself failing (here: nowhere to write) is reported as such, in one sentence
    await expect(
      engine.dumpWithChecksums!(
        local,
        db('locked'),
        path.join(dir, 'no-such-dir', 'x.dump'),
        reporter
      )
    ).rejects.toThrow(
      /^pg_dump of database locked on local failed: pg_dump: error: could not open output file/
    )
  })

  test('dumpWithChecksums while a writer inserts: the checksums are those of the dump itself, in custom and directory format', async () => {
    seed('live')
    pg.sql('live', `CREATE TABLE feed (id bigserial PRIMARY KEY, body text)`)
    const writer = spawn(
      'psql',
      ['-X', '-q', '-h', pg.socketDir, '-p', String(pg.port), '-U', 'postgres', '-d', 'live'],
      { stdio: ['pipe', 'ignore', 'ignore'] }
    )
    writer.stdin!.write(
      `DO $$ BEGIN FOR i IN 1..1000000 LOOP INSERT INTO feed (body) VALUES (repeat('x', 200)); UPDATE items SET price = price + 1 WHERE id = 1 + i % 500; COMMIT; END LOOP; END $$;\n`
    )
    writer.stdin!.end()
    try {
      await until(() => Number(pg.sql('live', 'SELECT count(*) FROM feed')) > 200, 'the writer')
      for (const jobs of [1, 2]) {
        const { reporter } = recorder()
        const dumpPath = path.join(dir, `live-${jobs}.dump`)
        const before = await engine.checksums(local, db('live'))
        const result = await engine.dumpWithChecksums!(local, db('live'), dumpPath, reporter, {
          jobs
        })
        expect(result.format).toBe(jobs > 1 ? 'pg-directory' : 'pg-custom')
        expect(result.tables.map(t => t.table)).toEqual(['extra.log', 'feed', 'items', AWKWARD])
        expect(result.tables).not.toEqual(before) // the writer did write meanwhile
        await engine.restore(local, db(`live_copy${jobs}`), dumpPath, reporter, { jobs })
        expect(await engine.checksums(local, db(`live_copy${jobs}`))).toEqual(result.tables)
      }
    } finally {
      writer.kill('SIGKILL')
      await exited(writer)
    }
  })

  test('compact: after every row is rewritten, the database shrinks and holds the same rows', async () => {
    seed('anonymised')
    pg.sql(
      'anonymised',
      `INSERT INTO items SELECT g, 'item ' || g, g, now() FROM generate_series(501, 20000) g`
    )
    pg.sql('anonymised', `UPDATE items SET name = 'anonymous ' || id`)
    pg.sql('anonymised', `UPDATE items SET name = 'anonymous ' || id || ' '`)
    const before = await engine.checksums(local, db('anonymised'))
    const itemsSize = (): number =>
      Number(pg.sql('anonymised', `SELECT pg_total_relation_size('items')`))
    const bloated = itemsSize()
    await engine.compact!(local, db('anonymised'))
    expect(itemsSize()).toBeLessThan(bloated * 0.6)
    expect(await engine.checksums(local, db('anonymised'))).toEqual(before)
    // statistics refreshed (ANALYZE ran): the planner knows the table's rows
    expect(
      Number(pg.sql('anonymised', `SELECT reltuples FROM pg_class WHERE relname = 'items'`))
    ).toBe(20000)
  })

  test('compact rewrites the tables named (as a script names them) and those with dead rows, not the others', async () => {
    seed('compact_named')
    const file = (table: string): string =>
      pg.sql('compact_named', `SELECT pg_relation_filenode('${table}')`).trim()
    const odd = `"odd ""table"" it''s"`
    const before = { items: file('items'), odd: file(odd), log: file('extra.log') }
    const rows = await engine.checksums(local, db('compact_named'))
    // dead rows in a table no name gives (the statistics say so once flushed)
    pg.sql('compact_named', `UPDATE extra.log SET n = n; SELECT pg_stat_force_next_flush()`)
    // a name as a script writes it, quoted; one that is no table (any more) is left alone
    await engine.compact!(local, db('compact_named'), ['"odd ""table"" it\'s"', 'gone'])
    expect(file('items')).toBe(before.items)
    expect(file(odd)).not.toBe(before.odd)
    expect(file('extra.log')).not.toBe(before.log)
    expect(await engine.checksums(local, db('compact_named'))).toEqual(rows)
    expect(
      Number(pg.sql('compact_named', `SELECT reltuples FROM pg_class WHERE relname = 'items'`))
    ).toBe(500)
  })

  test('a corrupt dump fails and leaves the target exactly as it was, with no fresh database behind', async () => {
    seed('keep')
    const before = await engine.checksums(local, db('keep'))
    const good = path.join(dir, 'keep.dump')
    await engine.dump(local, db('keep'), good, recorder().reporter)
    const bytes = await fs.readFile(good)
    const corrupt = path.join(dir, 'keep-corrupt.dump')
    await fs.writeFile(
      corrupt,
      Buffer.concat([bytes.subarray(0, Math.floor(bytes.length * 0.6)), Buffer.from('garbage')])
    )

    await expect(engine.restore(local, db('keep'), corrupt, recorder().reporter)).rejects.toThrow(
      /keep is unchanged/
    )
    expect(await engine.checksums(local, db('keep'))).toEqual(before)
    expect(scratchLeft()).toBe('')
    await expect(
      engine.restore(local, db('keep'), path.join(dir, 'missing.dump'), recorder().reporter)
    ).rejects.toThrow(SitecycleError)
  })

  test('restore while a client is connected to the target: its connection is terminated, the restore succeeds', async () => {
    seed('busy')
    const before = await engine.checksums(local, db('busy'))
    const dumpPath = path.join(dir, 'busy.dump')
    await engine.dump(local, db('busy'), dumpPath, recorder().reporter)
    pg.sql('busy', 'TRUNCATE items')

    const client = spawn(
      'psql',
      [
        '-X',
        '-h',
        pg.socketDir,
        '-p',
        String(pg.port),
        '-U',
        'postgres',
        '-d',
        'busy',
        '-c',
        'SELECT pg_sleep(120)'
      ],
      { stdio: 'ignore' }
    )
    try {
      await until(
        () =>
          pg
            .sql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE datname = 'busy'`)
            .trim() === '1',
        'the client to connect'
      )
      const { reporter, lines } = recorder()
      await engine.restore(local, db('busy'), dumpPath, reporter)
      expect(lines.join('\n')).toMatch(/terminating the connections to busy/)
      expect(lines.join('\n')).toMatch(/terminated 1 connection\(s\) to busy/)
      expect(await exited(client)).not.toBe(0)
      expect(await engine.checksums(local, db('busy'))).toEqual(before)
      expect(scratchLeft()).toBe('')
    } finally {
      client.kill('SIGKILL')
    }
  })

  test('copyDatabase uses createdb -T when the source is idle and falls back to dump and restore when it is busy', async () => {
    seed('src')
    const before = await engine.checksums(local, db('src'))
    expect(await copyDatabase(local, db('src'), 'src_copy1', recorder().reporter)).toBe('template')
    expect(await engine.checksums(local, db('src_copy1'))).toEqual(before)

    const client = spawn(
      'psql',
      [
        '-X',
        '-h',
        pg.socketDir,
        '-p',
        String(pg.port),
        '-U',
        'postgres',
        '-d',
        'src',
        '-c',
        'SELECT pg_sleep(120)'
      ],
      { stdio: 'ignore' }
    )
    try {
      await until(
        () =>
          pg
            .sql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE datname = 'src'`)
            .trim() === '1',
        'the client to connect'
      )
      const { reporter, lines } = recorder()
      expect(await copyDatabase(local, db('src'), 'src_copy2', reporter, { jobs: 2 })).toBe(
        'dump-restore'
      )
      expect(lines.join('\n')).toMatch(/src is in use/)
      expect(await engine.checksums(local, db('src_copy2'))).toEqual(before)
      // the source's user was not disturbed
      expect(client.exitCode).toBeNull()
    } finally {
      client.kill('SIGKILL')
    }
    await expect(copyDatabase(local, db('src'), 'src_copy1', recorder().reporter)).rejects.toThrow(
      /already exists/
    )
    expect(scratchLeft()).toBe('')
    await engine.drop(local, db('src_copy2'))
    expect(await engine.exists(local, db('src_copy2'))).toBe(false)
    expect(await engine.exists(local, db('src_copy1'))).toBe(true)
  })

  test('runSqlFile applies a script in one transaction: a failing script changes nothing', async () => {
    seed('anon')
    const good = path.join(dir, 'anon.sql')
    await fs.writeFile(good, `UPDATE items SET name = 'anonymous';\n`)
    await engine.runSqlFile(local, db('anon'), good)
    expect(pg.sql('anon', `SELECT DISTINCT name FROM items`).trim()).toBe('anonymous')
    const before = await engine.checksums(local, db('anon'))
    const bad = path.join(dir, 'anon-bad.sql')
    await fs.writeFile(bad, `UPDATE items SET name = 'x';\nSELECT no_such_column FROM items;\n`)
    await expect(engine.runSqlFile(local, db('anon'), bad)).rejects.toThrow()
    expect(await engine.checksums(local, db('anon'))).toEqual(before)
  })

  test('over SSH, with a password over TCP from the named variable: dump, change, restore', async () => {
    const sshd = await startSshd()
    const ssh = createExecutor(
      { kind: 'ssh', user: 'root', hostname: '127.0.0.1', port: sshd.port },
      { keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile }
    )
    process.env.SC_TEST_PG_PASSWORD = pg.password
    try {
      seed('remote')
      const remote: DatabaseConfig = {
        engine: 'postgres',
        name: 'remote',
        host: '127.0.0.1',
        port: pg.port,
        user: 'postgres',
        passwordEnv: 'SC_TEST_PG_PASSWORD'
      }
      const before = await engine.checksums(ssh, remote)
      const { reporter, lines } = recorder()
      const dumpPath = path.join(dir, 'remote.dump')
      await engine.dump(ssh, remote, dumpPath, reporter, { jobs: 2 })
      pg.sql('remote', 'DELETE FROM items')
      await engine.restore(ssh, remote, dumpPath, reporter, { jobs: 2 })
      expect(await engine.checksums(ssh, remote)).toEqual(before)
      const checked = await engine.dumpWithChecksums!(
        ssh,
        remote,
        path.join(dir, 'remote-checked.dump'),
        reporter
      )
      expect(checked.tables).toEqual(before)
      expect(lines.join('\n')).not.toContain(pg.password)
      expect(scratchLeft()).toBe('')

      // the password really is used: a wrong one is refused, a missing variable is a config error
      process.env.SC_TEST_PG_PASSWORD = 'wrong-password'
      await expect(engine.size(ssh, remote)).rejects.toThrow(/password authentication failed/)
      delete process.env.SC_TEST_PG_PASSWORD
      await expect(engine.size(ssh, remote)).rejects.toThrow(/SC_TEST_PG_PASSWORD .* is not set/)
    } finally {
      delete process.env.SC_TEST_PG_PASSWORD
      await ssh.close()
      await sshd.stop()
    }
  })
})

describe('mysql engine (MariaDB)', () => {
  let maria: MariaDbServer
  const engine = getEngine('mysql')
  const password = `app pw 'with' $quotes`
  const db = (name: string): DatabaseConfig => ({
    engine: 'mysql',
    name,
    host: '127.0.0.1',
    port: maria.port,
    user: 'app',
    passwordEnv: 'SC_TEST_MYSQL_PASSWORD',
    python: PY
  })

  function seed(name: string): void {
    maria.sql(`CREATE DATABASE \`${name}\``)
    maria.sql(
      `CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), price DECIMAL(8,2), blob_col VARBINARY(16)) ENGINE=InnoDB;
       CREATE TABLE \`odd "table" it's\` (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT) ENGINE=InnoDB;
       CREATE TABLE audit (item_id INT, what VARCHAR(20)) ENGINE=InnoDB;
       CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW INSERT INTO audit VALUES (NEW.id, 'insert');
       CREATE VIEW expensive AS SELECT id, name FROM items WHERE price > 100;
       DELIMITER //
       CREATE PROCEDURE count_items(OUT n INT) BEGIN DECLARE x INT; SELECT COUNT(*) INTO x FROM items; SET n = x; END //
       DELIMITER ;
       INSERT INTO items WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300) SELECT n, CONCAT('item ', n), n * 1.5, UNHEX(MD5(n)) FROM g;
       INSERT INTO \`odd "table" it's\` (note) VALUES ('tab\there'), ('quote '' here'), (NULL);`,
      name
    )
  }
  const scratchLeft = (): string =>
    maria
      .sql(
        `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%\\_\\_sc\\_%'`
      )
      .trim()

  beforeAll(async () => {
    maria = await startMariaDb()
    for (const host of ['localhost', '127.0.0.1']) {
      maria.sql(
        `CREATE USER 'app'@'${host}' IDENTIFIED BY '${password.replace(/'/g, "''")}'; GRANT ALL ON *.* TO 'app'@'${host}';`
      )
    }
    process.env.SC_TEST_MYSQL_PASSWORD = password
  })
  afterAll(async () => {
    delete process.env.SC_TEST_MYSQL_PASSWORD
    await maria?.stop()
  })

  test('dump (plain and gzip), change, restore: checksums as before; triggers, views and routines work; size > 0', async () => {
    seed('shop')
    const before = await engine.checksums(local, db('shop'))
    expect(before.map(t => [t.table, t.rows])).toEqual([
      ['audit', 300],
      ['items', 300],
      [AWKWARD, 3]
    ])
    expect(before.every(t => /^\d+$/.test(t.checksum))).toBe(true)
    expect(await engine.size(local, db('shop'))).toBeGreaterThan(0)

    for (const gzip of [false, true]) {
      const { reporter, lines } = recorder()
      const dumpPath = path.join(dir, `shop-${gzip}.sql${gzip ? '.gz' : ''}`)
      const result = await engine.dump(local, db('shop'), dumpPath, reporter, { gzip })
      expect(result.format).toBe(gzip ? 'mysql-sql-gzip' : 'mysql-sql')
      expect((await fs.readFile(dumpPath)).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(
        gzip
      )

      maria.sql(
        `DELETE FROM items WHERE id > 5; UPDATE \`odd "table" it's\` SET note = 'changed'; DROP VIEW expensive; CREATE TABLE added (x INT);`,
        'shop'
      )
      expect(await engine.checksums(local, db('shop'))).not.toEqual(before)

      await engine.restore(local, db('shop'), dumpPath, reporter)
      expect(lines.join('\n')).not.toContain(password)
      expect(await engine.checksums(local, db('shop'))).toEqual(before)
      expect(scratchLeft()).toBe('0')
      // objects came back, working on the restored tables
      expect(maria.sql('SELECT COUNT(*) FROM expensive', 'shop').trim()).toBe(String(300 - 66))
      maria.sql(`INSERT INTO items VALUES (1000, 'new', 1, NULL); CALL count_items(@n);`, 'shop')
      expect(maria.sql(`SELECT COUNT(*) FROM audit WHERE item_id = 1000`, 'shop').trim()).toBe('1')
      maria.sql(
        `DELETE FROM items WHERE id = 1000; DELETE FROM audit WHERE item_id = 1000;`,
        'shop'
      )
    }
  })

  test('a corrupt dump fails and leaves the target exactly as it was, with no fresh database behind', async () => {
    seed('keep')
    const before = await engine.checksums(local, db('keep'))
    const good = path.join(dir, 'keep.sql')
    await engine.dump(local, db('keep'), good, recorder().reporter)
    const text = await fs.readFile(good, 'utf8')
    const corrupt = path.join(dir, 'keep-corrupt.sql')
    await fs.writeFile(
      corrupt,
      text.slice(0, Math.floor(text.length * 0.7)) + '\nTHIS IS NOT SQL;\n'
    )

    await expect(engine.restore(local, db('keep'), corrupt, recorder().reporter)).rejects.toThrow(
      /keep is unchanged/
    )
    expect(await engine.checksums(local, db('keep'))).toEqual(before)
    expect(scratchLeft()).toBe('0')
    expect(
      maria
        .sql(`SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'keep'`)
        .trim()
    ).toBe('1')
  })

  test('copyDatabase dumps and restores into a new database; exists and drop', async () => {
    seed('orig')
    const before = await engine.checksums(local, db('orig'))
    expect(await copyDatabase(local, db('orig'), 'orig copy', recorder().reporter)).toBe(
      'dump-restore'
    )
    expect(await engine.checksums(local, db('orig copy'))).toEqual(before)
    expect(await engine.exists(local, db('orig copy'))).toBe(true)
    await engine.drop(local, db('orig copy'))
    expect(await engine.exists(local, db('orig copy'))).toBe(false)
    expect(scratchLeft()).toBe('0')
  })
})

describe('sqlite engine', () => {
  const engine = getEngine('sqlite')
  const db = (file: string): DatabaseConfig => ({ engine: 'sqlite', name: file, python: PY })

  async function seed(file: string): Promise<void> {
    await local.run({
      argv: [
        PY,
        '-c',
        `import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
odd = '"' + sys.argv[2].replace('"', '""') + '"'
con.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL, data BLOB)')
con.execute('CREATE TABLE %s (id INTEGER PRIMARY KEY, note TEXT)' % odd)
con.executemany('INSERT INTO items VALUES (?, ?, ?, ?)', [(i, 'item %d' % i, i * 1.5, bytes([i % 256])) for i in range(1, 400)])
con.executemany('INSERT INTO %s (note) VALUES (?)' % odd, [('a|b',), ("quote ' here",), (None,)])
con.commit()`,
        file,
        AWKWARD
      ]
    })
  }
  const leftovers = async (): Promise<string[]> =>
    (await fs.readdir(dir)).filter(f => f.includes('sc-restore') || f.includes('.partial-'))

  test('dump with the backup API, change, restore by rename: checksums as before; size > 0', async () => {
    const file = path.join(dir, 'site.sqlite3')
    await seed(file)
    const before = await engine.checksums(local, db(file))
    expect(before.map(t => [t.table, t.rows])).toEqual([
      ['items', 399],
      [AWKWARD, 3]
    ])
    expect(await engine.size(local, db(file))).toBeGreaterThan(0)
    const dumpPath = path.join(dir, 'site.backup')
    const result = await engine.dump(local, db(file), dumpPath, recorder().reporter)
    expect(result.size).toBeGreaterThan(0)
    await expect(engine.dump(local, db(file), dumpPath, recorder().reporter)).rejects.toThrow(
      /already exists/
    )

    const sqlFile = path.join(dir, 'change.sql')
    await fs.writeFile(
      sqlFile,
      `DELETE FROM items WHERE id > 3; UPDATE "odd ""table"" it's" SET note = 'x;y';\n`
    )
    await engine.runSqlFile(local, db(file), sqlFile)
    expect(await engine.checksums(local, db(file))).not.toEqual(before)
    await fs.chmod(file, 0o640)

    await engine.restore(local, db(file), dumpPath, recorder().reporter)
    expect(await engine.checksums(local, db(file))).toEqual(before)
    expect((await fs.stat(file)).mode & 0o777).toBe(0o640)
    expect(await leftovers()).toEqual([])
  })

  test("dumpCopy: the copy under its name only, with its size, the database's size and the row counts; an existing path refused and left as it was", async () => {
    const file = path.join(dir, 'dumpcopy.sqlite3')
    await seed(file)
    const dumpPath = path.join(dir, 'dumpcopy.backup')
    const copy = await engine.dumpCopy!(local, db(file), dumpPath, recorder().reporter)
    expect(copy.size).toBe((await fs.stat(dumpPath)).size)
    expect(copy.databaseSize).toBe((await fs.stat(file)).size)
    expect(copy.databaseSize).toBe(await engine.size(local, db(file)))
    expect(copy.tables).toEqual([
      { table: 'items', rows: 399, checksum: '' },
      { table: AWKWARD, rows: 3, checksum: '' }
    ])
    // Its sha256, taken while it was synced, and the identity the copy has under its name.
    const st = await fs.lstat(dumpPath, { bigint: true })
    expect(copy.sum).toEqual({
      sha256: createHash('sha256')
        .update(await fs.readFile(dumpPath))
        .digest('hex'),
      identity: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':')
    })
    expect(await engine.checksums(local, db(dumpPath))).toEqual(
      await engine.checksums(local, db(file))
    )
    expect(await leftovers()).toEqual([])
    const bytes = await fs.readFile(dumpPath)
    await expect(engine.dumpCopy!(local, db(file), dumpPath, recorder().reporter)).rejects.toThrow(
      /dumpcopy\.backup: already exists/
    )
    expect((await fs.readFile(dumpPath)).equals(bytes)).toBe(true)
    expect(await leftovers()).toEqual([])
    await expect(
      engine.dumpCopy!(
        local,
        db(path.join(dir, 'none.sqlite3')),
        dumpPath + '2',
        recorder().reporter
      )
    ).rejects.toThrow(/none\.sqlite3: no such database file/)
    expect(await leftovers()).toEqual([])
  })

  test('a corrupt dump fails and leaves the target exactly as it was, with no temp file behind', async () => {
    const file = path.join(dir, 'keep.sqlite3')
    await seed(file)
    const before = await engine.checksums(local, db(file))
    const inode = (await fs.stat(file)).ino
    const dumpPath = path.join(dir, 'keep.backup')
    await engine.dump(local, db(file), dumpPath, recorder().reporter)
    const bytes = await fs.readFile(dumpPath)
    // keep the header, wreck the pages after it
    const corrupt = Buffer.from(bytes)
    corrupt.fill(0xab, 4096 + 100, corrupt.length - 10)
    await fs.writeFile(dumpPath + '.bad', corrupt)
    await fs.writeFile(dumpPath + '.text', 'not a database at all')

    for (const bad of [dumpPath + '.bad', dumpPath + '.text']) {
      await expect(engine.restore(local, db(file), bad, recorder().reporter)).rejects.toThrow(
        /keep\.sqlite3 is unchanged/
      )
      expect(await engine.checksums(local, db(file))).toEqual(before)
      expect((await fs.stat(file)).ino).toBe(inode)
      expect(await leftovers()).toEqual([])
    }
  })

  test('a dump while another process writes in a loop is a consistent copy', async () => {
    const file = path.join(dir, 'live.sqlite3')
    await local.run({
      argv: [
        PY,
        '-c',
        `import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript('PRAGMA journal_mode=WAL; CREATE TABLE a (n INTEGER); CREATE TABLE b (n INTEGER);')`,
        file
      ]
    })
    // each transaction adds one row to a and one to b: a consistent copy has as many of each
    const writer = spawn(
      PY,
      [
        '-c',
        `import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=30)
c.execute('PRAGMA synchronous=OFF')  # thousands of commits a second
i = 0
while True:
    with c:
        c.execute('INSERT INTO a VALUES (?)', (i,))
        c.execute('INSERT INTO b VALUES (?)', (i,))
    i += 1`,
        file
      ],
      { stdio: 'ignore' }
    )
    try {
      await until(
        async () => (await engine.checksums(local, db(file)))[0]!.rows > 200,
        'the writer to write'
      )
      for (let i = 0; i < 3; i++) {
        const dumpPath = path.join(dir, `live-${i}.backup`)
        await engine.dump(local, db(file), dumpPath, recorder().reporter)
        const copy = await engine.checksums(local, db(dumpPath))
        expect(copy[0]!.rows).toBeGreaterThan(0)
        expect(copy[0]!.rows).toBe(copy[1]!.rows)
        const check = await local.run({
          argv: [
            PY,
            '-c',
            `import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])`,
            dumpPath
          ]
        })
        expect(check.stdout.trim()).toBe('ok')
      }
      // a snapshot's copy: its row counts, taken beside the backup in the same state of the
      // database, are those of the copy
      for (let i = 0; i < 3; i++) {
        const dumpPath = path.join(dir, `live-copy-${i}.backup`)
        const copy = await engine.dumpCopy!(local, db(file), dumpPath, recorder().reporter)
        const inCopy = (await engine.checksums(local, db(dumpPath))).map(t => ({
          ...t,
          checksum: ''
        }))
        expect(copy.tables).toEqual(inCopy)
        expect(copy.tables[0]!.rows).toBeGreaterThan(0)
        expect(copy.tables[0]!.rows).toBe(copy.tables[1]!.rows)
      }
      // the copy and its checksums at once: the checksums are those of the copy
      for (let i = 0; i < 2; i++) {
        const dumpPath = path.join(dir, `live-checked-${i}.backup`)
        const result = await engine.dumpWithChecksums!(
          local,
          db(file),
          dumpPath,
          recorder().reporter
        )
        expect(result.tables.map(t => t.table)).toEqual(['a', 'b'])
        expect(result.tables[0]!.rows).toBe(result.tables[1]!.rows)
        expect(await engine.checksums(local, db(dumpPath))).toEqual(result.tables)
        // written with no journal and one fsync at the end: still a sound database
        const check = await local.run({
          argv: [
            PY,
            '-c',
            `import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])`,
            dumpPath
          ]
        })
        expect(check.stdout.trim()).toBe('ok')
      }
      expect(writer.exitCode).toBeNull()
    } finally {
      writer.kill('SIGKILL')
    }
  })

  test("dumpCopy while another connection holds the writers' lock (an open write transaction): the rows are counted in the copy, which holds none of that transaction's rows", async () => {
    const file = path.join(dir, 'locked.sqlite3')
    await seed(file)
    // a write transaction left open: one row more in items, not committed while the copy is made
    const holder = spawn(
      PY,
      [
        '-c',
        `import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute('BEGIN IMMEDIATE')
c.execute("INSERT INTO items (name) VALUES ('uncommitted')")
print('held', flush=True)
time.sleep(60)`,
        file
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve())
        holder.once('exit', code => reject(new Error(`the holder ended (${code})`)))
      })
      const dumpPath = path.join(dir, 'locked.backup')
      const copy = await engine.dumpCopy!(local, db(file), dumpPath, recorder().reporter)
      expect(copy.tables).toEqual([
        { table: 'items', rows: 399, checksum: '' },
        { table: AWKWARD, rows: 3, checksum: '' }
      ])
      expect((await engine.checksums(local, db(dumpPath))).map(t => t.rows)).toEqual([399, 3])
      expect(holder.exitCode).toBeNull()
    } finally {
      holder.kill('SIGKILL')
    }
  })

  test('checksums: the same rows in any order give the same checksum; one changed value or one fewer duplicate changes it; compact shrinks the file and keeps the rows', async () => {
    const file = path.join(dir, 'sums.sqlite3')
    await local.run({
      argv: [
        PY,
        '-c',
        `import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
rows = [(i % 7, 'note %d' % (i % 7), i * 0.5, bytes([i % 3])) for i in range(300)]
for t in ('a', 'b', 'c'):
    con.execute('CREATE TABLE %s (n INTEGER, note TEXT, x REAL, data BLOB)' % t)
con.executemany('INSERT INTO a VALUES (?, ?, ?, ?)', rows)
con.executemany('INSERT INTO b VALUES (?, ?, ?, ?)', list(reversed(rows)))
con.executemany('INSERT INTO c VALUES (?, ?, ?, ?)', rows)
con.execute('CREATE TABLE big (n INTEGER, pad TEXT)')
con.executemany('INSERT INTO big VALUES (?, ?)', [(i, 'x' * 500) for i in range(5000)])
con.commit()`,
        file
      ]
    })
    const sums = async (): Promise<Record<string, string>> =>
      Object.fromEntries((await engine.checksums(local, db(file))).map(t => [t.table, t.checksum]))
    const first = await sums()
    expect(first.a).toMatch(/^b2:[0-9a-f]{32}$/)
    expect(first.b).toBe(first.a)
    expect(first.c).toBe(first.a)
    const change = path.join(dir, 'sums.sql')
    await fs.writeFile(
      change,
      `DELETE FROM c WHERE rowid = (SELECT min(rowid) FROM c WHERE n = 1);\nUPDATE b SET x = 0.25 WHERE x = 0.5;\nDELETE FROM big WHERE n >= 100;\n`
    )
    await engine.runSqlFile(local, db(file), change)
    const second = await sums()
    expect(second.a).toBe(first.a)
    expect(second.b).not.toBe(first.a)
    expect(second.c).not.toBe(first.a)

    const bloated = (await fs.stat(file)).size
    await engine.compact!(local, db(file))
    expect((await fs.stat(file)).size).toBeLessThan(bloated / 2)
    expect(await sums()).toEqual(second)
  })

  test('copyDatabase uses the backup API; drop removes the file', async () => {
    const file = path.join(dir, 'orig.sqlite3')
    await seed(file)
    const copy = path.join(dir, 'copy.sqlite3')
    expect(await copyDatabase(local, db(file), copy, recorder().reporter)).toBe('backup')
    expect(await engine.checksums(local, db(copy))).toEqual(await engine.checksums(local, db(file)))
    await engine.drop(local, db(copy))
    expect(await engine.exists(local, db(copy))).toBe(false)
  })
})

test('an unknown engine is a config error naming the known ones', () => {
  expect(() => getEngine('oracle')).toThrow(
    /unknown database engine "oracle"; expected one of postgres, mysql, sqlite/
  )
  expect(() => getEngine('toString')).toThrow(SitecycleError)
})
