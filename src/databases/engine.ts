/**
 * Database engines: a registry keyed by name (postgres, mysql, sqlite), each able to dump,
 * restore, copy, measure and checksum a site's database on its host through an Executor, so the
 * same code works locally and over SSH. Commands are argv arrays built by pure functions
 * (src/commands/databases/: one module per engine).
 */
import type { Executor } from '../hosts/executor.js'
import type { Reporter } from '../util/reporter.js'

/** A site's database, as configured (`sites.<n>.database`). */
export interface DatabaseConfig {
  engine: 'postgres' | 'mysql' | 'sqlite'
  /** Database name (postgres, mysql) or file path (sqlite, absolute on the host). */
  name: string
  /**
   * Where the server is: a host name for TCP, or an absolute path for a unix socket (postgres:
   * the socket directory; mysql: the socket file). Unset: the client's default. Unused for sqlite.
   */
  host?: string
  port?: number
  /** User to log in as (postgres, mysql). Restored objects belong to this user. */
  user?: string
  /** Environment variable holding the password (a secret), if any. Read when a command is built. */
  passwordEnv?: string
  /** postgres: the database to connect to for CREATE/DROP/RENAME DATABASE (default `postgres`). */
  maintenanceDatabase?: string
  /** Python on the host, for the helper programs (sqlite, mysql redirection; default /usr/bin/python3). */
  python?: string
}

/** Per-table row count and checksum, for verify and compare. */
export interface TableChecksum {
  /** Table name (postgres: `schema.table` outside the `public` schema). */
  table: string
  rows: number
  /** A hash of the table's rows in a stable order (engine-specific, comparable within one engine). */
  checksum: string
}

export interface DumpResult {
  /** What was written (absolute path on the host): one file, or a directory (postgres -j). */
  path: string
  /** Bytes on disk. */
  size: number
  /** `pg-custom`, `pg-directory`, `mysql-sql`, `mysql-sql-gzip` or `sqlite`. */
  format: string
}

/** How to dump. */
export interface DumpOptions {
  /** postgres: parallel workers; more than 1 writes a directory-format dump (`-Fd -j N`). */
  jobs?: number
  /** mysql: gzip the SQL dump. */
  gzip?: boolean
  /** postgres: compression level 0-9 (`pg_dump -Z`); default PG_DUMP_COMPRESSION (postgres.ts). */
  compress?: number
  /** postgres: directory format (`-Fd`, one file per table) even with one worker. */
  directory?: boolean
}

/** A dump and the checksums of exactly the data it holds. */
export interface CheckedDump extends DumpResult {
  tables: TableChecksum[]
  /** The database's own size (as {@link DatabaseEngine.size}), when the dump measured it. */
  databaseSize?: number
  /**
   * The dump file's plain sha256, when the dump took it as it wrote the file, with the file's
   * identity then (`dev:inode:size:mtime_ns:ctime_ns`): SHA256SUMS takes it while the file still
   * has that identity, rather than read the file again (snapshots/sums.ts KnownSum).
   */
  sum?: { sha256: string; identity: string }
}

/** How to restore or copy. */
export interface RestoreOptions {
  /** postgres: parallel pg_restore workers (default: one per CPU of the host). */
  jobs?: number
  /** Directory on the host for temporary dumps (copy); default: a fresh `mktemp -d`. */
  workDir?: string
  /**
   * postgres, mysql: `db` is a scratch database that does not exist yet, whose name the caller
   * can find again (a staged copy named by the operation id): the dump is loaded straight into
   * it, with no second fresh database, so a run killed while it loads leaves only `db`, which
   * the next operation drops. Default: through a fresh database swapped in (see restore).
   */
  intoNew?: boolean
}

/** How copyDatabase (registry.ts) made a copy. */
export type CopyMethod = 'template' | 'dump-restore' | 'backup'

export interface DatabaseEngine {
  readonly name: DatabaseConfig['engine']
  /**
   * Dump the database to `path` on the host (a consistent snapshot of a live database). The dump
   * is written aside and renamed into place, so `path` never holds half a dump; `path` must not
   * exist.
   */
  dump(
    exec: Executor,
    db: DatabaseConfig,
    path: string,
    reporter: Reporter,
    options?: DumpOptions
  ): Promise<DumpResult>
  /**
   * Restore a dump into `db`: into a fresh database first, which then replaces the target, so
   * a failed restore leaves the target as it was (and no fresh database behind).
   */
  restore(
    exec: Executor,
    db: DatabaseConfig,
    dumpPath: string,
    reporter: Reporter,
    options?: RestoreOptions
  ): Promise<void>
  /** Bytes the database takes. */
  size(exec: Executor, db: DatabaseConfig): Promise<number>
  /** Row count and checksum of every table, sorted by table name. */
  checksums(exec: Executor, db: DatabaseConfig): Promise<TableChecksum[]>
  /**
   * {@link checksums}, then `sql` in the same client session (one client start; the tables are
   * listed before `sql` can create any, and the session's settings are reset in between, so `sql`
   * sees a fresh session's). Throws as checksums does; `ran` says whether `sql` succeeded (it
   * should be one transaction, so that it leaves nothing when it did not). Absent (sqlite,
   * mysql): the caller runs them apart.
   */
  checksumsThen?(
    exec: Executor,
    db: DatabaseConfig,
    sql: string
  ): Promise<{ tables: TableChecksum[]; ran: boolean }>
  /**
   * A sync's scratch copy: `keepSql` (one transaction's statements that print nothing: the source
   * values' hashes) and the checksums, in one session and one snapshot, while the anonymising
   * script at `scriptPath` (on the host) already runs on the copy in a second session, started
   * once `keepSql` is done and seeing nothing of it before then; a statement of the script that
   * is not MVCC-safe waits until the checksums are taken. `kept: false`: `keepSql` failed, the
   * script was not started and nothing changed (the caller goes the way without it). Throws as
   * checksums does when they fail (the script is stopped). `script`: the script's error (its
   * client's last words) when it failed. Absent (sqlite, mysql): the caller runs them apart.
   */
  checksumsBesideScript?(
    exec: Executor,
    db: DatabaseConfig,
    keepSql: string,
    scriptPath: string
  ): Promise<{ kept: false } | { kept: true; tables: TableChecksum[]; script: { error?: string } }>
  /** Run an SQL file (on the host) against the database, in one transaction (e.g. an anonymising script). */
  runSqlFile(exec: Executor, db: DatabaseConfig, sqlPath: string): Promise<void>
  /** Whether the database exists. */
  exists(exec: Executor, db: DatabaseConfig): Promise<boolean>
  /** Drop the database (scratch databases of verify; never a site's own without asking). */
  drop(exec: Executor, db: DatabaseConfig): Promise<void>
  /**
   * Dump (as {@link dump}) and take the checksums of exactly what the dump holds, reading the
   * live database once: postgres takes them in the dump's own snapshot, while pg_dump runs;
   * sqlite takes them from the copy. Absent (mysql): the caller checksums before and after.
   */
  dumpWithChecksums?(
    exec: Executor,
    db: DatabaseConfig,
    path: string,
    reporter: Reporter,
    options?: DumpOptions
  ): Promise<CheckedDump>
  /**
   * For an engine whose dump is a copy of the database itself (sqlite): dump as {@link dump},
   * with the copy's tables and row counts but no checksums (empty strings). A snapshot records
   * `checksumsFrom: 'file'`; whoever needs the checksums takes them from the copy itself
   * ({@link checksumsOfCopy}), whose sha256 guards it in the meantime. Snapshots cost one copy.
   */
  dumpCopy?(
    exec: Executor,
    db: DatabaseConfig,
    path: string,
    reporter: Reporter
  ): Promise<CheckedDump>
  /** The checksums of a copy made by {@link dumpCopy}, read as it is (nothing written beside it). */
  checksumsOfCopy?(exec: Executor, db: DatabaseConfig, path: string): Promise<TableChecksum[]>
  /**
   * Give back the space that a bulk rewrite (anonymising every row) left to dead rows, and
   * refresh the planner's statistics: postgres `VACUUM FULL` of `tables` (as an SQL script names
   * them) and of any other table with dead rows, then `ANALYZE`; sqlite `VACUUM`, mysql nothing
   * (an InnoDB UPDATE rewrites in place). Takes exclusive locks: for a scratch database nobody
   * uses yet, never a live one. Every built-in engine has it.
   */
  compact?(exec: Executor, db: DatabaseConfig, tables?: readonly string[]): Promise<void>
  /**
   * Refresh the planner's statistics of a database just restored from a dump, which carries none
   * (postgres: `ANALYZE`, sampling each table): a restored production, preview or mirror then
   * plans its queries on its data from its first request instead of on defaults until autovacuum
   * comes by. Engines whose copy keeps its statistics (sqlite: the file with its sqlite_stat1) or
   * keeps them itself (mysql: InnoDB samples on its own) have none.
   */
  analyze?(exec: Executor, db: DatabaseConfig): Promise<void>
  /**
   * Compact a sync's anonymised copy before the anonymisation check rather than after it: the
   * check then reads the rewritten tables without their dead rows (postgres, 1,000,000 rows: the
   * compaction and the check 1.5 s against 2.7 s after, bench/README.md "Round 13"). Only where
   * dropping the check's tables afterwards gives their space back (postgres); a SQLite `DROP`
   * leaves free pages in the file, so there the compaction comes last.
   */
  compactBeforeCheck?: boolean
  /**
   * Put the database `scratch` (on the same server; sqlite: a file in the same folder) in the
   * place of `db.name`, keeping the previous content as `keep` instead of dropping it, so the swap
   * can be undone by swapping `keep` back. Where the engine allows, the swap is one atomic step
   * (postgres: two renames in one transaction; mysql: one RENAME TABLE); sqlite: two renames, and
   * whoever finds the pair half-swapped puts it back (see pipelines/data-recovery.ts). Returns
   * whether there was a previous database (false: `scratch` was only renamed to `db.name`).
   */
  swapIn(
    exec: Executor,
    db: DatabaseConfig,
    scratch: string,
    keep: string,
    reporter: Reporter
  ): Promise<boolean>
  /**
   * Whether a swapIn(scratch, keep) that may have been interrupted (the process killed) had put
   * the scratch content in the place of `db.name`: then `keep` holds the previous content and
   * swapIn(keep, scratch) puts it back.
   */
  swapDone(exec: Executor, db: DatabaseConfig, scratch: string, keep: string): Promise<boolean>
  /**
   * What identifies the database named `name` through a swap (postgres: its OID; sqlite: the
   * file's device and inode; mysql, whose swap moves tables: InnoDB's ids of its tables), or null
   * when there is none (missing; mysql: also when InnoDB cannot tell): a swap's rollback compares
   * the target's with the staged copy's, so it knows the new data is in place even when the
   * previous content kept aside has gone. Without one, swapDone decides alone.
   */
  identity?(exec: Executor, db: DatabaseConfig, name: string): Promise<string | null>
  /**
   * The identity changes while the database is used, not only by a rename (mysql: a table a
   * migration makes or rebuilds gets a new id): an identity equal to the staged copy's proves the
   * swap, a different one proves nothing, and swapDone decides.
   */
  identityChangesInPlace?: boolean
  /** Run one query (or statements) and return the rows as text, one line each (one-column queries). */
  query(exec: Executor, db: DatabaseConfig, sql: string): Promise<string>
  /** An identifier (table or column) quoted for this engine's SQL. */
  quoteIdent(name: string): string
  /**
   * An SQL expression hashing the value of `expr` (any type) into 64 bits, NULL for NULL: the
   * anonymisation check then keeps the source values' hashes, not copies of the values
   * (pipelines/anonymize.ts). Absent (sqlite, mysql): the check copies the values.
   */
  valueHash?(expr: string): string
  /**
   * The longest name a scratch database of `db` may have (postgres and mysql limit names to 63
   * and 64 bytes; sqlite's are paths).
   */
  readonly nameBytes: number
  /**
   * Make new sessions on the database read-only (a mirror's, after each restore), where the
   * engine can do that for one database; absent where it cannot. Returns what was done.
   */
  makeReadOnly?(exec: Executor, db: DatabaseConfig): Promise<string>
  /**
   * A mirror's read-only login (config `database.reader`): give it read access where the engine
   * grants that per copy, then report, logged in as it, what it cannot read and what it may do
   * beyond reading. postgres: grants CONNECT, USAGE and SELECT on `staged` (the restored copy,
   * before the swap: the grants are its objects' own and move with the rename) and checks there;
   * mysql: checks what the reader holds on `target` (granted once on the database's name by init,
   * which holds for every copy RENAME TABLE swaps in). Absent (sqlite): no logins. A login that
   * fails is an error naming the reader and the database.
   */
  prepareReader?(
    exec: Executor,
    staged: DatabaseConfig,
    target: DatabaseConfig,
    reader: ReaderLogin
  ): Promise<ReaderAccess>
}

/** A mirror's read-only login: its user and the variable holding its password. */
export interface ReaderLogin {
  user: string
  passwordEnv?: string
}

/** What a reader login may do on a database (engine prepareReader). */
export interface ReaderAccess {
  /** What it cannot read: tables, or the whole database. */
  unreadable: string[]
  /** What it may do beyond reading: write a table, create, own the database, ... */
  beyond: string[]
}
