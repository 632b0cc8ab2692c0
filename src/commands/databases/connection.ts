/**
 * How database commands reach a PostgreSQL or MySQL server, and how they carry a password: in the
 * command's environment (PGPASSWORD, MYSQL_PWD) and its `redact` list, never on the command line.
 * Shared by the engines' command modules beside this one. Pure.
 */
import type { Command } from '../command.js'

/** How to reach a PostgreSQL or MySQL server: what the client programs get as options. */
export interface DbConnection {
  /** Host name, or an absolute path: a socket directory (postgres) or socket file (mysql). */
  host?: string
  port?: number
  user?: string
  /** The password itself (resolved from the secret named in the config); never put in argv. */
  password?: string
}

/** The environment and redaction for a password, when there is one. */
export function secretEnv(
  variable: string,
  password: string | undefined
): Pick<Command, 'env' | 'redact'> {
  return password ? { env: { [variable]: password }, redact: [password] } : {}
}

/**
 * A role's password in the SQL that creates it: the secret itself (sent on stdin, never in argv;
 * redacted), or a placeholder shown to a person who runs the SQL by hand.
 */
export type RolePassword = { secret: string } | { placeholder: string }
