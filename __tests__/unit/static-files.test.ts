import { renderVhost, vhostServesStatic } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'
import { ConfigError } from '../../src/util/errors.js'

function load(app: string, site = '', mode = 'blue-green') {
  return parseConfig(
    `app:
  package: demo-app
  wsgi: "demo.wsgi:application"
${app}
sites:
  v1:
    root: /srv/demo/v1
    url: "http://127.0.0.1:8080"
    apache: { mode: ${mode} }
${site}
  pre:
    role: preview
    root: /srv/demo/pre
    url: "http://127.0.0.1:8081"
    access: { basic_auth: { user: tester, password_env: PRE_PASSWORD } }
`,
    '/repo/sitecycle.yml'
  )
}

function loadError(app: string, site = ''): string {
  try {
    load(app, site)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('no error')
}

describe('static: in the config', () => {
  it("app.static for every site, a site's own over it per prefix, longest prefix first", () => {
    const config = load(
      '  static: { /static/: static, /media/: media/ }',
      '    static: { /media/: public/media, /static/admin/: admin }'
    )
    expect(config.sites.v1.static).toEqual([
      { prefix: '/static/admin/', folder: 'admin', key: 'sites.v1.static./static/admin/' },
      { prefix: '/static/', folder: 'static', key: 'app.static./static/' },
      { prefix: '/media/', folder: 'public/media', key: 'sites.v1.static./media/' }
    ])
    expect(config.sites.pre.static).toEqual([
      { prefix: '/static/', folder: 'static', key: 'app.static./static/' },
      { prefix: '/media/', folder: 'media', key: 'app.static./media/' }
    ])
    expect(load('').sites.v1.static).toBeUndefined()
  })

  it.each([
    ['static', 'does not start and end with /'],
    ['/static', 'does not start and end with /'],
    ['/', 'would send every request to the folder'],
    ['/st atic/', 'holds a character Apache cannot take there'],
    ['/a/../b/', "has an empty, '.' or '..' segment"],
    ['/a//b/', "has an empty, '.' or '..' segment"],
    ['/.sitecycle/', "/.sitecycle/ is sitecycle's own"]
  ])('refuses the URL prefix %j, naming the key', (prefix, reason) => {
    const message = loadError(`  static: { "${prefix}": static }`)
    expect(message.split('\n')[0]).toContain(`app.static.${prefix}`)
    expect(message).toContain(reason)
    expect(message).toContain('a URL prefix starting and ending with /')
  })

  it.each([
    ['/srv/static', 'not relative to the release directory'],
    ['../static', "has an empty, '.' or '..' segment"],
    ['static/../../x', "has an empty, '.' or '..' segment"],
    ['.', "has an empty, '.' or '..' segment"],
    ['lib/python3.11', "lib is the virtualenv's or sitecycle's own"],
    ['bin', "bin is the virtualenv's or sitecycle's own"],
    ['st"atic', 'holds a character other than']
  ])('refuses the folder %j, naming the key', (folder, reason) => {
    const message = loadError('', `    static: { /static/: '${folder}' }`)
    expect(message.split('\n')[0]).toContain('sites.v1.static./static/')
    expect(message).toContain(reason)
    expect(message).toContain('a folder relative to the release directory')
  })

  it('refuses a static: that is not a mapping', () => {
    expect(loadError('  static: [static]')).toContain(
      'a mapping of URL prefixes to folders of the release'
    )
  })
})

describe('static files in the vhost', () => {
  const config = load('  static: { /static/: static, /static/admin/: admin }')
  const vhost = renderVhost(config.sites.v1)
  const lines = vhost.split('\n').map(l => l.trim())

  it('blue-green: after the slot is chosen and before the WSGI rule, from the chosen slot, longest prefix first', () => {
    const chosen = lines.indexOf('RewriteRule ^ - [E=SITECYCLE_SLOT:${sitecycle_live:live|blue}]')
    const admin = lines.indexOf(
      'RewriteRule ^/static/admin/(.*)$ /srv/demo/v1/slots/%1/admin/$1 [L]'
    )
    const stat = lines.indexOf('RewriteRule ^/static/(.*)$ /srv/demo/v1/slots/%1/static/$1 [L]')
    const wsgi = lines.findIndex(l => l.startsWith('RewriteRule ^/(.*)$ /srv/demo/v1/wsgi/%1.wsgi'))
    const maintenance = lines.indexOf('RewriteCond /srv/demo/v1/maintenance/ON -f')
    expect(maintenance).toBeGreaterThan(-1)
    expect([maintenance < chosen, chosen < admin, admin < stat, stat < wsgi]).toEqual([
      true,
      true,
      true,
      true
    ])
    expect(lines[admin - 1]).toBe('RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$')
    expect(lines[stat - 1]).toBe('RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$')
  })

  it('each slot folder: files only, open to all on an open site, hashed names cached for a year', () => {
    const block = vhost.slice(
      vhost.indexOf('<Directory /srv/demo/v1/slots/green/static>'),
      vhost.indexOf('</Directory>', vhost.indexOf('<Directory /srv/demo/v1/slots/green/static>'))
    )
    expect(block.split('\n').map(l => l.trim())).toEqual([
      '<Directory /srv/demo/v1/slots/green/static>',
      'Options None',
      'AllowOverride None',
      'SetHandler None',
      'Header set Cache-Control "no-cache"',
      '<FilesMatch "\\.[0-9a-fA-F]{8,}\\.[^/]+$">',
      'Header set Cache-Control "public, max-age=31536000, immutable"',
      '</FilesMatch>',
      'Require all granted',
      ''
    ])
    for (const d of ['blue/static', 'blue/admin', 'green/admin'])
      expect(vhost).toContain(`<Directory /srv/demo/v1/slots/${d}>`)
    expect(lines.filter(l => /^<Directory .*\/slots\/(blue|green)\//.test(l))).toHaveLength(4)
    expect(vhost).not.toContain('ExecCGI\n    SetHandler None')
  })

  it('a protected site keeps its static files behind basic auth', () => {
    const pre = renderVhost(config.sites.pre)
    const start = pre.indexOf('<Directory /srv/demo/pre/slots/blue/static>')
    const block = pre.slice(start, pre.indexOf('</Directory>', start))
    expect(block).toContain('AuthType Basic')
    expect(block).toContain('Require valid-user')
    expect(block).not.toContain('Require all granted')
  })

  it('single mode: from the current link', () => {
    const single = load('  static: { /static/: static }', '', 'single')
    const text = renderVhost(single.sites.v1)
    const rules = text.split('\n').map(l => l.trim())
    const stat = rules.indexOf('RewriteRule ^/static/(.*)$ /srv/demo/v1/current/static/$1 [L]')
    const wsgi = rules.findIndex(l =>
      l.startsWith('RewriteRule ^/(.*)$ /srv/demo/v1/wsgi/current.wsgi')
    )
    expect(stat).toBeGreaterThan(-1)
    expect(stat).toBeLessThan(wsgi)
    expect(text).toContain('<Directory /srv/demo/v1/current/static>')
  })

  it('no static: no rules, no folders', () => {
    const plain = renderVhost(load('').sites.v1)
    expect(plain).not.toContain('Static files')
    expect(plain).not.toContain('Cache-Control "public')
  })

  it('tells whether a vhost serves the static: of a config', () => {
    const without = load('').sites.v1
    expect(vhostServesStatic(config.sites.v1, vhost)).toBe(true)
    expect(vhostServesStatic(without, renderVhost(without))).toBe(true)
    expect(vhostServesStatic(without, vhost)).toBe(false)
    expect(vhostServesStatic(config.sites.v1, renderVhost(without))).toBe(false)
    const other = load('  static: { /static/: assets }').sites.v1
    expect(vhostServesStatic(other, vhost)).toBe(false)
  })
})
