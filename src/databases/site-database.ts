/**
 * A site's PostgreSQL or MariaDB database and its owner, created by `init` through the admin
 * login of the config (`database.admin`), or, without one, the SQL that an administrator runs.
 * Never touches a database or role that exists already. Passwords go on stdin, never in argv.
 */
import type { DbConnection, RolePassword } from '../commands/databases/connection.js'
import {
  mysql,
  mysqlAccountHost,
  mysqlCreateSiteDatabaseSql,
  mysqlCreateUserSql,
  mysqlExistsSql,
  mysqlGrantReaderSql,
  mysqlUserExistsSql,
  quoteMysqlIdent
} from '../commands/databases/mysql.js'
import {
  PG_DATABASE_EXISTS_SQL,
  PG_DROP_DATABASE_SQL,
  PG_ROLE_EXISTS_SQL,
  pgCreateDatabaseSql,
  pgCreateRoleSql,
  psql,
  quotePgIdent
} from '../commands/databases/postgres.js'
import type { DatabaseSettings } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { ConfigError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { connectionOf, databasePassword } from './connection.js'

/** What ensureSiteDatabase did, and what its undo removes. */
export interface SiteDatabaseOutcome {
  /** `exists`: left as it was; `created`: made now; `not-created`: no admin login (see message). */
  status: 'exists' | 'created' | 'not-created'
  /** One line for the step's report (the instructions, for `not-created`). */
  message: string
  /** The role (postgres) or account (mysql) created now, if any. */
  createdUser?: string
  /** The mirror's reader (database.reader) created now, if any. */
  createdReader?: string
}

/** The admin login of `db`: its server, the admin user and the admin's password. */
function adminConnection(db: DatabaseSettings, env: NodeJS.ProcessEnv): DbConnection {
  const admin = db.admin!
  return connectionOf(
    {
      engine: db.engine,
      name: db.name,
      host: db.host,
      port: db.port,
      user: admin.user,
      passwordEnv: admin.passwordEnv
    },
    env
  )
}

const PG_MAINTENANCE_DB = 'postgres'

/** Whether login `user` (postgres: a role; mysql: the account `user@host` of `db`) exists. */
async function loginExists(
  exec: Executor,
  admin: DbConnection,
  db: DatabaseSettings,
  user: string
): Promise<boolean> {
  const command =
    db.engine === 'postgres'
      ? psql(admin, PG_MAINTENANCE_DB, PG_ROLE_EXISTS_SQL, { name: user })
      : mysql(admin, undefined, mysqlUserExistsSql(user, mysqlAccountHost(db.host)))
  return (await exec.run(command)).stdout.trim() === '1'
}

/** SQL: drop login `user` (postgres: the role; mysql: the account `user@host` of `db`) if it exists. */
function dropLoginSql(db: DatabaseSettings, user: string): string {
  return db.engine === 'postgres'
    ? `DROP ROLE IF EXISTS ${quotePgIdent(user)};\n`
    : `DROP USER IF EXISTS '${user.replace(/'/g, "''")}'@'${mysqlAccountHost(db.host)}';\n`
}

/** What a command carrying the admin's and a new login's password hides from its display. */
function secretsOf(admin: DbConnection, password?: string): string[] {
  return [...(admin.password ? [admin.password] : []), ...(password ? [password] : [])]
}

/** The role password's SQL form for an administrator reading it: the variable, never the value. */
function placeholder(db: DatabaseSettings, quote: string): RolePassword | undefined {
  return db.passwordEnv
    ? { placeholder: `${quote}<the value of $${db.passwordEnv}>${quote}` }
    : undefined
}

/**
 * The SQL that creates `db` and its owner, for an administrator to run: the password shown as
 * the name of the variable that holds it. postgres: as a superuser (`sudo -u postgres psql`);
 * mysql: as root (`sudo mysql`).
 */
export function siteDatabaseInstructions(db: DatabaseSettings): string {
  if (db.engine === 'postgres') {
    const sql =
      (db.user ? pgCreateRoleSql(db.user, placeholder(db, "'")) : '') +
      pgCreateDatabaseSql(db.name, db.user)
    return `as a PostgreSQL superuser (such as \`sudo -u postgres psql\`), run:\n${sql}`
  }
  const sql = mysqlCreateSiteDatabaseSql(
    db.name,
    db.user
      ? {
          name: db.user,
          host: mysqlAccountHost(db.host),
          password: placeholder(db, "'"),
          exists: false
        }
      : undefined
  )
  return `as the MariaDB/MySQL root user (such as \`sudo mysql\`), run:\n${sql}`
}

/**
 * Whether the site's own login sees its database (false when it cannot tell: no password in the
 * environment, no such role, server unreachable).
 */
async function existsAsSiteUser(
  exec: Executor,
  db: DatabaseSettings,
  env: NodeJS.ProcessEnv
): Promise<boolean> {
  if (db.passwordEnv && !env[db.passwordEnv]) return false
  const conn = connectionOf(db, env)
  const command =
    db.engine === 'postgres'
      ? psql(conn, PG_MAINTENANCE_DB, PG_DATABASE_EXISTS_SQL, { name: db.name })
      : mysql(conn, undefined, mysqlExistsSql(db.name))
  const r = await exec.tryRun(command)
  return r.code === 0 && r.stdout.trim() === '1'
}

/**
 * Create the database of `db` and its owner (`db.user`, with the password of `db.passwordEnv`)
 * through `db.admin`. An existing database is left as it is; an existing role or account is
 * kept with its password, and the new database given to it. Without `db.admin`: nothing is
 * created; the outcome carries the SQL to run.
 */
export async function ensureSiteDatabase(
  exec: Executor,
  db: DatabaseSettings,
  reporter: Reporter,
  env: NodeJS.ProcessEnv = process.env
): Promise<SiteDatabaseOutcome> {
  const outcome = await ensureDatabaseAndOwner(exec, db, reporter, env)
  if (!db.reader) return outcome
  if (outcome.status === 'not-created' || !db.admin)
    return { ...outcome, message: `${outcome.message}; ${readerInstructions(db)}` }
  const reader = await ensureReader(exec, db, reporter, env)
  return {
    ...outcome,
    message: `${outcome.message}; ${reader.message}`,
    ...(reader.created && { createdReader: db.reader.user })
  }
}

/** The SQL that creates a mirror's reader and lets it read, for an administrator to run. */
function readerInstructions(db: DatabaseSettings): string {
  const reader = db.reader!
  const password: RolePassword | undefined = reader.passwordEnv
    ? { placeholder: `'<the value of $${reader.passwordEnv}>'` }
    : undefined
  if (db.engine === 'postgres')
    return (
      `the mirror's reader ${reader.user} logs in with read access only (sitecycle grants it SELECT on each refresh); ` +
      `as a PostgreSQL superuser, run:\n${pgCreateRoleSql(reader.user, password)}`
    )
  const host = mysqlAccountHost(db.host)
  return (
    `the mirror's reader ${reader.user} logs in with read access only; as the MariaDB/MySQL root user, run:\n` +
    mysqlCreateUserSql(reader.user, host, password) +
    mysqlGrantReaderSql(db.name, reader.user, host)
  )
}

/**
 * Create the mirror's reader (database.reader) through the admin login when it does not exist
 * (its password from reader.password_env); mysql: grant it SELECT and SHOW VIEW on the database,
 * which holds for every copy a refresh swaps in (postgres grants on each copy, at the refresh).
 */
async function ensureReader(
  exec: Executor,
  db: DatabaseSettings,
  reporter: Reporter,
  env: NodeJS.ProcessEnv
): Promise<{ created: boolean; message: string }> {
  const reader = db.reader!
  const admin = adminConnection(db, env)
  // Its password is needed only to create it: an existing reader needs no secret.
  const secret = (): string | undefined => {
    if (!reader.passwordEnv) return undefined
    const pw = env[reader.passwordEnv]
    if (!pw)
      throw new ConfigError(
        `the password of the mirror's reader ${reader.user} is not set: set the environment variable ${reader.passwordEnv} (database.reader.password_env) to create it`
      )
    reporter.addSecret(pw)
    return pw
  }
  const from = reader.passwordEnv ? ` (password from ${reader.passwordEnv})` : ''
  const exists = await loginExists(exec, admin, db, reader.user)
  if (db.engine === 'postgres') {
    if (exists)
      return {
        created: false,
        message: `reader ${reader.user} exists: kept (each refresh grants it SELECT)`
      }
    const pw = secret()
    await exec.run({
      ...psql(
        admin,
        PG_MAINTENANCE_DB,
        pgCreateRoleSql(reader.user, pw ? { secret: pw } : undefined)
      ),
      redact: secretsOf(admin, pw)
    })
    return {
      created: true,
      message: `created reader ${reader.user}${from} (each refresh grants it SELECT)`
    }
  }
  const host = mysqlAccountHost(db.host)
  const pw = exists ? undefined : secret()
  await exec.run({
    ...mysql(
      admin,
      undefined,
      (exists ? '' : mysqlCreateUserSql(reader.user, host, pw ? { secret: pw } : undefined)) +
        mysqlGrantReaderSql(db.name, reader.user, host)
    ),
    redact: secretsOf(admin, pw)
  })
  return {
    created: !exists,
    message: `${exists ? `reader ${reader.user}@${host} exists: kept` : `created reader ${reader.user}@${host}${from}`}, granted SELECT and SHOW VIEW on ${db.name}`
  }
}

async function ensureDatabaseAndOwner(
  exec: Executor,
  db: DatabaseSettings,
  reporter: Reporter,
  env: NodeJS.ProcessEnv
): Promise<SiteDatabaseOutcome> {
  if (!db.admin) {
    if (await existsAsSiteUser(exec, db, env))
      return { status: 'exists', message: `database ${db.name} exists: left as it is` }
    return {
      status: 'not-created',
      message:
        `sitecycle creates ${db.engine} database ${db.name}${db.user ? ` and its owner ${db.user}` : ''} ` +
        `only with an admin login (database.admin); unless it exists already, ${siteDatabaseInstructions(db)}`
    }
  }
  const admin = adminConnection(db, env)
  if (admin.password) reporter.addSecret(admin.password)
  // The owner's password is needed only to create it: an existing database needs no secret.
  const ownerPassword = (): string | undefined => {
    const pw = databasePassword(db, env)
    if (pw) reporter.addSecret(pw)
    return pw
  }
  if (db.engine === 'postgres') {
    const ask = async (text: string, name: string) =>
      (await exec.run(psql(admin, PG_MAINTENANCE_DB, text, { name }))).stdout.trim() === '1'
    if (await ask(PG_DATABASE_EXISTS_SQL, db.name))
      return { status: 'exists', message: `database ${db.name} exists: left as it is` }
    let createdUser: string | undefined
    const said: string[] = []
    if (db.user) {
      if (await loginExists(exec, admin, db, db.user)) said.push(`role ${db.user} exists: kept`)
      else {
        const userPassword = ownerPassword()
        const password: RolePassword | undefined = userPassword
          ? { secret: userPassword }
          : undefined
        await exec.run({
          ...psql(admin, PG_MAINTENANCE_DB, pgCreateRoleSql(db.user, password)),
          redact: secretsOf(admin, userPassword)
        })
        createdUser = db.user
        said.push(
          `created role ${db.user}${userPassword ? ` (password from ${db.passwordEnv})` : ''}`
        )
      }
    }
    await exec.run(psql(admin, PG_MAINTENANCE_DB, pgCreateDatabaseSql(db.name, db.user)))
    said.push(`created database ${db.name}${db.user ? ` owned by ${db.user}` : ''}`)
    return { status: 'created', message: said.join('; '), createdUser }
  }
  const ask = async (text: string) =>
    (await exec.run(mysql(admin, undefined, text))).stdout.trim() === '1'
  if (await ask(mysqlExistsSql(db.name)))
    return { status: 'exists', message: `database ${db.name} exists: left as it is` }
  const host = mysqlAccountHost(db.host)
  const userExists = db.user ? await loginExists(exec, admin, db, db.user) : false
  const userPassword = db.user && !userExists ? ownerPassword() : undefined
  const password: RolePassword | undefined = userPassword ? { secret: userPassword } : undefined
  const sql = mysqlCreateSiteDatabaseSql(
    db.name,
    db.user ? { name: db.user, host, password, exists: userExists } : undefined
  )
  await exec.run({
    ...mysql(admin, undefined, sql),
    redact: secretsOf(admin, userPassword)
  })
  const who = db.user ? `${db.user}@${host}` : undefined
  return {
    status: 'created',
    message:
      `created database ${db.name}` +
      (who
        ? userExists
          ? `; account ${who} exists: kept, granted all on it`
          : `; created account ${who}${userPassword ? ` (password from ${db.passwordEnv})` : ''} with all privileges on it`
        : ''),
    createdUser: db.user && !userExists ? db.user : undefined
  }
}

/** Drop what ensureSiteDatabase created (the undo of a failed init): the database, then its owner, then the mirror's reader. */
export async function removeSiteDatabase(
  exec: Executor,
  db: DatabaseSettings,
  outcome: SiteDatabaseOutcome,
  env: NodeJS.ProcessEnv = process.env
): Promise<void> {
  // The database first: the reader's grants on it (postgres) would keep the role.
  if (outcome.status === 'created') await removeDatabaseAndOwner(exec, db, outcome, env)
  if (outcome.createdReader) {
    const admin = adminConnection(db, env)
    const sql = dropLoginSql(db, outcome.createdReader)
    await exec.run(
      db.engine === 'postgres' ? psql(admin, PG_MAINTENANCE_DB, sql) : mysql(admin, undefined, sql)
    )
  }
}

async function removeDatabaseAndOwner(
  exec: Executor,
  db: DatabaseSettings,
  outcome: SiteDatabaseOutcome,
  env: NodeJS.ProcessEnv
): Promise<void> {
  const admin = adminConnection(db, env)
  if (db.engine === 'postgres') {
    await exec.run(psql(admin, PG_MAINTENANCE_DB, PG_DROP_DATABASE_SQL, { name: db.name }))
    if (outcome.createdUser)
      await exec.run(psql(admin, PG_MAINTENANCE_DB, dropLoginSql(db, outcome.createdUser)))
    return
  }
  await exec.run(
    mysql(
      admin,
      undefined,
      `DROP DATABASE IF EXISTS ${quoteMysqlIdent(db.name)};\n` +
        (outcome.createdUser ? dropLoginSql(db, outcome.createdUser) : '')
    )
  )
}
