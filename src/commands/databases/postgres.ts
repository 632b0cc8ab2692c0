/**
 * Pure builders for PostgreSQL commands: pg_dump, pg_restore, psql, createdb, the SQL they run
 * (PG_* and pg*Sql: existence, create, swap by rename, compact, size, table list, checksums), and
 * the dump that takes checksums in the same snapshot (a host program). Nothing here runs
 * anything. The password goes into PGPASSWORD and `redact`; identifiers are quoted here and only
 * here.
 */
import { SitecycleError } from '../../util/errors.js'
import { cmd, type Command } from '../command.js'
import pgChecksumsBesideScriptProgram from '../../host/pg-checksums-beside-script.py'
import pgDumpWithChecksumsProgram from '../../host/pg-dump-with-checksums.py'
import { secretEnv, type DbConnection, type RolePassword } from './connection.js'
import { checkName } from './names.js'
import { pythonProgram } from './python-programs.js'

/** A PostgreSQL identifier in double quotes (`"` doubled): any name, spaces and quotes included. */
export function quotePgIdent(name: string): string {
  checkName(name, 'The identifier')
  return `"${name.replace(/"/g, '""')}"`
}

/**
 * A libpq connection string naming one database (`dbname='...'`), so that a name holding `=`
 * or starting with `postgresql://` is never read as a connection string itself.
 */
export function pgDbConninfo(dbname: string): string {
  checkName(dbname, 'The database')
  return `dbname='${dbname.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
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

/**
 * argv: the reading psql's argv and the script's `psql -f` argv, each as JSON; stdin: JSON
 * {first, then}. The reading session locks every table (ACCESS SHARE) in a REPEATABLE READ
 * transaction and runs `first`; then the script starts, and `then` runs in the reading session
 * beside it, seeing the database as it was before the script. Prints `then`'s lines and a last
 * JSON line {"script": exit code}; exit 5 when `first` failed (the script never started), 3 when
 * `then` failed (the script stopped). See the program's own header.
 */
export const PG_CHECKSUMS_BESIDE_SCRIPT_PROGRAM = pgChecksumsBesideScriptProgram

/**
 * A sync's scratch copy `dbname`: `keepSql` (statements that print nothing: the source values'
 * hashes) then the checksums of `tables` ({@link pgChecksumsSql}), in one REPEATABLE READ
 * transaction holding ACCESS SHARE locks on the tables, while the anonymising script
 * `scriptFile` runs ({@link psqlFile}) from the moment `keepSql` is done; through
 * {@link PG_CHECKSUMS_BESIDE_SCRIPT_PROGRAM} run by `python` on the host.
 */
export function pgChecksumsBesideScript(
  python: string,
  conn: DbConnection,
  dbname: string,
  tables: readonly (readonly [schema: string, table: string])[],
  keepSql: string,
  scriptFile: string
): Command {
  const locks = tables.length
    ? `LOCK TABLE ${tables.map(([schema, table]) => `${quotePgIdent(schema)}.${quotePgIdent(table)}`).join(', ')} IN ACCESS SHARE MODE;\n`
    : ''
  const first = `BEGIN ISOLATION LEVEL REPEATABLE READ;\n${locks}${keepSql}`
  const then = PG_CHECKSUM_SETTINGS_SQL + pgChecksumsSql(tables)
  return pythonProgram(
    python,
    PG_CHECKSUMS_BESIDE_SCRIPT_PROGRAM,
    [
      JSON.stringify(psql(conn, dbname, '').argv),
      JSON.stringify(psqlFile(conn, dbname, scriptFile).argv)
    ],
    { ...secretEnv('PGPASSWORD', conn.password), input: JSON.stringify({ first, then }) }
  )
}

/**
 * SQL (vars `db`, `reader`; run in database `:db` by its owner): give a mirror's read-only login
 * read access to `:db`: CONNECT on it, and in each schema but the system ones USAGE and SELECT on
 * every table and sequence, with CREATE taken from PUBLIC where the owner may (PostgreSQL 14 and
 * older let PUBLIC create in `public`). Grants are the objects' own ACLs: a rename of the
 * database keeps them.
 */
export const PG_GRANT_READER_SQL = `GRANT CONNECT ON DATABASE :"db" TO :"reader";
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, :'reader'),
       format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', n.nspname, :'reader'),
       format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', n.nspname, :'reader'),
       format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', n.nspname)
  FROM pg_namespace n
 WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND pg_has_role(n.nspowner, 'USAGE')
\\gexec
`

/**
 * SQL (run in the database as the login to check): one `kind<TAB>what` line (one column: psql's
 * unaligned output separates columns with `|`) for each relation it cannot read (`unreadable`)
 * and for each thing it, or any role it may `SET ROLE` to (a member of, inheriting or not), may do
 * beyond reading (`beyond`): write a table or a sequence (INSERT, UPDATE, DELETE, TRUNCATE or
 * TRIGGER; USAGE or UPDATE of a sequence), create in a schema or the database, own the database
 * (which may turn its read-only default off), be a superuser.
 */
export const PG_READER_ACCESS_SQL = `WITH me AS (
  SELECT oid, rolname, rolsuper,
         CASE WHEN rolname = current_user THEN '' ELSE format(' (as role %I)', rolname) END AS via
    FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')),
rel AS (
  SELECT c.oid, c.relkind, n.oid AS nsp, format('%s', c.oid::regclass) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'),
nsp AS (
  SELECT oid, nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema')
SELECT 'unreadable' || E'\\t' || name FROM rel
 WHERE relkind <> 'S' AND NOT (has_schema_privilege(nsp, 'USAGE') AND has_table_privilege(oid, 'SELECT'))
UNION
SELECT 'beyond' || E'\\t' || CASE WHEN rel.relkind = 'S' THEN 'may use or set sequence ' ELSE 'may write table ' END || rel.name || me.via
  FROM rel, me
 WHERE has_schema_privilege(me.oid, rel.nsp, 'USAGE') AND CASE WHEN rel.relkind = 'S'
       THEN has_sequence_privilege(me.oid, rel.oid, 'USAGE, UPDATE')
       ELSE has_table_privilege(me.oid, rel.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER') END
UNION
SELECT 'beyond' || E'\\t' || format('may create in schema %I', nsp.nspname) || me.via FROM nsp, me
 WHERE has_schema_privilege(me.oid, nsp.oid, 'CREATE')
UNION
SELECT 'beyond' || E'\\t' || format('may create schemas in database %I', current_database()) || me.via FROM me
 WHERE has_database_privilege(me.oid, current_database(), 'CREATE')
UNION
SELECT 'beyond' || E'\\t' || format('owns database %I', datname) FROM pg_database
 WHERE datname = current_database() AND pg_has_role(current_user, datdba, 'MEMBER')
UNION
SELECT 'beyond' || E'\\t' || 'is a superuser' || me.via FROM me WHERE rolsuper
ORDER BY 1;
`
