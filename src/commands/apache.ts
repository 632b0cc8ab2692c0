import type { SiteConfig } from '../config/model.js'
import { processGroupName, siteLayout, SLOTS, EMPTY_RELEASE, type Slot } from '../sites/layout.js'
import { cmd, type Command } from './command.js'

/** The first line of every vhost sitecycle writes: init refuses to replace a file without it. */
export function vhostMarker(site: Pick<SiteConfig, 'name' | 'root'>): string {
  return `# Managed by sitecycle for site ${site.name} at ${site.root}. Do not edit: sitecycle init rewrites it.`
}

/** Header that reaches the idle slot; honoured only from loopback. */
export const SLOT_HEADER = 'X-Sitecycle-Slot'

/** `apachectl configtest` */
export function apacheConfigTest(site: SiteConfig): Command {
  return cmd([...site.apache.ctl, 'configtest'])
}

/** `apachectl graceful`: only at init, never during a deploy (it restarts every daemon group). */
export function apacheGraceful(site: SiteConfig): Command {
  return cmd([...site.apache.ctl, 'graceful'])
}

function listenPort(listen: string): number {
  const m = /:(\d+)$/.exec(listen)
  return m ? Number(m[1]) : 80
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The Apache vhost of a site (blue/green inside one Apache, shared/DESIGN.md): two daemon
 * groups that run all the time, each with python-home at its slot link and its WSGI script
 * preloaded; mod_rewrite picks the group per request from live.map; a header accepted only
 * from loopback reaches the idle group. Pure: returns the file's text.
 */
export function renderVhost(site: SiteConfig): string {
  const l = siteLayout(site.root)
  const a = site.apache
  const port = listenPort(a.listen)
  const lines: string[] = [vhostMarker(site), '']
  if (port !== 80 && port !== 443) lines.push(`Listen ${a.listen}`, '')
  const daemon = (slot: Slot | 'current', home: string, runDir: string) =>
    `WSGIDaemonProcess ${processGroupName(site, slot)} python-home=${home} home=${runDir} ` +
    `user=${a.user} group=${a.group} processes=${a.processes} threads=${a.threads} ` +
    `shutdown-timeout=${a.shutdownTimeout} graceful-timeout=${a.shutdownTimeout} lang=C.UTF-8 locale=C.UTF-8`
  const wsgiDir = l.wsgiDir
  if (a.mode === 'blue-green') {
    for (const s of SLOTS) lines.push(daemon(s, l.slot(s), l.slotRunDir(s)))
    for (const s of SLOTS)
      lines.push(
        `WSGIImportScript ${l.wsgiScript(s)} process-group=${processGroupName(site, s)} application-group=%{GLOBAL}`
      )
  } else {
    lines.push(daemon('current', l.current, `${site.root}/run/current`))
    lines.push(
      `WSGIImportScript ${l.currentScript} process-group=${processGroupName(site, 'current')} application-group=%{GLOBAL}`
    )
  }
  const group = (s: string) => processGroupName(site, s as Slot)
  const prefix = group('blue').replace(/-blue$/, '-')
  lines.push(
    '',
    `<VirtualHost ${a.listen}>`,
    `  ServerName ${a.serverName}`,
    `  ErrorLog ${site.root}/shared/logs/error.log`,
    `  CustomLog ${site.root}/shared/logs/access.log combined`,
    '  RewriteEngine On'
  )
  if (a.mode === 'blue-green') {
    lines.push(
      `  RewriteMap sitecycle_live txt:${l.liveMap}`,
      `  # The private route to a slot: the ${SLOT_HEADER} header, from loopback only.`,
      '  RewriteCond %{REMOTE_ADDR} ^(127\\.0\\.0\\.1|::1)$',
      `  RewriteCond %{HTTP:${SLOT_HEADER}} ^(blue|green)$`,
      '  RewriteRule ^ - [E=SITECYCLE_SLOT:%1]',
      '  # Everyone else goes to the live slot named in live.map.',
      '  RewriteCond %{ENV:SITECYCLE_SLOT} ^$',
      '  RewriteRule ^ - [E=SITECYCLE_SLOT:${sitecycle_live:live|blue}]',
      '  RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$',
      `  RewriteRule ^/(.*)$ ${wsgiDir}/%1.wsgi/$1 [E=SITECYCLE_GROUP:${prefix}%1,L]`
    )
  } else {
    lines.push(
      `  RewriteRule ^/(.*)$ ${l.currentScript}/$1 [E=SITECYCLE_GROUP:${group('current')},L]`
    )
  }
  lines.push(
    `  <Directory ${wsgiDir}>`,
    '    Options +ExecCGI',
    '    SetHandler wsgi-script',
    '    WSGIProcessGroup %{ENV:SITECYCLE_GROUP}',
    '    WSGIApplicationGroup %{GLOBAL}',
    '    WSGIPassAuthorization On',
    '    Require all granted',
    '  </Directory>',
    '</VirtualHost>',
    ''
  )
  void escapeRegex
  void EMPTY_RELEASE
  return lines.join('\n')
}

/**
 * The WSGI script of a slot, outside the releases: it tells the application where its
 * rendered config is (the release the slot points at when the daemon starts) and imports the
 * entry point. Before the first deploy the slot holds no release and answers 503.
 */
export function renderWsgiScript(
  site: SiteConfig,
  wsgiEntry: string,
  slotPath: string,
  slotName: string
): string {
  const [module, attr] = wsgiEntry.split(':')
  const configEnv = site.config?.env ?? 'SITECYCLE_CONFIG'
  return `# Managed by sitecycle: site ${site.name}, slot ${slotName}. Do not edit: sitecycle init rewrites it.
import os

_release = os.path.realpath(${JSON.stringify(slotPath)})
os.environ[${JSON.stringify(configEnv)}] = os.path.join(_release, 'app.ini')
os.environ['SITECYCLE_SITE'] = ${JSON.stringify(site.name)}
os.environ['SITECYCLE_SLOT'] = ${JSON.stringify(slotName)}
os.environ['SITECYCLE_RELEASE'] = os.path.basename(_release)

if os.path.exists(os.path.join(_release, 'release.json')):
    from ${module} import ${attr} as application
else:
    def application(environ, start_response):
        start_response('503 Service Unavailable', [('Content-Type', 'text/plain'), ('Retry-After', '60')])
        return [b'site ${site.name} has no release deployed yet\\n']
`
}
