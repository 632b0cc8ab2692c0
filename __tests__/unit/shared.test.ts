/** `shared:` (issue #12, persistent data): config, vhost text, init steps, release links, restore ownership. */
import { parseConfig } from '../../src/config/load-config.js'
import { renderAppEnv } from '../../src/config/app-env.js'
import {
  renderVhost,
  renderWsgiScript,
  sharedDirectories,
  sharedUrlRules
} from '../../src/commands/apache.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { initSite } from '../../src/pipelines/init.js'
import { isDataFile, linkSharedEntries, ownStagedShared } from '../../src/sites/shared-links.js'
import { StreamReporter } from '../../src/util/reporter.js'

const load = (app: string, site = '') =>
  parseConfig(
    `app:
  package: demo-app
  wsgi: "demo.wsgi:application"
${app
  .split('\n')
  .filter(Boolean)
  .map(l => `  ${l}`)
  .join('\n')}
sites:
  v1:
    root: /srv/demo/v1
    url: "http://127.0.0.1:8080"
    apache: { user: app, group: appgroup }
${site
  .split('\n')
  .filter(Boolean)
  .map(l => `    ${l}`)
  .join('\n')}
`,
    '/repo/sitecycle.yml'
  )

const SHARED = `shared:
  - instance
  - { path: media, url: /media }
  - { path: local_settings.py, kind: file, mode: '0640', link: local_settings.py }
  - { path: cache/app, name: cache, snapshot: false }`

describe('config', () => {
  test('entries with their defaults, absolute paths, names; shared folders and files join the snapshot data', () => {
    const site = load(SHARED).sites.v1
    expect(site.shared).toEqual([
      {
        path: 'instance',
        absolute: '/srv/demo/v1/shared/instance',
        kind: 'folder',
        mode: 0o770,
        name: 'instance',
        snapshot: true,
        key: 'app.shared[0]'
      },
      {
        path: 'media',
        absolute: '/srv/demo/v1/shared/media',
        kind: 'folder',
        mode: 0o770,
        name: 'media',
        url: '/media/',
        snapshot: true,
        key: 'app.shared[1]'
      },
      {
        path: 'local_settings.py',
        absolute: '/srv/demo/v1/shared/local_settings.py',
        kind: 'file',
        mode: 0o640,
        name: 'local_settings_py',
        link: 'local_settings.py',
        snapshot: true,
        key: 'app.shared[2]'
      },
      {
        path: 'cache/app',
        absolute: '/srv/demo/v1/shared/cache/app',
        kind: 'folder',
        mode: 0o770,
        name: 'cache',
        snapshot: false,
        key: 'app.shared[3]'
      }
    ])
    expect(site.data).toEqual([
      '/srv/demo/v1/shared/instance',
      '/srv/demo/v1/shared/media',
      '/srv/demo/v1/shared/local_settings.py'
    ])
    expect(site.data!.map(d => isDataFile(site, d))).toEqual([false, false, true])
  })

  test('a file entry with snapshot: false stays out; the sqlite database file is never data', () => {
    const site = load(
      'shared: [{ path: a.ini, kind: file, snapshot: false }, { path: b.ini, kind: file, snapshot: true }, { path: app.sqlite3, kind: file }]',
      'database: { engine: sqlite, name: /srv/demo/v1/shared/app.sqlite3 }'
    ).sites.v1
    expect(site.database?.name).toBe('/srv/demo/v1/shared/app.sqlite3')
    expect(site.data).toEqual(['/srv/demo/v1/shared/b.ini'])
  })

  test("a site's entry replaces the app's of the same path; data: listing one is not doubled", () => {
    const site = load(
      'shared: [media, instance]',
      'shared: [{ path: media, snapshot: false }]\ndata: [shared/instance]'
    ).sites.v1
    expect(site.shared!.map(e => [e.path, e.key, e.snapshot])).toEqual([
      ['media', 'sites.v1.shared[0]', false],
      ['instance', 'app.shared[1]', true]
    ])
    expect(site.data).toEqual(['/srv/demo/v1/shared/instance'])
  })

  test.each([
    ['shared: [../etc]', 'app.shared[0]: got "../etc" (contains \'..\')'],
    ['shared: [/var/www]', 'app.shared[0]: got "/var/www" (an absolute path)'],
    ['shared: [logs]', 'app.shared[0]: got "logs" (shared/logs is the Apache logs folder)'],
    ['shared: [.htpasswd]', 'app.shared[0]: got ".htpasswd" (a part starts with a dot)'],
    ['shared: [{ path: media, url: / }]', 'app.shared[0].url: got "/" (the whole site)'],
    [
      'shared: [{ path: media, url: "/m edia/" }]',
      'app.shared[0].url: got "/m edia/" (not a URL path of those characters)'
    ],
    [
      'shared: [{ path: media, url: /.sitecycle/x }]',
      'app.shared[0].url: got "/.sitecycle/x" (sitecycle\'s own /.sitecycle/)'
    ],
    [
      'shared: [{ path: media, url: /a/../b/ }]',
      "app.shared[0].url: got \"/a/../b/\" (an empty, '.' or '..' part)"
    ],
    ['shared: [{ path: media, link: /abs }]', 'app.shared[0].link: got "/abs" (an absolute path)'],
    ['shared: [{ path: media, mode: rwx }]', 'app.shared[0].mode: got "rwx"'],
    ['shared: [{ path: f, kind: file, url: /f/ }]', 'app.shared[0].url: got "/f/"'],
    ['shared: [media, media]', 'app.shared[1]: "media" is listed twice'],
    [
      'shared: [media, media/thumbs]',
      'app.shared[1]: "media/thumbs" and "media" are one inside the other'
    ],
    [
      'shared: [{ path: a, url: /m/ }, { path: b, url: /m/x/ }]',
      'app.shared[1].url: /m/x/ overlaps /m/'
    ],
    ['shared: [a-b, a_b]', 'app.shared[1]: its name a_b is also the name of a-b'],
    ['shared: [{ path: media, colour: red }]', "app.shared[0]: unknown key 'colour'"],
    [
      'env: { MEDIA: "{{ shared.uploads }}" }\nshared: [media]',
      'app.env.MEDIA: {{ shared.uploads }} names no shared entry of site v1'
    ]
  ])('%s is refused, naming the key', (app, message) => {
    expect(() => load(app)).toThrow(message)
  })

  test("a served folder over the site's own health path is refused", () => {
    expect(() =>
      load('shared: [{ path: a, url: /__version__ }]', 'health: { path: /__version__ }')
    ).toThrow('holds the health path /__version__')
  })

  test('{{ shared.NAME }} renders to the absolute path; SITECYCLE_SHARED in the WSGI script', () => {
    const config = load(
      `env: { MEDIA_ROOT: "{{ shared.media }}", CACHE: "x:{{ shared.cache }}" }\n${SHARED}`
    )
    const site = config.sites.v1
    expect(renderAppEnv(site.env!, site, config.file, {}).variables).toEqual({
      MEDIA_ROOT: '/srv/demo/v1/shared/media',
      CACHE: 'x:/srv/demo/v1/shared/cache/app'
    })
    expect(renderWsgiScript(site, config.app.wsgi, '/srv/demo/v1/slots/blue', 'blue')).toContain(
      `os.environ['SITECYCLE_SHARED'] = "/srv/demo/v1/shared"`
    )
  })
})

describe('vhost', () => {
  test('a folder with url: is served by Apache after the maintenance rules, before the slots, never run', () => {
    const site = load(SHARED).sites.v1
    expect(sharedUrlRules(site)).toEqual([
      '  # Shared folder media, served by Apache at /media/ (app.shared[1]).',
      '  RewriteRule ^/media/(.*)$ /srv/demo/v1/shared/media/$1 [L]'
    ])
    expect(sharedDirectories(site)).toEqual([
      '  <Directory /srv/demo/v1/shared/media>',
      '    Options -Indexes -ExecCGI -Includes',
      '    AllowOverride None',
      '    SetHandler none',
      '    Header set X-Content-Type-Options nosniff',
      '    Require all granted',
      '  </Directory>'
    ])
    const vhost = renderVhost(site)
    const at = (s: string) => vhost.indexOf(s)
    expect(at('RewriteRule ^/media/')).toBeGreaterThan(
      at('RewriteCond /srv/demo/v1/maintenance/ON -f')
    )
    expect(at('RewriteRule ^/media/')).toBeLessThan(at('RewriteMap sitecycle_live'))
    expect(renderVhost(load('').sites.v1)).not.toContain('shared/media')
  })

  test('a protected site asks for its password in the shared folder too', () => {
    const site = load(SHARED, 'role: preview').sites.v1
    const dir = sharedDirectories(site).join('\n')
    expect(dir).toContain('AuthType Basic')
    expect(dir).toContain('Require valid-user')
    expect(dir).not.toContain('Require all granted')
  })
})

describe('init', () => {
  const listGroup = (e: RecordingExecutor) =>
    e.respond(c => c.argv[c.argv.indexOf('-c') + 1] === scripts.LIST_GROUP, { stdout: '123\n' })
  const quiet = () => new StreamReporter(() => undefined)

  test('creates each missing entry with its mode and gives them to the Apache user', async () => {
    const config = load(SHARED)
    const exec = listGroup(new RecordingExecutor()).respond(c => c.argv[0] === 'test', { code: 1 })
    await initSite({ config, site: config.sites.v1, exec, reporter: quiet() })
    const cmds = exec.commands().map(a => a.join(' '))
    const s = '/srv/demo/v1/shared'
    expect(cmds).toEqual(
      expect.arrayContaining([
        `mkdir -p -m 0770 ${s}/instance`,
        `chmod 0770 ${s}/instance`,
        `mkdir -p -m 0770 ${s}/media`,
        `mkdir -p -m 755 ${s}/cache`,
        `mkdir -p -m 0770 ${s}/cache/app`,
        `chmod 0640 ${s}/local_settings.py`,
        `chown app:appgroup ${s}/instance ${s}/media ${s}/local_settings.py ${s}/cache/app`
      ])
    )
    expect(exec.files.get(`${s}/local_settings.py`)).toBe('')
    const step = exec.calls.findIndex(c => c.argv?.join(' ') === `mkdir -p -m 0770 ${s}/instance`)
    const vhost = exec.calls.findIndex(c => c.argv?.join(' ') === 'apache2ctl configtest')
    expect(step).toBeLessThan(vhost)
  })

  test('existing entries are left as they are; a failed chown warns with the command', async () => {
    const config = load(SHARED)
    const s = '/srv/demo/v1/shared'
    const exec = listGroup(new RecordingExecutor())
      .respond(c => c.argv.join(' ') === `test -e ${s}/media`, { code: 1 })
      .respond(c => c.argv[0] === 'chown' && c.argv.includes(`${s}/media`), {
        code: 1,
        stderr: 'chown: Operation not permitted'
      })
    const warnings: string[] = []
    const r = quiet()
    r.warn = (m: string) => void warnings.push(m)
    await initSite({ config, site: config.sites.v1, exec, reporter: r })
    const touched = exec
      .commands()
      .map(a => a.join(' '))
      .filter(x => /shared\/(media|instance|cache|local)/.test(x) && !x.startsWith('test '))
    expect(touched).toEqual([
      `mkdir -p -m 0770 ${s}/media`,
      `chmod 0770 ${s}/media`,
      `chown app:appgroup ${s}/media`
    ])
    expect(warnings).toEqual([
      expect.stringContaining('until `chown app:appgroup /srv/demo/v1/shared/media` is run as root')
    ])
  })
})

describe('release links and restored ownership', () => {
  const site = load(`shared:\n  - { path: instance, link: var/demo-instance }\n  - media`).sites.v1
  const rel = '/srv/demo/v1/releases/1.0'

  test('a link is made inside the release, pointing at the shared entry; one already there is kept', async () => {
    const exec = new RecordingExecutor().respond(c => c.argv[0] === 'readlink', { code: 1 })
    expect(await linkSharedEntries(exec, site, rel)).toEqual([
      'var/demo-instance -> /srv/demo/v1/shared/instance'
    ])
    expect(exec.commands().map(a => a.join(' '))).toEqual([
      `readlink -- ${rel}/var/demo-instance`,
      `mkdir -p -m 755 ${rel}/var`,
      `ln -sfnT /srv/demo/v1/shared/instance ${rel}/var/demo-instance`
    ])
    const again = new RecordingExecutor().respond(c => c.argv[0] === 'readlink', {
      stdout: '/srv/demo/v1/shared/instance\n'
    })
    expect(await linkSharedEntries(again, site, rel)).toEqual([])
    expect(again.commands()).toHaveLength(1)
  })

  test('something else at the link path fails the step, naming the key', async () => {
    const exec = new RecordingExecutor()
      .respond(c => c.argv[0] === 'readlink', { code: 1 })
      .respond(c => c.argv[0] === 'ln', { code: 1, stderr: 'ln: cannot overwrite directory' })
    await expect(linkSharedEntries(exec, site, rel)).rejects.toThrow(
      /\(app\.shared\[0\]\.link\): ln: cannot overwrite directory/
    )
  })

  test("a staged shared folder gets the Apache user's owner and the entry's mode; other folders are left", async () => {
    const exec = new RecordingExecutor()
    const staged = '/srv/demo/v1/shared/.media.sc-new-x'
    expect(
      await ownStagedShared(exec, site, '/srv/demo/v1/shared/media', staged, () => undefined)
    ).toBe('media for app:appgroup, mode 0770')
    expect(exec.commands().map(a => a.join(' '))).toEqual([
      `chmod 0770 ${staged}`,
      `chown -R -h app:appgroup -- ${staged}`
    ])
    const other = new RecordingExecutor()
    expect(
      await ownStagedShared(other, site, '/srv/demo/v1/uploads', staged, () => undefined)
    ).toBeUndefined()
    expect(other.commands()).toEqual([])
  })

  test("a staged shared file gets the Apache user's owner and the entry's mode", async () => {
    const exec = new RecordingExecutor()
    const staged = '/srv/demo/v1/shared/.local_settings.py.sc-new-x'
    expect(
      await ownStagedShared(
        exec,
        load(SHARED).sites.v1,
        '/srv/demo/v1/shared/local_settings.py',
        staged,
        () => undefined
      )
    ).toBe('local_settings.py for app:appgroup, mode 0640')
    expect(exec.commands().map(a => a.join(' '))).toEqual([
      `chmod 0640 ${staged}`,
      `chown -R -h app:appgroup -- ${staged}`
    ])
  })
})
