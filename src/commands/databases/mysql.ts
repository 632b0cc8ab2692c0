/**
 * Pure builders for MySQL and MariaDB commands: mysql, mysqldump and the load of a dump, and the
 * SQL they run (MYSQL_* and mysql*Sql: inventory, existence, site database and account, size,
 * checksums, and the swap of two databases' tables in one RENAME TABLE). Nothing here runs
 * anything. The password goes into MYSQL_PWD and `redact`; identifiers and string literals are
 * quoted here and only here.
 */
import { SitecycleError } from '../../util/errors.js'
import { cmd, type Command } from '../command.js'
import { secretEnv, type DbConnection, type RolePassword } from './connection.js'
import { checkName } from './names.js'

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
    if (!user.exists) lines.push(mysqlCreateUserSql(user.name, user.host, user.password).trimEnd())
    lines.push(`GRANT ALL PRIVILEGES ON ${quoteMysqlIdent(name)}.* TO ${account};`)
  }
  return lines.join('\n') + '\n'
}

/**
 * SQL: create account `user@host`, with its password when there is one. A password literal is
 * read with backslash escapes whatever the server's sql_mode (set for this session first).
 */
export function mysqlCreateUserSql(user: string, host: string, pw?: RolePassword): string {
  const account = mysqlAccount(user, host)
  if (pw && 'secret' in pw) {
    if (pw.secret.includes('\0'))
      throw new SitecycleError('a password holding a NUL byte cannot be set')
    const literal = pw.secret.replace(/\\/g, '\\\\').replace(/'/g, "\\'")
    return (
      "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');\n" +
      `CREATE USER ${account} IDENTIFIED BY '${literal}';\n`
    )
  }
  if (pw) return `CREATE USER ${account} IDENTIFIED BY ${pw.placeholder};\n`
  return `CREATE USER ${account};\n`
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

/** What a reader login may hold and still be read-only. */
export const MYSQL_READ_PRIVILEGES = ['SELECT', 'SHOW VIEW', 'USAGE', 'SHOW DATABASES'] as const

/**
 * SQL (run as the login to check, no database): one `role<TAB>name<TAB>NO` row for each role it
 * may take (`SET ROLE`), and one `scope<TAB>privilege<TAB>grantable` row for each privilege it
 * holds globally, on database `target` (a grant's database name is a LIKE
 * pattern: `mirror\_m1`, `mirror%`), and on a table of `target`: the current account's own rows of
 * information_schema's privilege tables.
 */
export function mysqlReaderPrivilegesSql(target: string): string {
  const t = mysqlStringLiteral(target)
  // Quotes doubled, not double quotes: those are identifiers under sql_mode ANSI_QUOTES.
  const me = `CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`
  return (
    [
      // A role it may SET ROLE to: its privileges are not shown to the reader, so any is refused.
      `SELECT 'role', ROLE_NAME, 'NO' FROM information_schema.APPLICABLE_ROLES`,
      `SELECT 'global', PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${me}`,
      `SELECT CONCAT('database ', ${t}), PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${me} AND ${t} LIKE TABLE_SCHEMA`,
      `SELECT CONCAT('table ', TABLE_NAME), PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ${me} AND TABLE_SCHEMA = ${t}`
    ].join('\nUNION ALL\n') + ';\n'
  )
}

/** SQL: let account `user@host` read database `name` (SELECT and SHOW VIEW on it), nothing more. */
export function mysqlGrantReaderSql(name: string, user: string, host: string): string {
  return `GRANT SELECT, SHOW VIEW ON ${quoteMysqlIdent(name)}.* TO ${mysqlAccount(user, host)};\n`
}
