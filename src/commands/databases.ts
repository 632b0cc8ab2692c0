/**
 * Pure builders for database commands: pg_dump, pg_restore, psql, createdb, mysqldump, mysql,
 * and the small Python programs that SQLite and file redirection need on the host. Nothing here
 * runs anything. Passwords go into the command's environment (PGPASSWORD, MYSQL_PWD) and its
 * `redact` list, never onto the command line; SQL identifiers are quoted here and only here.
 */
import { SitecycleError } from '../util/errors.js'
import { cmd, type Command } from './command.js'
import pgDumpWithChecksumsProgram from '../host/pg-dump-with-checksums.py'
import redirectStdioProgram from '../host/redirect-stdio.py'
import sqliteBackupProgram from '../host/sqlite-backup.py'
import sqliteRestoreProgram from '../host/sqlite-restore.py'
import sqliteBackupWithCountsProgram from '../host/sqlite-backup-with-counts.py'
import sqliteCompactProgram from '../host/sqlite-compact.py'
import sqliteSwapProgram from '../host/sqlite-swap.py'
import sqliteQueryProgram from '../host/sqlite-query.py'
import sqliteRunSqlProgram from '../host/sqlite-run-sql.py'
import sqliteChecksumsProgram from '../host/sqlite-checksums.py'

/** How to reach a PostgreSQL or MySQL server: what the client programs get as options. */
export interface DbConnection {
  /** Host name, or an absolute path: a socket directory (postgres) or socket file (mysql). */
  host?: string
  port?: number
  user?: string
  /** The password itself (resolved from the secret named in the config); never put in argv. */
  password?: string
}

// ---------------------------------------------------------------------------------------------
// Names and quoting

/** Reject a name no SQL dialect or client can carry: empty, or holding a NUL byte. */
function checkName(name: string, what: string): void {
  if (name === '' || name.includes('\0')) {
    throw new SitecycleError(
      `${what} ${JSON.stringify(name)} is not a valid name: it is empty or holds a NUL byte`
    )
  }
}

/** A PostgreSQL identifier in double quotes (`"` doubled): any name, spaces and quotes included. */
export function quotePgIdent(name: string): string {
  checkName(name, 'The identifier')
  return `"${name.replace(/"/g, '""')}"`
}

/** A MySQL/MariaDB identifier in backticks (`` ` `` doubled). */
export function quoteMysqlIdent(name: string): string {
  checkName(name, 'The identifier')
  return '`' + name.replace(/`/g, '``') + '`'
}

/**
 * A MySQL string literal written as a hex literal with a charset introducer
 * (`_utf8mb4 X'6162'`): the same whatever sql_mode says about backslashes.
 */
export function mysqlStringLiteral(text: string): string {
  return `_utf8mb4 X'${Buffer.from(text, 'utf8').toString('hex')}'`
}

/**
 * A libpq connection string naming one database (`dbname='...'`), so that a name holding `=`
 * or starting with `postgresql://` is never read as a connection string itself.
 */
export function pgDbConninfo(dbname: string): string {
  checkName(dbname, 'The database')
  return `dbname='${dbname.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * The name of a scratch database beside `name`: `<name>__sc_<kind>_<id>`, the name part cut
 * (on a character boundary) so the whole fits `maxBytes` (63 for PostgreSQL, 64 for MySQL).
 */
export function scratchDatabaseName(
  name: string,
  kind: 'restore' | 'old' | 'copy' | 'new' | 'keep',
  id: string,
  maxBytes: number
): string {
  const suffix = `__sc_${kind}_${id}`
  let base = name
  while (Buffer.byteLength(base + suffix, 'utf8') > maxBytes && base.length > 0)
    base = [...base].slice(0, -1).join('')
  return base + suffix
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/** The environment and redaction for a password, when there is one. */
function secretEnv(
  variable: string,
  password: string | undefined
): Pick<Command, 'env' | 'redact'> {
  return password ? { env: { [variable]: password }, redact: [password] } : {}
}

/** `-h H -p P -U U -w` for the libpq programs (`-w`: fail rather than prompt for a password). */
export function pgConnectionArgs(conn: DbConnection): string[] {
  const args: string[] = []
  if (conn.host) args.push('-h', conn.host)
  if (conn.port !== undefined) args.push('-p', String(conn.port))
  if (conn.user) args.push('-U', conn.user)
  args.push('-w')
  return args
}

/** How {@link pgDump} writes. */
export interface PgDumpOptions {
  /** Parallel workers; more than 1 writes directory format (`-Fd -j N`), else custom (`-Fc`). */
  jobs?: number
  /** Compression level, 0 to 9 (`-Z`); unset: pg_dump's default (gzip level 6 here). */
  compress?: number
  /** Directory format (`-Fd`) even with one worker (snapshots: one file per table). */
  directory?: boolean
}

/**
 * `pg_dump` of one database: custom format (`-Fc`, one file) or, with `jobs` > 1, directory
 * format dumped by `jobs` parallel workers (`-Fd -j N`), all in one consistent snapshot.
 */
export function pgDump(
  conn: DbConnection,
  dbname: string,
  outPath: string,
  options: PgDumpOptions = {}
): Command {
  const jobs = Math.max(1, options.jobs ?? 1)
  const format = jobs > 1 ? ['-Fd', '-j', String(jobs)] : options.directory ? ['-Fd'] : ['-Fc']
  if (options.compress !== undefined) {
    if (!Number.isInteger(options.compress) || options.compress < 0 || options.compress > 9)
      throw new SitecycleError(
        `the pg_dump compression level ${options.compress} is not an integer from 0 to 9`
      )
    format.push('-Z', String(options.compress))
  }
  return cmd(
    [
      'pg_dump',
      ...pgConnectionArgs(conn),
      ...format,
      '-f',
      outPath,
      `--dbname=${pgDbConninfo(dbname)}`
    ],
    secretEnv('PGPASSWORD', conn.password)
  )
}

/**
 * `pg_restore -j N` of a dump (file or directory) into an existing, empty database. Objects
 * belong to the user that restores (`--no-owner`); the first error stops it (`--exit-on-error`).
 */
export function pgRestore(conn: DbConnection, dbname: string, dumpPath: string, jobs = 1): Command {
  return cmd(
    [
      'pg_restore',
      ...pgConnectionArgs(conn),
      `--dbname=${pgDbConninfo(dbname)}`,
      '--no-owner',
      '--exit-on-error',
      '-j',
      String(Math.max(1, jobs)),
      dumpPath
    ],
    secretEnv('PGPASSWORD', conn.password)
  )
}

/**
 * `psql` running `sql` (sent on stdin) against `dbname`, stopping at the first error, printing
 * bare values (`-At`). `vars` become psql variables: in the SQL, `:'v'` is the value as a
 * quoted literal and `:"v"` as a quoted identifier, so psql does the quoting.
 */
export function psql(
  conn: DbConnection,
  dbname: string,
  sql: string,
  vars: Record<string, string> = {}
): Command {
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`])
  const secret = secretEnv('PGPASSWORD', conn.password)
  return cmd(
    [
      'psql',
      '-X',
      '-q',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      ...pgConnectionArgs(conn),
      `--dbname=${pgDbConninfo(dbname)}`,
      ...varArgs
    ],
    { ...secret, input: sql }
  )
}

/** `psql -f <file>` in one transaction (`-1`): the whole script applies, or none of it. */
export function psqlFile(conn: DbConnection, dbname: string, sqlFile: string): Command {
  return cmd(
    [
      'psql',
      '-X',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '--single-transaction',
      ...pgConnectionArgs(conn),
      `--dbname=${pgDbConninfo(dbname)}`,
      '-f',
      sqlFile
    ],
    secretEnv('PGPASSWORD', conn.password)
  )
}

/**
 * `createdb --template=<from> <to>`: a file-level copy, fast, but refused while anyone is
 * connected to `from`.
 */
export function createdbFromTemplate(
  conn: DbConnection,
  maintenanceDb: string,
  from: string,
  to: string
): Command {
  checkName(from, 'The database')
  checkName(to, 'The database')
  return cmd(
    [
      'createdb',
      ...pgConnectionArgs(conn),
      `--maintenance-db=${pgDbConninfo(maintenanceDb)}`,
      `--template=${from}`,
      '--',
      to
    ],
    secretEnv('PGPASSWORD', conn.password)
  )
}

/**
 * A role's password in the SQL that creates it: the secret itself (sent on stdin, never in argv;
 * redacted), or a placeholder shown to a person who runs the SQL by hand.
 */
export type RolePassword = { secret: string } | { placeholder: string }

/**
 * A PostgreSQL string literal (`'` doubled). Only for SQL that sets standard_conforming_strings
 * on first (see {@link pgCreateRoleSql}), where a backslash is an ordinary character.
 */
function pgStringLiteral(text: string): string {
  if (text.includes('\0')) throw new SitecycleError('a password holding a NUL byte cannot be set')
  return `'${text.replace(/'/g, "''")}'`
}

/** SQL (for {@link psql} with vars `name`): print 1 when role `:name` exists. */
export const PG_ROLE_EXISTS_SQL = `SELECT 1 FROM pg_roles WHERE rolname = :'name';\n`

/** SQL: create the login role `user`, with its password when there is one. */
export function pgCreateRoleSql(user: string, password?: RolePassword): string {
  const pw =
    password === undefined
      ? ''
      : ` PASSWORD ${'secret' in password ? pgStringLiteral(password.secret) : password.placeholder}`
  const prefix = password && 'secret' in password ? 'SET standard_conforming_strings = on;\n' : ''
  return `${prefix}CREATE ROLE ${quotePgIdent(user)} LOGIN${pw};\n`
}

/** SQL: create database `name`, owned by `owner` when given. */
export function pgCreateDatabaseSql(name: string, owner?: string): string {
  return `CREATE DATABASE ${quotePgIdent(name)}${owner ? ` OWNER ${quotePgIdent(owner)}` : ''};\n`
}

/** SQL (for {@link psql} with vars `name`): print 1 when database `:name` exists. */
export const PG_DATABASE_EXISTS_SQL = `SELECT 1 FROM pg_database WHERE datname = :'name';\n`

/** SQL (var `name`): the OID of database `:name` (kept through a rename), no row when none. */
export const PG_DATABASE_OID_SQL = `SELECT oid FROM pg_database WHERE datname = :'name';\n`

/** SQL (vars `name`, `template`): create database `:name` from `:template` (template0 for a restore). */
export const PG_CREATE_DATABASE_SQL = `CREATE DATABASE :"name" TEMPLATE :"template";\n`

/** SQL (vars `name`): drop database `:name` when it exists. */
export const PG_DROP_DATABASE_SQL = `DROP DATABASE IF EXISTS :"name";\n`

/** SQL (vars `name`, `allow`): allow or refuse new connections to `:name` (true/false). */
export const PG_ALLOW_CONNECTIONS_SQL = `ALTER DATABASE :"name" WITH ALLOW_CONNECTIONS :allow;\n`

/** SQL (vars `name`): terminate every other session on `:name`; prints how many were signalled. */
export const PG_TERMINATE_SQL = `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :'name' AND pid <> pg_backend_pid();\n`

/**
 * SQL (vars `target`, `old`, `fresh`): the swap, in one transaction: `target` becomes `old`
 * and `fresh` becomes `target`, or neither happens.
 */
export const PG_SWAP_SQL = `BEGIN;
ALTER DATABASE :"target" RENAME TO :"old";
ALTER DATABASE :"fresh" RENAME TO :"target";
COMMIT;
`

/** SQL (vars `from`, `to`): rename a database. */
export const PG_RENAME_SQL = `ALTER DATABASE :"from" RENAME TO :"to";\n`

/**
 * SQL for psql (connected to the database): rewrite each table that holds dead rows without them
 * (VACUUM FULL), then refresh every table's statistics (ANALYZE, which samples). Which tables: the
 * ones given (as an SQL script names them: those it updated) and any with dead rows in the
 * statistics (a DELETE, a function's writes). After anonymising 1,000,000 rows (bench/README.md) a
 * plain VACUUM ANALYZE took 2.3 s and left the database at 1,324 MB; VACUUM FULL took 5.8 s and
 * brought it to 625 MB. Tables nobody wrote (most of a database, for an anonymising script) are
 * no longer rewritten. Pure.
 */
export function pgCompactSql(tables: readonly string[] = []): string {
  // to_regclass: NULL for a name that is no table (any more), not an error
  const named = tables.map(t => ` UNION SELECT to_regclass('${t.replaceAll("'", "''")}')`).join('')
  return `SELECT format('VACUUM FULL %s;', t) FROM (SELECT relid::regclass AS t FROM pg_stat_user_tables WHERE n_dead_tup > 0${named}) AS tables WHERE t IS NOT NULL ORDER BY 1 \\gexec
ANALYZE;
`
}

/** SQL (connected to the database): its size in bytes. */
export const PG_SIZE_SQL = `SELECT pg_database_size(current_database());\n`

/**
 * SQL (connected to the database): every ordinary table outside the system schemas, as one
 * JSON array of [schema, table] sorted by schema then name.
 */
export const PG_LIST_TABLES_SQL = `SELECT coalesce(json_agg(json_build_array(n.nspname, c.relname) ORDER BY n.nspname, c.relname), '[]')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%';
`

/** SQL fixing the settings that change how values print as text, so checksums do not depend on them. */
export const PG_CHECKSUM_SETTINGS_SQL = `SET TIME ZONE 'UTC'; SET datestyle = 'ISO, YMD'; SET intervalstyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex';\n`

/**
 * SQL (after {@link PG_CHECKSUM_SETTINGS_SQL}) printing one line `index|rows|sum` per table, one
 * statement per table in the order given (so when one fails, the lines printed before it tell
 * which table). Each row's text (`t::text`) is hashed on its own into 64 bits
 * (`hashtextextended`) and the hashes are summed exactly (numeric): the result does not depend on
 * row order, counts duplicates, and is computed by streaming the table in constant memory,
 * whatever its size (an aggregate over the table's whole text fails past 1 GB). Measured on
 * 1,000,000 rows of 600 bytes: 1.5 s, against 2.3 s for two such hashes, 4.9 s for two 64-bit
 * halves of md5 and 13 s for the md5 of the sorted rows (bench/README.md).
 */
export function pgChecksumsSql(
  tables: readonly (readonly [schema: string, table: string])[]
): string {
  return tables
    .map(
      ([schema, table], i) =>
        `SELECT ${i}, count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM ${quotePgIdent(schema)}.${quotePgIdent(table)} t;\n`
    )
    .join('')
}

/**
 * The checksum of one table from a line of {@link pgChecksumsSql}'s output: `h1:<sum>` (`h1`: the
 * sum of per-row 64-bit hashes).
 */
export function pgChecksumOf(sum: string): string {
  return `h1:${sum}`
}

/**
 * argv: psql's argv and pg_dump's argv, each as JSON; stdin: the checksum SQL. Dumps and takes
 * the checksums at once, both in one snapshot of the database: psql opens a REPEATABLE READ
 * transaction and exports its snapshot (`pg_export_snapshot()`), pg_dump starts with
 * `--snapshot=<it>`, and the checksum SQL runs in the exporting transaction while pg_dump works
 * (two processes, so two cores). The transaction stays open until pg_dump ends (a snapshot can
 * only be imported while its exporter lives). Prints the checksum lines on stdout; exit code 0,
 * or 3 when the checksums failed (the lines printed tell how far they got; pg_dump is stopped),
 * or 4 when pg_dump failed, or 5 when no snapshot could be exported (psql could not connect).
 */
export const PG_DUMP_WITH_CHECKSUMS_PROGRAM = pgDumpWithChecksumsProgram

/**
 * Dump database `dbname` to `outPath` ({@link pgDump}'s options) and take its checksums
 * ({@link pgChecksumsSql} of `tables`) in the same snapshot, through
 * {@link PG_DUMP_WITH_CHECKSUMS_PROGRAM} run by `python` on the host.
 */
export function pgDumpWithChecksums(
  python: string,
  conn: DbConnection,
  dbname: string,
  outPath: string,
  tables: readonly (readonly [schema: string, table: string])[],
  options: PgDumpOptions = {}
): Command {
  const session = psql(conn, dbname, '')
  const dumpCommand = pgDump(conn, dbname, outPath, options)
  return pythonProgram(
    python,
    PG_DUMP_WITH_CHECKSUMS_PROGRAM,
    [JSON.stringify(session.argv), JSON.stringify(dumpCommand.argv)],
    {
      ...secretEnv('PGPASSWORD', conn.password),
      input: PG_CHECKSUM_SETTINGS_SQL + pgChecksumsSql(tables)
    }
  )
}

// ---------------------------------------------------------------------------------------------
// MySQL and MariaDB

/** Connection options for the mysql programs: a socket file when `host` is a path, else TCP. */
export function mysqlConnectionArgs(conn: DbConnection): string[] {
  const args: string[] = []
  if (conn.host?.startsWith('/')) args.push('--protocol=SOCKET', `--socket=${conn.host}`)
  else if (conn.host) args.push('--protocol=TCP', `--host=${conn.host}`)
  if (conn.port !== undefined && !conn.host?.startsWith('/')) args.push(`--port=${conn.port}`)
  if (conn.user) args.push(`--user=${conn.user}`)
  return args
}

/**
 * `mysql` running `sql` (on stdin) in `database` (or none), tab-separated output without column
 * names; `xml` for output whose values may hold tabs and newlines (SHOW CREATE ...).
 */
export function mysql(
  conn: DbConnection,
  database: string | undefined,
  sql: string,
  options: { xml?: boolean; delimiter?: string } = {}
): Command {
  if (database !== undefined) checkName(database, 'The database')
  return cmd(
    [
      'mysql',
      ...mysqlConnectionArgs(conn),
      '--batch',
      '--skip-column-names',
      '--default-character-set=utf8mb4',
      ...(options.xml ? ['--xml'] : []),
      ...(options.delimiter ? [`--delimiter=${options.delimiter}`] : []),
      ...(database !== undefined ? [`--database=${database}`] : [])
    ],
    { ...secretEnv('MYSQL_PWD', conn.password), input: sql }
  )
}

/**
 * The `mysqldump` argv of one database: one consistent InnoDB snapshot
 * (`--single-transaction`), rows streamed (`--quick`), routines, triggers and events included,
 * no CREATE DATABASE (it is restored under another name first).
 */
export function mysqldumpArgv(conn: DbConnection, database: string): string[] {
  checkName(database, 'The database')
  return [
    'mysqldump',
    ...mysqlConnectionArgs(conn),
    '--single-transaction',
    '--quick',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--no-tablespaces',
    '--default-character-set=utf8mb4',
    '--',
    database
  ]
}

/** The `mysql` argv that loads a dump (given on stdin) into `database`, stopping at the first error. */
export function mysqlLoadArgv(conn: DbConnection, database: string): string[] {
  checkName(database, 'The database')
  return [
    'mysql',
    ...mysqlConnectionArgs(conn),
    '--batch',
    '--default-character-set=utf8mb4',
    `--database=${database}`
  ]
}

/** The environment and redaction for a MySQL password, for a command built around an argv. */
export function mysqlSecret(conn: DbConnection): Pick<Command, 'env' | 'redact'> {
  return secretEnv('MYSQL_PWD', conn.password)
}

/** SQL (in the database): `TYPE<TAB>HEX(name)` of every table, view, trigger, routine and event. */
export const MYSQL_INVENTORY_SQL = `SELECT 'TABLE', HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW'
UNION ALL SELECT 'VIEW', HEX(TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()
UNION ALL SELECT 'TRIGGER', HEX(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
UNION ALL SELECT ROUTINE_TYPE, HEX(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()
UNION ALL SELECT 'EVENT', HEX(EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE();
`

/** SQL (no database): the default charset and collation of `database`, tab-separated. */
export function mysqlSchemaDefaultsSql(database: string): string {
  return `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${mysqlStringLiteral(database)};\n`
}

/** SQL (no database): prints 1 when `database` exists, else 0. */
export function mysqlExistsSql(database: string): string {
  return `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${mysqlStringLiteral(database)};\n`
}

/**
 * The account host of a site's MySQL user: `localhost` for a socket (or no host), else `%`
 * (MySQL matches TCP clients by their address, which the config does not give).
 */
export function mysqlAccountHost(host: string | undefined): string {
  return host === undefined || host.startsWith('/') || host === 'localhost' ? 'localhost' : '%'
}

/** A MySQL account `'user'@'host'` (names restricted by the config schema; quotes doubled). */
function mysqlAccount(user: string, host: string): string {
  checkName(user, 'The user')
  return `'${user.replace(/'/g, "''")}'@'${host.replace(/'/g, "''")}'`
}

/** SQL: whether account `user@host` exists (prints 1). */
export function mysqlUserExistsSql(user: string, host: string): string {
  return `SELECT 1 FROM mysql.user WHERE User = ${mysqlStringLiteral(user)} AND Host = ${mysqlStringLiteral(host)};\n`
}

/**
 * SQL: create database `name` (utf8mb4) and, with `user`, the account `user@host` (with its
 * password) holding every privilege on it. The password literal is read with backslash escapes
 * whatever the server's sql_mode (set for this session first).
 */
export function mysqlCreateSiteDatabaseSql(
  name: string,
  user?: { name: string; host: string; password?: RolePassword; exists: boolean }
): string {
  const lines = [`CREATE DATABASE ${quoteMysqlIdent(name)} CHARACTER SET utf8mb4;`]
  if (user) {
    const account = mysqlAccount(user.name, user.host)
    const pw = user.password
    if (!user.exists) {
      if (pw && 'secret' in pw) {
        if (pw.secret.includes('\0'))
          throw new SitecycleError('a password holding a NUL byte cannot be set')
        const literal = pw.secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
        lines.unshift(
          "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');"
        )
        lines.push(`CREATE USER ${account} IDENTIFIED BY '${literal}';`)
      } else if (pw) lines.push(`CREATE USER ${account} IDENTIFIED BY ${pw.placeholder};`)
      else lines.push(`CREATE USER ${account};`)
    }
    lines.push(`GRANT ALL PRIVILEGES ON ${quoteMysqlIdent(name)}.* TO ${account};`)
  }
  return lines.join('\n') + '\n'
}

/** SQL (in the database): its size in bytes (data and indexes of every table). */
export const MYSQL_SIZE_SQL = `SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE();\n`

/**
 * SQL (in the database): for each table, one `CHECKSUM TABLE` row (`name<TAB>checksum`) then one
 * `SELECT COUNT(*)` row, in the order given.
 */
export function mysqlChecksumsSql(tables: readonly string[]): string {
  return tables
    .map(
      t => `CHECKSUM TABLE ${quoteMysqlIdent(t)};\nSELECT COUNT(*) FROM ${quoteMysqlIdent(t)};\n`
    )
    .join('')
}

/**
 * SQL: one `RENAME TABLE` moving every table of `target` into `old` and every table of `fresh`
 * into `target`. MySQL applies a multi-table RENAME atomically: all of it or none.
 */
export function mysqlSwapTablesSql(
  target: string,
  old: string,
  fresh: string,
  targetTables: readonly string[],
  freshTables: readonly string[]
): string {
  const q = quoteMysqlIdent
  const moves = [
    ...targetTables.map(t => `${q(target)}.${q(t)} TO ${q(old)}.${q(t)}`),
    ...freshTables.map(t => `${q(fresh)}.${q(t)} TO ${q(target)}.${q(t)}`)
  ]
  return `RENAME TABLE\n  ${moves.join(',\n  ')};\n`
}

// ---------------------------------------------------------------------------------------------
// Host programs (Python, standard library only)

/** Run `python -I -S -c <program> args...` on the host. */
export function pythonProgram(
  python: string,
  program: string,
  args: string[],
  extra: Omit<Command, 'argv'> = {}
): Command {
  return cmd([python, '-I', '-S', '-c', program, ...args], extra)
}

/**
 * argv: mode (`in` or `out`), file, extra, then the command's argv. `out`: the command's stdout
 * goes to the file (gzipped when extra is `1`); `in`: the file (gunzipped when it is gzip),
 * followed by the text `extra`, is the command's stdin. Exits with the command's code; a failed
 * `out` removes the file.
 */
export const REDIRECT_PROGRAM = redirectStdioProgram

/**
 * Run `argv` on the host with its stdout written to `file` (`gzip` compresses it), through
 * {@link REDIRECT_PROGRAM}.
 */
export function redirectOutput(
  python: string,
  argv: string[],
  file: string,
  gzip: boolean,
  extra: Omit<Command, 'argv'> = {}
): Command {
  return pythonProgram(python, REDIRECT_PROGRAM, ['out', file, gzip ? '1' : '0', ...argv], extra)
}

/** Run `argv` on the host with `file` (plain or gzip), then `trailer`, as its stdin. */
export function redirectInput(
  python: string,
  argv: string[],
  file: string,
  trailer = '',
  extra: Omit<Command, 'argv'> = {}
): Command {
  return pythonProgram(python, REDIRECT_PROGRAM, ['in', file, trailer, ...argv], extra)
}

/**
 * argv: source database file, destination file. Copies a live SQLite database with the online
 * backup API in one step (a consistent snapshot, whatever writers do meanwhile), checks the copy
 * (`PRAGMA integrity_check`), fsyncs it. The destination must not exist.
 */
export const SQLITE_BACKUP_PROGRAM = sqliteBackupProgram

/**
 * argv: backup file, target database file, scratch id. Copies the backup into a temp file next
 * to the target, checks it (`PRAGMA integrity_check` must say ok), gives it the target's owner and
 * mode, then renames it over the target in one rename(2) and removes the old file's WAL side
 * files. Any failure before the rename leaves the target as it was and removes the temp file.
 */
export const SQLITE_RESTORE_PROGRAM = sqliteRestoreProgram

export const SQLITE_CHECKSUMS_PROGRAM = sqliteChecksumsProgram

/**
 * argv: source database file, destination file, partial file. A snapshot's copy, in one process:
 * the online backup API in one step into the partial file (a new file nobody else opens: no
 * journal and no sync while it is written); then at the same time one fsync of it, its plain
 * sha256 (for SHA256SUMS: snapshots/sums.ts KnownSum) and its tables with their row counts (no
 * checksums: the copy is the dump, and its checksums are computed from it when it is read; see
 * expectedTables); then the rename to the destination. Prints JSON {tables: [[table, rows, '']
 * sorted by name], size: the copy's bytes, sourceSize: the database file's bytes, sha256,
 * identity: 'dev:inode:size:mtime_ns:ctime_ns' of the destination}. The destination must not
 * exist; the partial file is removed on failure.
 */
export const SQLITE_BACKUP_WITH_COUNTS_PROGRAM = sqliteBackupWithCountsProgram

/** argv: database file. `VACUUM`: rebuild the file without free pages, then `ANALYZE`. */
export const SQLITE_COMPACT_PROGRAM = sqliteCompactProgram

/**
 * argv: database file, SQL file. Runs the script's statements in one transaction: any error
 * rolls all of them back (executescript would commit as it goes).
 */
/**
 * argv: scratch, target, keep. Put the database file `scratch` in the place of `target`, the
 * previous file (checkpointed first, so its WAL is in it) going to `keep`: a hard link of the
 * target to `keep`, then one rename of `scratch` over the target, so the target path always
 * holds a whole database. Owner and mode of the previous file carry over. Prints `replaced` or
 * `created` (no target before).
 */
export const SQLITE_SWAP_PROGRAM = sqliteSwapProgram

/** argv: database file, one SQL query. Prints its rows, one line each, columns joined by `|`. */
export const SQLITE_QUERY_PROGRAM = sqliteQueryProgram

export const SQLITE_RUN_SQL_PROGRAM = sqliteRunSqlProgram
