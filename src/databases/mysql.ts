/**
 * MySQL and MariaDB: mysqldump in one consistent transaction, restore into a fresh database that
 * is swapped in with one atomic multi-table RENAME TABLE (MySQL has no RENAME DATABASE), size
 * from information_schema, CHECKSUM TABLE plus COUNT(*) per table.
 *
 * Triggers and views cannot move between databases, and routines and events belong to the
 * database rather than its tables, so the swap moves the tables and then re-creates those
 * objects in the target from the restored copy's definitions (SHOW CREATE ...).
 */
import type { DbConnection } from '../commands/databases/connection.js'
import {
  MYSQL_INVENTORY_SQL,
  MYSQL_READ_PRIVILEGES,
  MYSQL_SIZE_SQL,
  mysql,
  mysqlChecksumsSql,
  mysqlExistsSql,
  mysqlLoadArgv,
  mysqlReaderPrivilegesSql,
  mysqlSchemaDefaultsSql,
  mysqlSecret,
  mysqldumpArgv,
  mysqlSwapTablesSql,
  quoteMysqlIdent
} from '../commands/databases/mysql.js'
import { redirectInput, redirectOutput } from '../commands/databases/python-programs.js'
import { CommandError, type Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { DEFAULT_PYTHON, connectionOf } from './connection.js'
import type {
  DatabaseConfig,
  DatabaseEngine,
  DumpOptions,
  DumpResult,
  ReaderAccess,
  RestoreOptions,
  TableChecksum
} from './engine.js'
import { failureMessage, pathSize, writeAside } from './host-paths.js'
import { restoreThroughFresh } from './fresh-restore.js'

/** MySQL's longest database name, in bytes. */
const MYSQL_NAME_BYTES = 64
/** Ends each statement of a re-creation script: routine bodies hold `;` themselves. */
const DELIMITER = '$$sitecycle$$'

/** Kinds of objects that live in a MySQL database, as the inventory names them. */
type ObjectType = 'TABLE' | 'VIEW' | 'TRIGGER' | 'PROCEDURE' | 'FUNCTION' | 'EVENT'

interface DbObject {
  type: ObjectType
  name: string
}

/** An object's definition, with the session settings it was created under. */
interface Definition extends DbObject {
  create: string
  sqlMode?: string
  charset?: string
  collation?: string
  timeZone?: string
}

/** The SHOW CREATE column holding each kind's statement. */
const CREATE_COLUMN: Record<Exclude<ObjectType, 'TABLE'>, string> = {
  VIEW: 'Create View',
  TRIGGER: 'SQL Original Statement',
  PROCEDURE: 'Create Procedure',
  FUNCTION: 'Create Function',
  EVENT: 'Create Event'
}

function connect(db: DatabaseConfig, reporter?: Reporter): DbConnection {
  const conn = connectionOf(db)
  if (conn.password) reporter?.addSecret(conn.password)
  return conn
}

async function sql(
  exec: Executor,
  conn: DbConnection,
  database: string | undefined,
  text: string
): Promise<string> {
  return (await exec.run(mysql(conn, database, text))).stdout
}

/** Run a script whose statements end with {@link DELIMITER}. */
async function runScript(
  exec: Executor,
  conn: DbConnection,
  database: string,
  statements: string[]
): Promise<void> {
  if (statements.length === 0) return
  await exec.run(
    mysql(conn, database, statements.map(s => `${s}\n${DELIMITER}\n`).join(''), {
      delimiter: DELIMITER
    })
  )
}

async function exists(exec: Executor, conn: DbConnection, name: string): Promise<boolean> {
  return (await sql(exec, conn, undefined, mysqlExistsSql(name))).trim() === '1'
}

/** `CHARACTER SET x COLLATE y` of an existing database, or '' when it does not exist. */
async function schemaDefaults(exec: Executor, conn: DbConnection, name: string): Promise<string> {
  const [charset, collation] = (await sql(exec, conn, undefined, mysqlSchemaDefaultsSql(name)))
    .trim()
    .split('\t')
  if (!charset || !collation || !/^\w+$/.test(charset) || !/^\w+$/.test(collation)) return ''
  return ` CHARACTER SET ${charset} COLLATE ${collation}`
}

async function dropDatabase(exec: Executor, conn: DbConnection, name: string): Promise<void> {
  await sql(exec, conn, undefined, `DROP DATABASE IF EXISTS ${quoteMysqlIdent(name)};\n`)
}

async function dropQuietly(
  exec: Executor,
  conn: DbConnection,
  name: string,
  reporter: Reporter
): Promise<void> {
  try {
    await dropDatabase(exec, conn, name)
  } catch (e) {
    reporter.warn(
      `could not drop the scratch database ${name} on ${exec.name}: ${failureMessage(e)}; drop it by hand`
    )
  }
}

/** Every table, view, trigger, routine and event of `database`. */
async function inventory(
  exec: Executor,
  conn: DbConnection,
  database: string
): Promise<DbObject[]> {
  const out = await sql(exec, conn, database, MYSQL_INVENTORY_SQL)
  return out
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [type, hex] = line.split('\t')
      return { type: type as ObjectType, name: Buffer.from(hex ?? '', 'hex').toString('utf8') }
    })
}

function decodeXml(text: string): string {
  return text.replace(
    /&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g,
    (_, name: string, dec?: string, hex?: string) => {
      if (dec) return String.fromCodePoint(Number(dec))
      if (hex) return String.fromCodePoint(parseInt(hex, 16))
      return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[name] ?? ''
    }
  )
}

/** Parse `mysql --xml` output: one record of field values per result set, in order. */
export function parseMysqlXml(xml: string): Record<string, string>[] {
  const sets = xml.split('<resultset').slice(1)
  return sets.map(set => {
    const fields: Record<string, string> = {}
    const row = set.split('<row>')[1] ?? ''
    for (const m of row.matchAll(
      /<field name="([^"]*)"(?:\s+xsi:nil="true"\s*\/>|>([\s\S]*?)<\/field>)/g
    )) {
      if (m[2] !== undefined) fields[decodeXml(m[1] ?? '')] = decodeXml(m[2])
    }
    return fields
  })
}

/** SHOW CREATE for each non-table object of `database`. */
async function definitions(
  exec: Executor,
  conn: DbConnection,
  database: string,
  objects: DbObject[]
): Promise<Definition[]> {
  const wanted = objects.filter(o => o.type !== 'TABLE')
  if (wanted.length === 0) return []
  const text = wanted.map(o => `SHOW CREATE ${o.type} ${quoteMysqlIdent(o.name)};\n`).join('')
  const sets = parseMysqlXml((await exec.run(mysql(conn, database, text, { xml: true }))).stdout)
  return wanted.map((o, i) => {
    const f = sets[i] ?? {}
    const create = f[CREATE_COLUMN[o.type as Exclude<ObjectType, 'TABLE'>]]
    if (!create)
      throw new SitecycleError(
        `could not read the definition of ${o.type} ${o.name} in ${database} on ${exec.name}`,
        'database'
      )
    const d: Definition = { ...o, create }
    if (f.sql_mode !== undefined) d.sqlMode = f.sql_mode
    if (f.character_set_client) d.charset = f.character_set_client
    if (f.collation_connection) d.collation = f.collation_connection
    if (f.time_zone) d.timeZone = f.time_zone
    return d
  })
}

/** Statements that create `d` under the settings it was defined with. */
function createStatements(d: Definition): string[] {
  const out: string[] = []
  if (d.sqlMode !== undefined && /^[A-Z_,]*$/.test(d.sqlMode))
    out.push(`SET SESSION sql_mode = '${d.sqlMode}'`)
  if (d.charset && /^\w+$/.test(d.charset))
    out.push(`SET SESSION character_set_client = ${d.charset}`)
  if (d.collation && /^\w+$/.test(d.collation))
    out.push(`SET SESSION collation_connection = ${d.collation}`)
  if (d.timeZone && /^[\w+\-:/]+$/.test(d.timeZone))
    out.push(`SET SESSION time_zone = '${d.timeZone}'`)
  out.push(d.create)
  return out
}

function dropStatement(o: DbObject): string {
  return `DROP ${o.type} IF EXISTS ${quoteMysqlIdent(o.name)}`
}

/** Views may use other views: create them in passes until none is left or no pass makes progress. */
async function createViews(
  exec: Executor,
  conn: DbConnection,
  database: string,
  views: Definition[]
): Promise<void> {
  let pending = views
  while (pending.length > 0) {
    const failed: { view: Definition; error: string }[] = []
    for (const v of pending) {
      const r = await exec.tryRun(
        mysql(
          conn,
          database,
          createStatements(v)
            .map(s => `${s}\n${DELIMITER}\n`)
            .join(''),
          { delimiter: DELIMITER }
        )
      )
      if (r.code !== 0) failed.push({ view: v, error: r.stderr.trim() })
    }
    if (failed.length === pending.length) {
      throw new SitecycleError(
        `could not create the views ${failed.map(f => f.view.name).join(', ')} in ${database}: ${failed[0]?.error}`,
        'database'
      )
    }
    pending = failed.map(f => f.view)
  }
}

/**
 * Put the tables of `fresh` in the place of the target's in one RENAME TABLE, then replace the
 * target's views, triggers, routines and events with the fresh copy's. Before the rename, any
 * failure leaves the target as it was (its triggers, dropped so its tables can move, are put back).
 */
async function swapIn(
  exec: Executor,
  db: DatabaseConfig,
  conn: DbConnection,
  fresh: string,
  old: string,
  reporter: Reporter,
  keepOld = false
): Promise<boolean> {
  const target = db.name
  const hadTarget = await exists(exec, conn, target)
  if (!hadTarget) {
    await sql(
      exec,
      conn,
      undefined,
      `CREATE DATABASE ${quoteMysqlIdent(target)}${await schemaDefaults(exec, conn, fresh)};\n`
    )
  }
  const targetObjects = await inventory(exec, conn, target)
  const freshObjects = await inventory(exec, conn, fresh)
  const freshDefs = await definitions(exec, conn, fresh, freshObjects)
  const targetTriggers = await definitions(
    exec,
    conn,
    target,
    targetObjects.filter(o => o.type === 'TRIGGER')
  )
  // Kept with the previous tables when the swap must be undoable.
  const targetOldDefs = keepOld
    ? await definitions(
        exec,
        conn,
        target,
        targetObjects.filter(o => o.type !== 'TABLE')
      )
    : []
  const tablesOf = (objects: DbObject[]): string[] =>
    objects.filter(o => o.type === 'TABLE').map(o => o.name)

  // Only tables may move between databases: the fresh copy's triggers and views go first (their
  // definitions are kept), and the target's triggers just before the rename.
  await runScript(
    exec,
    conn,
    fresh,
    freshObjects.filter(o => o.type === 'TRIGGER' || o.type === 'VIEW').map(dropStatement)
  )
  await sql(exec, conn, undefined, `CREATE DATABASE ${quoteMysqlIdent(old)};\n`)
  try {
    await runScript(exec, conn, target, targetTriggers.map(dropStatement))
    try {
      // A long transaction on the target holds a metadata lock: give up after a minute, not a year.
      await sql(
        exec,
        conn,
        undefined,
        `SET SESSION lock_wait_timeout = 60;\n${mysqlSwapTablesSql(target, old, fresh, tablesOf(targetObjects), tablesOf(freshObjects))}`
      )
    } catch (e) {
      await runScript(exec, conn, target, targetTriggers.flatMap(createStatements)).catch(undo =>
        reporter.warn(`could not put back the triggers of ${target}: ${failureMessage(undo)}`)
      )
      throw e
    }
  } catch (e) {
    await dropQuietly(exec, conn, old, reporter)
    throw e
  }

  // The data is in place. Now the objects that stayed behind.
  try {
    await runScript(
      exec,
      conn,
      target,
      targetObjects.filter(o => o.type !== 'TABLE' && o.type !== 'TRIGGER').map(dropStatement)
    )
    await createViews(
      exec,
      conn,
      target,
      freshDefs.filter(d => d.type === 'VIEW')
    )
    await runScript(
      exec,
      conn,
      target,
      freshDefs.filter(d => d.type !== 'VIEW').flatMap(createStatements)
    )
  } catch (e) {
    throw new SitecycleError(
      `the restored tables are in ${target} on ${exec.name}, but re-creating its views, triggers, routines or events failed: ${failureMessage(e)}; ` +
        `the previous tables are kept in ${old}`,
      'database'
    )
  }
  if (!keepOld || !hadTarget) {
    await dropQuietly(exec, conn, old, reporter)
    return hadTarget
  }
  // The previous tables are in \`old\`: give it the target's other objects too, so that swapping
  // it back puts the database back whole.
  await createViews(
    exec,
    conn,
    old,
    targetOldDefs.filter(d => d.type === 'VIEW')
  )
  await runScript(
    exec,
    conn,
    old,
    targetOldDefs.filter(d => d.type !== 'VIEW').flatMap(createStatements)
  )
  return true
}

async function restore(
  exec: Executor,
  db: DatabaseConfig,
  dumpPath: string,
  reporter: Reporter,
  options: RestoreOptions = {}
): Promise<void> {
  const conn = connect(db, reporter)
  await restoreThroughFresh(exec, db, dumpPath, reporter, {
    nameBytes: MYSQL_NAME_BYTES,
    create: async fresh => {
      await sql(
        exec,
        conn,
        undefined,
        `CREATE DATABASE ${quoteMysqlIdent(fresh)}${await schemaDefaults(exec, conn, db.name)};\n`
      )
    },
    load: async fresh => {
      reporter.info(`restoring ${dumpPath} into the fresh database ${fresh}`)
      try {
        await exec.run(
          redirectInput(
            db.python ?? DEFAULT_PYTHON,
            mysqlLoadArgv(conn, fresh),
            dumpPath,
            '',
            mysqlSecret(conn)
          )
        )
      } catch (e) {
        const why = e instanceof CommandError ? loadErrorOf(e.stderr) : undefined
        if (why === undefined) throw e
        throw new SitecycleError(`the mysql client could not load it: ${why}`, 'database')
      }
    },
    // The tables move into the target; swapIn drops the old ones; the emptied fresh one is left.
    swap: async (fresh, old) => {
      reporter.info(`moving the restored tables into ${db.name} in one RENAME TABLE`)
      await swapIn(exec, db, conn, fresh, old, reporter)
      return fresh
    },
    drop: name => dropQuietly(exec, conn, name, reporter),
    passThrough: e => e instanceof SitecycleError && /the restored tables are in/.test(e.message),
    intoNew: options.intoNew
  })
}

/**
 * A database name as InnoDB spells it in the names of its tables (`db/table`, MySQL's file-name
 * encoding): letters, digits and `_` as they are, any other ASCII character as `@` and its code
 * in four hex digits (`m1-prod` → `m1@002dprod`); undefined for a name with other characters,
 * whose encoding is not that simple.
 */
export function innodbDatabaseName(name: string): string | undefined {
  let out = ''
  for (const ch of name) {
    const code = ch.codePointAt(0)!
    if (/^[A-Za-z0-9_]$/.test(ch)) out += ch
    else if (code < 0x80) out += `@${code.toString(16).padStart(4, '0')}`
    else return undefined
  }
  return out
}

/**
 * What identifies the tables of database `name` through a swap: InnoDB's ids of its tables
 * (count, lowest, highest, sum), which RENAME TABLE carries from one database to another. So a
 * rollback knows the target holds the staged tables even when the previous ones, kept aside, are
 * gone (a swap's keep database dropped by a hand or a hook): it then says so and keeps the site
 * closed, where the tables alone could not tell a finished swap from one never begun. A table
 * made or rebuilt since (a hook's migration) has a new id: the identity then no longer matches,
 * and the tables decide (swapDone), as before. Null when
 * InnoDB cannot tell: the database is missing or has no InnoDB table, its name is not plain
 * ASCII, or the user lacks the PROCESS privilege that InnoDB's table list asks for (then the
 * rollback decides from the tables, as swapDone does).
 */
async function innodbIdentity(
  exec: Executor,
  conn: DbConnection,
  name: string
): Promise<string | null> {
  const innodbName = innodbDatabaseName(name)
  if (innodbName === undefined || !(await exists(exec, conn, name))) return null
  const r = await exec.tryRun(
    mysql(
      conn,
      undefined,
      "SELECT COUNT(*), MIN(TABLE_ID), MAX(TABLE_ID), SUM(TABLE_ID) FROM information_schema.INNODB_SYS_TABLES WHERE SUBSTRING_INDEX(NAME, '/', 1) = " +
        `'${innodbName}';\n`
    )
  )
  if (r.code !== 0) {
    if (/ERROR 1227 /.test(r.stderr)) return null // no PROCESS privilege
    throw new SitecycleError(
      `could not read InnoDB's table ids of ${name} on ${exec.name}: ${r.stderr.trim().split('\n').pop()}`,
      'database'
    )
  }
  const [count, ...ids] = r.stdout.trim().split('\t')
  return count === '0' ? null : `innodb:${count}:${ids.join(':')}`
}

/**
 * The errors of a failed load as the mysql client printed them (`ERROR 1064 (42000) at line 39:
 * ...`), each quoted value left out: the client echoes the failing statement and quotes the
 * dump's text near the error, which is the database's data (a production's, in a sync), not for
 * a log. Undefined when it printed no such line.
 */
export function loadErrorOf(stderr: string): string | undefined {
  const errors = stderr
    .split('\n')
    .filter(line => /^ERROR \d+ \([0-9A-Z]+\)/.test(line))
    // A quote that opens a value follows a space, `(`, `,`, `=`, `:` or a quote (`'it''s'`), not
    // a letter (the one of "doesn't").
    .map(line => line.replace(/(?<=^|[\s(,=:'])'(?:[^'\\]|\\.)*(?:'|$)/g, "'…'"))
  return errors.length
    ? `${errors.join('; ')} (quoted values left out: they are the dump's data)`
    : undefined
}

async function dump(
  exec: Executor,
  db: DatabaseConfig,
  path: string,
  reporter: Reporter,
  options: DumpOptions = {}
): Promise<DumpResult> {
  const conn = connect(db, reporter)
  const gzip = options.gzip ?? false
  await writeAside(exec, path, async partial => {
    await exec.run(
      redirectOutput(
        db.python ?? DEFAULT_PYTHON,
        mysqldumpArgv(conn, db.name),
        partial,
        gzip,
        mysqlSecret(conn)
      )
    )
  })
  return { path, size: await pathSize(exec, path), format: gzip ? 'mysql-sql-gzip' : 'mysql-sql' }
}

async function checksums(exec: Executor, db: DatabaseConfig): Promise<TableChecksum[]> {
  const conn = connect(db)
  const tables = (await inventory(exec, conn, db.name))
    .filter(o => o.type === 'TABLE')
    .map(o => o.name)
    .sort()
  if (tables.length === 0) return []
  // CHECKSUM TABLE streams the rows (a running sum of per-row CRCs, constant memory, any size).
  const r = await exec.tryRun(mysql(conn, db.name, mysqlChecksumsSql(tables)))
  const lines = r.stdout.split('\n').filter(Boolean)
  if (r.code !== 0) {
    const failed = tables[Math.floor(lines.length / 2)]
    const reason = r.stderr.trim().split('\n').filter(Boolean)[0] ?? `exit code ${r.code}`
    throw new SitecycleError(
      `could not checksum ${failed === undefined ? '' : `table ${failed} of `}database ${db.name} on ${exec.name}: ${reason}`,
      'database'
    )
  }
  if (lines.length !== tables.length * 2) {
    throw new SitecycleError(
      `unexpected checksum output from ${db.name} on ${exec.name}: ${lines.length} lines for ${tables.length} tables`,
      'database'
    )
  }
  return tables.map((table, i) => {
    const checksumLine = lines[2 * i] ?? ''
    return {
      table,
      checksum: checksumLine.slice(checksumLine.lastIndexOf('\t') + 1),
      rows: Number(lines[2 * i + 1])
    }
  })
}

/** The MySQL/MariaDB engine. */
export const mysqlEngine: DatabaseEngine = {
  name: 'mysql',
  dump,
  restore,
  async size(exec, db) {
    return Number((await sql(exec, connect(db), db.name, MYSQL_SIZE_SQL)).trim())
  },
  checksums,
  async runSqlFile(exec, db, sqlPath) {
    const conn = connect(db)
    // One transaction: uncommitted work is rolled back when the client stops at an error
    // (DDL commits implicitly in MySQL, as always).
    const argv = [...mysqlLoadArgv(conn, db.name), '--init-command=SET autocommit=0']
    await exec.run(
      redirectInput(db.python ?? DEFAULT_PYTHON, argv, sqlPath, '\nCOMMIT;\n', mysqlSecret(conn))
    )
  },
  async exists(exec, db) {
    return exists(exec, connect(db), db.name)
  },
  async drop(exec, db) {
    await dropDatabase(exec, connect(db), db.name)
  },
  // InnoDB updates rows in place and purges old versions by itself; OPTIMIZE TABLE would copy
  // every table again for little gain, so compacting is nothing here.
  async compact() {},
  async swapIn(exec, db, scratch, keep, reporter) {
    const conn = connect(db, reporter)
    const replaced = await swapIn(exec, db, conn, scratch, keep, reporter, true)
    // Its tables moved into the target; the emptied scratch database is left.
    await dropQuietly(exec, conn, scratch, reporter)
    return replaced
  },
  // Where InnoDB can tell (innodbIdentity), the rollback asks the target's identity first; a
  // hook's migration may have made or rebuilt tables since (new ids): swapDone decides then.
  async identity(exec, db, name) {
    return innodbIdentity(exec, connect(db), name)
  },
  identityChangesInPlace: true,
  // `keep` is created first, then one RENAME TABLE moves the target's tables into it and the
  // scratch's into the target: done when the scratch has no tables left (or is gone), unless
  // both were empty while the target still has its tables.
  async swapDone(exec, db, scratch, keep) {
    const conn = connect(db)
    if (!(await exists(exec, conn, keep))) return false
    const count = async (name: string) =>
      (await exists(exec, conn, name))
        ? Number(
            (
              await sql(
                exec,
                conn,
                name,
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE <> 'VIEW';\n"
              )
            ).trim()
          )
        : 0
    if ((await count(scratch)) > 0) return false
    return !((await count(keep)) === 0 && (await count(db.name)) > 0)
  },
  async query(exec, db, text) {
    return sql(exec, connect(db), db.name, text)
  },
  async prepareReader(exec, _staged, target, reader) {
    const login = { ...target, user: reader.user, passwordEnv: reader.passwordEnv }
    const r = await exec.tryRun(
      mysql(connect(login), undefined, mysqlReaderPrivilegesSql(target.name))
    )
    if (r.code !== 0)
      throw new SitecycleError(
        `could not log in to the server of ${target.name} on ${exec.name} as ${reader.user}, the mirror's reader: ${r.stderr.trim().split('\n').pop() || `exit code ${r.code}`}`,
        'database'
      )
    return readerPrivilegesOf(r.stdout, target.name)
  },
  quoteIdent: quoteMysqlIdent,
  nameBytes: MYSQL_NAME_BYTES
}

/**
 * The rows of mysqlReaderPrivilegesSql sorted into what the reader cannot and may do: it must
 * hold SELECT on the whole database (globally or on it: grants on single tables do not follow
 * the tables a refresh renames in), nothing but MYSQL_READ_PRIVILEGES, none with GRANT OPTION,
 * and no role (information_schema does not show a role's privileges to its grantee).
 */
export function readerPrivilegesOf(rows: string, target: string): ReaderAccess {
  const out: ReaderAccess = { unreadable: [], beyond: [] }
  let reads = false
  for (const line of rows.split('\n')) {
    const [scope, privilege, grantable] = line.split('\t')
    if (!privilege) continue
    if (scope === 'role') {
      out.beyond.push(`may take role ${privilege} (SET ROLE), whose privileges cannot be checked`)
      continue
    }
    const where = scope === 'global' ? 'on every database' : `on ${scope}`
    if (privilege === 'SELECT' && !scope.startsWith('table ')) reads = true
    if (!(MYSQL_READ_PRIVILEGES as readonly string[]).includes(privilege))
      out.beyond.push(`holds ${privilege} ${where}`)
    if (grantable === 'YES') out.beyond.push(`may grant ${privilege} ${where}`)
  }
  if (!reads) out.unreadable.push(`database ${target} (no SELECT on it)`)
  return out
}
