/**
 * A private Apache (real apache2 + mod_wsgi + mod_rewrite, with basic auth and mod_headers) for
 * the demo, the benchmarks and the integration tests: its own config, run dir and logs in a
 * folder, sites included from `<dir>/sites`, driven through a small apachectl wrapper so
 * sitecycle runs `configtest` and `graceful` exactly as on a server. It leaves the system's Apache alone.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../util/free-port.js'

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

export { freePort }

/** The processes of the Apache run with config file `conf` (its parent and children), from /proc. */
async function processesOf(conf: string): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue
    const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (argv[0]?.endsWith('apache2') && argv.includes(conf)) pids.push(Number(name))
  }
  return pids
}

/** Start Apache with `ctl` and wait until it answers on `port` (apachectl start returns before). */
async function started(ctl: string, dir: string, port: number): Promise<void> {
  await run(ctl, ['start'])
  const deadline = Date.now() + 15000
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false
    )
    if (ok) return
    if (Date.now() > deadline)
      throw new Error(
        `the private Apache did not start: ${await readFile(`${dir}/error.log`, 'utf8').catch(() => '')}`
      )
    await new Promise(r => setTimeout(r, 100))
  }
}

/** What the private Apache listens on. */
export interface PrivateApacheOptions {
  /**
   * The ports the user gave (on 127.0.0.1), and no other. A site's vhost declares its own
   * `Listen` except on 80 and 443 (which a Debian Apache's ports.conf declares): those two are
   * declared here. Empty: nothing listens until a vhost declares its port. Absent (the tests'
   * Apache): a free port of its own besides, started at once.
   */
  ports?: number[]
}

/** The combined access-log format (Debian's apache2.conf defines it; a vhost's CustomLog names it). */
export const COMBINED_LOG_FORMAT =
  'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined'

/**
 * Write a private Apache in `dir` (a new temp dir when omitted), listening only on the ports of
 * `options`. Started now when it has a port of its own to listen on; else the first
 * `apachectl graceful` (init's reload, after it wrote a vhost with its `Listen`) starts it.
 */
export async function startApache(
  dir?: string,
  options: PrivateApacheOptions = {}
): Promise<PrivateApache> {
  dir = dir ?? (await mkdtemp(join(tmpdir(), 'sitecycle-apache-')))
  await mkdir(dir, { recursive: true })
  await chmod(dir, 0o755)
  const confDir = join(dir, 'sites')
  await mkdir(confDir)
  await mkdir(join(dir, 'run'))
  const ownPorts = options.ports
    ? options.ports.filter(p => p === 80 || p === 443)
    : [await freePort()]
  const conf = join(dir, 'apache2.conf')
  const mods = '/usr/lib/apache2/modules'
  await writeFile(
    conf,
    [
      'ServerRoot /etc/apache2',
      ...ownPorts.map(p => `Listen 127.0.0.1:${p}`),
      `PidFile ${dir}/run/apache2.pid`,
      `ErrorLog ${dir}/error.log`,
      'LogLevel warn',
      COMBINED_LOG_FORMAT,
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
  if (ownPorts.length) await started(ctl, dir, ownPorts[0])
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
      // An Apache that `stop` did not end (its pid file gone or stale): never left running.
      const left = await processesOf(conf)
      if (left.length) {
        process.stderr.write(
          `private Apache in ${dir}: still running after apachectl stop (pid file said ${pid || 'nothing'}); killing ${left.join(', ')}\n`
        )
        for (const p of left)
          try {
            process.kill(p, 'SIGKILL')
          } catch {
            // Gone meanwhile.
          }
      }
      await rm(dir, { recursive: true, force: true })
    }
  }
}
