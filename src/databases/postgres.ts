/**
 * PostgreSQL: pg_dump (custom format at compression level 1, or directory format with parallel
 * workers), optionally with the tables' checksums taken in the dump's own snapshot while it runs;
 * pg_restore (one worker per CPU by default) into a fresh database that is then swapped in by
 * renames; template copies where they are safe; size; per-table checksums streamed row by row;
 * VACUUM FULL of the tables written to compact. Everything runs through the Executor.
 */
import type { DbConnection } from '../commands/databases/connection.js'
import {
  PG_CREATE_DATABASE_SQL,
  PG_DATABASE_EXISTS_SQL,
  PG_DATABASE_OID_SQL,
  PG_DROP_DATABASE_SQL,
  PG_GRANT_READER_SQL,
  PG_LIST_TABLES_SQL,
  PG_READER_ACCESS_SQL,
  PG_RENAME_SQL,
  PG_SIZE_SQL,
  PG_SWAP_SQL,
  PG_TERMINATE_SQL,
  createdbFromTemplate,
  PG_CHECKSUM_SETTINGS_SQL,
  pgCompactSql,
  pgChecksumOf,
  pgChecksumsSql,
  pgChecksumsBesideScript,
  pgDump,
  pgDumpWithChecksums,
  pgRestore,
  psql,
  psqlFile,
  quotePgIdent
} from '../commands/databases/postgres.js'
import { removeTree } from '../commands/files.js'
import { CommandError, type Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { DEFAULT_PYTHON, connectionOf } from './connection.js'
import type {
  CheckedDump,
  CopyMethod,
  DatabaseConfig,
  DatabaseEngine,
  DumpOptions,
  DumpResult,
  ReaderAccess,
  RestoreOptions,
  TableChecksum
} from './engine.js'
import {
  failureMessage,
  hostCpuCount,
  makeTempDir,
  pathSize,
  scratchId,
  writeAside
} from './host-paths.js'
import { restoreThroughFresh } from './fresh-restore.js'

/** PostgreSQL's longest identifier, in bytes (longer names are silently cut). */
const PG_NAME_BYTES = 63
/** How many times the swap is tried while sessions keep (re)connecting to the target. */
const SWAP_ATTEMPTS = 40
const SWAP_RETRY_MS = 150

const BUSY = /is being accessed by other users/

function maintenanceDb(db: DatabaseConfig): string {
  return db.maintenanceDatabase ?? 'postgres'
}

/** Connection settings, with the password registered as a secret with the reporter. */
function connect(db: DatabaseConfig, reporter?: Reporter): DbConnection {
  const conn = connectionOf(db)
  if (conn.password) reporter?.addSecret(conn.password)
  return conn
}

async function sql(
  exec: Executor,
  conn: DbConnection,
  dbname: string,
  text: string,
  vars: Record<string, string> = {}
): Promise<string> {
  return (await exec.run(psql(conn, dbname, text, vars))).stdout
}

/** Whether database `name` exists on the server of `db`. */
async function databaseExists(
  exec: Executor,
  db: DatabaseConfig,
  conn: DbConnection,
  name: string
): Promise<boolean> {
  return (await sql(exec, conn, maintenanceDb(db), PG_DATABASE_EXISTS_SQL, { name })).trim() === '1'
}

async function dropDatabase(
  exec: Executor,
  db: DatabaseConfig,
  conn: DbConnection,
  name: string
): Promise<void> {
  await sql(exec, conn, maintenanceDb(db), PG_DROP_DATABASE_SQL, { name })
}

/** Drop a scratch database, warning (not throwing) when that fails: the caller is already failing. */
async function dropQuietly(
  exec: Executor,
  db: DatabaseConfig,
  conn: DbConnection,
  name: string,
  reporter: Reporter
): Promise<void> {
  try {
    await dropDatabase(exec, db, conn, name)
  } catch (e) {
    reporter.warn(
      `could not drop the scratch database ${name} on ${exec.name}: ${failureMessage(e)}; drop it by hand`
    )
  }
}

/**
 * Put `fresh` in the place of `db.name`. When the target exists: end every session on it
 * (pg_terminate_backend; a database with sessions cannot be renamed), then in one transaction
 * rename it to `old` and `fresh` to the target's name. Sessions that reconnect in between make
 * the rename fail; it is retried. Nothing is renamed unless both renames happen.
 */
async function swapIn(
  exec: Executor,
  db: DatabaseConfig,
  conn: DbConnection,
  fresh: string,
  old: string,
  reporter: Reporter
): Promise<boolean> {
  const maint = maintenanceDb(db)
  if (!(await databaseExists(exec, db, conn, db.name))) {
    await sql(exec, conn, maint, PG_RENAME_SQL, { from: fresh, to: db.name })
    return false
  }
  reporter.info(
    `terminating the connections to ${db.name} so it can be replaced (a database cannot be renamed while anyone is connected)`
  )
  let last = ''
  for (let attempt = 1; attempt <= SWAP_ATTEMPTS; attempt++) {
    const r = await exec.tryRun(
      psql(conn, maint, PG_TERMINATE_SQL + PG_SWAP_SQL, {
        name: db.name,
        target: db.name,
        old,
        fresh
      })
    )
    const ended = Number(r.stdout.trim().split('\n')[0] ?? 0)
    if (ended > 0) reporter.info(`terminated ${ended} connection(s) to ${db.name}`)
    if (r.code === 0) return true
    last = r.stderr.trim()
    if (!BUSY.test(last)) break
    await new Promise(resolve => setTimeout(resolve, SWAP_RETRY_MS))
  }
  throw new SitecycleError(
    `could not put the restored database in the place of ${db.name} on ${exec.name}: ${last || 'psql failed'}` +
      (BUSY.test(last)
        ? ` (sessions kept reconnecting, or belong to roles ${conn.user ?? 'this user'} may not end)`
        : ''),
    'database'
  )
}

/** Restore `dumpPath` into a fresh database and swap it in; see {@link DatabaseEngine.restore}. */
async function restore(
  exec: Executor,
  db: DatabaseConfig,
  dumpPath: string,
  reporter: Reporter,
  options: RestoreOptions = {}
): Promise<void> {
  const conn = connect(db, reporter)
  await restoreThroughFresh(exec, db, dumpPath, reporter, {
    nameBytes: PG_NAME_BYTES,
    create: async fresh => {
      await sql(exec, conn, maintenanceDb(db), PG_CREATE_DATABASE_SQL, {
        name: fresh,
        template: 'template0'
      })
    },
    load: async fresh => {
      // one worker per CPU of the host by default: bench/README.md
      const jobs = options.jobs ?? (await hostCpuCount(exec))
      reporter.info(`restoring ${dumpPath} into the fresh database ${fresh} (${jobs} job(s))`)
      try {
        await exec.run(pgRestore(conn, fresh, dumpPath, jobs))
      } catch (e) {
        const why = e instanceof CommandError ? pgRestoreErrorOf(e.stderr) : undefined
        if (why === undefined) throw e
        throw new SitecycleError(`pg_restore could not load it: ${why}`, 'database')
      }
    },
    swap: async (fresh, old) =>
      (await swapIn(exec, db, conn, fresh, old, reporter)) ? old : undefined,
    drop: name => dropQuietly(exec, db, conn, name, reporter),
    intoNew: options.intoNew
  })
}

/**
 * pg_dump's compression level: 1 (fast gzip). Measured on 1,000,000 rows (bench/README.md): the
 * default level 6 takes about twice as long for a dump 5 to 10 % smaller.
 */
export const PG_DUMP_COMPRESSION = 1

/** Dump with pg_dump; see {@link DatabaseEngine.dump}. */
async function dump(
  exec: Executor,
  db: DatabaseConfig,
  path: string,
  reporter: Reporter,
  options: DumpOptions = {}
): Promise<DumpResult> {
  const conn = connect(db, reporter)
  const jobs = Math.max(1, options.jobs ?? 1)
  const compress = options.compress ?? PG_DUMP_COMPRESSION
  await writeAside(exec, path, partial =>
    exec
      .run(pgDump(conn, db.name, partial, { jobs, compress, directory: options.directory }))
      .then(() => undefined)
  )
  return { path, size: await pathSize(exec, path), format: formatOf(jobs, options) }
}

function formatOf(jobs: number, options: DumpOptions): string {
  return jobs > 1 || options.directory ? 'pg-directory' : 'pg-custom'
}

type TableName = readonly [schema: string, table: string]

function tableLabel([schema, table]: TableName): string {
  return schema === 'public' ? table : `${schema}.${table}`
}

async function listTables(
  exec: Executor,
  conn: DbConnection,
  dbname: string
): Promise<TableName[]> {
  return JSON.parse(
    (await sql(exec, conn, dbname, PG_LIST_TABLES_SQL)).trim() || '[]'
  ) as TableName[]
}

/** The checksums in `out` (lines of {@link pgChecksumsSql}), in the order printed. */
function parseChecksums(
  exec: Executor,
  db: DatabaseConfig,
  tables: readonly TableName[],
  out: string
): TableChecksum[] {
  return out
    .split('\n')
    .filter(Boolean)
    .map(line => {
      const [index, rows, sum] = line.split('|')
      const name = tables[Number(index)]
      if (name === undefined || rows === undefined || sum === undefined) {
        throw new SitecycleError(
          `unexpected checksum output from ${db.name} on ${exec.name}: ${line}`,
          'database'
        )
      }
      return { table: tableLabel(name), rows: Number(rows), checksum: pgChecksumOf(sum) }
    })
}

/** The error for checksums that stopped after `done` tables: it names the next one. */
function checksumFailure(
  exec: Executor,
  db: DatabaseConfig,
  tables: readonly TableName[],
  done: number,
  stderr: string
): SitecycleError {
  const name = tables[done]
  const what = name ? `table ${tableLabel(name)} of database ${db.name}` : `database ${db.name}`
  return new SitecycleError(
    `could not checksum ${what} on ${exec.name}: ${errorLine(stderr, 'psql failed')}`,
    'database'
  )
}

/** The line of a client's stderr that says what went wrong (its first error), or `fallback`. */
function errorLine(stderr: string, fallback: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean)
  return lines.find(line => /ERROR|FATAL|error/.test(line)) ?? lines[0] ?? fallback
}

function byTable(a: TableChecksum, b: TableChecksum): number {
  return a.table < b.table ? -1 : a.table > b.table ? 1 : 0
}

/** Checksums of every table; see {@link DatabaseEngine.checksums} and {@link pgChecksumsSql}. */
async function checksums(exec: Executor, db: DatabaseConfig): Promise<TableChecksum[]> {
  return (await checksumsThen(exec, db, '')).tables
}

/**
 * Checksums of every table, then `then` in the same psql session, its settings reset first (the
 * checksum settings change how values print as text); see {@link DatabaseEngine.checksumsThen}.
 */
async function checksumsThen(
  exec: Executor,
  db: DatabaseConfig,
  then: string
): Promise<{ tables: TableChecksum[]; ran: boolean }> {
  const conn = connect(db)
  const tables = await listTables(exec, conn, db.name)
  if (tables.length === 0 && !then) return { tables: [], ran: true }
  const after = then ? `RESET ALL;\n${then}` : ''
  const r = await exec.tryRun(
    psql(conn, db.name, PG_CHECKSUM_SETTINGS_SQL + pgChecksumsSql(tables) + after)
  )
  const result = parseChecksums(exec, db, tables, r.stdout)
  // psql stops at the first error: with every table's line printed, it was in `then`.
  if (r.code !== 0 && (result.length < tables.length || !then))
    throw checksumFailure(exec, db, tables, result.length, r.stderr)
  return { tables: result.sort(byTable), ran: r.code === 0 }
}

/** See {@link DatabaseEngine.checksumsBesideScript} and PG_CHECKSUMS_BESIDE_SCRIPT_PROGRAM. */
async function checksumsBesideScript(
  exec: Executor,
  db: DatabaseConfig,
  keepSql: string,
  scriptPath: string
): Promise<{ kept: false } | { kept: true; tables: TableChecksum[]; script: { error?: string } }> {
  const conn = connect(db)
  const tables = await listTables(exec, conn, db.name)
  const r = await exec.tryRun(
    pgChecksumsBesideScript(db.python ?? DEFAULT_PYTHON, conn, db.name, tables, keepSql, scriptPath)
  )
  if (r.code === 5) return { kept: false }
  const lines = r.stdout.split('\n').filter(Boolean)
  const last = r.code === 0 ? lines.pop() : undefined
  const result = parseChecksums(exec, db, tables, lines.join('\n'))
  if (r.code !== 0 || result.length < tables.length)
    throw checksumFailure(exec, db, tables, result.length, r.stderr)
  const code = (JSON.parse(last ?? '{}') as { script?: number }).script
  return {
    kept: true,
    tables: result.sort(byTable),
    script: code === 0 ? {} : { error: errorLine(r.stderr, `psql exited with code ${code}`) }
  }
}

/**
 * Dump and checksum in one snapshot, at once; see {@link DatabaseEngine.dumpWithChecksums} and
 * PG_DUMP_WITH_CHECKSUMS_PROGRAM. The table list is read just before the snapshot is taken: a
 * table created in between is in the dump without a checksum (verify reports it).
 */
async function dumpWithChecksums(
  exec: Executor,
  db: DatabaseConfig,
  path: string,
  reporter: Reporter,
  options: DumpOptions = {}
): Promise<CheckedDump> {
  const conn = connect(db, reporter)
  const jobs = Math.max(1, options.jobs ?? 1)
  const compress = options.compress ?? PG_DUMP_COMPRESSION
  const tables = await listTables(exec, conn, db.name)
  let sums: TableChecksum[] = []
  await writeAside(exec, path, async partial => {
    const r = await exec.tryRun(
      pgDumpWithChecksums(db.python ?? DEFAULT_PYTHON, conn, db.name, partial, tables, {
        jobs,
        compress,
        directory: options.directory
      })
    )
    sums = parseChecksums(exec, db, tables, r.stdout)
    if (r.code === 3) throw checksumFailure(exec, db, tables, sums.length, r.stderr)
    if (r.code === 5) {
      throw new SitecycleError(
        `could not open a consistent read of database ${db.name} on ${exec.name}: ${errorLine(r.stderr, 'psql failed')}`,
        'database'
      )
    }
    if (r.code !== 0) {
      throw new SitecycleError(
        `pg_dump of database ${db.name} on ${exec.name} failed: ${errorLine(r.stderr, `exit code ${r.code}`)}`,
        'database'
      )
    }
  })
  return {
    path,
    size: await pathSize(exec, path),
    format: formatOf(jobs, options),
    tables: sums.sort(byTable)
  }
}

/**
 * Copy database `from` into a new database `to` on the same server: `createdb -T` (a fast file
 * copy) when no one is connected to `from`; when someone is (createdb refuses then), a parallel
 * dump and restore instead, which does not disturb them. Returns the method used.
 */
export async function copyDatabase(
  exec: Executor,
  from: DatabaseConfig,
  to: string,
  reporter: Reporter,
  options: RestoreOptions = {}
): Promise<CopyMethod> {
  const conn = connect(from, reporter)
  if (await databaseExists(exec, from, conn, to)) {
    throw new SitecycleError(
      `cannot copy ${from.name} to ${to} on ${exec.name}: ${to} already exists; drop it first or choose another name`,
      'database'
    )
  }
  const r = await exec.tryRun(createdbFromTemplate(conn, maintenanceDb(from), from.name, to))
  if (r.code === 0) {
    reporter.info(`copied ${from.name} to ${to} as a template (createdb -T)`)
    return 'template'
  }
  if (!BUSY.test(r.stderr)) {
    throw new SitecycleError(
      `createdb could not copy ${from.name} to ${to} on ${exec.name}: ${r.stderr.trim()}`,
      'database'
    )
  }
  reporter.info(
    `${from.name} is in use, so it cannot serve as a template; copying it with pg_dump and pg_restore instead`
  )
  const ownDir = options.workDir === undefined
  const dir = options.workDir ?? (await makeTempDir(exec))
  const dumpPath = `${dir}/${scratchId()}.dump`
  try {
    await dump(exec, from, dumpPath, reporter, { jobs: options.jobs })
    await restore(exec, { ...from, name: to }, dumpPath, reporter, options)
  } finally {
    await exec.tryRun(removeTree(ownDir ? dir : dumpPath)).catch(() => undefined)
  }
  return 'dump-restore'
}

/** The PostgreSQL engine. */
export const postgresEngine: DatabaseEngine = {
  name: 'postgres',
  dump,
  restore,
  async size(exec, db) {
    return Number((await sql(exec, connect(db), db.name, PG_SIZE_SQL)).trim())
  },
  checksums,
  checksumsThen,
  async runSqlFile(exec, db, sqlPath) {
    await exec.run(psqlFile(connect(db), db.name, sqlPath))
  },
  async exists(exec, db) {
    return databaseExists(exec, db, connect(db), db.name)
  },
  async drop(exec, db) {
    await dropDatabase(exec, db, connect(db), db.name)
  },
  dumpWithChecksums,
  checksumsBesideScript,
  async compact(exec, db, tables) {
    await sql(exec, connect(db), db.name, pgCompactSql(tables))
  },
  compactBeforeCheck: true,
  async analyze(exec, db) {
    await sql(exec, connect(db), db.name, 'ANALYZE;\n')
  },
  async swapIn(exec, db, scratch, keep, reporter) {
    return swapIn(exec, db, connect(db, reporter), scratch, keep, reporter)
  },
  // The swap's two renames are one transaction: `keep` exists only once it committed.
  async swapDone(exec, db, _scratch, keep) {
    return databaseExists(exec, db, connect(db), keep)
  },
  async identity(exec, db, name) {
    const oid = (
      await sql(exec, connect(db), maintenanceDb(db), PG_DATABASE_OID_SQL, { name })
    ).trim()
    return oid ? `oid:${oid}` : null
  },
  async query(exec, db, text) {
    return sql(exec, connect(db), db.name, text)
  },
  quoteIdent: quotePgIdent,
  // the checksums' row hash (pgChecksumsSql), on one value's text
  valueHash: expr => `hashtextextended((${expr})::text, 0)`,
  nameBytes: PG_NAME_BYTES,
  /**
   * `default_transaction_read_only` on the database: every new session starts read-only, so the
   * application's writes fail ("cannot execute INSERT in a read-only transaction"). A default, not
   * a wall: a client may still `SET` it off. Kept by a rename, lost with the database (each
   * restore makes a fresh one), so it is set again after each.
   */
  async makeReadOnly(exec, db) {
    await sql(
      exec,
      connect(db),
      maintenanceDb(db),
      'ALTER DATABASE :"target" SET default_transaction_read_only = on;',
      { target: db.name }
    )
    return `new sessions on ${db.name} are read-only`
  },
  async prepareReader(exec, staged, _target, reader) {
    const granted = await exec.tryRun(
      psql(connect(staged), staged.name, PG_GRANT_READER_SQL, {
        db: staged.name,
        reader: reader.user
      })
    )
    if (granted.code !== 0)
      throw new SitecycleError(
        `could not grant ${reader.user}, the mirror's reader, read access to ${staged.name} on ${exec.name}: ${granted.stderr.trim().split('\n').pop() || `exit code ${granted.code}`}`,
        'database'
      )
    const login = { ...staged, user: reader.user, passwordEnv: reader.passwordEnv }
    const r = await exec.tryRun(psql(connect(login), staged.name, PG_READER_ACCESS_SQL))
    if (r.code !== 0)
      throw new SitecycleError(
        `could not log in to ${staged.name} on ${exec.name} as ${reader.user}, the mirror's reader: ${r.stderr.trim().split('\n').pop() || `exit code ${r.code}`}`,
        'database'
      )
    return readerAccessOf(r.stdout)
  }
}

/** The `kind<TAB>what` rows of PG_READER_ACCESS_SQL, sorted into what a reader cannot and may do. */
export function readerAccessOf(rows: string): ReaderAccess {
  const out: ReaderAccess = { unreadable: [], beyond: [] }
  for (const line of rows.split('\n')) {
    if (line === '') continue
    const tab = line.indexOf('\t')
    const kind = line.slice(0, tab)
    if (tab > 0 && kind === 'unreadable') out.unreadable.push(line.slice(tab + 1))
    else if (tab > 0 && kind === 'beyond') out.beyond.push(line.slice(tab + 1))
    // A line of another form: the check cannot say the reader is safe.
    else throw new SitecycleError(`unexpected line in the check of a reader's privileges: ${line}`)
  }
  return out
}

/**
 * What a failed pg_restore said, without the dump's data: its own `pg_restore:` lines, each value
 * the server quoted in them left out (`invalid input syntax for type integer: "…"`), and none of
 * the server's DETAIL or CONTEXT lines, which quote rows and keys (`COPY users, line 3: "1 alice
 * alice@example.org"`, `Key (email)=(...) already exists`): a production's data, in a sync, is
 * not for a log. Undefined when it printed no such line.
 */
export function pgRestoreErrorOf(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .filter(line => line.startsWith('pg_restore:'))
    .map(line => line.replace(/(for type [\w ]+|value|input): ".*"/g, '$1: "…"'))
  const held = stderr.split('\n').some(line => /^(DETAIL|CONTEXT): /.test(line))
  return lines.length
    ? lines.join('; ') +
        (held ? " (its DETAIL and CONTEXT lines left out: they quote the dump's data)" : '')
    : undefined
}
