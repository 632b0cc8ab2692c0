import { parseConfig } from '../../src/config/load-config.js'
import { renderVhost, renderWsgiScript, vhostMarker } from '../../src/commands/apache.js'
import { pipInstall, pipWheel, createVenv } from '../../src/commands/python.js'
import { choosePrunable } from '../../src/pipelines/prune.js'
import { processGroupName } from '../../src/sites/layout.js'
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readTemplate, renderConfigText, splitCommandLine } from '../../src/sites/render-config.js'
import type { InstalledRelease } from '../../src/sites/site-state.js'

const config = (mode = 'blue-green') =>
  parseConfig(
    `app: { package: demo-app, wsgi: "demo.wsgi:application" }
sites:
  v1:
    root: /srv/demo/v1
    url: http://demo.example.org:8080
    apache: { mode: ${mode}, user: deploy, group: deploy }
`,
    '/repo/sitecycle.yml'
  )

describe('the blue/green vhost', () => {
  const site = config().sites.v1
  const text = renderVhost(site)
  const blue = processGroupName(site, 'blue')
  const green = processGroupName(site, 'green')

  test('starts with the marker init checks before replacing a file', () => {
    expect(text.startsWith(vhostMarker(site))).toBe(true)
  })
  test('two daemon groups, each on its slot link with its own working directory, both preloaded', () => {
    expect(text).toContain(
      `WSGIDaemonProcess ${blue} python-home=/srv/demo/v1/slots/blue home=/srv/demo/v1/run/blue user=deploy group=deploy`
    )
    expect(text).toContain(
      `WSGIDaemonProcess ${green} python-home=/srv/demo/v1/slots/green home=/srv/demo/v1/run/green`
    )
    expect(text).toContain(
      `WSGIImportScript /srv/demo/v1/wsgi/blue.wsgi process-group=${blue} application-group=%{GLOBAL}`
    )
    expect(text).toContain(
      `WSGIImportScript /srv/demo/v1/wsgi/green.wsgi process-group=${green} application-group=%{GLOBAL}`
    )
  })
  test('users are routed by live.map; the slot header only counts from loopback', () => {
    expect(text).toContain('RewriteMap sitecycle_live txt:/srv/demo/v1/live.map')
    const lines = text.split('\n').map(l => l.trim())
    const cond = lines.indexOf('RewriteCond %{REMOTE_ADDR} ^(127\\.0\\.0\\.1|::1)$')
    expect(cond).toBeGreaterThan(0)
    expect(lines[cond + 1]).toBe('RewriteCond %{HTTP:X-Sitecycle-Slot} ^(blue|green)$')
    expect(lines[cond + 2]).toBe('RewriteRule ^ - [E=SITECYCLE_SLOT:%1]')
    expect(text).toContain('RewriteRule ^ - [E=SITECYCLE_SLOT:${sitecycle_live:live|blue}]')
    expect(text).toContain('WSGIProcessGroup %{ENV:SITECYCLE_GROUP}')
  })
  test('a Listen line for a port other than 80/443; the vhost on the listen address', () => {
    expect(text).toContain('Listen *:8080')
    expect(text).toContain('<VirtualHost *:8080>')
    expect(text).toContain('ServerName demo.example.org')
  })
  test('group names differ for two sites of one name at different roots', () => {
    const other = { ...site, root: '/srv/other/v1' }
    expect(processGroupName(other, 'blue')).not.toBe(blue)
  })
  test('single mode: one group on the current link', () => {
    const single = renderVhost(config('single').sites.v1)
    expect(single.match(/WSGIDaemonProcess/g)).toHaveLength(1)
    expect(single).toContain('python-home=/srv/demo/v1/current')
    expect(single).not.toContain('RewriteMap')
  })
})

test('the WSGI script imports the entry point, sets the config path, and answers 503 before the first release', () => {
  const site = config().sites.v1
  const text = renderWsgiScript(site, 'demo.wsgi:application', '/srv/demo/v1/slots/blue', 'blue')
  expect(text).toContain('    from demo.wsgi import application as _entry\n    return _entry\n')
  expect(text).toContain(`os.environ["SITECYCLE_CONFIG"] = os.path.join(_release, 'app.ini')`)
  expect(text).toContain("start_response('503 Service Unavailable'")
})

test('pip and venv commands are offline argv arrays with a hermetic environment', () => {
  expect(createVenv('/usr/bin/python3', '/r/releases/1.0').argv).toEqual([
    '/usr/bin/python3',
    '-m',
    'venv',
    '--without-pip',
    '/r/releases/1.0'
  ])
  const install = pipInstall('/usr/bin/python3', '/r/releases/1.0', '/in/a.whl', ['/in'])
  expect(install.argv).toEqual([
    '/usr/bin/python3',
    '-m',
    'pip',
    '--python',
    '/r/releases/1.0/bin/python',
    'install',
    '--no-index',
    '--find-links',
    '/in',
    '--no-compile',
    '/in/a.whl'
  ])
  expect(install.env?.PIP_CONFIG_FILE).toBe('/dev/null')
  expect(install.unsetEnv).toEqual(
    expect.arrayContaining(['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'])
  )
  expect(pipWheel('/usr/bin/python3', '/in/a.tar.gz', '/in/w').argv).toEqual([
    '/usr/bin/python3',
    '-m',
    'pip',
    'wheel',
    '--no-index',
    '--no-build-isolation',
    '--no-deps',
    '--wheel-dir',
    '/in/w',
    '/in/a.tar.gz'
  ])
})

describe('prune', () => {
  const rel = (dir: string, at: string, complete = true): InstalledRelease => ({
    dir,
    complete,
    bad: false,
    info: complete
      ? { version: dir, name: 'x', sha256: '', file: '', installedAt: at, operation: '' }
      : undefined
  })
  const releases = [
    rel('1', '2026-01-01'),
    rel('2', '2026-01-02'),
    rel('3', '2026-01-03'),
    rel('4', '2026-01-04'),
    rel('5', '2026-01-05')
  ]
  test('keeps the newest N and never the releases in the slots', () => {
    expect(choosePrunable(releases, 2, new Set(['5', '4']))).toEqual(['3', '2', '1'])
    expect(choosePrunable(releases, 3, new Set(['5', '4']))).toEqual(['2', '1'])
  })
  test('an old release that a slot still uses is kept even beyond N', () => {
    expect(choosePrunable(releases, 2, new Set(['5', '1']))).toEqual(['4', '3', '2'])
  })
})

describe('config rendering', () => {
  const values = {
    site: { name: 'v1', root: '/srv/v1', url: 'http://x' },
    release: { version: '1.0', dir: '/srv/v1/releases/1.0' }
  }
  test('fills secrets, env and site values and reports the secrets it used', () => {
    const r = renderConfigText(
      '[app]\nkey = {{ secret.K }}\nmode = {{ env.MODE }}\nroot = {{site.root}}\n',
      't.tmpl',
      values,
      { K: 's3cret', MODE: 'prod' }
    )
    expect(r.text).toBe('[app]\nkey = s3cret\nmode = prod\nroot = /srv/v1\n')
    expect(r.secrets).toEqual(['s3cret'])
    expect(r.secretNames).toEqual(['K'])
  })
  test('a missing secret names the variable and the template line', () => {
    expect(() => renderConfigText('a\nkey = {{ secret.K }}\n', 't.tmpl', values, {})).toThrow(
      /t.tmpl:2: secret K is not set/
    )
  })
  test.each([
    ['a newline', 'pw\nadmin = true'],
    ['a carriage return', 'pw\radmin = true'],
    ['a NUL character', 'pw\0x'],
    ['a control character or line separator', 'pw\u2028admin = true']
  ])('a secret holding %s is refused by its name, never its value', (what, value) => {
    let message = ''
    try {
      renderConfigText('[a]\nkey = {{ secret.K }}\n', 't.tmpl', values, { K: value })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toBe(
      `t.tmpl:2: secret K holds ${what}; a value must fit on one line of the config file: set it without line breaks or control characters`
    )
    expect(message).not.toContain('admin')
    expect(message).not.toContain('pw')
  })
  test('a tab in a secret is fine', () => {
    expect(renderConfigText('key = {{ secret.K }}', 't.tmpl', values, { K: 'a\tb' }).text).toBe(
      'key = a\tb'
    )
  })
  test('an unknown placeholder is an error', () => {
    expect(() => renderConfigText('x = {{ site.password }}', 't.tmpl', values, {})).toThrow(
      /unknown placeholder/
    )
    expect(() => renderConfigText('x = {{ nonsense }}', 't.tmpl', values, {})).toThrow(
      /not understood/
    )
  })
})

describe('the config template is read only from inside the repository', () => {
  const base = mkdtempSync(join(tmpdir(), 'sitecycle-template-'))
  const repo = join(base, 'repo')
  mkdirSync(join(repo, 'deploy'), { recursive: true })
  writeFileSync(join(repo, 'deploy', 'app.ini.tmpl'), '[a]\nk = v\n')
  writeFileSync(join(base, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nkey body\n')
  symlinkSync(join(base, 'id_ed25519'), join(repo, 'deploy', 'key.tmpl'))
  symlinkSync('app.ini.tmpl', join(repo, 'deploy', 'inside.tmpl'))
  afterAll(() => rmSync(base, { recursive: true, force: true }))

  test('a file of the repository, or a link to one inside it, is read', async () => {
    expect(await readTemplate(join(repo, 'deploy', 'app.ini.tmpl'), repo)).toBe('[a]\nk = v\n')
    expect(await readTemplate(join(repo, 'deploy', 'inside.tmpl'), repo)).toBe('[a]\nk = v\n')
  })
  test('a symlink out of the repository is refused without reading it', async () => {
    let message = ''
    try {
      await readTemplate(join(repo, 'deploy', 'key.tmpl'), repo)
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toBe(
      `the config template ${join(repo, 'deploy', 'key.tmpl')} resolves to ${join(base, 'id_ed25519')}, outside the repository ${repo}; expected a file of the repository (the config file's folder), not a link out of it`
    )
    expect(message).not.toContain('BEGIN')
  })
})

describe('hook command lines', () => {
  test('split into argv with quotes, never through a shell', () => {
    expect(splitCommandLine(`python -m app.manage migrate --name "a b" 'c d'`, 'x')).toEqual([
      'python',
      '-m',
      'app.manage',
      'migrate',
      '--name',
      'a b',
      'c d'
    ])
  })
  test('shell syntax is refused with a clear error', () => {
    expect(() =>
      splitCommandLine('python manage.py migrate && rm -rf /', 'sitecycle.yml: hooks[0]')
    ).toThrow(/hooks run without a shell/)
    expect(() => splitCommandLine('echo $HOME', 'x')).toThrow(/shell character \$/)
    expect(() => splitCommandLine('echo "unclosed', 'x')).toThrow(/unclosed/)
  })
})

test('the release build is offline by default and isolated only when asked', async () => {
  const { pythonBuildCommand } = await import('../../src/releases/build.js')
  const offline = pythonBuildCommand('/usr/bin/python3', '/src/app', '/out')
  expect(offline.argv).toEqual([
    '/usr/bin/python3',
    '-m',
    'build',
    '--no-isolation',
    '--sdist',
    '--wheel',
    '--outdir',
    '/out',
    '/src/app'
  ])
  // No isolation: pip is not run, so pip's configuration is neither used nor stripped.
  expect(offline.env).toEqual({ PYTHONDONTWRITEBYTECODE: '1' })
  expect(offline.unsetEnv).toBeUndefined()
  // Isolated from a configured wheel folder: pip sees that folder and nothing else.
  const fromWheels = pythonBuildCommand('/usr/bin/python3', '/src/app', '/out', false, {
    findLinks: ['/wheels']
  })
  expect(fromWheels.env).toMatchObject({ PIP_FIND_LINKS: '/wheels', PIP_NO_INDEX: '1' })
  expect(fromWheels.unsetEnv).toEqual(expect.arrayContaining(['PIP_INDEX_URL']))
  expect(pythonBuildCommand('/usr/bin/python3', '/src/app', '/out', false).argv).not.toContain(
    '--no-isolation'
  )
})
