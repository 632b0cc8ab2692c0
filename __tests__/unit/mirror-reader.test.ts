/**
 * A mirror's read-only login (`sites.<n>.database.reader`), the parts that need no server: the
 * config's rules for it, the DATABASE_URL the mirror's application gets, the SQL an administrator
 * is told to run, and how the engines' privilege checks are read into one error.
 */
import { siteSecretNames } from '../../src/actions/data-action.js'
import { renderAppEnv } from '../../src/config/app-env.js'
import { parseConfig } from '../../src/config/load-config.js'
import { mysqlReaderPrivilegesSql } from '../../src/commands/databases/mysql.js'
import { readerPrivilegesOf } from '../../src/databases/mysql.js'
import { readerAccessOf } from '../../src/databases/postgres.js'
import { ensureSiteDatabase } from '../../src/databases/site-database.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { readerProblem } from '../../src/pipelines/mirror-reader.js'
import { ConfigError, SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'

const config = (m1: string, db = 'engine: postgres, name: m1db, user: app') => `
app: { package: p, wsgi: "p.wsgi:application", env: { DATABASE_URL: "{{ database.url }}" } }
sites:
  v1: { root: /srv/v1, url: "http://127.0.0.1:8081", database: { engine: postgres, name: v1db, user: app } }
  m1: { ${m1}, root: /srv/m1, url: "http://127.0.0.1:8082", database: { ${db}, reader: { user: app_ro, password_env: RO_PW } } }
`

function configError(text: string): string {
  try {
    parseConfig(text, 's.yml')
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('the config loaded')
}

describe('the config', () => {
  test('a mirror takes a reader; its application logs in as it, with its password', () => {
    const c = parseConfig(config('role: mirror, from: v1, lag: 1d'), 's.yml')
    expect(c.sites.m1.database?.reader).toEqual({ user: 'app_ro', passwordEnv: 'RO_PW' })
    const env = renderAppEnv(c.sites.m1.env ?? [], c.sites.m1, 's.yml', { RO_PW: 'r/o pw' })
    expect(env.variables.DATABASE_URL).toBe('postgresql://app_ro:r%2Fo%20pw@/m1db')
    expect(env.secrets).toContain('r/o pw')
    // Its source, without a reader, logs in as the owner.
    const v1 = renderAppEnv(c.sites.v1.env ?? [], c.sites.v1, 's.yml', {})
    expect(v1.variables.DATABASE_URL).toBe('postgresql://app@/v1db')
  })

  test("the actions read the reader's password from config-secrets, masked, as the site's", () => {
    const c = parseConfig(config('role: mirror, from: v1, lag: 1d'), 's.yml')
    expect(siteSecretNames(c.sites.m1)).toContain('RO_PW')
  })

  test("a reader's missing password names the reader's key", () => {
    const c = parseConfig(config('role: mirror, from: v1, lag: 1d'), 's.yml')
    expect(() => renderAppEnv(c.sites.m1.env ?? [], c.sites.m1, 's.yml', {})).toThrow(
      /needs the password in RO_PW \(sites\.m1\.database\.reader\.password_env\), which is not set/
    )
  })

  test('a reader on a site that is not a mirror, or the owner as reader, is a config error naming the key', () => {
    expect(configError(config('role: preview'))).toMatch(
      /sites\.m1\.database\.reader: reader is for mirror sites \(their application reads only\), and this one has role preview/
    )
    expect(
      configError(
        config('role: mirror, from: v1, lag: 1d', 'engine: postgres, name: m1db, user: app_ro')
      )
    ).toMatch(
      /sites\.m1\.database\.reader\.user: app_ro is also the database's user, which owns the mirror's tables and can write them; expected another login than app_ro/
    )
    expect(
      configError(config('role: mirror, from: v1, lag: 1d', 'engine: sqlite, name: /srv/m1.db'))
    ).toMatch(/sites\.m1\.database\.reader: .*not a setting of a sqlite database/)
  })
})

describe('init without an admin login', () => {
  test.each([
    ['postgres', `CREATE ROLE "app_ro" LOGIN PASSWORD '<the value of $RO_PW>';`],
    [
      'mysql',
      `CREATE USER 'app_ro'@'localhost' IDENTIFIED BY '<the value of $RO_PW>';\nGRANT SELECT, SHOW VIEW ON \`m1db\`.* TO 'app_ro'@'localhost';`
    ]
  ])(
    '%s: says how to create the reader, its password as the name of its variable',
    async (engine, sql) => {
      const c = parseConfig(
        config('role: mirror, from: v1, lag: 1d', `engine: ${engine}, name: m1db, user: app`),
        's.yml'
      )
      // Nothing is run without an admin login, but whether the database exists as the site's user.
      const exec = new LocalExecutor()
      exec.tryRun = async () => ({ code: 1, stdout: '', stderr: '' })
      const out = await ensureSiteDatabase(
        exec,
        c.sites.m1.database!,
        new StreamReporter(() => {}),
        {
          RO_PW: 'never shown'
        }
      )
      expect(out.status).toBe('not-created')
      expect(out.message).toContain(sql)
      expect(out.message).not.toContain('never shown')
    }
  )
})

describe('init with an admin login', () => {
  test("a reader to create without its password: an error naming the reader's variable, never a login without one", async () => {
    const c = parseConfig(
      config(
        'role: mirror, from: v1, lag: 1d',
        'engine: postgres, name: m1db, user: app, admin: { user: postgres }'
      ),
      's.yml'
    )
    // A server where nothing exists yet: every query answers no row.
    const ran: string[] = []
    const exec = new LocalExecutor()
    exec.tryRun = async command => {
      ran.push(String(command.input ?? ''))
      return { code: 0, stdout: '', stderr: '' }
    }
    await expect(
      ensureSiteDatabase(exec, c.sites.m1.database!, new StreamReporter(() => {}), {})
    ).rejects.toThrow(
      "the password of the mirror's reader app_ro is not set: set the environment variable RO_PW (database.reader.password_env) to create it"
    )
    expect(ran.join('\n')).not.toMatch(/CREATE ROLE "app_ro"/)
  })
})

describe("the engines' checks", () => {
  test("postgres: psql's one-column lines, sorted; a line of another form is an error, never a pass", () => {
    expect(
      readerAccessOf(
        'beyond\tmay write table notes\nbeyond\tmay create in schema public\nunreadable\tsecret.keys\n'
      )
    ).toEqual({
      unreadable: ['secret.keys'],
      beyond: ['may write table notes', 'may create in schema public']
    })
    expect(readerAccessOf('')).toEqual({ unreadable: [], beyond: [] })
    expect(() => readerAccessOf('beyond|may write table notes\n')).toThrow(SitecycleError)
  })

  test('mysql: SELECT on the database reads it; anything beyond the read privileges, or a grant option, is named', () => {
    expect(
      readerPrivilegesOf(
        'global\tUSAGE\tNO\ndatabase m1db\tSELECT\tNO\ndatabase m1db\tSHOW VIEW\tNO\n',
        'm1db'
      )
    ).toEqual({ unreadable: [], beyond: [] })
    expect(
      readerPrivilegesOf(
        'global\tUSAGE\tNO\ndatabase m1db\tSELECT\tYES\ntable notes\tINSERT\tNO\nglobal\tFILE\tNO\n',
        'm1db'
      )
    ).toEqual({
      unreadable: [],
      beyond: [
        'may grant SELECT on database m1db',
        'holds INSERT on table notes',
        'holds FILE on every database'
      ]
    })
    // A role it may take: its privileges are not shown to it, so it is refused whatever they are.
    expect(
      readerPrivilegesOf('role\twriter\tNO\ndatabase m1db\tSELECT\tNO\n', 'm1db').beyond
    ).toEqual(['may take role writer (SET ROLE), whose privileges cannot be checked'])
    // SELECT on single tables only does not follow the tables a refresh renames in.
    expect(readerPrivilegesOf('global\tUSAGE\tNO\ntable notes\tSELECT\tNO\n', 'm1db')).toEqual({
      unreadable: ['database m1db (no SELECT on it)'],
      beyond: []
    })
    // The query asks for the account's own rows, the database as a LIKE pattern of the grants.
    const sql = mysqlReaderPrivilegesSql("m1'db")
    expect(sql).toContain(`X'6d31276462' LIKE TABLE_SCHEMA`)
    expect(sql).toContain('GRANTEE = CONCAT(')
  })

  test('the error names the reader, the database and what is wrong, a few at a time', () => {
    expect(readerProblem('ro', 'm1db', { unreadable: [], beyond: [] })).toBeUndefined()
    const many = Array.from({ length: 10 }, (_, i) => `may write table t${i}`)
    const text = readerProblem('ro', 'm1db', { unreadable: ['secret.keys'], beyond: many })!
    expect(text).toMatch(
      /^the mirror's reader ro \(database\.reader\) must read m1db and nothing more, but it cannot read secret\.keys; it may write table t0, .*may write table t7 and 2 more: revoke/
    )
    expect(
      readerProblem('ro', 'm1db', { unreadable: ['database m1db (no SELECT on it)'], beyond: [] })
    ).toMatch(/cannot read database m1db \(no SELECT on it\): create it and grant it read access/)
  })
})
