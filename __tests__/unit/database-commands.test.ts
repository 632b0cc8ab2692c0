import {
  mysql,
  mysqlChecksumsSql,
  mysqlConnectionArgs,
  mysqlExistsSql,
  mysqlSwapTablesSql,
  mysqldumpArgv,
  quoteMysqlIdent
} from '../../src/commands/databases/mysql.js'
import { scratchDatabaseName } from '../../src/commands/databases/names.js'
import {
  PG_SWAP_SQL,
  createdbFromTemplate,
  PG_CHECKSUM_SETTINGS_SQL,
  PG_DUMP_WITH_CHECKSUMS_PROGRAM,
  pgChecksumOf,
  pgChecksumsSql,
  pgDbConninfo,
  pgDump,
  pgDumpWithChecksums,
  pgRestore,
  psql,
  psqlFile,
  quotePgIdent
} from '../../src/commands/databases/postgres.js'
import { redirectInput, redirectOutput } from '../../src/commands/databases/python-programs.js'
import { describeCommand } from '../../src/commands/command.js'
import { connectionOf } from '../../src/databases/connection.js'
import { failureMessage, hostCpuCount } from '../../src/databases/host-paths.js'
import { RecordingExecutor, argvStartsWith } from '../../src/hosts/recording-executor.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { innodbDatabaseName, loadErrorOf, parseMysqlXml } from '../../src/databases/mysql.js'
import { pgRestoreErrorOf } from '../../src/databases/postgres.js'
import { getEngine } from '../../src/databases/registry.js'
import { CommandError } from '../../src/hosts/executor.js'
import { ConfigError, SitecycleError } from '../../src/util/errors.js'

const pgConn = { host: '/run/postgresql', port: 5433, user: 'weave', password: 's3cret pw' }

describe('quoting', () => {
  test('PostgreSQL identifiers: double quotes, inner quotes doubled', () => {
    expect(quotePgIdent('plain')).toBe('"plain"')
    expect(quotePgIdent(`odd "table" it's`)).toBe(`"odd ""table"" it's"`)
    expect(() => quotePgIdent('')).toThrow(SitecycleError)
    expect(() => quotePgIdent('a\0b')).toThrow(/NUL/)
  })
  test('MySQL identifiers: backticks, inner backticks doubled', () => {
    expect(quoteMysqlIdent('a`b c')).toBe('`a``b c`')
  })
  test('a database name is passed to libpq as a quoted conninfo, so "=" or a URI is not read as one', () => {
    expect(pgDbConninfo('shop')).toBe(`dbname='shop'`)
    expect(pgDbConninfo(`a=b 'c' \\d`)).toBe(`dbname='a=b \\'c\\' \\\\d'`)
  })
  test('MySQL string literals are hex, immune to sql_mode', () => {
    expect(mysqlExistsSql(`it's`)).toBe(
      `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = _utf8mb4 X'69742773';\n`
    )
  })
})

describe('scratch names', () => {
  test('<name>__sc_<kind>_<id>', () => {
    expect(scratchDatabaseName('weave_v1', 'restore', 'ab12cd34', 63)).toBe(
      'weave_v1__sc_restore_ab12cd34'
    )
    expect(scratchDatabaseName('weave_v1', 'old', 'ab12cd34', 63)).toBe('weave_v1__sc_old_ab12cd34')
  })
  test('a long name is cut to fit the limit in bytes, on a character boundary', () => {
    const long = 'é'.repeat(40)
    const name = scratchDatabaseName(long, 'restore', 'ab12cd34', 63)
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63)
    expect(name.endsWith('__sc_restore_ab12cd34')).toBe(true)
    expect(name).not.toContain('\uFFFD')
  })
})

describe('postgres commands', () => {
  test('pg_dump custom format for one job', () => {
    const c = pgDump(pgConn, 'shop', '/srv/snap/db.dump')
    expect(c.argv).toEqual([
      'pg_dump',
      '-h',
      '/run/postgresql',
      '-p',
      '5433',
      '-U',
      'weave',
      '-w',
      '-Fc',
      '-f',
      '/srv/snap/db.dump',
      `--dbname=dbname='shop'`
    ])
  })
  test('pg_dump directory format with -j for several jobs', () => {
    expect(pgDump({}, 'shop', '/d', { jobs: 4 }).argv).toEqual([
      'pg_dump',
      '-w',
      '-Fd',
      '-j',
      '4',
      '-f',
      '/d',
      `--dbname=dbname='shop'`
    ])
  })
  test('the password goes to PGPASSWORD and redact, never argv', () => {
    for (const c of [
      pgDump(pgConn, 'shop', '/d'),
      pgRestore(pgConn, 'shop', '/d'),
      psql(pgConn, 'shop', 'SELECT 1'),
      psqlFile(pgConn, 'shop', '/x.sql'),
      createdbFromTemplate(pgConn, 'postgres', 'a', 'b')
    ]) {
      expect(c.argv.join(' ')).not.toContain('s3cret')
      expect(c.env).toEqual({ PGPASSWORD: 's3cret pw' })
      expect(c.redact).toEqual(['s3cret pw'])
    }
    expect(pgDump({ user: 'x' }, 'shop', '/d').env).toBeUndefined()
  })
  test('pg_restore -j into a database, no owner, first error stops it', () => {
    expect(pgRestore({ port: 5432 }, 'shop__sc_restore_1', '/d.dump', 3).argv).toEqual([
      'pg_restore',
      '-p',
      '5432',
      '-w',
      `--dbname=dbname='shop__sc_restore_1'`,
      '--no-owner',
      '--exit-on-error',
      '-j',
      '3',
      '/d.dump'
    ])
  })
  test('psql gets SQL on stdin and names as variables psql quotes itself', () => {
    const c = psql({}, 'postgres', PG_SWAP_SQL, {
      target: 'shop',
      old: 'shop__sc_old_1',
      fresh: 'shop__sc_restore_1'
    })
    expect(c.argv).toEqual([
      'psql',
      '-X',
      '-q',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-w',
      `--dbname=dbname='postgres'`,
      '-v',
      'target=shop',
      '-v',
      'old=shop__sc_old_1',
      '-v',
      'fresh=shop__sc_restore_1'
    ])
    expect(c.input).toBe(PG_SWAP_SQL)
    expect(PG_SWAP_SQL).toMatch(
      /^BEGIN;\nALTER DATABASE :"target" RENAME TO :"old";\nALTER DATABASE :"fresh" RENAME TO :"target";\nCOMMIT;/
    )
  })
  test('psql -f runs a file in one transaction', () => {
    expect(psqlFile({}, 'shop', '/a.sql').argv).toEqual([
      'psql',
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      '-w',
      `--dbname=dbname='shop'`,
      '-f',
      '/a.sql'
    ])
  })
  test('createdb --template with the new name after --', () => {
    expect(createdbFromTemplate({ user: 'u' }, 'postgres', '-odd', 'copy').argv).toEqual([
      'createdb',
      '-U',
      'u',
      '-w',
      `--maintenance-db=dbname='postgres'`,
      '--template=-odd',
      '--',
      'copy'
    ])
  })
  test('checksum SQL: one statement per table, quoted, summing per-row hashes (no aggregate of the whole text)', () => {
    const text = pgChecksumsSql([
      ['public', `odd "t" it's`],
      ['extra', 'log']
    ])
    expect(text).toBe(
      `SELECT 0, count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM "public"."odd ""t"" it's" t;\n` +
        `SELECT 1, count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM "extra"."log" t;\n`
    )
    expect(text).not.toMatch(/string_agg|array_agg|json_agg|ORDER BY/)
    expect(PG_CHECKSUM_SETTINGS_SQL).toMatch(/^SET TIME ZONE 'UTC'; SET datestyle = 'ISO, YMD';/)
    expect(pgChecksumOf('-12')).toBe('h1:-12')
  })
  test('pg_dump -Z: the level given, an out-of-range one refused', () => {
    expect(pgDump({}, 'shop', '/d', { compress: 1 }).argv).toEqual([
      'pg_dump',
      '-w',
      '-Fc',
      '-Z',
      '1',
      '-f',
      '/d',
      `--dbname=dbname='shop'`
    ])
    expect(() => pgDump({}, 'shop', '/d', { compress: 10 })).toThrow(
      /compression level 10 is not an integer from 0 to 9/
    )
  })
  test('dump with checksums: the host program gets psql and pg_dump argv as JSON, the checksum SQL on stdin, the password in env', () => {
    const c = pgDumpWithChecksums(
      '/usr/bin/python3',
      pgConn,
      'shop',
      '/s/db.dump',
      [['public', 'items']],
      {
        jobs: 2,
        compress: 1
      }
    )
    expect(c.argv.slice(0, 4)).toEqual(['/usr/bin/python3', '-I', '-S', '-c'])
    expect(c.argv[4]).toBe(PG_DUMP_WITH_CHECKSUMS_PROGRAM)
    expect(JSON.parse(c.argv[5]!)).toEqual(psql(pgConn, 'shop', '').argv)
    expect(JSON.parse(c.argv[6]!)).toEqual(
      pgDump(pgConn, 'shop', '/s/db.dump', { jobs: 2, compress: 1 }).argv
    )
    expect(c.argv).toHaveLength(7)
    expect(c.input).toBe(PG_CHECKSUM_SETTINGS_SQL + pgChecksumsSql([['public', 'items']]))
    expect(c.env).toEqual({ PGPASSWORD: 's3cret pw' })
    expect(c.argv.join(' ')).not.toContain('s3cret')
  })
})

describe('mysql commands', () => {
  const conn = { host: '127.0.0.1', port: 3307, user: 'app', password: 'pw!' }
  test('TCP or a socket file', () => {
    expect(mysqlConnectionArgs(conn)).toEqual([
      '--protocol=TCP',
      '--host=127.0.0.1',
      '--port=3307',
      '--user=app'
    ])
    expect(mysqlConnectionArgs({ host: '/run/mysqld/mysqld.sock', port: 3307 })).toEqual([
      '--protocol=SOCKET',
      '--socket=/run/mysqld/mysqld.sock'
    ])
  })
  test('mysqldump: one consistent transaction, streamed, with routines, triggers and events', () => {
    const argv = mysqldumpArgv(conn, 'shop')
    const connection = mysqlConnectionArgs(conn)
    // The program, connected as every mysql command is; the password never in argv.
    expect(argv.slice(0, 1 + connection.length)).toEqual(['mysqldump', ...connection])
    expect(argv.join(' ')).not.toContain('pw!')
    // One database, last, after `--` (no --databases: no CREATE DATABASE in the dump, which is
    // restored under another name first); a name starting with '-' is not read as an option.
    expect(argv.slice(-2)).toEqual(['--', 'shop'])
    expect(mysqldumpArgv(conn, '-shop').slice(-2)).toEqual(['--', '-shop'])
    // Between them these options, each for its reason, and no other.
    const options: Record<string, string> = {
      '--single-transaction': 'one consistent InnoDB snapshot, without locking the tables',
      '--quick': 'rows streamed, not held in memory',
      '--routines': 'stored procedures and functions',
      '--triggers': 'triggers',
      '--events': 'scheduled events',
      '--hex-blob': 'binary columns as hex, intact',
      '--no-tablespaces': 'no PROCESS privilege needed',
      '--default-character-set=utf8mb4': 'every character as stored'
    }
    expect(argv.slice(1 + connection.length, -2).sort()).toEqual(Object.keys(options).sort())
  })
  test('the password goes to MYSQL_PWD and redact, never argv', () => {
    const c = mysql(conn, 'shop', 'SELECT 1')
    expect(c.argv).toEqual([
      'mysql',
      '--protocol=TCP',
      '--host=127.0.0.1',
      '--port=3307',
      '--user=app',
      '--batch',
      '--skip-column-names',
      '--default-character-set=utf8mb4',
      '--database=shop'
    ])
    expect(c.env).toEqual({ MYSQL_PWD: 'pw!' })
    expect(c.redact).toEqual(['pw!'])
    expect(c.input).toBe('SELECT 1')
  })
  test('the swap is ONE RENAME TABLE: target tables to old, fresh tables to target', () => {
    expect(
      mysqlSwapTablesSql(
        'shop',
        'shop__sc_old_1',
        'shop__sc_restore_1',
        ['a', 'b`c'],
        ['a', 'new t']
      )
    ).toBe(
      'RENAME TABLE\n' +
        '  `shop`.`a` TO `shop__sc_old_1`.`a`,\n' +
        '  `shop`.`b``c` TO `shop__sc_old_1`.`b``c`,\n' +
        '  `shop__sc_restore_1`.`a` TO `shop`.`a`,\n' +
        '  `shop__sc_restore_1`.`new t` TO `shop`.`new t`;\n'
    )
  })
  test('checksums: CHECKSUM TABLE then COUNT(*) per table, in order', () => {
    expect(mysqlChecksumsSql(['a', `it's`])).toBe(
      "CHECKSUM TABLE `a`;\nSELECT COUNT(*) FROM `a`;\nCHECKSUM TABLE `it's`;\nSELECT COUNT(*) FROM `it's`;\n"
    )
  })
  test('redirection through the host Python: program argv, then the command', () => {
    const out = redirectOutput('/usr/bin/python3', ['mysqldump', 'shop'], '/d.sql.gz', true, {
      env: { MYSQL_PWD: 'x' }
    })
    expect(out.argv.slice(0, 3)).toEqual(['/usr/bin/python3', '-I', '-S'])
    expect(out.argv.slice(5)).toEqual(['out', '/d.sql.gz', '1', 'mysqldump', 'shop'])
    expect(out.env).toEqual({ MYSQL_PWD: 'x' })
    expect(redirectInput('/py', ['mysql'], '/d.sql', '\nCOMMIT;\n').argv.slice(5)).toEqual([
      'in',
      '/d.sql',
      '\nCOMMIT;\n',
      'mysql'
    ])
  })
  test('mysql --xml output is parsed per result set, entities decoded, NULLs left out', () => {
    const xml = `<?xml version="1.0"?>
<resultset statement="SHOW CREATE VIEW v" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row>
	<field name="View">v</field>
	<field name="Create View">CREATE VIEW \`v\` AS select 1 &lt; 2 AS \`x &amp; y\`</field>
	<field name="nothing" xsi:nil="true" />
  </row>
</resultset>
<resultset statement="SHOW CREATE TRIGGER t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row>
	<field name="SQL Original Statement">CREATE TRIGGER t BEGIN
  SET @a = '&quot;';
END</field>
  </row>
</resultset>`
    expect(parseMysqlXml(xml)).toEqual([
      { View: 'v', 'Create View': 'CREATE VIEW `v` AS select 1 < 2 AS `x & y`' },
      { 'SQL Original Statement': `CREATE TRIGGER t BEGIN\n  SET @a = '"';\nEND` }
    ])
  })
})

test("a database name as InnoDB spells it in its tables' names (checked against MariaDB 10.11's INNODB_SYS_TABLES)", () => {
  expect(innodbDatabaseName('km2_db__sc_new_20261207t1')).toBe('km2_db__sc_new_20261207t1')
  expect(innodbDatabaseName('m1-prod')).toBe('m1@002dprod')
  expect(innodbDatabaseName(`odd "t" it's`)).toBe('odd@0020@0022t@0022@0020it@0027s')
  // Beyond ASCII MySQL's encoding is not one rule: no identity from InnoDB then.
  expect(innodbDatabaseName('café')).toBeUndefined()
})

test("a failed pg_restore's errors: its own lines, the values it quotes and the server's DETAIL and CONTEXT lines left out (as pg_restore 15 printed them)", () => {
  const badValue = [
    'pg_restore: error: COPY failed for table "users": ERROR:  invalid input syntax for type integer: "x2"',
    'CONTEXT:  COPY users, line 2, column id: "x2"',
    ''
  ].join('\n')
  expect(pgRestoreErrorOf(badValue)).toBe(
    'pg_restore: error: COPY failed for table "users": ERROR:  invalid input syntax for type integer: "…"' +
      " (its DETAIL and CONTEXT lines left out: they quote the dump's data)"
  )
  const duplicate = [
    'pg_restore: error: could not execute query: ERROR:  could not create unique index "users_pkey"',
    'DETAIL:  Key (email)=(alice@example.org) is duplicated.',
    'Command was: ALTER TABLE ONLY public.users',
    '    ADD CONSTRAINT users_pkey PRIMARY KEY (id);',
    'pg_restore: error: a worker process died unexpectedly'
  ].join('\n')
  const out = pgRestoreErrorOf(duplicate)!
  expect(out).toBe(
    'pg_restore: error: could not execute query: ERROR:  could not create unique index "users_pkey"; ' +
      'pg_restore: error: a worker process died unexpectedly' +
      " (its DETAIL and CONTEXT lines left out: they quote the dump's data)"
  )
  expect(out).not.toContain('alice')
  expect(pgRestoreErrorOf('pg_restore: error: could not read from input file: end of file\n')).toBe(
    'pg_restore: error: could not read from input file: end of file'
  )
  expect(pgRestoreErrorOf('sh: 1: pg_restore: not found\n')).toBeUndefined()
})

describe("a failed mysql load's errors", () => {
  test("the ERROR lines alone, every quoted value (the dump's data) left out, identifiers and words kept", () => {
    // What the MariaDB client printed for a dump with damaged bytes: the failing statement, then
    // the error quoting the dump near it (rows of the table among them).
    const stderr = [
      '/*!40000 ALTER TABLE `users` DISABLE KEYS *\u00c0\u00c1TO `users` VALUES',
      "(1,'alice','alice@example.org'),",
      "(2,'bob','bob@example.org')",
      '--------------',
      "ERROR 1064 (42000) at line 39: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '*\u00c0\u00c1TO `users` VALUES",
      "(1,'alice','alice@example.org'),",
      "(2,'bob','bob@example.org')' at line 1",
      "ERROR 1366 (22007) at line 40: Incorrect string value: '\\xCD\\xC0' for column `db`.`users`.`email` at row 2",
      "ERROR 1146 (42S02) at line 41: Table 'db.no''s_secret' doesn't exist"
    ].join('\n')
    const out = loadErrorOf(stderr)!
    expect(out).toBe(
      "ERROR 1064 (42000) at line 39: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '…'; " +
        "ERROR 1366 (22007) at line 40: Incorrect string value: '…' for column `db`.`users`.`email` at row 2; " +
        "ERROR 1146 (42S02) at line 41: Table '…''…' doesn't exist" +
        " (quoted values left out: they are the dump's data)"
    )
    for (const secret of ['alice', 'bob', 'xCD', 'secret']) expect(out).not.toContain(secret)
    expect(loadErrorOf('mysql: unknown option --x\n')).toBeUndefined()
  })
})

describe('connections and errors', () => {
  test('the password is read from the named variable; a missing one is a config error naming it', () => {
    const db = {
      engine: 'postgres' as const,
      name: 'shop',
      host: 'db1',
      port: 5432,
      user: 'weave',
      passwordEnv: 'DB_PW'
    }
    expect(connectionOf(db, { DB_PW: 'x1' })).toEqual({
      host: 'db1',
      port: 5432,
      user: 'weave',
      password: 'x1'
    })
    expect(() => connectionOf(db, {})).toThrow(ConfigError)
    expect(() => connectionOf(db, {})).toThrow(/DB_PW/)
    expect(connectionOf({ ...db, passwordEnv: undefined }, {})).toEqual({
      host: 'db1',
      port: 5432,
      user: 'weave'
    })
  })
  test('a failed host program is reported without its Python text', () => {
    const c = redirectInput('/usr/bin/python3', ['mysql', '--database=x'], '/d.sql')
    const e = new CommandError('local', describeCommand(c), 1, '', 'ERROR 1064 at line 3\n')
    expect(failureMessage(e)).toBe(
      '/usr/bin/python3 -I -S -c <host/redirect-stdio.py> in /d.sql "" mysql --database=x failed on local with exit code 1:\nERROR 1064 at line 3'
    )
  })
  test('the registry knows postgres, mysql and sqlite; anything else is a config error', () => {
    expect(['postgres', 'mysql', 'sqlite'].map(n => getEngine(n).name)).toEqual([
      'postgres',
      'mysql',
      'sqlite'
    ])
    expect(() => getEngine('mongodb')).toThrow(ConfigError)
    expect(() => getEngine('constructor')).toThrow(/unknown database engine "constructor"/)
  })
  test('the host CPU count comes from nproc, once per executor; 1 when it cannot be read', async () => {
    const four = new RecordingExecutor().respond(argvStartsWith('nproc'), { stdout: '4\n' })
    expect(await hostCpuCount(four)).toBe(4)
    expect(await hostCpuCount(four)).toBe(4)
    expect(four.calls.filter(c => c.argv?.[0] === 'nproc')).toHaveLength(1)
    const broken = new RecordingExecutor().respond(argvStartsWith('nproc'), { code: 127 })
    expect(await hostCpuCount(broken)).toBe(1)
    const garbage = new RecordingExecutor().respond(argvStartsWith('nproc'), { stdout: 'x' })
    expect(await hostCpuCount(garbage)).toBe(1)
  })
  test('a postgres restore without jobs runs pg_restore with one job per CPU of the host', async () => {
    const exec = new RecordingExecutor()
      .respond(argvStartsWith('nproc'), { stdout: '3\n' })
      .respond(argvStartsWith('psql'), { stdout: '' })
    const db = { engine: 'postgres' as const, name: 'shop' }
    await getEngine('postgres').restore(exec, db, '/s/db.dump', new StreamReporter(() => undefined))
    const restore = exec.calls.find(c => c.argv?.[0] === 'pg_restore')
    expect(restore?.argv).toContain('-j')
    expect(restore?.argv?.[restore.argv.indexOf('-j') + 1]).toBe('3')
  })
})
