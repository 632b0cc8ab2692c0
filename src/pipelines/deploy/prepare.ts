/**
 * Everything a deploy checks before the host is touched: the release (taken from a local path,
 * or fetched by version from a store and checked there against its manifest), its archive, and
 * the config and environment rendered in memory with every secret present.
 */
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname } from 'node:path'
import type { HostSpec, StoreConfig } from '../../config/model.js'
import { renderAppEnv, type RenderedEnv } from '../../config/app-env.js'
import { createExecutor } from '../../hosts/create-executor.js'
import type { Executor } from '../../hosts/executor.js'
import { checkArchive } from '../../releases/archive-check.js'
import { resolveRelease, type ResolvedRelease } from '../../releases/resolve-release.js'
import { compareVersions } from '../../releases/version.js'
import { siteLayout } from '../../sites/layout.js'
import { renderConfigFile, type RenderedConfig } from '../../sites/render-config.js'
import { createStore, type StoreDeps } from '../../stores/registry.js'
import { SitecycleError } from '../../util/errors.js'
import { makeRunTempDir } from '../../util/run-temp-dir.js'
import { checkDatabaseSecret } from '../restore.js'
import type { DeployRequest } from './context.js'
import { freezesAroundHooks } from './freeze.js'

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
