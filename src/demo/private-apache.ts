/**
 * A private Apache (real apache2 + mod_wsgi + mod_rewrite, with basic auth and mod_headers) for
 * the demo, the benchmarks and the integration tests: its own config, run dir and logs in a
 * folder, sites included from `<dir>/sites`, driven through a small apachectl wrapper so
 * sitecycle runs `configtest` and `graceful` exactly as on a server. It leaves the system's Apache alone.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface PrivateApache {
  dir: string
  /** apachectl for this instance, as argv (put in the site's apache.ctl). */
  ctl: string[]
  /** Where sites' vhosts go (apache.conf_dir; no enable dir). */
  confDir: string
  errorLog: string
  stop(): Promise<void>
  /** The tail of the error log, for failure messages. */
  logTail(): Promise<string>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

/** Start a private Apache in `dir` (a new temp dir when omitted). */
export async function startApache(dir?: string): Promise<PrivateApache> {
  dir = dir ?? (await mkdtemp(join(tmpdir(), 'sitecycle-apache-')))
  await mkdir(dir, { recursive: true })
  await chmod(dir, 0o755)
  const confDir = join(dir, 'sites')
  await mkdir(confDir)
  await mkdir(join(dir, 'run'))
  const basePort = await freePort()
  const conf = join(dir, 'apache2.conf')
  const mods = '/usr/lib/apache2/modules'
  await writeFile(
    conf,
    [
      'ServerRoot /etc/apache2',
      `Listen 127.0.0.1:${basePort}`,
      `PidFile ${dir}/run/apache2.pid`,
      `ErrorLog ${dir}/error.log`,
      'LogLevel warn',
      'User www-data',
      'Group www-data',
      'ServerName 127.0.0.1',
      `DefaultRuntimeDir ${dir}/run`,
      `Mutex file:${dir}/run default`,
      `LoadModule mpm_event_module ${mods}/mod_mpm_event.so`,
      `LoadModule authz_core_module ${mods}/mod_authz_core.so`,
      // Basic auth of preview and mirror sites, and Retry-After on the maintenance page.
      `LoadModule authn_core_module ${mods}/mod_authn_core.so`,
      `LoadModule authn_file_module ${mods}/mod_authn_file.so`,
      `LoadModule auth_basic_module ${mods}/mod_auth_basic.so`,
      `LoadModule authz_user_module ${mods}/mod_authz_user.so`,
      `LoadModule headers_module ${mods}/mod_headers.so`,
      `LoadModule rewrite_module ${mods}/mod_rewrite.so`,
      `LoadModule wsgi_module ${mods}/mod_wsgi.so`,
      'ThreadsPerChild 25',
      'MaxRequestWorkers 150',
      `WSGISocketPrefix ${dir}/run/wsgi`,
      'WSGIRestrictEmbedded On',
      'KeepAlive On',
      `IncludeOptional ${confDir}/*.conf`,
      ''
    ].join('\n')
  )
  const ctl = join(dir, 'apachectl')
  await writeFile(
    ctl,
    `#!/bin/sh
# apachectl for the test Apache in ${dir}
case "$1" in
  configtest) exec /usr/sbin/apache2 -f ${conf} -t ;;
  graceful|restart|start|stop) exec /usr/sbin/apache2 -f ${conf} -k "$1" ;;
  *) echo "usage: $0 configtest|graceful|restart|start|stop" >&2; exit 2 ;;
esac
`
  )
  await chmod(ctl, 0o755)
  const modCheck = await readFile(`${mods}/mod_wsgi.so`).then(
    () => true,
    () => false
  )
  if (!modCheck)
    throw new Error('mod_wsgi is not installed: apt-get install libapache2-mod-wsgi-py3')
  await run(ctl, ['start'])
  // apachectl start returns before Apache listens: poll its pid file and port.
  const deadline = Date.now() + 15000
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${basePort}/`).then(
      () => true,
      () => false
    )
    if (ok) break
    if (Date.now() > deadline)
      throw new Error(
        `the private Apache did not start: ${await readFile(`${dir}/error.log`, 'utf8').catch(() => '')}`
      )
    await new Promise(r => setTimeout(r, 100))
  }
  return {
    dir,
    ctl: [ctl],
    confDir,
    errorLog: join(dir, 'error.log'),
    async logTail() {
      const t = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')
      return t.split('\n').slice(-30).join('\n')
    },
    async stop() {
      const pid = Number((await readFile(`${dir}/run/apache2.pid`, 'utf8').catch(() => '0')).trim())
      await run(ctl, ['stop']).catch(() => undefined)
      if (pid) {
        const deadline = Date.now() + 10000
        while (Date.now() < deadline) {
          try {
            process.kill(pid, 0)
          } catch {
            break
          }
          await new Promise(r => setTimeout(r, 100))
        }
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}
