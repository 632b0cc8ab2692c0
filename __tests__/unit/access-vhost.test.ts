import { hashPassword, renderVhost } from '../../src/commands/apache.js'
import { COMMIT_FILE_PROGRAM } from '../../src/commands/files.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { parseConfig } from '../../src/config/load-config.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { initSite } from '../../src/pipelines/init.js'
import { readAccessCredentials } from '../../src/sites/access.js'
import {
  freeze,
  frozenState,
  renderMaintenancePage,
  unfreeze
} from '../../src/sites/maintenance.js'
import { ConfigError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'

const PY = '/usr/bin/python3'

const PASSWORD = 'hunter2-Very-Secret-31337'
const HASH = `tester:$2y$05$${'a'.repeat(53)}`

function load(sites: string) {
  return parseConfig(
    `app: { package: demo-app, wsgi: "demo.wsgi:application" }\nsites:\n${sites}`,
    '/repo/sitecycle.yml'
  )
}

const config = load(`  prod: { root: /srv/demo/prod, url: "http://127.0.0.1:8080" }
  pre:
    role: preview
    root: /srv/demo/pre
    url: "http://127.0.0.1:8081"
    health: { path: /__version__ }
    access: { basic_auth: { user: tester, password_env: PRE_PASSWORD } }
  mir: { role: mirror, root: /srv/demo/mir, url: "http://127.0.0.1:8082" }
  open:
    role: preview
    root: /srv/demo/open
    url: "http://127.0.0.1:8083"
    access: { basic_auth: false }
  locked:
    root: /srv/demo/locked
    url: "http://127.0.0.1:8084"
    health: { path: /__version__ }
    access: { basic_auth: true }
    maintenance: { allow: [192.0.2.10, 10.0.0.0/8, "2001:db8::/32"], retry_after: 60 }
`)
const { prod, pre, mir, open, locked } = config.sites

describe('config', () => {
  test('basic auth is on by default for preview and mirror sites, off for production', () => {
    expect(prod.access).toBeUndefined()
    expect(pre.access).toEqual({ basicAuth: { user: 'tester', passwordEnv: 'PRE_PASSWORD' } })
    expect(mir.access).toEqual({
      basicAuth: { user: 'sitecycle', passwordEnv: 'SITECYCLE_ACCESS_PASSWORD' }
    })
    expect(open.access).toBeUndefined()
    expect(locked.access?.basicAuth?.passwordEnv).toBe('SITECYCLE_ACCESS_PASSWORD')
  })

  test('maintenance: allow-list and Retry-After (absent: none, and 300 s)', () => {
    expect(prod.maintenance).toBeUndefined()
    expect(
      load(`  m: { root: /srv/m, url: "http://h.example", maintenance: { allow: [] } }\n`).sites.m
        .maintenance
    ).toEqual({ allow: [], retryAfter: 300 })
    expect(locked.maintenance).toEqual({
      allow: ['192.0.2.10', '10.0.0.0/8', '2001:db8::/32'],
      retryAfter: 60
    })
  })

  test.each([
    ['access: { basic_auth: { user: "a:b" } }', 'access.basic_auth'],
    ['access: { basic_auth: { password_env: "lower" } }', 'access.basic_auth'],
    ['access: { basic_auth: yes please }', 'access.basic_auth'],
    ['maintenance: { allow: [10.0.0.0/33] }', 'maintenance.allow[0]'],
    ['maintenance: { allow: [example.org] }', 'maintenance.allow[0]'],
    ['maintenance: { retry_after: -1 }', 'maintenance.retry_after']
  ])('%s is refused at its line', (yaml, path) => {
    let err: unknown
    try {
      load(`  v1:\n    root: /srv/v1\n    url: "http://h.example"\n    ${yaml}\n`)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toContain(`sitecycle.yml:6:`)
    expect((err as Error).message).toContain(`sites.v1.${path}`)
  })
})

describe('vhost', () => {
  test("a protected site: basic auth over the application, sitecycle's health path exempt from loopback", () => {
    const v = renderVhost(pre)
    const dir = v.slice(v.indexOf('<Directory /srv/demo/pre/wsgi>'), v.indexOf('</Directory>'))
    expect(dir).toContain('AuthType Basic')
    expect(dir).toContain('AuthUserFile /srv/demo/pre/shared/.htpasswd')
    expect(dir).toContain('Require valid-user')
    // sitecycle's health path without credentials only from the host itself (its probes):
    // anyone else must not learn the version. The application's own health path is not exempt.
    expect(dir).toContain(
      `Require expr "%{REQUEST_URI} == '/.sitecycle/health' && (-R '127.0.0.1' || -R '::1')"`
    )
    expect(dir).not.toMatch(/Require expr "%\{REQUEST_URI\} == '\/.sitecycle\/health'"/)
    expect(pre.health.path).toBe('/__version__')
    expect(v).not.toContain('__version__')
    // An attempt's window lifts the auth while its flag exists.
    expect(dir).toContain(`Require expr "-f '/srv/demo/pre/shared/.access-open'"`)
    expect(dir).not.toContain('Require all granted')
    expect(v).toContain('AuthName "pre (preview)"')
  })

  test('a mirror refuses every method but GET and HEAD, before any other rule; other roles do not', () => {
    const v = renderVhost(mir)
    const cond = v.indexOf('RewriteCond %{REQUEST_METHOD} !^(GET|HEAD)$')
    const rule = v.indexOf('RewriteRule ^ - [E=SITECYCLE_READ_ONLY:1,R=405,L]')
    expect(cond).toBeGreaterThan(v.indexOf('RewriteEngine On'))
    expect(rule).toBeGreaterThan(cond)
    expect(rule).toBeLessThan(v.indexOf('RewriteCond /srv/demo/mir/maintenance/ON -f'))
    expect(v).toContain('Header always set Allow "GET, HEAD" env=SITECYCLE_READ_ONLY')
    expect(v).toContain('TraceEnable off')
    for (const site of [prod, pre, open, locked]) expect(renderVhost(site)).not.toContain('R=405')
  })

  test('an open site: no auth directives at all', () => {
    for (const site of [prod, open]) {
      const v = renderVhost(site)
      expect(v).not.toMatch(/Auth(Type|UserFile|Name)|valid-user/)
      const dir = v.slice(v.indexOf('/wsgi>'), v.indexOf('</Directory>'))
      expect(dir).toContain('Require all granted')
    }
  })

  test('maintenance rules come first in the rewrite chain, before the private route and live.map', () => {
    const v = renderVhost(locked)
    const flag = v.indexOf('RewriteCond /srv/demo/locked/maintenance/ON -f')
    // Only sitecycle's own health path passes the freeze, not the application's health.path.
    expect(locked.health.path).toBe('/__version__')
    expect(v).not.toContain('__version__')
    const health = v.indexOf('RewriteCond %{REQUEST_URI} !=/.sitecycle/health')
    const deny = v.lastIndexOf('RewriteRule ^ - [E=SITECYCLE_MAINTENANCE:1,R=503,L]')
    // The hold (a frozen deploy putting its database back) comes before the flag, with no
    // exception: the health path and the allow-listed clients get the maintenance answer too.
    const hold = v.indexOf('RewriteCond /srv/demo/locked/maintenance/HOLD -f')
    const page = v.indexOf('[E=SITECYCLE_MAINTENANCE_PAGE:1,L]')
    expect(hold).toBeGreaterThan(page)
    expect(
      v
        .slice(hold, flag)
        .split('\n')
        .map(l => l.trim())
        .filter(Boolean)
    ).toEqual([
      'RewriteCond /srv/demo/locked/maintenance/HOLD -f',
      'RewriteRule ^ - [E=SITECYCLE_MAINTENANCE:1,R=503,L]'
    ])
    expect(flag).toBeGreaterThan(v.indexOf('RewriteEngine On'))
    expect(health).toBeGreaterThan(flag)
    expect(deny).toBeGreaterThan(health)
    expect(deny).toBeLessThan(v.indexOf('X-Sitecycle-Slot}'))
    for (const range of ['192.0.2.10', '10.0.0.0/8', '2001:db8::/32']) {
      const at = v.indexOf(`RewriteCond expr "! -R '${range}'"`)
      expect(at).toBeGreaterThan(flag)
      expect(at).toBeLessThan(deny)
    }
    expect(v).toContain('ErrorDocument 503 /.sitecycle/maintenance')
    // The application's own 503s (daemons down) keep Apache's text, not the maintenance page.
    expect(v.slice(v.indexOf('/wsgi>'))).toContain('ErrorDocument 503 default')
    expect(v).toContain(
      'Header always set Retry-After "expr=%{file:/srv/demo/locked/maintenance/retry-after}" env=SITECYCLE_MAINTENANCE_PAGE'
    )
  })

  test('single mode gets the same maintenance and auth rules', () => {
    const single = load(`  s:
    role: preview
    root: /srv/s
    url: "http://127.0.0.1:8085"
    apache: { mode: single }
`).sites.s
    const v = renderVhost(single)
    expect(v.indexOf('RewriteCond /srv/s/maintenance/ON -f')).toBeLessThan(
      v.indexOf('current.wsgi/$1')
    )
    expect(v).toContain('Require valid-user')
  })

  test('the application health path is not written into the vhost: any path is safe there', () => {
    const odd = load(
      `  s: { root: /srv/s, url: "http://h.example", health: { path: "/a'b\\"" } }\n`
    ).sites.s
    expect(renderVhost(odd)).not.toContain("/a'b")
  })
})

describe('password file', () => {
  test('the hashing command reads the password from stdin: never in argv, and redacted', () => {
    const c = hashPassword('tester', PASSWORD)
    expect(c.argv).toEqual(['htpasswd', '-i', '-B', '-n', 'tester'])
    expect(c.input).toBe(PASSWORD)
    expect(c.redact).toEqual([PASSWORD])
  })

  test('an unset or empty password variable is an error naming it', () => {
    expect(() => readAccessCredentials(pre, {})).toThrow(/PRE_PASSWORD.*not set/)
    expect(() => readAccessCredentials(pre, { PRE_PASSWORD: '' })).toThrow(/PRE_PASSWORD/)
    expect(() => readAccessCredentials(mir, {})).toThrow(/SITECYCLE_ACCESS_PASSWORD/)
    expect(() => readAccessCredentials(pre, { PRE_PASSWORD: 'a\nb' })).toThrow(/line break/)
    expect(readAccessCredentials(prod, {})).toBeUndefined()
  })

  test('init of a protected site without its password touches nothing on the host', async () => {
    const exec = new RecordingExecutor()
    await expect(
      initSite({ config, site: pre, exec, reporter: new StreamReporter(() => undefined), env: {} })
    ).rejects.toThrow(/PRE_PASSWORD/)
    expect(exec.calls).toEqual([])
  })

  test('init hashes through stdin and commits the hash durably (0640, Apache group: host/commit-file.py); the password is in no argv, file or log line', async () => {
    const logged: string[] = []
    const exec = new RecordingExecutor()
      .respond(argvStartsWith('htpasswd'), { stdout: `${HASH}\n\n` })
      .respond(c => c.argv[c.argv.indexOf('-c') + 1] === scripts.LIST_GROUP, { stdout: '1\n' })
    await initSite({
      config,
      site: pre,
      exec,
      reporter: new StreamReporter(l => logged.push(l)),
      env: { PRE_PASSWORD: PASSWORD }
    })
    const runs = exec.calls.filter(c => c.type === 'run')
    for (const c of runs) expect(c.argv!.join(' ')).not.toContain(PASSWORD)
    const hashing = runs.filter(c => c.argv![0] === 'htpasswd')
    expect(hashing).toHaveLength(1)
    expect(hashing[0].command!.input).toBe(PASSWORD)
    for (const [path, content] of exec.files) {
      expect(`${path}\n${content}`).not.toContain(PASSWORD)
    }
    expect(logged.join('\n')).not.toContain(PASSWORD)

    const commits = runs.filter(c => c.argv![4] === COMMIT_FILE_PROGRAM)
    expect(commits.map(c => c.argv!.slice(5))).toEqual([
      ['/srv/demo/pre/shared/.htpasswd', '640', 'www-data']
    ])
    expect(commits[0].command!.input).toBe(`${HASH}\n`)
    // Nothing written aside by the executor: the program writes, syncs and renames it.
    expect([...exec.files.keys()].filter(p => p.includes('.htpasswd'))).toEqual([])
    const cmds = exec.commands().map(a => a.join(' '))
    const commit = runs.indexOf(commits[0])
    expect(commit).toBeGreaterThan(runs.indexOf(hashing[0]))
    // The password file is in place before Apache is told about the vhost.
    expect(commit).toBeLessThan(cmds.indexOf('apache2ctl configtest'))
    expect(cmds).not.toContain('rm -f -- /srv/demo/pre/shared/.htpasswd')
  })

  test('htpasswd missing on the host: a clear error saying what to install', async () => {
    const exec = new RecordingExecutor().respond(argvStartsWith('htpasswd'), {
      code: 127,
      stderr: 'htpasswd: command not found'
    })
    await expect(
      initSite({
        config,
        site: pre,
        exec,
        reporter: new StreamReporter(() => undefined),
        env: { PRE_PASSWORD: PASSWORD }
      })
    ).rejects.toThrow(/apache2-utils/)
  })

  test('init of an open site removes a password file left from when it was protected', async () => {
    const exec = new RecordingExecutor().respond(
      c => c.argv[c.argv.indexOf('-c') + 1] === scripts.LIST_GROUP,
      { stdout: '1\n' }
    )
    await initSite({ config, site: open, exec, reporter: new StreamReporter(() => undefined) })
    const cmds = exec.commands().map(a => a.join(' '))
    expect(cmds.some(c => c.startsWith('htpasswd'))).toBe(false)
    expect(cmds.indexOf('rm -f -- /srv/demo/open/shared/.htpasswd')).toBeGreaterThan(
      cmds.indexOf('apache2ctl graceful')
    )
  })
})

describe('freeze and unfreeze', () => {
  test('freeze writes the page and Retry-After, each aside and renamed over, then commits the flag last (fsynced, renamed, its folder fsynced)', async () => {
    const exec = new RecordingExecutor()
    const state = await freeze(exec, locked, PY, { message: 'Back <soon> & "well"' })
    expect(state).toMatchObject({ frozen: true, retryAfter: 60 })
    const renames = exec.commands().filter(a => a[0] === 'mv')
    expect(renames.map(a => a[3])).toEqual([
      '/srv/demo/locked/maintenance/index.html',
      '/srv/demo/locked/maintenance/retry-after'
    ])
    const last = exec.calls[exec.calls.length - 1]!
    expect(last.argv).toEqual([
      PY,
      '-I',
      '-S',
      '-c',
      COMMIT_FILE_PROGRAM,
      '/srv/demo/locked/maintenance/ON',
      '644'
    ])
    expect(String(last.command!.input)).toMatch(
      /^frozen since \d{4}-\d\d-\d\dT.*\nretry_after 60\n$/
    )
    expect(exec.files.get('/srv/demo/locked/maintenance/retry-after.tmp')).toBe('60')
    const page = exec.files.get('/srv/demo/locked/maintenance/index.html.tmp')!
    expect(page).toContain('Back &lt;soon&gt; &amp; &quot;well&quot;')
    expect(page).not.toContain('<soon>')
  })

  test('an explicit Retry-After wins; a bad one is refused before anything is written', async () => {
    const exec = new RecordingExecutor()
    await freeze(exec, prod, PY, { retryAfter: 5 })
    expect(exec.files.get('/srv/demo/prod/maintenance/retry-after.tmp')).toBe('5')
    const bad = new RecordingExecutor()
    await expect(freeze(bad, prod, PY, { retryAfter: 1.5 })).rejects.toThrow(/whole number/)
    expect(bad.calls).toEqual([])
  })

  test('frozenState reads the flag; unfreeze removes it with one unlink', async () => {
    const exec = new RecordingExecutor()
    expect(await frozenState(exec, prod)).toEqual({ frozen: false })
    exec.files.set(
      '/srv/demo/prod/maintenance/ON',
      'frozen since 2030-01-02T03:04:05.000Z\nretry_after 90\n'
    )
    expect(await frozenState(exec, prod)).toEqual({
      frozen: true,
      since: '2030-01-02T03:04:05.000Z',
      retryAfter: 90
    })
    const s = await unfreeze(exec, prod)
    expect(s.frozen).toBe(false)
    expect(exec.commands()).toEqual([['rm', '-f', '--', '/srv/demo/prod/maintenance/ON']])
  })

  test('the page can point users to another site (an upgrade attempt shows the preview)', () => {
    const page = renderMaintenancePage(prod, {
      link: { url: 'https://preview.example.org/?a=1&b=2', text: 'Try the new version' }
    })
    expect(page).toContain(
      '<a href="https://preview.example.org/?a=1&amp;b=2">Try the new version</a>'
    )
    expect(() => renderMaintenancePage(prod, { link: { url: 'javascript:alert(1)' } })).toThrow(
      /http/
    )
  })
})
