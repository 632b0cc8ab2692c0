import { parseConfig } from '../../src/config/load-config.js'
import { vhostMarker } from '../../src/commands/apache.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { initSite } from '../../src/pipelines/init.js'
import { vhostFileName } from '../../src/sites/layout.js'
import { StreamReporter } from '../../src/util/reporter.js'

const config = parseConfig(
  `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1: { root: /srv/demo/v1, url: "http://127.0.0.1:8080" }
`,
  '/repo/sitecycle.yml'
)
const site = config.sites.v1
const vhost = `/etc/apache2/sites-available/${vhostFileName(site)}`
const reporter = () => new StreamReporter(() => undefined)
const changes = (e: RecordingExecutor) =>
  e.calls.filter(
    c =>
      c.type === 'writeFile' ||
      c.type === 'put' ||
      (c.type === 'run' && !['test'].includes(c.argv![0]))
  )

test('init never overwrites a vhost it did not write, and changes nothing', async () => {
  const exec = new RecordingExecutor()
  exec.files.set(vhost, '<VirtualHost *:80>\n  ServerName hand-written\n</VirtualHost>\n')
  await expect(initSite({ config, site, exec, reporter: reporter() })).rejects.toThrow(
    /was not written by sitecycle/
  )
  expect(changes(exec)).toEqual([])
  expect(exec.files.get(vhost)).toContain('hand-written')
})

test('init writes the vhost, enables it, runs configtest, then reloads', async () => {
  const exec = new RecordingExecutor().respond(
    c => c.argv[c.argv.indexOf('-c') + 1] === scripts.LIST_GROUP,
    {
      stdout: '123\n'
    }
  )
  await initSite({ config, site, exec, reporter: reporter() })
  expect(exec.files.get(vhost)?.startsWith(vhostMarker(site))).toBe(true)
  const cmds = exec.commands().map(a => a.join(' '))
  const link = cmds.indexOf(`ln -sfn ${vhost} /etc/apache2/sites-enabled/${vhostFileName(site)}`)
  const test = cmds.indexOf('apache2ctl configtest')
  const reload = cmds.indexOf('apache2ctl graceful')
  expect(link).toBeGreaterThan(-1)
  expect(test).toBeGreaterThan(link)
  expect(reload).toBeGreaterThan(test)
  expect(exec.files.get('/srv/demo/v1/live.map')).toBe('live blue\n')
})

test('a vhost that fails configtest is taken out again, and Apache is not reloaded', async () => {
  const exec = new RecordingExecutor()
    .respond(c => c.argv.join(' ') === 'apache2ctl configtest', {
      code: 1,
      stderr: 'AH00526: Syntax error on line 3'
    })
    .respond(c => c.argv[0] === 'test', { code: 1 }) // a fresh host: no links, no files
  await expect(initSite({ config, site, exec, reporter: reporter() })).rejects.toThrow(
    /configtest fails.*AH00526/
  )
  const cmds = exec.commands().map(a => a.join(' '))
  expect(cmds).toContain(`rm -f -- /etc/apache2/sites-enabled/${vhostFileName(site)}`)
  expect(cmds).toContain(`rm -f -- ${vhost}`)
  expect(cmds).not.toContain('apache2ctl graceful')
})

describe('a site with an SQLite database', () => {
  const withSqlite = (name: string) =>
    parseConfig(
      `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1:
    root: /srv/demo/v1
    url: "http://127.0.0.1:8080"
    database: { engine: sqlite, name: ${name} }
    apache: { user: app, group: appgroup }
`,
      '/repo/sitecycle.yml'
    )
  const listGroup = (e: RecordingExecutor) =>
    e.respond(c => c.argv[c.argv.indexOf('-c') + 1] === scripts.LIST_GROUP, { stdout: '123\n' })

  test('init makes its folder and an empty database, and gives both to the Apache user', async () => {
    const c = withSqlite('/srv/demo/v1/data/app.sqlite3')
    const exec = listGroup(new RecordingExecutor()).respond(c2 => c2.argv[0] === 'test', {
      code: 1
    })
    await initSite({ config: c, site: c.sites.v1, exec, reporter: reporter() })
    const cmds = exec.commands().map(a => a.join(' '))
    expect(cmds).toContain('mkdir -p -m 770 /srv/demo/v1/data')
    expect(exec.files.get('/srv/demo/v1/data/app.sqlite3')).toBe('')
    expect(cmds).toContain('chown app:appgroup /srv/demo/v1/data /srv/demo/v1/data/app.sqlite3')
  })

  test('an existing folder and database are left as they are (no chown of a shared folder)', async () => {
    const c = withSqlite('/var/lib/app.sqlite3')
    const exec = listGroup(new RecordingExecutor())
    await initSite({ config: c, site: c.sites.v1, exec, reporter: reporter() })
    const cmds = exec.commands().map(a => a.join(' '))
    expect(cmds.filter(x => x.includes('/var/lib'))).toEqual([
      'test -e /var/lib',
      'test -e /var/lib/app.sqlite3'
    ])
  })

  test('a chown that fails is a warning naming the command to run', async () => {
    const c = withSqlite('/srv/demo/v1/data/app.sqlite3')
    const warnings: string[] = []
    const r = new StreamReporter(() => undefined)
    r.warn = (m: string) => void warnings.push(m)
    const exec = listGroup(new RecordingExecutor())
      .respond(c2 => c2.argv[0] === 'test', { code: 1 })
      .respond(c2 => c2.argv[0] === 'chown' && c2.argv.includes('/srv/demo/v1/data'), {
        code: 1,
        stderr: 'chown: changing ownership: Operation not permitted'
      })
    await initSite({ config: c, site: c.sites.v1, exec, reporter: r })
    expect(warnings).toEqual([
      expect.stringContaining(
        'the application cannot write its database until `chown app:appgroup /srv/demo/v1/data /srv/demo/v1/data/app.sqlite3` is run as root'
      )
    ])
  })
})

describe('a PostgreSQL or MariaDB database', () => {
  const withDatabase = (database: string) =>
    parseConfig(
      `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1:
    root: /srv/demo/v1
    url: "http://127.0.0.1:8080"
    database: ${database}
`,
      '/repo/sitecycle.yml'
    )
  const run = async (database: string, env: NodeJS.ProcessEnv = {}) => {
    const c = withDatabase(database)
    const warnings: string[] = []
    const r = new StreamReporter(() => undefined)
    r.warn = (m: string) => void warnings.push(m)
    const exec = new RecordingExecutor().respond(
      c2 => c2.argv[c2.argv.indexOf('-c') + 1] === scripts.LIST_GROUP,
      { stdout: '123\n' }
    )
    const steps = await initSite({ config: c, site: c.sites.v1, exec, reporter: r, env })
    const inputs = exec.calls.map(x => String(x.command?.input ?? ''))
    return { exec, warnings, steps, inputs }
  }

  test('without an admin login, postgres: nothing created, and the SQL to run is said', async () => {
    const { warnings, steps, inputs } = await run(
      '{ engine: postgres, name: weave_v1, user: weave, password_env: WEAVE_DB_PASSWORD }'
    )
    expect(inputs.filter(i => /CREATE/.test(i))).toEqual([])
    expect(steps.find(s => s.name === 'server-database')?.note).toBe(
      'not created: no sites.v1.database.admin'
    )
    expect(warnings).toEqual([
      'site v1: sitecycle creates postgres database weave_v1 and its owner weave only with an admin login (database.admin); ' +
        'unless it exists already, as a PostgreSQL superuser (such as `sudo -u postgres psql`), run:\n' +
        `CREATE ROLE "weave" LOGIN PASSWORD '<the value of $WEAVE_DB_PASSWORD>';\n` +
        'CREATE DATABASE "weave_v1" OWNER "weave";\n'
    ])
  })

  test('without an admin login, mysql: the database, the account and its grant to create', async () => {
    const { warnings } = await run(
      '{ engine: mysql, name: weave_v1, host: 10.0.0.5, user: weave, password_env: WEAVE_DB_PASSWORD }'
    )
    expect(warnings).toEqual([
      expect.stringContaining(
        'as the MariaDB/MySQL root user (such as `sudo mysql`), run:\n' +
          'CREATE DATABASE `weave_v1` CHARACTER SET utf8mb4;\n' +
          `CREATE USER 'weave'@'%' IDENTIFIED BY '<the value of $WEAVE_DB_PASSWORD>';\n` +
          "GRANT ALL PRIVILEGES ON `weave_v1`.* TO 'weave'@'%';\n"
      )
    ])
  })

  test('with an admin login, a database that exists is left alone, with no need of its password', async () => {
    const c = withDatabase(
      '{ engine: mysql, name: weave_v1, user: weave, password_env: WEAVE_DB_PASSWORD, admin: { user: root } }'
    )
    const exec = new RecordingExecutor()
      .respond(c2 => c2.argv[c2.argv.indexOf('-c') + 1] === scripts.LIST_GROUP, { stdout: '123\n' })
      .respond(c2 => c2.argv[0] === 'mysql', { stdout: '1\n' })
    const steps = await initSite({
      config: c,
      site: c.sites.v1,
      exec,
      reporter: reporter(),
      env: {}
    })
    expect(steps.find(s => s.name === 'server-database')?.note).toBe(
      'database weave_v1 exists: left as it is'
    )
    expect(exec.calls.filter(x => /CREATE/.test(String(x.command?.input ?? '')))).toEqual([])
  })

  test('admin is a setting of a server database only', () => {
    expect(() =>
      withDatabase('{ engine: sqlite, name: /srv/demo/db.sqlite3, admin: { user: root } }')
    ).toThrow(/admin/)
  })

  test('with an admin login: role then database, the password on stdin only, before the vhost', async () => {
    const { exec, warnings, steps } = await run(
      '{ engine: postgres, name: weave_v1, user: weave, password_env: WEAVE_DB_PASSWORD, admin: { user: postgres } }',
      { WEAVE_DB_PASSWORD: 's3cret-pw' }
    )
    expect(warnings).toEqual([])
    const psqls = exec.calls.filter(x => x.argv?.[0] === 'psql')
    expect(psqls.map(x => String(x.command!.input).split('\n').filter(Boolean).pop())).toEqual([
      `SELECT 1 FROM pg_database WHERE datname = :'name';`,
      `SELECT 1 FROM pg_roles WHERE rolname = :'name';`,
      `CREATE ROLE "weave" LOGIN PASSWORD 's3cret-pw';`,
      'CREATE DATABASE "weave_v1" OWNER "weave";'
    ])
    for (const x of exec.calls) expect(JSON.stringify(x.argv ?? [])).not.toContain('s3cret-pw')
    expect(psqls.every(x => x.argv!.includes('-U') && x.argv!.includes('postgres'))).toBe(true)
    const names = steps.map(s => s.name)
    expect(names.indexOf('server-database')).toBeLessThan(names.indexOf('write-vhost'))
  })
})
