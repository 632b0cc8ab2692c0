/**
 * init's server-database step against real PostgreSQL 15 and MariaDB servers: the site's
 * database and its owner are created through the admin login, the owner logs in with the
 * password of its secret, a second run leaves everything as it is, the undo removes only what was
 * created; the password is never in a command's argv nor in the output.
 */
import { execFileSync } from 'node:child_process'
import type { Command } from '../../src/commands/command.js'
import type { DatabaseSettings } from '../../src/config/model.js'
import { ensureSiteDatabase, removeSiteDatabase } from '../../src/databases/site-database.js'
import type { RunOptions } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  startMariaDb,
  startPostgres,
  type MariaDbServer,
  type PostgresServer
} from '../helpers/databases.js'

/** A local executor that keeps every argv it runs. */
class ArgvRecorder extends LocalExecutor {
  argvs: string[][] = []
  override async tryRun(command: Command, options?: RunOptions) {
    this.argvs.push(command.argv)
    return super.tryRun(command, options)
  }
}

const PASSWORD = `it's a \\ "secret" $x`
const env = { ...process.env, INITDB_OWNER_PW: PASSWORD }

function reporter(): { reporter: StreamReporter; lines: string[] } {
  const lines: string[] = []
  return { reporter: new StreamReporter(l => lines.push(l)), lines }
}

describe('postgres', () => {
  let pg: PostgresServer
  beforeAll(async () => {
    pg = await startPostgres()
  })
  afterAll(async () => pg?.stop())

  const asOwner = (sql: string): string =>
    execFileSync(
      'psql',
      ['-X', '-At', '-h', '127.0.0.1', '-p', String(pg.port), '-U', 'initdb_owner', '-w'],
      {
        input: sql,
        env: { ...process.env, PGPASSWORD: PASSWORD, PGDATABASE: 'initdb_site' }
      }
    )
      .toString()
      .trim()

  test('creates the database and its owner once, then leaves them alone; undo drops them', async () => {
    const db: DatabaseSettings = {
      engine: 'postgres',
      name: 'initdb_site',
      host: pg.socketDir,
      port: pg.port,
      user: 'initdb_owner',
      passwordEnv: 'INITDB_OWNER_PW',
      admin: { user: 'postgres' }
    }
    const exec = new ArgvRecorder()
    const r = reporter()
    const first = await ensureSiteDatabase(exec, db, r.reporter, env)
    expect(first.status).toBe('created')
    expect(first.message).toMatch(/created role initdb_owner .*created database initdb_site/)
    // The owner logs in over TCP with the password of its secret, and owns the database.
    expect(
      asOwner(
        'SELECT current_user, pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database();'
      )
    ).toBe('initdb_owner|initdb_owner')
    asOwner('CREATE TABLE kept (id int); INSERT INTO kept VALUES (7);')

    const second = await ensureSiteDatabase(exec, db, r.reporter, env)
    expect(second).toEqual({
      status: 'exists',
      message: 'database initdb_site exists: left as it is'
    })
    expect(asOwner('SELECT id FROM kept;')).toBe('7')

    // Without an admin login: the site's own login sees the database, and says so.
    const noAdmin = await ensureSiteDatabase(
      exec,
      { ...db, host: '127.0.0.1', admin: undefined },
      r.reporter,
      env
    )
    expect(noAdmin.status).toBe('exists')

    for (const argv of exec.argvs) expect(argv.join(' ')).not.toContain(PASSWORD)
    expect(r.lines.join('\n')).not.toContain(PASSWORD)

    await removeSiteDatabase(exec, db, first, env)
    expect(
      pg.sql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'initdb_site';").trim()
    ).toBe('0')
    expect(
      pg.sql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'initdb_owner';").trim()
    ).toBe('0')
  })

  test('a role that exists is kept with its password and given the new database', async () => {
    pg.sql('postgres', "CREATE ROLE initdb_kept LOGIN PASSWORD 'old-one';")
    const db: DatabaseSettings = {
      engine: 'postgres',
      name: 'initdb_kept_db',
      host: pg.socketDir,
      port: pg.port,
      user: 'initdb_kept',
      passwordEnv: 'INITDB_OWNER_PW',
      admin: { user: 'postgres' }
    }
    const out = await ensureSiteDatabase(new LocalExecutor(), db, reporter().reporter, env)
    expect(out.message).toBe(
      'role initdb_kept exists: kept; created database initdb_kept_db owned by initdb_kept'
    )
    expect(out.createdUser).toBeUndefined()
    expect(
      pg
        .sql(
          'postgres',
          "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'initdb_kept_db';"
        )
        .trim()
    ).toBe('initdb_kept')
  })
})

describe('mariadb', () => {
  let maria: MariaDbServer
  beforeAll(async () => {
    maria = await startMariaDb()
  })
  afterAll(async () => maria?.stop())

  const asOwner = (sql: string): string =>
    execFileSync(
      'mariadb',
      [
        '--no-defaults',
        `--socket=${maria.socket}`,
        '-u',
        'initdb_owner',
        '-N',
        '-B',
        'initdb_site'
      ],
      { input: sql, env: { ...process.env, MYSQL_PWD: PASSWORD } }
    )
      .toString()
      .trim()

  test('creates the database and its account once, then leaves them alone; undo drops them', async () => {
    const db: DatabaseSettings = {
      engine: 'mysql',
      name: 'initdb_site',
      host: maria.socket,
      user: 'initdb_owner',
      passwordEnv: 'INITDB_OWNER_PW',
      admin: { user: 'root' }
    }
    const exec = new ArgvRecorder()
    const r = reporter()
    const first = await ensureSiteDatabase(exec, db, r.reporter, env)
    expect(first.message).toBe(
      'created database initdb_site; created account initdb_owner@localhost (password from INITDB_OWNER_PW) with all privileges on it'
    )
    asOwner('CREATE TABLE kept (id int); INSERT INTO kept VALUES (7);')
    expect(asOwner('SELECT CURRENT_USER(), id FROM kept;')).toBe('initdb_owner@localhost\t7')

    const second = await ensureSiteDatabase(exec, db, r.reporter, env)
    expect(second.status).toBe('exists')
    expect(asOwner('SELECT id FROM kept;')).toBe('7')

    for (const argv of exec.argvs) expect(argv.join(' ')).not.toContain(PASSWORD)
    expect(r.lines.join('\n')).not.toContain(PASSWORD)

    await removeSiteDatabase(exec, db, first, env)
    expect(
      maria
        .sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'initdb_site';")
        .trim()
    ).toBe('0')
    expect(maria.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'initdb_owner';").trim()).toBe(
      '0'
    )
  })
})
