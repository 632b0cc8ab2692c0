import type { SharedEntry, SiteConfig } from '../config/model.js'
import { ENV_FILE } from '../config/app-env.js'
import { HEALTH_URI } from '../config/schema.js'
import { parseWsgiEntry, pythonImportLines } from '../config/wsgi-entry.js'
import { processGroupName, siteLayout, SLOTS, EMPTY_RELEASE, type Slot } from '../sites/layout.js'
import { SitecycleError } from '../util/errors.js'
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

/** Default seconds in Retry-After when a site's config says nothing (sites.<n>.maintenance.retry_after). */
export const DEFAULT_RETRY_AFTER = 300

/**
 * `htpasswd -i -B -n <user>`: prints `<user>:<bcrypt hash>` for the password read from standard
 * input, so the password is never in argv (visible in `ps` and /proc to every local user).
 * bcrypt at htpasswd's default cost (5): Apache checks the hash on every request, and a high
 * cost would add tens of milliseconds of CPU to each of them.
 */
export function hashPassword(user: string, password: string): Command {
  return cmd(['htpasswd', '-i', '-B', '-n', user], { input: password, redact: [password] })
}

/** `chgrp <apache group> <path>`: let Apache's daemons read a file that others may not. */
export function giveToApacheGroup(site: Pick<SiteConfig, 'apache'>, path: string): Command {
  return cmd(['chgrp', site.apache.group, path])
}

/** Where the password file of a protected site lives: outside every release, not served. */
export function passwordFilePath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).shared}/.htpasswd`
}

/** The flag whose existence freezes the site (checked by mod_rewrite on every request). */
export function maintenanceFlagPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).maintenance}/ON`
}

/**
 * The flag that holds every request of a frozen site, the health path and the allow-listed
 * clients included, at the maintenance answer: set while a frozen deploy puts its database back,
 * so that no request reaches a daemon whose connections are being closed.
 */
export function maintenanceHoldPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).maintenance}/HOLD`
}

/**
 * The Retry-After of the maintenance page: a file holding the number of seconds alone, read by
 * Apache with each maintenance answer, so it changes without a reload. init writes it.
 */
export function retryAfterPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).maintenance}/retry-after`
}

/** The Retry-After file's text: digits only, no line break (it becomes the header's value). */
export function renderRetryAfter(seconds: number): string {
  return String(seconds)
}

/** The page users get, with status 503, while the site is frozen. */
export function maintenancePagePath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).maintenance}/index.html`
}

/** The URL the maintenance page is served under, as an ErrorDocument (only after our own 503). */
const MAINTENANCE_URI = '/.sitecycle/maintenance'

/** A URL path safe to write unquoted into mod_rewrite and inside a quoted ap_expr string. */
function apachePath(value: string, what: string): string {
  if (!/^\/[A-Za-z0-9/._~%!&()*+,;=:@-]*$/.test(value))
    throw new SitecycleError(
      `${what} ${JSON.stringify(value)} cannot be written into the Apache vhost: expected a URL path of letters, digits and / . _ ~ % ! & ( ) * + , ; = : @ -`,
      'config'
    )
  return value
}

/**
 * The maintenance rules, first in the rewrite chain. While `maintenance/ON` exists (a stat per
 * request, no reload), every request answers 503 with the page and Retry-After, except
 * sitecycle's own health path (HEALTH_URI: sitecycle's verification, monitors; it shows nothing
 * of the application) and the allow-listed clients, which go on to the live slot as usual. While `maintenance/HOLD` exists (a frozen deploy puts its
 * database back), those get the same answer too: no request reaches a daemon of the site. The
 * page is the ErrorDocument of that 503: its internal redirect is recognised by the variable
 * our rule set (REDIRECT_ prefixed by Apache), so a user cannot ask for it directly and any
 * other 503 keeps Apache's own text. Retry-After is read from a file beside the flag (ap_expr
 * file()), so `maintenance on --retry-after` needs no reload.
 */
function maintenanceRules(site: SiteConfig): string[] {
  const flag = maintenanceFlagPath(site)
  return [
    `  # Maintenance: while ${flag} exists, users get 503 and the page (sitecycle maintenance on|off).`,
    '  RewriteCond %{ENV:REDIRECT_STATUS} =503',
    '  RewriteCond %{ENV:REDIRECT_SITECYCLE_MAINTENANCE} =1',
    `  RewriteRule ^${escapeRegex(MAINTENANCE_URI)}$ ${maintenancePagePath(site)} [E=SITECYCLE_MAINTENANCE_PAGE:1,L]`,
    `  # While ${maintenanceHoldPath(site)} exists, every request gets it, ${HEALTH_URI} too.`,
    `  RewriteCond ${maintenanceHoldPath(site)} -f`,
    '  RewriteRule ^ - [E=SITECYCLE_MAINTENANCE:1,R=503,L]',
    `  RewriteCond ${flag} -f`,
    `  RewriteCond %{REQUEST_URI} !=${HEALTH_URI}`,
    ...(site.maintenance?.allow ?? []).map(range => `  RewriteCond expr "! -R '${range}'"`),
    '  RewriteRule ^ - [E=SITECYCLE_MAINTENANCE:1,R=503,L]',
    `  ErrorDocument 503 ${MAINTENANCE_URI}`,
    `  Header always set Retry-After "expr=%{file:${retryAfterPath(site)}}" env=SITECYCLE_MAINTENANCE_PAGE`,
    '  Header always set Cache-Control "no-store" env=SITECYCLE_MAINTENANCE_PAGE'
  ]
}

/** The maintenance folder: only the page is served, and only through the ErrorDocument above. */
function maintenanceDirectory(site: SiteConfig): string[] {
  return [
    `  <Directory ${siteLayout(site.root).maintenance}>`,
    '    ForceType "text/html; charset=utf-8"',
    '    Require all granted',
    '  </Directory>'
  ]
}

/**
 * While this file exists (an upgrade attempt's window, pipelines/attempt.ts), a protected site's
 * basic auth is lifted: production's maintenance page sends its users there. Apache tests it on
 * each request (a stat, no reload), like the maintenance flag.
 */
export function accessOpenFlagPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).shared}/.access-open`
}

/** The addresses sitecycle's own probes come from (the host itself), as in the private route. */
const LOOPBACK_EXPR = "(-R '127.0.0.1' || -R '::1')"

/**
 * Who may reach the application. With basic auth: a valid user; anyone while the open flag
 * exists (accessOpenFlagPath); and sitecycle's own health path (HEALTH_URI, answered by the WSGI
 * script, nothing of the application's) from the host itself without credentials: sitecycle
 * verifies a release by GETting that path from the host (through the private route and then as a
 * user would), and it must not carry the password to do so (a probe's argv would show it to
 * every local user). Anyone else asking for it without credentials gets 401, as for any other
 * path: its answer names the version. The application's own health path gets no exception.
 */
function accessDirectives(site: SiteConfig): string[] {
  const auth = site.access?.basicAuth
  if (!auth) return ['    Require all granted']
  return [
    '    AuthType Basic',
    `    AuthName "${site.name} (${site.role})"`,
    '    AuthBasicProvider file',
    `    AuthUserFile ${passwordFilePath(site)}`,
    '    <RequireAny>',
    `      Require expr "%{REQUEST_URI} == '${apachePath(HEALTH_URI, 'the health path')}' && ${LOOPBACK_EXPR}"`,
    `      Require expr "-f '${accessOpenFlagPath(site)}'"`,
    '      Require valid-user',
    '    </RequireAny>'
  ]
}

/**
 * A mirror is read-only: Apache answers every method but GET and HEAD with 405 and `Allow: GET,
 * HEAD` before any other rule (TRACE too), so no write reaches the application, whatever it does.
 * (Apache adds an empty `Allow` of its own to a 405: an empty list element, which HTTP ignores.)
 */
function readOnlyRules(site: SiteConfig): string[] {
  if (site.role !== 'mirror') return []
  return [
    '  # A mirror is read-only: every method but GET and HEAD is refused.',
    '  RewriteCond %{REQUEST_METHOD} !^(GET|HEAD)$',
    '  RewriteRule ^ - [E=SITECYCLE_READ_ONLY:1,R=405,L]',
    '  Header always set Allow "GET, HEAD" env=SITECYCLE_READ_ONLY',
    '  TraceEnable off'
  ]
}

const STATIC_COMMENT = '  # Static files (static:), from the release the request goes to.'

/** A file name with a content hash part (`app.3f2a9c1b7d4e.css`, Django's ManifestStaticFilesStorage, webpack). */
const HASHED_NAME = '\\.[0-9a-fA-F]{8,}\\.[^/]+$'

/** Where a slot's (or, single mode, `current`'s) static folder is on the host, through its link. */
function staticFolderPath(site: SiteConfig, slot: string, folder: string): string {
  const l = siteLayout(site.root)
  return `${slot === 'current' ? l.current : l.slot(slot as Slot)}/${folder}`
}

/**
 * Static files (`static:`), after the slot is chosen and before the WSGI rule: a request under a
 * prefix is answered from the folder of the release its slot points at (`%{ENV:SITECYCLE_SLOT}`,
 * single mode: `current`), so a switch changes code and files at the same instant. A missing
 * file is Apache's 404; the application never sees the prefix. The maintenance and read-only
 * rules come first and apply here too.
 */
function staticRules(site: SiteConfig): string[] {
  if (!site.static?.length) return []
  const lines = [STATIC_COMMENT]
  for (const e of site.static) {
    const prefix = apachePath(e.prefix, e.key)
    if (site.apache.mode === 'blue-green') {
      lines.push(
        '  RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$',
        `  RewriteRule ^${escapeRegex(prefix)}(.*)$ ${siteLayout(site.root).slots}/%1/${e.folder}/$1 [L]`
      )
    } else {
      lines.push(
        `  RewriteRule ^${escapeRegex(prefix)}(.*)$ ${staticFolderPath(site, 'current', e.folder)}/$1 [L]`
      )
    }
  }
  return lines
}

/**
 * The static folders of each slot: files only (no listing, no CGI, no server-side includes, no
 * symbolic link followed inside them, no .htaccess), behind the site's access rules. Names with a
 * content hash are cached for a year (immutable); other files are revalidated on each use.
 */
function staticDirectories(site: SiteConfig): string[] {
  if (!site.static?.length) return []
  const slots: string[] = site.apache.mode === 'blue-green' ? [...SLOTS] : ['current']
  const lines: string[] = []
  // The slot links themselves are followed (Apache checks each link against its folder's Options).
  const links = site.apache.mode === 'blue-green' ? siteLayout(site.root).slots : site.root
  lines.push(`  <Directory ${links}>`, '    Options FollowSymLinks', '  </Directory>')
  for (const s of slots)
    for (const e of site.static)
      lines.push(
        `  <Directory ${staticFolderPath(site, s, e.folder)}>`,
        '    Options None',
        '    AllowOverride None',
        '    SetHandler None',
        '    Header set Cache-Control "no-cache"',
        `    <FilesMatch "${HASHED_NAME}">`,
        '      Header set Cache-Control "public, max-age=31536000, immutable"',
        '    </FilesMatch>',
        ...accessDirectives(site),
        '  </Directory>'
      )
  return lines
}

/**
 * Whether a vhost's text serves the site's `static:` as this config says (its static rules and
 * folders as renderVhost writes them, or none of them when there is no `static:`): deploy warns
 * when not, since only `sitecycle init --reload` rewrites the vhost.
 */
export function vhostServesStatic(site: SiteConfig, vhost: string): boolean {
  const rules = staticRules(site)
  if (!rules.length) return !vhost.includes(STATIC_COMMENT)
  return vhost.includes(rules.join('\n')) && vhost.includes(staticDirectories(site).join('\n'))
}

/** The shared folders Apache serves (`url:`), with their URL prefix. */
function servedShared(site: SiteConfig): (SharedEntry & { url: string })[] {
  return (site.shared ?? []).filter(
    (e): e is SharedEntry & { url: string } => e.kind === 'folder' && e.url !== undefined
  )
}

/**
 * Shared folders with a `url:` (uploads, media) served by Apache itself, after the maintenance
 * rules (a frozen site freezes them too) and before the rules that send everything else to a
 * slot. A request for the prefix maps onto the folder; what is not there is a 404 of Apache's.
 */
export function sharedUrlRules(site: SiteConfig): string[] {
  return servedShared(site).flatMap(e => {
    const url = apachePath(e.url, `${e.key}.url`)
    return [
      `  # Shared folder ${e.path}, served by Apache at ${url} (${e.key}).`,
      `  RewriteRule ^${escapeRegex(url)}(.*)$ ${e.absolute}/$1 [L]`
    ]
  })
}

/**
 * The served shared folders: files as they are, never run (no handler, no CGI, no SSI), no
 * listing, no content sniffing by browsers (an upload is not a page of the site); with the
 * site's access rules (basic auth of a protected site).
 */
export function sharedDirectories(site: SiteConfig): string[] {
  return servedShared(site).flatMap(e => [
    `  <Directory ${e.absolute}>`,
    '    Options -Indexes -ExecCGI -Includes',
    '    AllowOverride None',
    '    SetHandler none',
    '    Header set X-Content-Type-Options nosniff',
    ...accessDirectives(site),
    '  </Directory>'
  ])
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
    '  RewriteEngine On',
    ...readOnlyRules(site),
    ...maintenanceRules(site),
    ...sharedUrlRules(site)
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
      ...staticRules(site),
      '  RewriteCond %{ENV:SITECYCLE_SLOT} ^(blue|green)$',
      `  RewriteRule ^/(.*)$ ${wsgiDir}/%1.wsgi/$1 [E=SITECYCLE_GROUP:${prefix}%1,L]`
    )
  } else {
    lines.push(
      ...staticRules(site),
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
    // A 503 of the application's daemons is not maintenance: Apache's own text, not the page.
    '    ErrorDocument 503 default',
    ...accessDirectives(site),
    '  </Directory>',
    ...maintenanceDirectory(site),
    ...staticDirectories(site),
    ...sharedDirectories(site),
    '</VirtualHost>',
    ''
  )
  void escapeRegex
  return lines.join('\n')
}

/**
 * The WSGI script of a slot, outside the releases: it tells the application where its
 * rendered config is (the release the slot points at when the daemon starts) and imports the
 * entry point. Before the first deploy the slot holds no release and answers 503.
 *
 * A deploy restarts the idle slot's daemons while pip still installs the release (Apache's
 * parent respawns daemons only on its once-a-second maintenance tick; that wait is hidden behind
 * the install), so a daemon may start in a release whose release.json (written last) is not
 * there yet. A thread of that daemon then loads the application as soon as release.json appears
 * (every daemon of the group does, as the preload would have, so no user request pays for the
 * import), reading the .pth files pip put into the virtualenv meanwhile as Python's start-up
 * would have; a request that comes first loads it itself, and until then gets 503. The thread
 * stops when the slot points elsewhere (the daemon is then restarted).
 *
 * Once the application has imported, the script answers HEALTH_URI itself: JSON with the site,
 * the slot and the release's `version`, so a health check needs nothing from the application.
 * With an application health path set (`health.path` other than HEALTH_URI), it also GETs that
 * path from the application in-process (no freeze or basic auth in the way) and adds its status
 * (and, with `health.expect_version`, whether its answer is the version) under `app`, never its
 * content; the answer is then 500 when the application's is not good (503 when it answered
 * 502-504: still starting).
 */
export function renderWsgiScript(
  site: SiteConfig,
  wsgiEntry: string,
  slotPath: string,
  slotName: string
): string {
  const importLines = pythonImportLines(parseWsgiEntry(wsgiEntry)).join('\n')
  const configEnv = site.config?.env ?? 'SITECYCLE_CONFIG'
  const appPath = site.health.path === HEALTH_URI ? '' : site.health.path
  return `# Managed by sitecycle: site ${site.name}, slot ${slotName}. Do not edit: sitecycle init and deploy rewrite it.
import os

_release = os.path.realpath(${JSON.stringify(slotPath)})
os.environ[${JSON.stringify(configEnv)}] = os.path.join(_release, 'app.ini')
os.environ['SITECYCLE_SITE'] = ${JSON.stringify(site.name)}
os.environ['SITECYCLE_SLOT'] = ${JSON.stringify(slotName)}
${site.shared?.length ? `os.environ['SITECYCLE_SHARED'] = ${JSON.stringify(siteLayout(site.root).shared)}\n` : ''}os.environ['SITECYCLE_RELEASE'] = os.path.basename(_release)


def _installed():
    return os.path.exists(os.path.join(_release, 'release.json'))


def _import_application():
    # The release's environment (written before its release.json) goes in first, so that the
    # application sees it at import time and a switch of slots switches it with the code.
    import json
    try:
        with open(os.path.join(_release, ${JSON.stringify(ENV_FILE)}), encoding='utf-8') as f:
            os.environ.update(json.load(f)['variables'])
    except FileNotFoundError:
        pass
${importLines}


_HEALTH = ${JSON.stringify(HEALTH_URI)}
_APP_HEALTH = ${JSON.stringify(appPath)}
_EXPECT_VERSION = ${site.health.expectVersion ? 'True' : 'False'}


def _app_health(app, environ, version):
    # GET the application's own health path in-process; only its status is kept.
    import io, json
    path, _, query = _APP_HEALTH.partition('?')
    env = dict(environ, REQUEST_METHOD='GET', PATH_INFO=path, QUERY_STRING=query,
               REQUEST_URI=_APP_HEALTH, CONTENT_LENGTH='0')
    env.pop('CONTENT_TYPE', None)
    env['wsgi.input'] = io.BytesIO(b'')
    status, chunks = [], []

    def start_response(s, headers, exc_info=None):
        status[:] = [int(s.split()[0])]
        return chunks.append

    result = app(env, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, 'close'):
            result.close()
    check = {'path': _APP_HEALTH, 'status': status[0] if status else None}
    if _EXPECT_VERSION:
        text = b''.join(chunks).decode('utf-8', 'replace').strip()
        try:
            check['version'] = text == version or json.loads(text).get('version') == version
        except Exception:
            check['version'] = False
    return check


def _health(app, environ, start_response):
    import json
    version = os.path.basename(_release)
    answer = {'site': ${JSON.stringify(site.name)}, 'slot': ${JSON.stringify(slotName)}, 'version': version}
    status = '200 OK'
    if _APP_HEALTH:
        try:
            check = _app_health(app, environ, version)
        except Exception as e:
            check = {'path': _APP_HEALTH, 'status': None, 'error': type(e).__name__}
        answer['app'] = check
        if check['status'] in (502, 503, 504):
            status = '503 Service Unavailable'
        elif check['status'] != 200 or check.get('version') is False:
            status = '500 Internal Server Error'
    body = (json.dumps(answer) + '\\n').encode()
    start_response(status, [('Content-Type', 'application/json'), ('Cache-Control', 'no-store'),
                            ('Content-Length', str(len(body)))])
    return [body]


def _serving(app):
    # The application, but for the health path, answered here.
    def serve(environ, start_response):
        if environ.get('PATH_INFO') == _HEALTH:
            return _health(app, environ, start_response)
        return app(environ, start_response)
    return serve


if _installed():
    application = _serving(_import_application())
else:
    import threading

    _lock = threading.Lock()
    _loaded = []
    _placeholder = os.path.basename(_release) == ${JSON.stringify(EMPTY_RELEASE)}
    if _placeholder:
        _waiting = b'site ${site.name} has no release deployed yet\\n'
    else:
        _waiting = ('release %s of site ${site.name} is being installed\\n' % os.path.basename(_release)).encode()

    def _load():
        with _lock:
            if not _loaded and _installed():
                import importlib, site, sys
                for p in list(sys.path):
                    if p.endswith('site-packages') and os.path.realpath(p).startswith(_release + os.sep):
                        site.addsitedir(p)
                importlib.invalidate_caches()
                _loaded.append(_serving(_import_application()))
        return bool(_loaded)

    def _preload():
        import time, traceback
        while os.path.realpath(${JSON.stringify(slotPath)}) == _release:
            try:
                if _load():
                    return
            except Exception:
                traceback.print_exc()
                return
            time.sleep(0.05)

    if not _placeholder:
        threading.Thread(target=_preload, name='sitecycle-preload', daemon=True).start()

    def application(environ, start_response):
        if not _loaded and not _load():
            start_response('503 Service Unavailable', [('Content-Type', 'text/plain'), ('Retry-After', '60')])
            return [_waiting]
        return _loaded[0](environ, start_response)
`
}
