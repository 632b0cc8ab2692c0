/**
 * A mirror's read-only login (`sites.<n>.database.reader`) on real PostgreSQL 15 and MariaDB
 * servers: init creates it through the admin login; each refresh gives it read access (postgres:
 * on the staged copy, before the swap) and checks, logged in as it with its own password, that it
 * reads every table and may do nothing more. The application logging in as it can read, and
 * cannot write even when it turns PostgreSQL's read-only default off. A reader that may write,
 * or cannot log in, stops the refresh before the swap: the mirror keeps what it showed, no
 * scratch database is left, the error names the reader and what it may do.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { renderAppEnv } from '../../src/config/app-env.js'
import { ensureSiteDatabase, removeSiteDatabase } from '../../src/databases/site-database.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { MirrorFailed, refreshMirror } from '../../src/pipelines/mirror.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  startMariaDb,
  startPostgres,
  type MariaDbServer,
  type PostgresServer
} from '../helpers/databases.js'

const exec = new LocalExecutor()
const READER_PW = `ro's \\ "pw" $y`
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const day = (n: number) => () => new Date(Date.UTC(2024, 4, 1 + n, 2))
const dayAfter = (n: number) => () => new Date(Date.UTC(2024, 4, 2 + n, 3))

/** What each engine's test needs: its config, SQL as the admin, as the reader, the databases. */
interface EngineCase {
  yaml(dir: string, reader: string): string
  /** SQL as the server's superuser in database `db`. */
  admin(db: string, text: string): string
  /** SQL as the reader in the mirror's database (its password over its own login). */
  asReader(text: string): string
  /** The names of the server's databases. */
  databases(): string[]
  /** Whether the reader's login exists on the server. */
  readerExists(): boolean
  /** Let the reader write (the mistake the check must catch). */
  letReaderWrite(): void
  /** Take that back, and let it write through a role it must first take (SET ROLE). */
  letRoleWrite(): void
  /** What the check says about that role. */
  roleWrites: RegExp
  /** What the check says about a reader that may write. */
  mayWrite: RegExp
  /** The refusal of a write by the reader. */
  refused: RegExp
  /** The reader's attempt to write after turning what it can off. */
  write: string
  /** The reader's attempt to make a table of its own, and its refusal. */
  create: string
  createRefused: RegExp
}

const SITES = (db: (name: string) => string, reader: string, admin: string) => `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application", env: { DATABASE_URL: "{{ database.url }}" } }
sites:
  v1:
    root: ROOT/v1
    url: http://127.0.0.1:9
    database: ${db('reader_src')}
  m1:
    role: mirror
    from: v1
    lag: 1d
    root: ROOT/m1
    url: http://127.0.0.1:9
    access: { basic_auth: false }
    database: { ${db('reader_m1').slice(2, -2)}, admin: ${admin}, reader: { user: ${reader}, password_env: MIRROR_READER_PW } }
`

async function scenario(k: EngineCase): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-reader-'))
  try {
    process.env.MIRROR_READER_PW = READER_PW
    const yaml = k.yaml(dir, 'mirror_ro').replace(/ROOT/g, dir)
    const file = join(dir, 'sitecycle.yml')
    await writeFile(file, yaml)
    const config: SitecycleConfig = parseConfig(yaml, file)
    for (const name of ['v1', 'm1']) await mkdir(join(dir, name, '.sitecycle'), { recursive: true })

    // The application of the mirror logs in as the reader, with the reader's password.
    const env = renderAppEnv(config.sites.m1.env ?? [], config.sites.m1, file, process.env)
    expect(env.variables.DATABASE_URL).toContain(`mirror_ro:${encodeURIComponent(READER_PW)}@`)
    expect(env.secrets).toContain(READER_PW)

    // init: the mirror's database, and its reader, through the admin login.
    const made = await ensureSiteDatabase(exec, config.sites.m1.database!, reporter())
    expect(made.message).toMatch(/created reader mirror_ro/)
    expect(made.createdReader).toBe('mirror_ro')

    k.admin(
      'reader_src',
      "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'one');"
    )
    const snapshot = (n: number) =>
      takeSnapshot({
        config,
        site: config.sites.v1,
        exec,
        reporter: reporter(),
        now: day(n),
        progressIntervalMs: 0
      })
    const refresh = (n: number, site = config.sites.m1) =>
      refreshMirror({
        config,
        site,
        exec,
        reporter: reporter(),
        now: dayAfter(n),
        deployRelease: false,
        reload: false
      })

    await snapshot(0)
    const o = await refresh(0)
    expect(o.status).toBe('refreshed')
    expect(o.steps.find(s => s.name === 'stage-database')?.note).toMatch(
      /its reader mirror_ro reads them and may do nothing more/
    )
    // The reader reads; it cannot write, whatever it switches off.
    expect(k.asReader('SELECT count(*) FROM notes;').trim()).toBe('1')
    expect(() => k.asReader(k.write)).toThrow(k.refused)
    expect(() => k.asReader(k.create)).toThrow(k.createRefused)
    expect(k.admin('reader_m1', 'SELECT count(*) FROM notes;').trim()).toBe('1')
    const databases = k.databases()

    // A reader that may write stops the next refresh before its swap.
    k.admin('reader_src', "INSERT INTO notes VALUES (2, 'two');")
    await snapshot(1)
    k.letReaderWrite()
    const e = await refresh(1).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(MirrorFailed)
    const failed = e as MirrorFailed
    expect(failed.failedStep).toBe('stage-database')
    expect(failed.message).toMatch(
      /the mirror's reader mirror_ro \(database\.reader\) must read reader_m1 and nothing more, but it/
    )
    expect(failed.message).toMatch(k.mayWrite)
    expect(failed.message).toMatch(/reader_m1 was not touched/)
    expect(failed.message).not.toMatch(/GRANT |information_schema|pg_class|\n/)
    expect(failed.message).not.toContain(READER_PW)
    expect(k.admin('reader_m1', 'SELECT count(*) FROM notes;').trim()).toBe('1')
    expect(k.databases()).toEqual(databases)

    // So does one that may write only once it takes a role (not inherited: SET ROLE first).
    k.letRoleWrite()
    const viaRole = await refresh(1).catch((x: unknown) => x)
    expect(viaRole).toBeInstanceOf(MirrorFailed)
    expect((viaRole as MirrorFailed).failedStep).toBe('stage-database')
    expect((viaRole as MirrorFailed).message).toMatch(k.roleWrites)
    expect(k.admin('reader_m1', 'SELECT count(*) FROM notes;').trim()).toBe('1')
    expect(k.databases()).toEqual(databases)

    // A reader that cannot log in (no such login) stops it too, naming the reader.
    const ghost = parseConfig(k.yaml(dir, 'mirror_ghost').replace(/ROOT/g, dir), file)
    const g = await refresh(1, ghost.sites.m1).catch((x: unknown) => x)
    expect(g).toBeInstanceOf(MirrorFailed)
    expect((g as MirrorFailed).failedStep).toBe('stage-database')
    expect((g as MirrorFailed).message).toMatch(/mirror_ghost, the mirror's reader/)
    expect(k.admin('reader_m1', 'SELECT count(*) FROM notes;').trim()).toBe('1')
    expect(k.databases()).toEqual(databases)

    // Nothing printed the reader's password.
    expect(lines.join('\n')).not.toContain(READER_PW)

    // init's undo drops what it created: the reader too.
    expect(k.readerExists()).toBe(true)
    await removeSiteDatabase(exec, config.sites.m1.database!, made)
    expect(k.readerExists()).toBe(false)
  } finally {
    delete process.env.MIRROR_READER_PW
    await rm(dir, { recursive: true, force: true })
  }
}

describe('postgres', () => {
  let pg: PostgresServer
  beforeAll(async () => {
    pg = await startPostgres()
    process.env.READER_TEST_PG_PW = pg.password
  })
  afterAll(async () => {
    delete process.env.READER_TEST_PG_PW
    await pg?.stop()
  })

  test('the reader reads every table and can write none, even with the read-only default turned off; a reader that may write or cannot log in stops the refresh before the swap', async () => {
    await scenario({
      yaml: (dir, reader) =>
        SITES(
          name =>
            `{ engine: postgres, name: ${name}, host: 127.0.0.1, port: ${pg.port}, user: postgres, password_env: READER_TEST_PG_PW }`,
          reader,
          '{ user: postgres, password_env: READER_TEST_PG_PW }'
        ),
      admin: (db, text) => {
        if (
          db === 'reader_src' &&
          !pg.sql('postgres', "SELECT 1 FROM pg_database WHERE datname = 'reader_src'").trim()
        )
          pg.sql('postgres', 'CREATE DATABASE reader_src')
        return pg.sql(db, text)
      },
      asReader: text =>
        execFileSync(
          'psql',
          [
            '-X',
            '-At',
            '-v',
            'ON_ERROR_STOP=1',
            '-h',
            '127.0.0.1',
            '-p',
            String(pg.port),
            '-U',
            'mirror_ro',
            '-w',
            'reader_m1'
          ],
          {
            input: text,
            env: { ...process.env, PGPASSWORD: READER_PW },
            stdio: ['pipe', 'pipe', 'pipe']
          }
        ).toString(),
      databases: () =>
        pg.sql('postgres', 'SELECT datname FROM pg_database ORDER BY 1').trim().split('\n'),
      readerExists: () =>
        pg.sql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'mirror_ro'").trim() ===
        '1',
      // A member of pg_write_all_data may write every table.
      letReaderWrite: () => pg.sql('postgres', 'GRANT pg_write_all_data TO mirror_ro'),
      // NOINHERIT: it writes nothing as itself, everything after SET ROLE pg_write_all_data.
      letRoleWrite: () => pg.sql('postgres', 'ALTER ROLE mirror_ro NOINHERIT'),
      roleWrites: /may write table notes \(as role pg_write_all_data\)/,
      mayWrite: /may write table notes/,
      refused: /permission denied for table notes/,
      write: "SET default_transaction_read_only = off; INSERT INTO notes VALUES (99, 'w');",
      create: 'SET default_transaction_read_only = off; CREATE TABLE mine (id int);',
      createRefused: /permission denied for schema public/
    })
  })
})

describe('mariadb', () => {
  let maria: MariaDbServer
  beforeAll(async () => {
    maria = await startMariaDb()
  })
  afterAll(async () => maria?.stop())

  test('the reader reads every table and can write none; a reader that may write or cannot log in stops the refresh before the swap', async () => {
    await scenario({
      yaml: (_dir, reader) =>
        SITES(
          name => `{ engine: mysql, name: ${name}, host: ${maria.socket}, user: root }`,
          reader,
          '{ user: root }'
        ),
      admin: (db, text) => {
        maria.sql('CREATE DATABASE IF NOT EXISTS reader_src;')
        return maria.sql(text, db)
      },
      asReader: text =>
        execFileSync(
          'mariadb',
          ['--no-defaults', `--socket=${maria.socket}`, '-u', 'mirror_ro', '-N', '-B', 'reader_m1'],
          {
            input: text,
            env: { ...process.env, MYSQL_PWD: READER_PW },
            stdio: ['pipe', 'pipe', 'pipe']
          }
        ).toString(),
      databases: () => maria.sql('SHOW DATABASES;').trim().split('\n').sort(),
      readerExists: () =>
        maria.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'mirror_ro';").trim() === '1',
      letReaderWrite: () => maria.sql("GRANT INSERT ON reader_m1.* TO 'mirror_ro'@'localhost';"),
      letRoleWrite: () =>
        maria.sql(
          "REVOKE INSERT ON reader_m1.* FROM 'mirror_ro'@'localhost'; CREATE ROLE mirror_writer; GRANT INSERT ON reader_m1.* TO mirror_writer; GRANT mirror_writer TO 'mirror_ro'@'localhost';"
        ),
      roleWrites: /may take role mirror_writer \(SET ROLE\), whose privileges cannot be checked/,
      mayWrite: /holds INSERT on database reader_m1/,
      refused: /INSERT command denied to user 'mirror_ro'@'localhost' for table .*notes/,
      write: "INSERT INTO notes VALUES (99, 'w');",
      create: 'CREATE TABLE mine (id int);',
      createRefused: /CREATE command denied to user 'mirror_ro'@'localhost'/
    })
  })
})
