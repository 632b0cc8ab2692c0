/**
 * SQLite: a database is a file on the host. Dumps use the online backup API (a consistent copy
 * whatever writers do meanwhile; never a plain file copy of a live database). A restore builds
 * and checks the new file next to the target and renames it over the target in one rename(2),
 * so a failed restore leaves the target as it was. Checksums hash each row on its own and sum
 * the hashes, streaming any table size. A snapshot is one backup-API copy (dumpCopy): its
 * checksums are taken from the copy when they are needed (checksumsOfCopy), so the live database
 * is read once and a snapshot costs little more than the copy: one host program copies, then
 * fsyncs, hashes (for SHA256SUMS) and counts the rows of the copy at the same time, renames it
 * into place and measures both files. The work is done by
 * small Python programs (standard library only) run with the host's Python.
 */
import { cmd } from '../commands/command.js'
import { pathIdentities } from '../commands/files.js'
import { pythonProgram } from '../commands/databases/python-programs.js'
import {
  SQLITE_BACKUP_PROGRAM,
  SQLITE_BACKUP_WITH_COUNTS_PROGRAM,
  SQLITE_CHECKSUMS_PROGRAM,
  SQLITE_COMPACT_PROGRAM,
  SQLITE_RESTORE_PROGRAM,
  SQLITE_QUERY_PROGRAM,
  SQLITE_RUN_SQL_PROGRAM,
  SQLITE_SWAP_PROGRAM
} from '../commands/databases/sqlite.js'
import { SitecycleError } from '../util/errors.js'
import { DEFAULT_PYTHON } from './connection.js'
import type { CheckedDump, DatabaseConfig, DatabaseEngine, TableChecksum } from './engine.js'
import { hostPathExists, pathSize, scratchId, writeAside } from './host-paths.js'

function python(db: DatabaseConfig): string {
  return db.python ?? DEFAULT_PYTHON
}

function parseChecksums(out: string): TableChecksum[] {
  const rows = JSON.parse(out) as [string, number, string][]
  return rows.map(([table, count, checksum]) => ({ table, rows: count, checksum }))
}

/** The last line a failed host program wrote (its own message), for an error sentence. */
/**
 * The last line of a program's stderr: the message of what ended it, without the Python
 * exception's class (`sqlite3.DatabaseError: database disk image is malformed` reads as
 * `database disk image is malformed`).
 */
function lastLine(stderr: string): string {
  const line = stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
  return line.replace(/^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception): /, '')
}

function checkPath(db: DatabaseConfig): void {
  if (!db.name.startsWith('/')) {
    throw new SitecycleError(
      `the sqlite database ${JSON.stringify(db.name)} must be an absolute path on the host`,
      'config'
    )
  }
}

/** The SQLite engine. */
export const sqliteEngine: DatabaseEngine = {
  name: 'sqlite',

  async dump(exec, db, path, reporter) {
    checkPath(db)
    reporter.info(`copying ${db.name} with the SQLite online backup API`)
    await writeAside(exec, path, async partial => {
      await exec.run(pythonProgram(python(db), SQLITE_BACKUP_PROGRAM, [db.name, partial]))
    })
    return { path, size: await pathSize(exec, path), format: 'sqlite' }
  },

  async restore(exec, db, dumpPath, reporter) {
    checkPath(db)
    if (!(await hostPathExists(exec, dumpPath))) {
      throw new SitecycleError(
        `the dump ${dumpPath} does not exist on ${exec.name}; ${db.name} is unchanged`,
        'database'
      )
    }
    reporter.info(
      `restoring ${dumpPath} into a checked copy next to ${db.name}, then renaming it over`
    )
    const r = await exec.tryRun(
      pythonProgram(python(db), SQLITE_RESTORE_PROGRAM, [dumpPath, db.name, scratchId()])
    )
    if (r.code !== 0) {
      throw new SitecycleError(
        `restore of ${dumpPath} into ${db.name} on ${exec.name} failed; ${db.name} is unchanged: ${r.stderr.trim() || `exit code ${r.code}`}`,
        'database'
      )
    }
    reporter.info(`${db.name} now holds the restored data`)
  },

  async size(exec, db) {
    checkPath(db)
    return pathSize(exec, db.name)
  },

  async checksums(exec, db): Promise<TableChecksum[]> {
    checkPath(db)
    const r = await exec.tryRun(pythonProgram(python(db), SQLITE_CHECKSUMS_PROGRAM, [db.name]))
    if (r.code !== 0) {
      throw new SitecycleError(
        `${lastLine(r.stderr) || `checksums failed with exit code ${r.code}`} (sqlite database ${db.name} on ${exec.name})`,
        'database'
      )
    }
    return parseChecksums(r.stdout)
  },

  /** The backup API copy (dumpCopy), then the checksums of the copy (checksumsOfCopy). */
  async dumpWithChecksums(exec, db, path, reporter): Promise<CheckedDump> {
    const copy = await sqliteEngine.dumpCopy!(exec, db, path, reporter)
    return { ...copy, tables: await sqliteEngine.checksumsOfCopy!(exec, db, path) }
  },

  /**
   * The backup API copy with its tables' row counts (checksums later, from the copy), its size,
   * its sha256 and the database file's size, in one host program that also writes it aside and
   * renames it.
   */
  async dumpCopy(exec, db, path, reporter): Promise<CheckedDump> {
    checkPath(db)
    reporter.info(`copying ${db.name} with the SQLite online backup API`)
    const partial = `${path}.partial-${scratchId()}`
    const r = await exec.tryRun(
      pythonProgram(python(db), SQLITE_BACKUP_WITH_COUNTS_PROGRAM, [db.name, path, partial])
    )
    if (r.code !== 0) {
      throw new SitecycleError(
        `snapshot of the sqlite database ${db.name} on ${exec.name} failed: ${lastLine(r.stderr) || `exit code ${r.code}`}`,
        'database'
      )
    }
    const out = JSON.parse(r.stdout) as {
      tables: [string, number, string][]
      size: number
      sourceSize: number
      sha256: string
      identity: string
    }
    return {
      path,
      size: out.size,
      format: 'sqlite',
      tables: out.tables.map(([table, rows, checksum]) => ({ table, rows, checksum })),
      databaseSize: out.sourceSize,
      sum: { sha256: out.sha256, identity: out.identity }
    }
  },

  async checksumsOfCopy(exec, db, path): Promise<TableChecksum[]> {
    const r = await exec.tryRun(
      pythonProgram(python(db), SQLITE_CHECKSUMS_PROGRAM, [path, 'immutable'])
    )
    if (r.code !== 0) {
      throw new SitecycleError(
        `${lastLine(r.stderr) || `checksums failed with exit code ${r.code}`} (the copy ${path} of sqlite database ${db.name} on ${exec.name})`,
        'database'
      )
    }
    return parseChecksums(r.stdout)
  },

  async compact(exec, db) {
    checkPath(db)
    await exec.run(pythonProgram(python(db), SQLITE_COMPACT_PROGRAM, [db.name]))
  },

  async runSqlFile(exec, db, sqlPath) {
    checkPath(db)
    await exec.run(pythonProgram(python(db), SQLITE_RUN_SQL_PROGRAM, [db.name, sqlPath]))
  },

  async exists(exec, db) {
    checkPath(db)
    return (await exec.tryRun(cmd(['test', '-f', db.name]))).code === 0
  },

  async drop(exec, db) {
    checkPath(db)
    await exec.run(
      cmd(['rm', '-f', '--', db.name, `${db.name}-wal`, `${db.name}-shm`, `${db.name}-journal`])
    )
  },

  async swapIn(exec, db, scratch, keep) {
    checkPath(db)
    const r = await exec.tryRun(
      pythonProgram(python(db), SQLITE_SWAP_PROGRAM, [scratch, db.name, keep])
    )
    if (r.code !== 0)
      throw new SitecycleError(
        `could not put ${scratch} in the place of ${db.name} on ${exec.name}: ${r.stderr.trim() || `exit code ${r.code}`}`,
        'database'
      )
    return r.stdout.trim() === 'replaced'
  },

  // `keep` is linked to the target first, then `scratch` renamed over the target: done when
  // `keep` is there and no longer the target's file.
  async swapDone(exec, db, _scratch, keep) {
    checkPath(db)
    const [k, t] = JSON.parse(
      (await exec.run(pathIdentities(python(db), [keep, db.name]))).stdout
    ) as (string | null)[]
    return k !== null && k !== t
  },

  async identity(exec, db, name) {
    checkPath(db)
    const [id] = JSON.parse((await exec.run(pathIdentities(python(db), [name]))).stdout) as (
      string | null
    )[]
    return id
  },

  async query(exec, db, sql) {
    checkPath(db)
    const r = await exec.tryRun(pythonProgram(python(db), SQLITE_QUERY_PROGRAM, [db.name, sql]))
    if (r.code !== 0)
      throw new SitecycleError(
        `query on ${db.name} on ${exec.name} failed: ${r.stderr.trim() || `exit code ${r.code}`}`,
        'database'
      )
    return r.stdout
  },

  quoteIdent: name => `"${name.replace(/"/g, '""')}"`,
  nameBytes: 4096
}
