/**
 * The application's environment (`app.env`, `sites.<n>.env`): variables the slot's WSGI script
 * puts into os.environ before it imports the application, and that hooks get. Values are one-line
 * strings that may hold `{{ secret.NAME }}` (from the deploy's environment, masked),
 * `{{ database.url }}` (a DATABASE_URL built from the site's `database:`) and `{{ shared.NAME }}`
 * (the absolute path of the site's shared entry of that name).
 */
import type { DatabaseSettings, SharedEntry } from './model.js'
import { lineBreaking } from './line-breaking.js'
import { SitecycleError } from '../util/errors.js'

/** A name a POSIX shell and Python's os.environ both take. */
export const ENV_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
export const ENV_NAME_FORM =
  'an environment variable name of letters, digits and _, not starting with a digit nor with SITECYCLE_ (sitecycle sets those), such as DJANGO_SETTINGS_MODULE'
export const ENV_VALUE_FORM =
  "a one-line string, optionally with {{ secret.NAME }}, {{ database.url }} or {{ shared.NAME }}, such as production or '{{ secret.SECRET_KEY }}' (quote numbers and true/false)"

const PLACEHOLDER = /\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/** One variable as the config gives it for a site (the site's value when both give it). */
export interface AppEnvEntry {
  name: string
  /** The value as written, placeholders included. */
  value: string
  /** Where it is written, such as `app.env.SECRET_KEY` or `sites.v1.env.DEBUG`. */
  key: string
}

/** Why a variable name is refused, or undefined. */
export function envNameProblem(name: string): string | undefined {
  if (!ENV_VAR_NAME.test(name)) return 'not a valid environment variable name'
  if (name.toUpperCase().startsWith('SITECYCLE_')) return 'sitecycle sets the SITECYCLE_ variables'
  return undefined
}

/** Why a value as written is refused (a line break, an unknown placeholder), or undefined. */
export function envValueProblem(value: string): string | undefined {
  const bad = lineBreaking(value)
  if (bad) return `holds ${bad}`
  for (const [whole, scope, key] of value.matchAll(PLACEHOLDER)) {
    if (scope === 'secret' || scope === 'shared' || (scope === 'database' && key === 'url'))
      continue
    return `${whole} is not understood`
  }
  const stray = /\{\{.*?\}\}|\{\{|\}\}/.exec(value.replace(PLACEHOLDER, ''))
  if (stray) return `${stray[0]} is not a placeholder`
  return undefined
}

/** The names of the shared entries a value asks for (`{{ shared.NAME }}`). */
export function sharedNamesUsed(value: string): string[] {
  return [...value.matchAll(PLACEHOLDER)].filter(([, s]) => s === 'shared').map(([, , k]) => k)
}

/** Whether a value asks for `{{ database.url }}`. */
export function usesDatabaseUrl(value: string): boolean {
  return [...value.matchAll(PLACEHOLDER)].some(([, s, k]) => s === 'database' && k === 'url')
}

/**
 * A DATABASE_URL for `db` (logging in as `db.user`: renderAppEnv passes a mirror's reader there) in the form Django's dj-database-url, SQLAlchemy and libpq read:
 * `postgresql://user:password@host:port/name` (a socket directory as host is percent-encoded),
 * `mysql://user:password@host:port/name` (host localhost when none: the local socket),
 * `sqlite:////absolute/path`.
 */
export function databaseUrl(db: DatabaseSettings, password?: string): string {
  if (db.engine === 'sqlite') return `sqlite:///${db.name}`
  const user = db.user
    ? `${encodeURIComponent(db.user)}${password ? `:${encodeURIComponent(password)}` : ''}@`
    : ''
  const host = db.host?.startsWith('/')
    ? encodeURIComponent(db.host)
    : (db.host ?? (db.engine === 'mysql' ? 'localhost' : ''))
  const port = db.port !== undefined ? `:${db.port}` : ''
  const scheme = db.engine === 'postgres' ? 'postgresql' : 'mysql'
  return `${scheme}://${user}${host}${port}/${encodeURIComponent(db.name)}`
}

/** A site's environment, rendered in memory: the values and the secrets among them. */
export interface RenderedEnv {
  variables: Record<string, string>
  /** Secret values in it (and whole values holding one): masked wherever output is shown. */
  secrets: string[]
  /** Names of the variables holding a secret. */
  secretNames: string[]
}

/**
 * Render a site's environment: each `{{ secret.NAME }}` from `env` (missing, or not one line: an
 * error naming the variable and the secret, never the value), `{{ database.url }}` from the
 * site's database (its password from `password_env`, a secret).
 */
export function renderAppEnv(
  entries: AppEnvEntry[],
  site: { name: string; database?: DatabaseSettings; shared?: SharedEntry[] },
  file: string,
  env: NodeJS.ProcessEnv = process.env
): RenderedEnv {
  const rendered: RenderedEnv = { variables: {}, secrets: [], secretNames: [] }
  const problems: string[] = []
  for (const entry of entries) {
    const where = `${file}: ${entry.key}`
    let secret = false
    const value = entry.value.replace(PLACEHOLDER, (whole, scope: string, key: string) => {
      if (scope === 'shared') {
        const shared = site.shared?.find(e => e.name === key)
        if (!shared)
          problems.push(`${where}: {{ shared.${key} }} names no shared entry of site ${site.name}`)
        return shared ? shared.absolute : whole
      }
      if (scope === 'database') {
        const db = site.database
        if (!db) {
          problems.push(`${where}: {{ database.url }}, but site ${site.name} has no database:`)
          return whole
        }
        // A mirror's application logs in as its read-only reader, when it has one.
        const login = db.reader
          ? { ...db, user: db.reader.user, passwordEnv: db.reader.passwordEnv }
          : db
        const key = db.reader ? 'database.reader.password_env' : 'database.password_env'
        let password: string | undefined
        if (login.passwordEnv) {
          password = env[login.passwordEnv]
          if (!password) {
            problems.push(
              `${where}: {{ database.url }} needs the password in ${login.passwordEnv} (sites.${site.name}.${key}), which is not set; set it in the environment of the deploy`
            )
            return whole
          }
          secret = true
          rendered.secrets.push(password)
        }
        return databaseUrl(login, password)
      }
      const v = env[key]
      if (v === undefined || v === '') {
        problems.push(
          `${where}: secret ${key} is not set; set it in the environment of the deploy (in a workflow: env: ${key}: \${{ secrets.${key} }})`
        )
        return whole
      }
      const bad = lineBreaking(v)
      if (bad) {
        problems.push(
          `${where}: secret ${key} holds ${bad}; an environment value must be one line: set it without line breaks or control characters`
        )
        return whole
      }
      secret = true
      rendered.secrets.push(v)
      return v
    })
    rendered.variables[entry.name] = value
    if (secret) {
      rendered.secretNames.push(entry.name)
      rendered.secrets.push(value)
    }
  }
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'config')
  rendered.secrets = [...new Set(rendered.secrets)]
  return rendered
}

/** The file written beside a release's app.ini, read by its WSGI script and by hooks. */
export const ENV_FILE = 'env.json'

/** env.json's text: the variables, and which of them hold secrets (so hooks mask them). */
export function envFileText(rendered: RenderedEnv): string {
  return `${JSON.stringify({ variables: rendered.variables, secret: rendered.secretNames }, null, 2)}\n`
}

/** Read env.json's text back (undefined, or a file sitecycle did not write, gives none). */
export function parseEnvFile(text: string | undefined): {
  variables: Record<string, string>
  secret: string[]
} {
  try {
    const data = JSON.parse(text ?? '') as { variables?: unknown; secret?: unknown }
    const variables = Object.fromEntries(
      Object.entries((data.variables ?? {}) as Record<string, unknown>).filter(
        (e): e is [string, string] => typeof e[1] === 'string' && ENV_VAR_NAME.test(e[0])
      )
    )
    const secret = Array.isArray(data.secret)
      ? data.secret.filter((n): n is string => typeof n === 'string')
      : []
    return { variables, secret }
  } catch {
    return { variables: {}, secret: [] }
  }
}
