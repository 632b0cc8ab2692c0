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
