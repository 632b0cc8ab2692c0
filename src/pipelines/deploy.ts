/**
 * The deploy pipeline: a release file (checked against its manifest) installed into a fresh
 * virtualenv beside the live one, configured, started in the idle slot, verified there before
 * any user reaches it, switched in with one rename, verified again as users see it, and undone
 * in reverse on any failure so the previous release serves again. The release comes from a
 * local path or, by version, from a store (fetched and checked before the host is touched);
 * a release with a wheelhouse is installed offline from it with --require-hashes.
 *
 * The idle slot's daemons are restarted as soon as the new virtualenv exists (restart-idle),
 * not after the install: Apache's parent respawns a mod_wsgi daemon only on its once-a-second
 * maintenance tick, and that wait now passes while pip installs. The new daemons load the
 * application as soon as release.json is written (complete-release, after the config and the
 * hooks), so nothing is imported from a release before it is complete.
 *
 * A site whose hooks migrate its database sets `hooks.freeze`: the deploy then freezes the site
 * (maintenance page, 503 to users) just before the hooks and dumps the database, so that a failed
 * deploy restores that dump before users come back: no user wrote anything since it was taken.
 * The freeze restarts the live daemon group, so requests admitted before it finish before the
 * dump; the restore runs with the site held and its daemon groups restarted around it
 * (frozen-deploy.ts restoreWhileHeld), so no request runs on a connection the restore ends.
 * Without `hooks.freeze` a failed deploy's rollback is code-only, and its outcome says so.
 */
import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { HostSpec, SitecycleConfig, SiteConfig, StoreConfig } from '../config/model.js'
import {
  apacheConfigTest,
  renderVhost,
  renderWsgiScript,
  vhostServesStatic
} from '../commands/apache.js'
import { changeMode, makeDirs, removeTree } from '../commands/files.js'
import * as py from '../commands/python.js'
import { makeRunTempDir } from '../util/run-temp-dir.js'
import { HOST_FACTS, RECORD_DIGESTS } from '../commands/host-scripts.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import { checkArchive } from '../releases/archive-check.js'
import { resolveRelease, type ResolvedRelease } from '../releases/resolve-release.js'
import { compareVersions, satisfiesRequiresPython } from '../releases/version.js'
import { createStore, type StoreDeps } from '../stores/registry.js'
import type { DatabaseConfig } from '../databases/engine.js'
import { getEngine } from '../databases/registry.js'
import { freeze, frozenState, unfreeze } from '../sites/maintenance.js'
import { EMPTY_RELEASE, siteLayout, vhostFileName, type Slot } from '../sites/layout.js'
import {
  describeProbe,
  listReleases,
  pointSlot,
  probeHealth,
  readSiteState,
  requireInitialized,
  type InstalledRelease,
  restartSlotGroup,
  signalSlotGroup,
  awaitSlotGroup,
  switchLiveSlot,
  type SiteState
} from '../sites/site-state.js'
import { describeHookCount, runAfterInstallHooks } from '../sites/hooks.js'
import { renderConfigFile, type RenderedConfig } from '../sites/render-config.js'
import { ENV_FILE, envFileText, renderAppEnv, type RenderedEnv } from '../config/app-env.js'
import { writeIfChanged, writeWsgiScript } from '../sites/wsgi-scripts.js'
import { linkSharedEntries } from '../sites/shared-links.js'
import { checkBadMark, findInstalled, removeBadMark } from '../sites/bad-mark.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  withSiteOperation,
  OperationFailed,
  type OperationContext,
  type OperationOutcome
} from './operation.js'
import { drainLiveGroup, preDeployDumpPath, restoreWhileHeld } from './frozen-deploy.js'
import { PipelineError, runPipeline, describePlan, type Step } from './pipeline.js'
import { pruneReleases } from './prune.js'
import { checkDatabaseSecret } from './restore.js'

export interface DeployRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** A release file, a release directory, or a directory of releases. Defaults to the site's `releases`. */
  release?: string
  /** The version to take from a directory of releases or a store (newest when omitted). */
  version?: string
  /**
   * The store to take the release from (`--store PATH` is a local directory store). Without
   * `release`, a store is used when given here, or when the site has one (`sites.<n>.store`) and
   * a version is asked or the site has no `releases` folder.
   */
  store?: StoreConfig
  /** What the store needs; by default the site's executor for its host, new ones for other hosts. */
  storeDeps?: StoreDeps
  lockWait?: number
  env?: NodeJS.ProcessEnv
  /** Deploy the version even when it is installed and marked bad (warns; the mark is removed
   * once the deploy succeeded). Without it such a deploy is refused before anything changes. */
  allowBad?: boolean
  /**
   * Only the first stage of a staged deploy (deploy-stages.ts): the steps up to verify-idle;
   * then the lock is handed to the run named here, with the journal's run left open for the
   * switch stage.
   */
  prepareOnly?: { run: string; attempt: string; until: string }
}

/** What the steps of a deploy share (exported for the stages of deploy-stages.ts). */
export interface DeployContext extends OperationContext {
  release: ResolvedRelease
  rendered?: RenderedConfig
  /** The application's environment (sites.<n>.env), rendered with its secrets. */
  appEnv?: RenderedEnv
  indexUrl?: string
  state: SiteState
  /** Where the release file is on the host. */
  upload: string
  wheelOnHost?: string
  /** True when this run created releases/<version> (so its undo may remove it). */
  createdRelease: boolean
  /** The same release (same sha256) was installed already: it is used as it is. */
  reusedRelease?: boolean
  /** The idle slot's WSGI script as it was before this deploy rewrote it (set only when it did):
   * put back by the undo, so the warm release it returns to runs with the entry point it had. */
  idleScriptBefore?: string
  /** The PIDs of the idle slot's daemons that restart-idle signalled (await-idle waits for new ones). */
  idleSignalled?: string
  idleBefore: string | null
  switched: boolean
  notes: string[]
  /** The release directories as they were when the lock was taken (read once, beside the state). */
  releases: InstalledRelease[]
  /** pip's `__pip-runner__.py` on the host (from preflight): pip runs in the new virtualenv's
   * interpreter directly. */
  pipRunner?: string
  /** hooks.freeze: the site was frozen before this deploy froze it (then it stays frozen). */
  frozenBefore: boolean
  /** hooks.freeze: the dump of the database taken after the freeze, once taken. */
  dbSnapshot?: string
  /** hooks.freeze: the database was put back from dbSnapshot by an undo. */
  dbRestored: boolean
  /** hooks.freeze: putting the database back failed (the site then stays frozen). */
  dbRestoreFailed: boolean
}

/** Which optional steps deploySteps() lists. */
export interface DeployStepOptions {
  /**
   * Include the steps of `hooks.freeze` (freeze, snapshot-db, unfreeze, remove-db-snapshot);
   * they still run only for a site that freezes (freezesAroundHooks). Default false.
   */
  freeze?: boolean
}

/** What a failed deploy without `hooks.freeze` says about its database, after its hooks ran. */
export const CODE_ONLY_ROLLBACK =
  'code-only rollback: the database was not restored (the site was not frozen before its hooks)'

/**
 * Whether a deploy of `site` freezes it around its hooks: `hooks.freeze` is on, there are hooks
 * to run and a database to protect (the loader refuses freeze without a database).
 */
export function freezesAroundHooks(site: SiteConfig): boolean {
  return (
    site.hooks.freeze === true && site.hooks.afterInstall.length > 0 && site.database !== undefined
  )
}

/** Everything checked before the host is touched: the release and the rendered config. */
export interface PreparedDeploy {
  release: ResolvedRelease
  rendered?: RenderedConfig
  /** The application's environment (sites.<n>.env), rendered with its secrets. */
  appEnv?: RenderedEnv
  /** The index URL to install dependencies from (sites.<n>.pip.index_url_env), a secret. */
  indexUrl?: string
  /** Remove what prepareDeploy fetched from a store (the release's files); call it when done. */
  cleanup(): Promise<void>
}

/** The store a request takes its release from, or undefined for a local path. */
function chooseStore(req: DeployRequest): StoreConfig | undefined {
  if (req.release !== undefined) return undefined
  if (req.store) return req.store
  if (req.site.store && (req.version !== undefined || !req.site.releases)) return req.site.store
  return undefined
}

function sameHost(a: HostSpec, b: HostSpec): boolean {
  if (a.kind === 'local' || b.kind === 'local') return a.kind === b.kind
  return a.user === b.user && a.hostname === b.hostname && a.port === b.port
}

/**
 * Fetch the asked version (the newest when none is asked) from a store into a new folder under
 * the system temp dir; every file is checked against its manifest there. Returns the release
 * folder and how to remove it.
 */
async function fetchFromStore(
  req: DeployRequest,
  storeConfig: StoreConfig
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const opened: Executor[] = []
  const deps: StoreDeps = req.storeDeps ?? {
    executorFor: host => {
      if (sameHost(host, req.site.host)) return req.exec
      const e = createExecutor(host, req.config.ssh)
      opened.push(e)
      return e
    },
    env: req.env ?? process.env
  }
  // A folder a killed run left is removed by the next one (run-temp-dir.ts).
  const tmp = await makeRunTempDir(tmpdir(), 'sitecycle-fetch-')
  const cleanup = () => rm(tmp, { recursive: true, force: true })
  try {
    const store = createStore(storeConfig, deps)
    let version = req.version
    if (version === undefined) {
      const versions = await store.listVersions()
      version = versions[versions.length - 1]
      if (version === undefined)
        throw new SitecycleError(`no release to deploy: ${store.label} holds none`, 'release')
    }
    req.reporter.info(`fetching ${req.config.app.package} ${version} from ${store.label}`)
    const fetched = await store.fetch(version, tmp, req.reporter)
    if (compareVersions(fetched.version, version) !== 0)
      throw new SitecycleError(
        `${store.label} gave version ${fetched.version} when ${version} was asked`,
        'release'
      )
    return { dir: dirname(fetched.manifestPath), cleanup }
  } catch (e) {
    await cleanup()
    throw e
  } finally {
    for (const e of opened) await e.close().catch(() => undefined)
  }
}

/** Check the release (manifest, checksum, archive paths, version, package) and render the
 * config in memory (every secret present). Touches no site (a store may be read). */
export async function prepareDeploy(req: DeployRequest): Promise<PreparedDeploy> {
  const storeConfig = chooseStore(req)
  let cleanup = async (): Promise<void> => {}
  let path = req.release ?? req.site.releases
  if (storeConfig) {
    const fetched = await fetchFromStore(req, storeConfig)
    path = fetched.dir
    cleanup = fetched.cleanup
  }
  if (!path)
    throw new SitecycleError(
      `no release given for site ${req.site.name}: pass a release file or directory (--release PATH) or a store (--store PATH), or set sites.${req.site.name}.releases or sites.${req.site.name}.store in ${req.config.file}`,
      'input'
    )
  try {
    return { ...(await checkRelease(req, path)), cleanup }
  } catch (e) {
    await cleanup()
    throw e
  }
}

async function checkRelease(
  req: DeployRequest,
  path: string
): Promise<Omit<PreparedDeploy, 'cleanup'>> {
  const release = await resolveRelease({
    path,
    version: req.version,
    packageName: req.config.app.package
  })
  await checkArchive(release.file)
  if (release.wheelhouse && release.kind !== 'wheel')
    throw new SitecycleError(
      `${release.file} is an sdist, but release ${release.version} has a wheelhouse pinned to its wheel: deploy the release folder (or its wheel)`,
      'release'
    )
  let rendered: RenderedConfig | undefined
  if (req.site.config) {
    rendered = await renderConfigFile(
      req.site.config.template,
      dirname(req.config.file),
      {
        site: { name: req.site.name, root: req.site.root, url: req.site.url },
        release: {
          version: release.version,
          dir: siteLayout(req.site.root).release(release.version)
        }
      },
      req.env ?? process.env
    )
    for (const s of rendered.secrets) req.reporter.addSecret(s)
  }
  let appEnv: RenderedEnv | undefined
  if (req.site.env) {
    appEnv = renderAppEnv(req.site.env, req.site, req.config.file, req.env ?? process.env)
    for (const s of appEnv.secrets) req.reporter.addSecret(s)
  }
  // A frozen deploy dumps and may restore the database: a missing password fails here, before the host is touched.
  if (freezesAroundHooks(req.site)) checkDatabaseSecret(req.site, req.reporter, req.env)
  let indexUrl: string | undefined
  if (req.site.pip && !release.wheelhouse) {
    const name = req.site.pip.indexUrlEnv
    indexUrl = (req.env ?? process.env)[name]
    if (!indexUrl)
      throw new SitecycleError(
        `sites.${req.site.name}.pip.index_url_env names ${name}, which is not set; set it in the environment of the deploy (in a workflow: env: ${name}: \${{ secrets.${name} }})`,
        'config'
      )
    req.reporter.addSecret(indexUrl)
  }
  return {
    release,
    rendered,
    ...(appEnv && { appEnv }),
    ...(indexUrl !== undefined && { indexUrl })
  }
}

/**
 * The steps of a deploy, in order. With `freeze` (a site with `hooks.freeze`): freeze and
 * snapshot-db before the hooks, unfreeze after verify-live, remove-db-snapshot at the end.
 */
export function deploySteps(options: DeployStepOptions = {}): Step<DeployContext>[] {
  const withFreeze = <T>(steps: T[]): T[] => (options.freeze ? steps : [])
  return [
    {
      name: 'preflight',
      title:
        'check the host: site initialized, Python version, pip, free space, apachectl configtest',
      run: preflight
    },
    {
      name: 'upload',
      title: 'copy the release file to the host',
      run: async c => {
        const dir = `${siteLayout(c.site.root).incoming}/${c.opId}`
        await c.exec.run(makeDirs([dir], '700'))
        await c.exec.put(c.release.file, c.upload, 0o644)
        return `${basename(c.release.file)} (${c.release.size} bytes)`
      },
      undo: async c => {
        await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`))
      }
    },
    {
      name: 'create-venv',
      title: 'create a fresh virtualenv for the release under releases/',
      run: createReleaseVenv,
      undo: async c => {
        if (c.createdRelease)
          await c.exec.run(removeTree(siteLayout(c.site.root).release(c.release.version)))
      }
    },
    {
      name: 'restart-idle',
      title:
        'point the idle slot at the new release and send SIGINT to its daemon group: Apache respawns it while pip installs',
      when: c => c.site.apache.mode === 'blue-green' && !c.reusedRelease,
      run: async c => {
        // A site initialized by an older sitecycle may have a script that cannot wait for its
        // release: the idle one is rewritten now, before its daemons restart (the live one is
        // left alone: a changed script restarts its group).
        const rewrote = await rewriteIdleScript(c)
        c.idleSignalled = await signalSlotGroup(
          c.exec,
          c.site,
          c.python,
          c.state.idleSlot,
          c.release.version
        )
        return `slot ${c.state.idleSlot}, pids ${c.idleSignalled} signalled${rewrote ? `; rewrote ${c.state.idleSlot}.wsgi` : ''}`
      },
      undo: restoreIdleSlot
    },
    {
      name: 'install',
      title: 'install the release into its virtualenv with pip, offline',
      when: c => !c.reusedRelease,
      run: installRelease
    },
    {
      name: 'link-shared',
      title: "link the site's shared entries into the release (shared[].link)",
      when: c => (c.site.shared ?? []).some(e => e.link !== undefined),
      run: async c => {
        const dir = siteLayout(c.site.root).release(c.release.version)
        const linked = await linkSharedEntries(c.exec, c.site, dir)
        return linked.length ? linked.join(', ') : 'already linked'
      }
    },
    {
      name: 'render-config',
      title:
        "write the rendered config file and the application's environment (env.json) into the release",
      when: c => c.rendered !== undefined || c.appEnv !== undefined || c.reusedRelease === true,
      run: writeReleaseConfig
    },
    ...withFreeze(freezeSteps()),
    {
      name: 'hooks',
      title: "run the site's after_install hooks in the new virtualenv",
      when: c => c.site.hooks.afterInstall.length > 0,
      run: runHooks
    },
    {
      name: 'complete-release',
      title: 'write release.json: the release is installed, configured and its hooks have run',
      when: c => !c.reusedRelease,
      run: completeRelease
    },
    {
      name: 'await-idle',
      title:
        "wait for the idle slot's new daemons (restarted during the install); a reused release's are restarted now",
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        const slot = c.state.idleSlot
        let pids: string
        let rewrote = false
        if (c.reusedRelease) {
          // A release installed before (same content): nothing to hide the restart behind. Its
          // script is brought up to date first (a changed app.wsgi), as restart-idle does.
          rewrote = await rewriteIdleScript(c)
          await pointSlot(c.exec, c.site, c.python, slot, c.release.version)
          pids = await restartSlotGroup(c.exec, c.site, c.python, slot)
        } else {
          pids = await awaitSlotGroup(c.exec, c.site, c.python, slot, c.idleSignalled!)
        }
        return `slot ${slot}, pids ${pids}${rewrote ? `; rewrote ${slot}.wsgi` : ''}`
      },
      undo: async c => {
        // A reused release's restart is undone here; restart-idle undoes its own.
        if (c.reusedRelease) await restoreIdleSlot(c)
      }
    },
    {
      name: 'verify-idle',
      title:
        'verify the new release over HTTP through the private route, before any user reaches it',
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, {
          slot: c.state.idleSlot,
          version: c.release.version
        })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(
              p,
              `the new release ${c.release.version} on slot ${c.state.idleSlot}`,
              c.release.version
            ),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    {
      name: 'switch',
      title: 'route users to the new release (one atomic rename of live.map)',
      run: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.release.version)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot, c.state.liveSlot)
        }
        c.switched = true
        return c.site.apache.mode === 'single'
          ? 'current link'
          : `live slot ${c.state.liveSlot} -> ${c.state.idleSlot}`
      },
      undo: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot, c.state.idleSlot)
        }
        c.switched = false
      }
    },
    {
      name: 'verify-live',
      title: 'verify the site as users see it',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, { version: c.release.version })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(p, `site ${c.site.name} after the switch`, c.release.version),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    ...withFreeze([unfreezeStep()]),
    {
      name: 'prune',
      title: 'remove old releases beyond keep_releases (never the live one or the one before it)',
      critical: false,
      run: async c => {
        // Under the lock the slots and releases are known: the live one is the new release, the
        // other slot holds the one before it (nothing to read again). The upload goes in the same rm.
        const removed = await pruneReleases(c.exec, c.site, c.python, {
          releases: c.releases,
          inSlots: new Set(
            [c.release.version, c.state.live].filter((r): r is string => r !== null)
          ),
          alsoRemove: [`${siteLayout(c.site.root).incoming}/${c.opId}`]
        })
        return removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove'
      }
    },
    ...withFreeze([removeDbSnapshotStep()])
  ]
}

/** The undo of restart-idle (and of await-idle for a reused release): the idle slot holds the
 * release kept warm for a rollback again, restarted. */
/**
 * Bring the idle slot's WSGI script up to date (a changed app.wsgi, or an older sitecycle's
 * script), keeping the text it had for the undo. Returns whether it wrote.
 */
async function rewriteIdleScript(c: DeployContext): Promise<boolean> {
  const before = await c.exec.readFile(siteLayout(c.site.root).wsgiScript(c.state.idleSlot))
  const rewrote = await writeWsgiScript(c.exec, c.config, c.site, c.state.idleSlot)
  if (rewrote && before !== undefined) c.idleScriptBefore = before
  return rewrote
}

async function restoreIdleSlot(c: DeployContext): Promise<void> {
  if (c.idleScriptBefore !== undefined)
    await writeIfChanged(
      c.exec,
      siteLayout(c.site.root).wsgiScript(c.state.idleSlot),
      c.idleScriptBefore,
      0o644
    )
  await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE)
  await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
}

function databaseOf(c: DeployContext): DatabaseConfig {
  return { ...c.site.database!, python: c.python }
}

/** freeze and snapshot-db: users out, then the database dumped (the undo of the hooks). */
function freezeSteps(): Step<DeployContext>[] {
  return [
    {
      name: 'freeze',
      title:
        'freeze the site before its hooks migrate the database: users get the maintenance page (503); the requests admitted before finish',
      when: c => freezesAroundHooks(c.site),
      run: async c => {
        c.frozenBefore = (await frozenState(c.exec, c.site)).frozen
        // A site frozen by someone else (maintenance on, an upgrade attempt) keeps its own page.
        if (c.frozenBefore) return 'it was frozen already: it stays frozen'
        await freeze(c.exec, c.site, {
          message: 'This site is being upgraded. Please come back in a few minutes.'
        })
        // Requests admitted before the freeze finish now, before the dump: none writes after it.
        try {
          await drainLiveGroup(c, c.state)
        } catch (e) {
          // A failed step's own undo does not run: users are not left frozen out.
          await unfreeze(c.exec, c.site)
          throw e
        }
        return 'users get 503 and the maintenance page; requests admitted before finished'
      },
      undo: async c => {
        if (c.dbRestoreFailed)
          throw new SitecycleError(
            `site ${c.site.name} stays frozen: its database could not be put back from ${c.dbSnapshot}; ` +
              `restore it from there, then run \`sitecycle maintenance off ${c.site.name}\``,
            'database'
          )
        if (!c.frozenBefore) await unfreeze(c.exec, c.site)
      }
    },
    {
      name: 'snapshot-db',
      title: 'dump the database (users are frozen out), to put it back if a later step fails',
      when: c => freezesAroundHooks(c.site),
      run: async c => {
        const db = databaseOf(c)
        const engine = getEngine(db.engine)
        if (!(await engine.exists(c.exec, db)))
          return `no database ${db.name} yet: nothing to put back if the deploy fails`
        const path = preDeployDumpPath(c.site.root, c.opId)
        const dumped = await engine.dump(c.exec, db, path, c.reporter)
        c.dbSnapshot = path
        return `${db.engine} ${db.name} -> ${path} (${dumped.size} bytes)`
      },
      undo: async c => {
        if (!c.dbSnapshot) return
        // Held: no request, the health path's included, runs while the connections are closed.
        await restoreWhileHeld(c, c.state, async () => {
          try {
            await getEngine(c.site.database!.engine).restore(
              c.exec,
              databaseOf(c),
              c.dbSnapshot!,
              c.reporter
            )
          } catch (e) {
            c.dbRestoreFailed = true
            throw e
          }
          c.dbRestored = true
        })
      }
    }
  ]
}

/** unfreeze: after verify-live, users reach the new release (unless the site was frozen before). */
function unfreezeStep(): Step<DeployContext> {
  return {
    name: 'unfreeze',
    title: 'unfreeze the site: users reach the new release',
    when: c => freezesAroundHooks(c.site) && !c.frozenBefore,
    run: async c => {
      await unfreeze(c.exec, c.site)
      return 'users reach the site again'
    }
  }
}

/** remove-db-snapshot: the dump taken after the freeze is not needed once the deploy succeeded. */
function removeDbSnapshotStep(): Step<DeployContext> {
  return {
    name: 'remove-db-snapshot',
    title: 'remove the database dump taken after the freeze',
    critical: false,
    when: c => c.dbSnapshot !== undefined,
    run: async c => {
      await c.exec.run(removeTree(c.dbSnapshot!))
      return c.dbSnapshot
    }
  }
}

/** What a failed deploy did about the database its hooks may have changed, in one sentence. */
function databaseNote(c: DeployContext, e: PipelineError): string | undefined {
  const hooks = e.reports.find(r => r.name === 'hooks')
  const hooksRan = hooks?.status === 'ok' || hooks?.status === 'failed'
  // A site without a database has no data its hooks could have changed: nothing to say.
  if (!hooksRan || !c.site.database) return undefined
  if (!freezesAroundHooks(c.site)) return CODE_ONLY_ROLLBACK
  if (c.dbRestored)
    return `the database was restored from ${c.dbSnapshot}, taken after the site was frozen: no user write is lost`
  if (c.dbRestoreFailed)
    return `the database could not be restored: site ${c.site.name} stays frozen; its dump from before the hooks is ${c.dbSnapshot}`
  if (!c.dbSnapshot)
    return `the database did not exist before the hooks: it was left as the hooks made it`
  return `the database was not restored: restore it from ${c.dbSnapshot}`
}

async function preflight(c: DeployContext): Promise<string> {
  const facts = await checkHost(c)
  c.pipRunner = facts.pipRunner
  return facts.note
}

/** What preflight learned about the host. */
export interface HostFacts {
  python: string
  freeMb: number
  /** pip's `__pip-runner__.py` on the host, when there is one. */
  pipRunner?: string
  /** One line for the step's report. */
  note: string
}

/**
 * The host checks of preflight, read-only (a dry run runs them too): the site initialized, the
 * release's Python requirement against the host's Python, pip, free space, apachectl configtest.
 * Throws SitecycleError (kind `preflight`, or `site` when not initialized) naming what fails.
 */
export async function checkHost(c: {
  exec: Executor
  site: SiteConfig
  python: string
  state: SiteState
  release: ResolvedRelease
}): Promise<HostFacts> {
  requireInitialized(c.state, c.site, c.exec)
  // One Python start for the Python version, pip and free space; configtest beside it.
  const [factsRun, test] = await Promise.all([
    c.exec.tryRun(py.yieldingToUsers(py.hostScript(c.python, HOST_FACTS, [c.site.root], true))),
    c.exec.tryRun(py.yieldingToUsers(apacheConfigTest(c.site)))
  ])
  if (factsRun.code !== 0)
    throw new SitecycleError(
      `${c.python} does not run on ${c.exec.name}: ${factsRun.stderr.trim()}; install Debian's python3`,
      'preflight'
    )
  const facts = JSON.parse(factsRun.stdout) as {
    python: string
    pip: boolean
    pip_runner?: string | null
    free_mb: number
  }
  const version = facts.python
  if (c.release.requiresPython && !satisfiesRequiresPython(c.release.requiresPython, version))
    throw new SitecycleError(
      `${c.release.name} ${c.release.version} requires Python ${c.release.requiresPython} but ${c.python} on ${c.exec.name} is ${version}`,
      'preflight'
    )
  if (!facts.pip)
    throw new SitecycleError(
      `pip is missing for ${c.python} on ${c.exec.name}: install python3-pip (and python3-venv)`,
      'preflight'
    )
  const free = facts.free_mb
  if (free < c.site.preflight.minFreeMb)
    throw new SitecycleError(
      `only ${free} MiB free under ${c.site.root} on ${c.exec.name}; the site needs ${c.site.preflight.minFreeMb} MiB (preflight.min_free_mb)`,
      'preflight'
    )
  if (test.code !== 0)
    throw new SitecycleError(
      `apachectl configtest fails on ${c.exec.name}: ${(test.stderr || test.stdout).trim()}`,
      'preflight'
    )
  return {
    python: version,
    freeMb: free,
    ...(facts.pip_runner ? { pipRunner: facts.pip_runner } : {}),
    note: `Python ${version}, ${free} MiB free, configtest ok`
  }
}

/** create-venv: a fresh virtualenv at releases/<version>, or the same release reused. */
async function createReleaseVenv(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const existing = c.releases.find(r => r.dir === c.release.version)
  if (existing) {
    const same = existing.complete && existing.info?.sha256 === c.release.sha256
    if (same) {
      c.reusedRelease = true
      return `${c.release.version} is already installed with the same content: reused`
    }
    if (existing.dir === c.state.idle || existing.dir === c.state.live)
      throw new SitecycleError(
        `version ${c.release.version} is installed in a slot of site ${c.site.name} with other content ` +
          `(sha256 ${existing.info?.sha256 ?? 'unknown'}, this release ${c.release.sha256}): a version must not be reused for other content; build a new version`,
        'release'
      )
    await c.exec.run(removeTree(dir))
  }
  c.createdRelease = true
  try {
    // The installs yield the CPU to the site's users (nice): see py.yieldingToUsers.
    await c.exec.run(py.yieldingToUsers(py.createVenv(c.python, dir)))
  } catch (e) {
    // A failed step's own undo does not run: leave no half-made virtualenv behind.
    await c.exec.tryRun(removeTree(dir))
    throw e
  }
  return `releases/${c.release.version}`
}

/** install: pip installs the release (its wheel, built first from an sdist) into the
 * virtualenv create-venv made. */
async function installRelease(c: DeployContext): Promise<string> {
  const l = siteLayout(c.site.root)
  const dir = l.release(c.release.version)
  let wheel = c.upload
  if (c.release.kind === 'sdist') {
    const wheels = `${l.incoming}/${c.opId}/wheels`
    await c.exec.run(py.yieldingToUsers(py.pipWheel(c.python, c.upload, wheels)))
    const listing = await c.exec.run({ argv: ['ls', '-1', wheels] })
    const built = listing.stdout.split('\n').filter(f => f.endsWith('.whl'))
    if (built.length !== 1)
      throw new SitecycleError(
        `building a wheel from ${basename(c.upload)} gave ${built.length} wheels`,
        'install'
      )
    wheel = `${wheels}/${built[0]}`
  }
  c.wheelOnHost = wheel
  const incoming = `${l.incoming}/${c.opId}`
  let note = `${c.release.kind} into releases/${c.release.version}`
  // pip byte-compiles what it installs (the first request does not pay for it), in the
  // virtualenv's interpreter, started once.
  const how: py.PipIntoVenv = { runner: c.pipRunner, compile: true }
  const wheelhouse = c.release.wheelhouse
  if (wheelhouse) {
    // Offline and hash-checked: every file pip takes must match requirements.lock.
    const onHost = `${incoming}/wheelhouse`
    await c.exec.run(makeDirs([onHost], '700'))
    for (const f of wheelhouse.files)
      await c.exec.put(join(wheelhouse.dir, f.name), `${onHost}/${f.name}`, 0o644)
    const lock = `${incoming}/requirements.lock`
    await c.exec.put(wheelhouse.lockFile, lock, 0o644)
    await c.exec.run(
      py.yieldingToUsers(py.pipInstallLocked(c.python, dir, lock, [incoming, onHost], how))
    )
    note = `${note} with ${wheelhouse.files.length} ${wheelhouse.files.length === 1 ? 'dependency' : 'dependencies'} from its wheelhouse (--require-hashes)`
  } else if (c.indexUrl) {
    // The site installs its dependencies from an index (sites.<n>.pip.index_url_env).
    await c.exec.run(
      py.yieldingToUsers(py.pipInstallFromIndex(c.python, dir, wheel, [incoming], c.indexUrl, how))
    )
    note = `${note}, dependencies from the site's index`
  } else {
    await c.exec.run(py.yieldingToUsers(py.pipInstall(c.python, dir, wheel, [incoming], how)))
  }
  await c.exec.run(changeMode('755', dir))
  return note
}

/** complete-release: write release.json into the release, the last thing a release directory
 * gets: one without it is half-installed (recovery removes it), and a slot's daemon that
 * started before it appeared loads the application only once it is there. */
async function completeRelease(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  // The RECORDs as installed, and the files the hooks made, kept outside site-packages: watch
  // checks the release against these.
  const out = (await c.exec.run(py.hostScript(c.python, RECORD_DIGESTS, [dir]))).stdout.trim()
  const digests = out
    ? (JSON.parse(out) as { records: Record<string, string>; made: Record<string, string> })
    : undefined
  const record = {
    name: c.release.name,
    version: c.release.version,
    sha256: c.release.sha256,
    file: basename(c.release.file),
    kind: c.release.kind,
    commit: c.release.manifest.commit ?? null,
    installedAt: new Date().toISOString(),
    operation: c.opId,
    // No output (nothing to read): no digests kept.
    ...(digests && { records: digests.records, made: digests.made })
  }
  await writeReleaseRecord(c, record)
  return `releases/${c.release.version}/release.json`
}

/** release.json replaced in one rename: a reader sees the old or the new, never half of one. */
async function writeReleaseRecord(c: DeployContext, record: object): Promise<void> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  await c.exec.writeFile(`${dir}/release.json.tmp`, JSON.stringify(record, null, 2) + '\n', 0o644)
  await c.exec.run({ argv: ['mv', '-T', `${dir}/release.json.tmp`, `${dir}/release.json`] })
}

/**
 * A reused release's hooks ran again: the files they made now replace those its release.json
 * kept (watch checks against them), the rest of the record as it was installed.
 */
async function refreshMadeFiles(c: DeployContext): Promise<string | undefined> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const text = await c.exec.readFile(`${dir}/release.json`)
  const out = (await c.exec.run(py.hostScript(c.python, RECORD_DIGESTS, [dir]))).stdout.trim()
  if (!text || !out) return undefined
  const record = JSON.parse(text) as Record<string, unknown>
  const made = (JSON.parse(out) as { made: Record<string, string> }).made
  if (JSON.stringify(record.made) === JSON.stringify(made)) return undefined
  await writeReleaseRecord(c, { ...record, made })
  return `the files they made kept in release.json (${Object.keys(made).length})`
}

/**
 * Write the rendered config (app.ini, with its checksum for watch) and the application's
 * environment (env.json, read by the slot's WSGI script before it imports the application) into
 * the release, both readable by the Apache group only. A reused release without an environment
 * loses the one an earlier config gave it.
 */
async function writeReleaseConfig(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const written: string[] = []
  if (c.rendered) {
    const path = `${dir}/app.ini`
    await c.exec.writeFile(path, c.rendered.text, 0o640)
    await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, path] })
    // What watch checks the live config against (sha256sum format; no secret in a hash of the whole file).
    const sha = createHash('sha256').update(c.rendered.text).digest('hex')
    await c.exec.writeFile(`${path}.sha256`, `${sha}  app.ini\n`, 0o644)
    const names = c.rendered.secretNames
    written.push(`app.ini${names.length ? ` with secrets ${names.join(', ')}` : ''}`)
  }
  const envPath = `${dir}/${ENV_FILE}`
  if (c.appEnv) {
    await c.exec.writeFile(envPath, envFileText(c.appEnv), 0o640)
    await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, envPath] })
    const names = Object.keys(c.appEnv.variables)
    const secret = c.appEnv.secretNames
    written.push(
      `${ENV_FILE} (${names.join(', ') || 'empty'})${secret.length ? ` with secrets in ${secret.join(', ')}` : ''}`
    )
  } else if ((await c.exec.readFile(envPath)) !== undefined) {
    await c.exec.run({ argv: ['rm', '-f', envPath] })
    written.push(`${ENV_FILE} removed (no env: in the config)`)
  }
  return written.join('; ') || 'nothing to write'
}

async function runHooks(c: DeployContext): Promise<string> {
  const n = await runAfterInstallHooks(
    c.exec,
    c.config,
    c.site,
    { version: c.release.version, redact: c.rendered?.secrets },
    c.reporter
  )
  const refreshed = c.reusedRelease ? await refreshMadeFiles(c) : undefined
  return `${describeHookCount(n)}${refreshed ? `; ${refreshed}` : ''}`
}

/**
 * What of the live release's WSGI script and environment differs from what this config would
 * write (a changed app.wsgi or env), said plainly: the live slot is never rewritten while it
 * serves, so they wait for the next deploy of another version. Undefined when nothing differs.
 */
async function describeStaleLive(
  req: DeployRequest,
  state: SiteState,
  appEnv: RenderedEnv | undefined
): Promise<string | undefined> {
  if (req.site.apache.mode !== 'blue-green' || state.live === null) return undefined
  const l = siteLayout(req.site.root)
  const slot = state.liveSlot
  const [script, env] = await Promise.all([
    req.exec.readFile(l.wsgiScript(slot)),
    req.exec.readFile(`${l.release(state.live)}/${ENV_FILE}`)
  ])
  const changed = [
    ...(script !== renderWsgiScript(req.site, req.config.app.wsgi, l.slot(slot), slot)
      ? [`the ${slot} slot's WSGI script (app.wsgi, or a script an older sitecycle wrote)`]
      : []),
    ...(env !== (appEnv ? envFileText(appEnv) : undefined) ? ['the environment (env)'] : [])
  ]
  if (!changed.length) return undefined
  return `${changed.join(' and ')} of live release ${state.live} ${changed.length > 1 ? 'differ' : 'differs'} from this config: the live slot is not rewritten while it serves; they take effect with the next deploy of another version`
}

/**
 * Whether the site's Apache vhost is the one this config gives, said plainly when not: only init
 * writes the vhost, and a deploy never reloads Apache (a graceful restarts every daemon group on
 * it), so a changed `static:`, a shared folder's `url:`, or an Apache, access or maintenance
 * setting waits for `sitecycle init --reload`. Undefined when the vhost agrees, or cannot be read
 * (init then has more to say).
 */
async function describeStaleVhost(req: DeployRequest): Promise<string | undefined> {
  const path = `${req.site.apache.confDir}/${vhostFileName(req.site)}`
  const vhost = await req.exec.readFile(path).catch(() => undefined)
  if (vhost === undefined || vhost === renderVhost(req.site)) return undefined
  const until = `Apache serves it as before until you run: sitecycle init ${req.site.name} --reload (a deploy does not reload Apache)`
  if (!vhostServesStatic(req.site, vhost)) {
    const now = req.site.static?.length
      ? req.site.static.map(e => `${e.prefix} from ${e.folder}`).join(', ')
      : 'none'
    return `the static files (static:) of site ${req.site.name} changed since its Apache vhost ${path} was written (now: ${now}); ${until}`
  }
  return `the Apache vhost ${path} of site ${req.site.name} differs from what its config gives now (apache:, shared: url, access: or maintenance: settings, or a vhost an older sitecycle wrote); ${until}`
}

/** The plan without touching anything (with the freeze steps when `site` freezes around its hooks). */
export function deployPlan(site?: SiteConfig): string[] {
  return describePlan(deploySteps({ freeze: site !== undefined && freezesAroundHooks(site) }))
}

/** Deploy a release to a site. Throws SitecycleError on bad input (nothing touched) and
 * OperationFailed when a step failed (its undos ran: the previous release serves). */
export async function deploy(req: DeployRequest): Promise<OperationOutcome> {
  const prepared = await prepareDeploy(req)
  try {
    return await deployPrepared(req, prepared)
  } finally {
    await prepared.cleanup()
  }
}

async function deployPrepared(
  req: DeployRequest,
  prepared: PreparedDeploy
): Promise<OperationOutcome> {
  const { release } = prepared
  // Read before the lock, so a refusal leaves the site as it was, its journal and lock folder too.
  const [state0, listed] = await Promise.all([
    readSiteState(req.exec, req.site, req.config.app.python),
    listReleases(req.exec, req.site, req.config.app.python).catch((e: unknown) => e)
  ])
  // A site not initialized is said so first, whatever the listing found.
  requireInitialized(state0, req.site, req.exec)
  if (!Array.isArray(listed)) throw listed
  const markedBad = checkBadMark(
    findInstalled(listed as InstalledRelease[], release.version),
    req.site,
    'deploy',
    req.allowBad === true,
    req.reporter
  )
  req.reporter.info(
    `deploying ${release.name} ${release.version} (${release.kind}) to site ${req.site.name} on ${req.exec.name}`
  )
  let state: SiteState = state0
  let releases: InstalledRelease[] = []
  const stage = req.prepareOnly
  return withSiteOperation(
    {
      op: 'deploy',
      config: req.config,
      site: req.site,
      exec: req.exec,
      reporter: req.reporter,
      lockWait: req.lockWait,
      // A prepared stage keeps the lock for its run, and its journal entry open.
      ...(stage && {
        handOff: (result, octx) =>
          result.status === 'prepared'
            ? { ...octx.holder, stage: { reached: 'prepared' as const, ...stage } }
            : undefined
      })
    },
    // The state as it is once the lock is held (and an interrupted run recovered) is what the
    // journal records, so a recovery of this run knows what to put back.
    async octx => {
      // Both read at once; under the lock neither changes but by this deploy.
      ;[state, releases] = await Promise.all([
        readSiteState(octx.exec, octx.site, octx.python),
        listReleases(octx.exec, octx.site, octx.python)
      ])
      return {
        version: release.version,
        sha256: release.sha256,
        liveSlot: state.liveSlot,
        live: state.live,
        idle: state.idle,
        ...(freezesAroundHooks(req.site) && {
          freeze: true,
          frozen: (await frozenState(octx.exec, octx.site)).frozen
        }),
        ...(octx.recoveredFreeze?.length && { recoveredFreeze: octx.recoveredFreeze }),
        ...(stage && { staged: { run: stage.run, attempt: stage.attempt } })
      }
    },
    async octx => {
      const base = {
        op: 'deploy',
        site: req.site.name,
        host: req.exec.name,
        previousVersion: state.live,
        targetVersion: release.version,
        url: req.site.url,
        operationId: octx.opId,
        notes: [] as string[]
      }
      const staleVhost = await describeStaleVhost(req)
      if (staleVhost) {
        req.reporter.warn(staleVhost)
        base.notes.push(staleVhost)
      }
      if (state.live === release.version) {
        req.reporter.info(
          `${release.version} is already live on site ${req.site.name}: nothing to do`
        )
        const stale = await describeStaleLive(req, state, prepared.appEnv)
        if (stale) {
          req.reporter.warn(stale)
          base.notes.push(stale)
        }
        return {
          ...base,
          status: 'unchanged' as const,
          version: state.live,
          rolledBack: false,
          undoComplete: true,
          steps: [],
          journal: { live: state.live }
        }
      }
      const ctx: DeployContext = {
        ...octx,
        release,
        rendered: prepared.rendered,
        ...(prepared.appEnv && { appEnv: prepared.appEnv }),
        indexUrl: prepared.indexUrl,
        state,
        upload: `${siteLayout(req.site.root).incoming}/${octx.opId}/${basename(release.file)}`,
        createdRelease: false,
        idleBefore: state.idle,
        switched: false,
        notes: [],
        releases,
        frozenBefore: false,
        dbRestored: false,
        dbRestoreFailed: false
      }
      const all = deploySteps({ freeze: freezesAroundHooks(req.site) })
      const steps = stage ? all.slice(0, all.findIndex(st => st.name === 'switch')) : all
      try {
        const reports = await runPipeline(steps, ctx, req.reporter, {
          onEvent: e => octx.journal.append({ id: octx.opId, op: 'deploy', event: 'step', ...e })
        })
        if (stage)
          return {
            ...base,
            status: 'prepared' as const,
            version: state.live,
            rolledBack: false,
            undoComplete: true,
            steps: reports
          }
        // A mark is removed only by a deploy that was told to go ahead (--allow-bad) and succeeded.
        if (markedBad) {
          const note = await removeBadMark(octx.exec, req.site, release.version)
          req.reporter.info(note)
          base.notes.push(note)
        }
        return {
          ...base,
          status: 'deployed' as const,
          version: release.version,
          rolledBack: false,
          undoComplete: true,
          steps: reports,
          journal: { live: release.version, previous: state.live }
        }
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e
        await octx.exec.tryRun(removeTree(`${siteLayout(req.site.root).incoming}/${octx.opId}`))
        const dbNote = databaseNote(ctx, e)
        // The dump stays while it may be the only copy of the data from before the hooks.
        if (ctx.dbSnapshot && e.undoComplete)
          await octx.exec.tryRun(removeTree(ctx.dbSnapshot)).catch(() => undefined)
        const cause = e.cause instanceof Error ? e.cause.message : String(e.cause)
        const after = await readSiteState(octx.exec, octx.site, octx.python).catch(() => undefined)
        const switchedOnce = e.reports.some(
          r => r.name === 'switch' && (r.status === 'undone' || r.status === 'undo-failed')
        )
        // A step that failed before any step with an undo had run (preflight) changed nothing:
        // there is nothing it rolled back.
        const rolledBack = e.undoComplete && e.reports.some(r => r.status === 'undone')
        throw new OperationFailed({
          ...base,
          status: switchedOnce || rolledBack ? 'rolled-back' : 'failed',
          version: after?.live ?? state.live,
          rolledBack,
          undoComplete: e.undoComplete,
          steps: e.reports,
          error: dbNote ? `${cause}; ${dbNote}` : cause,
          failedStep: e.failedStep,
          notes: dbNote ? [dbNote] : []
        })
      }
    }
  )
}

export type { Slot }
