/**
 * The Python programs (src/host/sqlite-*.py, standard library only) that do on the host what
 * SQLite has no client program for: backup, restore, checksums, compact, swap, query, run a SQL
 * script. Each is text, run with `pythonProgram` (./python-programs.ts); nothing here runs
 * anything.
 */
import sqliteBackupProgram from '../../host/sqlite-backup.py'
import sqliteRestoreProgram from '../../host/sqlite-restore.py'
import sqliteBackupWithCountsProgram from '../../host/sqlite-backup-with-counts.py'
import sqliteCompactProgram from '../../host/sqlite-compact.py'
import sqliteSwapProgram from '../../host/sqlite-swap.py'
import sqliteQueryProgram from '../../host/sqlite-query.py'
import sqliteRunSqlProgram from '../../host/sqlite-run-sql.py'
import sqliteChecksumsProgram from '../../host/sqlite-checksums.py'

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

/**
 * argv: database file, then `immutable` for a file nobody writes (a snapshot's copy). Prints a
 * JSON array of [table, rows, checksum] for every table, sorted by name, read in one transaction:
 * each row hashed on its own, the hashes summed modulo 2**128, so independent of row order.
 */
export const SQLITE_CHECKSUMS_PROGRAM = sqliteChecksumsProgram

/**
 * argv: source database file, destination file, partial file. A snapshot's copy, in one process:
 * the online backup API in one step into the partial file (a new file nobody else opens: no
 * journal and no sync while it is written), while a second connection counts each table's rows
 * in the same state of the database (both read transactions begun under the writers' lock, held
 * for that moment only; when it is busy, the rows are counted in the copy afterwards); then at
 * the same time one fsync of the copy and its plain sha256 (for SHA256SUMS: snapshots/sums.ts
 * KnownSum); no checksums: the copy is the dump, and its checksums are computed from it when it
 * is read (see expectedTables); then the rename to the destination. Prints JSON {tables: [[table, rows, '']
 * sorted by name], size: the copy's bytes, sourceSize: the database file's bytes, sha256,
 * identity: 'dev:inode:size:mtime_ns:ctime_ns' of the destination}. The destination must not
 * exist; the partial file is removed on failure.
 */
export const SQLITE_BACKUP_WITH_COUNTS_PROGRAM = sqliteBackupWithCountsProgram

/** argv: database file. `VACUUM`: rebuild the file without free pages, then `ANALYZE`. */
export const SQLITE_COMPACT_PROGRAM = sqliteCompactProgram

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

/**
 * argv: database file, SQL file. Runs the script's statements in one transaction: any error
 * rolls all of them back (executescript would commit as it goes); exit 2 when the database file
 * is missing.
 */
export const SQLITE_RUN_SQL_PROGRAM = sqliteRunSqlProgram
