/**
 * `sitecycle init`: prepare a site root on its host (the layout of shared/DESIGN.md) and write
 * its Apache vhost, tested with `apachectl configtest` before it is enabled. Never replaces a
 * vhost it did not write. Safe to run again: it keeps releases, slots and live.map.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { apacheConfigTest, apacheGraceful, renderVhost, vhostMarker } from '../commands/apache.js'
import { posix } from 'node:path'
import {
  changeMode,
  changeOwner,
  makeDirs,
  makeLink,
  pathExists,
  removeFile
} from '../commands/files.js'
import * as py from '../commands/python.js'
import { LIST_GROUP } from '../commands/host-scripts.js'
import type { Executor } from '../hosts/executor.js'
import {
  readAccessCredentials,
  removePasswordFile,
  writePasswordFile,
  type AccessCredentials
} from '../sites/access.js'
import { prepareMaintenance } from '../sites/maintenance.js'
import { EMPTY_RELEASE, SLOTS, siteLayout, vhostFileName } from '../sites/layout.js'
import { writeWsgiScript } from '../sites/wsgi-scripts.js'
import {
  ensureSiteDatabase,
  removeSiteDatabase,
  type SiteDatabaseOutcome
} from '../databases/site-database.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { failureCause } from './outcome.js'
import { runPipeline, PipelineError, type Step, type StepReport } from './pipeline.js'

/**
 * When init reloads Apache after writing the vhost: `always` (the default of this function),
 * `never`, or `when-alone`, the CLI's default: only when no other WSGI site is served by the same
 * Apache. A graceful restarts every daemon group on it and cuts requests in flight: measured with
 * 16 workers on one site while another was initialized, 16 of 5,008 requests failed
 * (init-shared-apache.test.ts). Without the reload, Apache serves the new site after its next one.
 */
export type InitReload = 'always' | 'never' | 'when-alone'

export interface InitRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** Reload Apache after enabling the vhost (default `always`). */
  reload?: InitReload
  /** Where the basic-auth password variable is read (default process.env). */
  env?: NodeJS.ProcessEnv
}

interface InitContext extends InitRequest {
  python: string
  vhostPath: string
  linkPath?: string
  previousVhost?: string
  previousLink: boolean
  /** The site's basic-auth credentials, when it is protected. */
  access?: AccessCredentials
  /** The other WSGI sites of this Apache, when the reload was left out for them. */
  notReloadedFor?: string[]
  /** What the server-database step did (its undo drops only what it created). */
  database?: SiteDatabaseOutcome
}

/** What init did: whether Apache was reloaded, and if not, for which other sites. */
export interface InitOutcome {
  steps: StepReport[]
  reloaded: boolean
  /** The other WSGI sites on this Apache that a reload would have interrupted (when-alone). */
  otherSites: string[]
}

/**
 * The other WSGI daemon-mode sites served by the Apache of `site`: the `.conf` files of the
 * folder Apache includes (enable_dir, else conf_dir) other than this site's, that declare a
 * WSGIDaemonProcess. Named as sitecycle's header names them (`site NAME at ROOT`), else by file.
 */
export async function otherWsgiSites(exec: Executor, site: SiteConfig): Promise<string[]> {
  const dir = site.apache.enableDir ?? site.apache.confDir
  const r = await exec.tryRun({
    argv: [
      'find',
      dir,
      '-maxdepth',
      '1',
      '-name',
      '*.conf',
      '!',
      '-name',
      vhostFileName(site),
      '-exec',
      'grep',
      '-l',
      '-s',
      '-e',
      'WSGIDaemonProcess',
      '{}',
      '+'
    ]
  })
  const files = r.stdout.split('\n').filter(Boolean).sort()
  const names: string[] = []
  for (const f of files) {
    const head = (await exec.readFile(f))?.split('\n', 1)[0] ?? ''
    const m = /^# Managed by sitecycle for site (\S+) at (\S+)\./.exec(head)
    names.push(m ? `site ${m[1]} at ${m[2]}` : f)
  }
  return names
}

function initSteps(): Step<InitContext>[] {
  return [
    {
      name: 'check-vhost',
      title: 'refuse to replace an Apache vhost sitecycle did not write',
      run: async c => {
        c.previousVhost = await c.exec.readFile(c.vhostPath)
        if (c.previousVhost !== undefined && !c.previousVhost.startsWith(vhostMarker(c.site)))
          throw new SitecycleError(
            `${c.vhostPath} on ${c.exec.name} exists and was not written by sitecycle for site ${c.site.name} at ${c.site.root}: ` +
              `sitecycle never overwrites it; move it away or set sites.${c.site.name}.apache.conf_dir`,
            'site'
          )
        if (c.linkPath)
          c.previousLink = (await c.exec.tryRun({ argv: ['test', '-L', c.linkPath] })).code === 0
        return c.previousVhost === undefined ? 'new vhost' : 'updating the vhost sitecycle wrote'
      }
    },
    {
      name: 'make-dirs',
      title:
        'create the site layout (releases, slots, wsgi, shared, snapshots, maintenance, .sitecycle)',
      run: async c => {
        const l = siteLayout(c.site.root)
        await c.exec.run(
          makeDirs([
            l.releases,
            l.slots,
            l.wsgiDir,
            l.shared,
            `${l.shared}/logs`,
            l.snapshots,
            l.maintenance,
            l.state,
            ...SLOTS.map(s => l.slotRunDir(s)),
            `${c.site.root}/run/current`
          ])
        )
        await c.exec.run({ argv: ['chmod', '755', c.site.root] })
        await c.exec.run({ argv: ['chmod', '700', l.state] })
      }
    },
    {
      name: 'password-file',
      title: 'write the basic-auth password file (a bcrypt hash; the password goes through stdin)',
      when: c => c.access !== undefined,
      run: async c => {
        const path = await writePasswordFile(c.exec, c.site, c.access!, c.python)
        return `${path} for user ${c.access!.user} (from ${c.access!.passwordEnv})`
      }
    },
    {
      name: 'maintenance-page',
      title:
        'write the default maintenance page and its Retry-After (used only while the site is frozen)',
      run: async c => {
        const written = await prepareMaintenance(c.exec, c.site)
        return written.length ? `wrote ${written.join(', ')}` : 'kept'
      }
    },
    {
      name: 'placeholder',
      title: 'create the empty virtualenv the slots use until the first deploy',
      run: async c => {
        const l = siteLayout(c.site.root)
        const empty = l.release(EMPTY_RELEASE)
        if ((await c.exec.tryRun({ argv: ['test', '-x', `${empty}/bin/python`] })).code !== 0)
          await c.exec.run(py.createVenv(c.python, empty))
        for (const s of SLOTS)
          if ((await c.exec.tryRun({ argv: ['test', '-L', l.slot(s)] })).code !== 0)
            await c.exec.run(makeLink(`../releases/${EMPTY_RELEASE}`, l.slot(s)))
        if ((await c.exec.tryRun({ argv: ['test', '-L', l.current] })).code !== 0)
          await c.exec.run(makeLink(`releases/${EMPTY_RELEASE}`, l.current))
      }
    },
    {
      name: 'wsgi-scripts',
      title: 'write one WSGI script per slot, outside the releases',
      run: async c => {
        const l = siteLayout(c.site.root)
        const changed: string[] = []
        for (const s of [...SLOTS, 'current' as const])
          if (await writeWsgiScript(c.exec, c.config, c.site, s)) changed.push(`${s}.wsgi`)
        if ((await c.exec.readFile(l.liveMap)) === undefined)
          await c.exec.writeFile(l.liveMap, 'live blue\n', 0o644)
        await c.exec.tryRun(
          changeOwner(`${c.site.apache.user}:${c.site.apache.group}`, `${c.site.root}/shared/logs`)
        )
        return changed.length ? `wrote ${changed.join(', ')}` : 'unchanged'
      }
    },
    {
      name: 'sqlite-database',
      title:
        "create the SQLite database's folder and an empty database, writable by the Apache user (never replaces one)",
      when: c => c.site.database?.engine === 'sqlite',
      run: async c => {
        const file = c.site.database!.name
        const dir = posix.dirname(file)
        const owner = `${c.site.apache.user}:${c.site.apache.group}`
        const made: string[] = []
        // SQLite writes its journal beside the file: the folder must be the app's too, but only
        // a folder init makes is given to it (never /var/lib or another shared one).
        if ((await c.exec.tryRun(pathExists(dir))).code !== 0) {
          await c.exec.run(makeDirs([dir], '770'))
          made.push(dir)
        }
        if ((await c.exec.tryRun(pathExists(file))).code !== 0) {
          // An empty file is an empty SQLite database.
          await c.exec.writeFile(file, '', 0o660)
          made.push(file)
        }
        if (!made.length) return `${file} exists: left as it is`
        const r = await c.exec.tryRun(changeOwner(owner, ...made))
        if (r.code !== 0)
          c.reporter.warn(
            `could not give ${made.join(' and ')} to ${owner} (${r.stderr.trim() || `exit code ${r.code}`}): ` +
              `the application cannot write its database until \`chown ${owner} ${made.join(' ')}\` is run as root`
          )
        return `created ${made.join(' and ')} for ${owner}`
      }
    },
    {
      name: 'shared',
      title:
        "create the site's shared folders and files (shared:) for the Apache user (never replaces one)",
      when: c => (c.site.shared ?? []).length > 0,
      run: createSharedEntries
    },
    {
      name: 'server-database',
      title:
        'create the PostgreSQL or MariaDB database and its owner with the admin login of the config (never replaces one); without one, say what to create',
      when: c => c.site.database !== undefined && c.site.database.engine !== 'sqlite',
      run: async c => {
        const db = c.site.database!
        c.database = await ensureSiteDatabase(c.exec, db, c.reporter, c.env ?? process.env)
        if (c.database.status === 'not-created')
          c.reporter.warn(`site ${c.site.name}: ${c.database.message}`)
        return c.database.status === 'not-created'
          ? `not created: no sites.${c.site.name}.database.admin`
          : c.database.message
      },
      undo: async c => {
        if (c.database)
          await removeSiteDatabase(c.exec, c.site.database!, c.database, c.env ?? process.env)
      }
    },
    {
      name: 'site-file',
      title: 'record the site in .sitecycle/site.json',
      run: async c => {
        const l = siteLayout(c.site.root)
        const record = {
          site: c.site.name,
          root: c.site.root,
          mode: c.site.apache.mode,
          vhost: c.vhostPath,
          initializedAt: new Date().toISOString()
        }
        if ((await c.exec.readFile(l.siteFile)) === undefined)
          await c.exec.writeFile(l.siteFile, JSON.stringify(record, null, 2) + '\n', 0o644)
      }
    },
    {
      name: 'write-vhost',
      title: 'write the Apache vhost (blue/green: two daemon groups, routed by live.map)',
      run: async c => {
        await c.exec.run(makeDirs([c.site.apache.confDir]))
        await c.exec.writeFile(c.vhostPath, renderVhost(c.site), 0o644)
        if (c.linkPath) await c.exec.run(makeLink(c.vhostPath, c.linkPath))
        return c.vhostPath
      },
      undo: async c => {
        if (c.linkPath && !c.previousLink) await c.exec.run(removeFile(c.linkPath))
        if (c.previousVhost === undefined) await c.exec.run(removeFile(c.vhostPath))
        else await c.exec.writeFile(c.vhostPath, c.previousVhost, 0o644)
      }
    },
    {
      name: 'configtest',
      title: 'apachectl configtest',
      run: async c => {
        const r = await c.exec.tryRun(apacheConfigTest(c.site))
        if (r.code !== 0) {
          const out = (r.stderr || r.stdout).trim()
          const hint = /Invalid command '(Header|Auth\w+|Rewrite\w+|WSGI\w+)'/.test(out)
            ? ' (the vhost needs these Apache modules; Debian: a2enmod rewrite wsgi headers auth_basic authn_file authz_user)'
            : ''
          throw new SitecycleError(
            `apachectl configtest fails with the new vhost: ${out}${hint}`,
            'apache'
          )
        }
      }
    },
    {
      name: 'reload',
      title:
        'apachectl graceful, then wait for the daemon groups to start (when-alone: only if no other WSGI site shares this Apache)',
      when: c => c.reload !== 'never',
      run: async c => {
        if (c.reload === 'when-alone') {
          const others = await otherWsgiSites(c.exec, c.site)
          if (others.length) {
            c.notReloadedFor = others
            return `left out: a graceful would cut requests in flight of ${others.join(', ')}`
          }
        }
        await c.exec.run(apacheGraceful(c.site))
        const l = siteLayout(c.site.root)
        const dirs =
          c.site.apache.mode === 'blue-green'
            ? SLOTS.map(s => l.slotRunDir(s))
            : [`${c.site.root}/run/current`]
        const deadline = Date.now() + 30_000
        for (const d of dirs) {
          for (;;) {
            const r = await c.exec.run(py.hostScript(c.python, LIST_GROUP, [d]))
            if (r.stdout.trim()) break
            if (Date.now() > deadline)
              throw new SitecycleError(
                `Apache did not start the daemon processes of ${d} within 30s: see ${c.site.root}/shared/logs/error.log`,
                'apache'
              )
            await new Promise(res => setTimeout(res, 100))
          }
        }
        return c.reload === 'when-alone' ? 'no other WSGI site shares this Apache' : undefined
      }
    },
    {
      name: 'remove-password-file',
      title: 'remove the password file of a site no longer protected (after the reload)',
      // Without the reload Apache still runs the old vhost, which may read the file.
      when: c => c.access === undefined && c.reload !== 'never' && !c.notReloadedFor,
      run: async c => {
        await removePasswordFile(c.exec, c.site)
      }
    }
  ]
}

/**
 * Each shared entry that does not exist yet: a folder (and the folders above it under shared/)
 * or an empty file, with its mode, given to the Apache user and group. One that exists is left
 * as it is (its content, owner and mode are the application's). A chown that fails warns with
 * the command to run as root, as for the SQLite database.
 */
async function createSharedEntries(c: InitContext): Promise<string> {
  const owner = `${c.site.apache.user}:${c.site.apache.group}`
  const shared = siteLayout(c.site.root).shared
  const made: string[] = []
  const kept: string[] = []
  for (const e of c.site.shared ?? []) {
    if ((await c.exec.tryRun(pathExists(e.absolute))).code === 0) {
      kept.push(e.path)
      continue
    }
    const parent = posix.dirname(e.absolute)
    if (parent !== shared) await c.exec.run(makeDirs([parent]))
    const mode = e.mode.toString(8).padStart(4, '0')
    if (e.kind === 'folder') await c.exec.run(makeDirs([e.absolute], mode))
    else await c.exec.writeFile(e.absolute, '', e.mode)
    // mkdir -m and the umask of a writeFile may leave bits out: the mode is set as asked.
    await c.exec.run(changeMode(mode, e.absolute))
    made.push(e.absolute)
  }
  if (made.length) {
    const r = await c.exec.tryRun(changeOwner(owner, ...made))
    if (r.code !== 0)
      c.reporter.warn(
        `could not give ${made.join(', ')} to ${owner} (${r.stderr.trim() || `exit code ${r.code}`}): ` +
          `the application cannot write there until \`chown ${owner} ${made.join(' ')}\` is run as root`
      )
  }
  const parts = [
    made.length
      ? `created ${made.map(m => m.slice(shared.length + 1)).join(', ')} for ${owner}`
      : '',
    kept.length ? `kept ${kept.join(', ')}` : ''
  ]
  return parts.filter(Boolean).join('; ')
}

export async function initSite(req: InitRequest): Promise<StepReport[]> {
  return (await initSiteOutcome(req)).steps
}

/** initSite, saying whether Apache was reloaded and which other sites kept it from it. */
export async function initSiteOutcome(req: InitRequest): Promise<InitOutcome> {
  // Before anything on the host is touched: a protected site needs its password variable.
  const access = readAccessCredentials(req.site, req.env ?? process.env)
  if (access) req.reporter.addSecret(access.password)
  const a = req.site.apache
  const file = vhostFileName(req.site)
  const ctx: InitContext = {
    ...req,
    python: req.config.app.python,
    vhostPath: `${a.confDir}/${file}`,
    linkPath: a.enableDir ? `${a.enableDir}/${file}` : undefined,
    previousLink: false,
    access
  }
  try {
    const steps = await runPipeline(initSteps(), ctx, req.reporter)
    const otherSites = ctx.notReloadedFor ?? []
    return { steps, reloaded: ctx.reload !== 'never' && !otherSites.length, otherSites }
  } catch (e) {
    if (e instanceof PipelineError) {
      const cause = e.cause
      if (cause instanceof SitecycleError) throw cause
      throw new SitecycleError(
        `init of site ${req.site.name} failed at step '${e.failedStep}': ${failureCause(e)}`,
        'init'
      )
    }
    throw e
  }
}
