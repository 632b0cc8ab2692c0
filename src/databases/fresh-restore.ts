/**
 * The restore every server engine does the same way: the dump goes into a fresh scratch database,
 * which then takes the target's place, so a restore that fails at any point leaves the target as
 * it was (and no scratch database behind). The engines (postgres.ts, mysql.ts) give the parts
 * that differ: how to create, load, swap and drop.
 */
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import type { DatabaseConfig } from './engine.js'
import { scratchDatabaseName } from '../commands/databases/names.js'
import { failureMessage, hostPathExists, scratchId } from './host-paths.js'

/** What one engine does in {@link restoreThroughFresh}. */
export interface FreshRestoreParts {
  /** The engine's longest database name, in bytes (scratch names are cut to fit). */
  nameBytes: number
  /** Create the empty database `fresh`. */
  create(fresh: string): Promise<void>
  /** Load the dump into `fresh`. */
  load(fresh: string): Promise<void>
  /**
   * Put `fresh`'s content in place of the target, the target's previous content going to `old`.
   * Returns a scratch database left to drop once the target holds the restored data, if any.
   */
  swap(fresh: string, old: string): Promise<string | undefined>
  /** Drop a scratch database, warning (not throwing) when that fails. */
  drop(name: string): Promise<void>
  /** Errors thrown as they are: they say themselves what state the target is in. */
  passThrough?(e: unknown): boolean
  /** The target is a scratch database that does not exist yet: load straight into it ({@link RestoreOptions.intoNew}). */
  intoNew?: boolean
}

/** Restore `dumpPath` into `db` through a fresh database (see the module comment). */
export async function restoreThroughFresh(
  exec: Executor,
  db: DatabaseConfig,
  dumpPath: string,
  reporter: Reporter,
  parts: FreshRestoreParts
): Promise<void> {
  if (!(await hostPathExists(exec, dumpPath))) {
    throw new SitecycleError(
      `the dump ${dumpPath} does not exist on ${exec.name}; ${db.name} is unchanged`,
      'database'
    )
  }
  if (parts.intoNew) {
    // A scratch target named by its caller: loaded in place, dropped again if the load fails.
    await parts.create(db.name)
    try {
      await parts.load(db.name)
    } catch (e) {
      await parts.drop(db.name)
      if (parts.passThrough?.(e)) throw e
      throw new SitecycleError(
        `restore of ${dumpPath} into the scratch database ${db.name} on ${exec.name} failed: ${failureMessage(e)}`,
        'database'
      )
    }
    return
  }
  const id = scratchId()
  const fresh = scratchDatabaseName(db.name, 'restore', id, parts.nameBytes)
  const old = scratchDatabaseName(db.name, 'old', id, parts.nameBytes)
  await parts.create(fresh)
  let leftover: string | undefined
  try {
    await parts.load(fresh)
    leftover = await parts.swap(fresh, old)
  } catch (e) {
    await parts.drop(fresh)
    if (parts.passThrough?.(e)) throw e
    throw new SitecycleError(
      `restore of ${dumpPath} into ${db.name} on ${exec.name} failed; ${db.name} is unchanged: ${failureMessage(e)}`,
      'database'
    )
  }
  reporter.info(`${db.name} now holds the restored data`)
  if (leftover !== undefined) await parts.drop(leftover)
}
