/**
 * The database engine registry: a database's `engine` in sitecycle.yml names its engine here.
 * Adding an engine is one file and one line.
 */
import { removeTree } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { ConfigError, SitecycleError } from '../util/errors.js'
import { bothSettled } from '../util/settled.js'
import type { Reporter } from '../util/reporter.js'
import type { CopyMethod, DatabaseConfig, DatabaseEngine, RestoreOptions } from './engine.js'
import { makeTempDir, scratchId } from './host-paths.js'
import { mysqlEngine } from './mysql.js'
import { copyDatabase as copyPostgresDatabase, postgresEngine } from './postgres.js'
import { sqliteEngine } from './sqlite.js'

export const DATABASE_ENGINES: Record<DatabaseConfig['engine'], DatabaseEngine> = {
  postgres: postgresEngine,
  mysql: mysqlEngine,
  sqlite: sqliteEngine
}

/** The engine named `name`; an unknown name is a config error listing the known ones. */
export function getEngine(name: string): DatabaseEngine {
  const engine = Object.hasOwn(DATABASE_ENGINES, name)
    ? DATABASE_ENGINES[name as DatabaseConfig['engine']]
    : undefined
  if (!engine) {
    throw new ConfigError(
      `unknown database engine ${JSON.stringify(name)}; expected one of ${Object.keys(DATABASE_ENGINES).join(', ')}`
    )
  }
  return engine
}

/**
 * Copy database `from` into a new database `to` (a file path for sqlite) on the same host, for
 * clones and scratch copies, without disturbing `from`'s users. PostgreSQL uses a template copy
 * when no one is connected to `from` and falls back to dump and restore; MySQL dumps and
 * restores; SQLite copies with the backup API. `to` must not exist.
 */
export async function copyDatabase(
  exec: Executor,
  from: DatabaseConfig,
  to: string,
  reporter: Reporter,
  options: RestoreOptions = {}
): Promise<CopyMethod> {
  if (from.engine === 'postgres') return copyPostgresDatabase(exec, from, to, reporter, options)
  const engine = getEngine(from.engine)
  if (await engine.exists(exec, { ...from, name: to })) {
    throw new SitecycleError(
      `cannot copy ${from.name} to ${to} on ${exec.name}: ${to} already exists; drop it first or choose another name`,
      'database'
    )
  }
  if (from.engine === 'sqlite') {
    await engine.dump(exec, from, to, reporter)
    return 'backup'
  }
  const ownDir = options.workDir === undefined
  const dir = options.workDir ?? (await makeTempDir(exec))
  const dumpPath = `${dir}/${scratchId()}.dump`
  try {
    await engine.dump(exec, from, dumpPath, reporter)
    await engine.restore(exec, { ...from, name: to }, dumpPath, reporter, options)
  } finally {
    await exec.tryRun(removeTree(ownDir ? dir : dumpPath)).catch(() => undefined)
  }
  return 'dump-restore'
}

/**
 * `work` on a database just restored from a dump (its checksums, say), with the planner's
 * statistics refreshed beside it when `analyze` (engine.analyze: a dump carries none; ANALYZE
 * samples and only reads, as the checksums do): `work`'s result once both have ended.
 */
export async function withStatistics<T>(
  exec: Executor,
  engine: DatabaseEngine,
  db: DatabaseConfig,
  work: Promise<T>,
  analyze = true
): Promise<T> {
  const [result] = await bothSettled(
    work,
    analyze && engine.analyze ? engine.analyze(exec, db) : Promise.resolve()
  )
  return result
}
