/**
 * From a configured database to what the client programs need: host, port, user and the
 * password read from the secret's environment variable.
 */
import type { DbConnection } from '../commands/databases/connection.js'
import { ConfigError } from '../util/errors.js'
import type { DatabaseConfig } from './engine.js'

/** The host's Python when the config names none. */
export const DEFAULT_PYTHON = '/usr/bin/python3'

/**
 * The password of `db`, from the environment variable its config names (`passwordEnv`); none
 * when no variable is named. A named variable that is unset or empty is a config error.
 */
export function databasePassword(
  db: DatabaseConfig,
  env: NodeJS.ProcessEnv = process.env
): string | undefined {
  if (!db.passwordEnv) return undefined
  const value = env[db.passwordEnv]
  if (!value) {
    throw new ConfigError(
      `the database password variable ${db.passwordEnv} (database.passwordEnv of ${db.engine} database ${db.name}) is not set: ` +
        `pass the secret in the environment as ${db.passwordEnv}`
    )
  }
  return value
}

/** Connection settings of `db` for the client programs, password included (it goes to env only). */
export function connectionOf(
  db: DatabaseConfig,
  env: NodeJS.ProcessEnv = process.env
): DbConnection {
  const conn: DbConnection = {}
  if (db.host !== undefined) conn.host = db.host
  if (db.port !== undefined) conn.port = db.port
  if (db.user !== undefined) conn.user = db.user
  const password = databasePassword(db, env)
  if (password !== undefined) conn.password = password
  return conn
}
