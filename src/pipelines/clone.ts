/**
 * `sitecycle clone <source> <new-site>`: a new site made from an existing one. The new site is
 * described in sitecycle.yml like any other (its own root, database name, vhost port or name),
 * so everything that differs from the source (paths and names in its config file) comes from
 * its own values when its config template is rendered. Steps: init the new site (layout, vhost)
 * → copy the source's data into it (a sync: snapshot of the source, restored into the new site's
 * database and data folders, its `anonymize:` script if it has one) → deploy the release the
 * source runs (the same file, checked by its sha256; a virtualenv cannot be moved, so it is
 * installed afresh), whose hooks migrate the copied data and which is verified over HTTP.
 */
import { hostLabel } from '../config/host-spec.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import { listReleases, readSiteState } from '../sites/site-state.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { deploy, prepareDeploy, type DeployRequest } from './deploy.js'
import { initSite } from './init.js'
import type { OperationOutcome } from './operation.js'
import type { DataOutcome } from './restore.js'
import { syncSite } from './sync.js'

export interface CloneRequest {
  config: SitecycleConfig
  /** The site cloned. */
  source: SiteConfig
  /** The new site (configured in sitecycle.yml). */
  site: SiteConfig
  /** An executor on the new site's host. */
  exec: Executor
  /** An executor on the source's host (default: `exec` on the same host, else a new one, closed at the end). */
  sourceExec?: Executor
  reporter: Reporter
  /**
   * Where the source's release is taken from: a release file or folder of releases. Default: the
   * new site's `releases`/`store`, else the source's.
   */
  release?: string
  lockWait?: number
  /** Where secrets (basic auth password, config secrets) are read (default process.env). */
  env?: NodeJS.ProcessEnv
}

/** What a clone did. */
export interface CloneOutcome {
  status: 'cloned'
  site: string
  host: string
  source: string
  /** The version the source runs and the clone now runs. */
  version: string
  sha256: string
  data: DataOutcome
  deploy: OperationOutcome
  url: string
}

/** The release to deploy: the request's, the new site's own source of releases, else the source's. */
function releaseSource(req: CloneRequest): Pick<DeployRequest, 'release' | 'store'> {
  if (req.release !== undefined) return { release: req.release }
  if (req.site.releases || req.site.store) return {}
  if (req.source.releases) return { release: req.source.releases }
  if (req.source.store) return { store: req.source.store }
  throw new SitecycleError(
    `clone: neither site ${req.site.name} nor site ${req.source.name} says where releases are: set sites.${req.site.name}.releases or .store, or pass --release PATH`,
    'config'
  )
}

/** Clone `source` into the new site `site` (see the module comment). */
export async function cloneSite(req: CloneRequest): Promise<CloneOutcome> {
  const { site, source, exec, reporter, config } = req
  if (site.name === source.name)
    throw new SitecycleError(
      `clone: the new site must be another site than ${source.name}`,
      'input'
    )
  const ownSourceExec = !req.sourceExec && hostLabel(source.host) !== hostLabel(site.host)
  const sourceExec =
    req.sourceExec ?? (ownSourceExec ? createExecutor(source.host, config.ssh) : exec)
  try {
    const python = config.app.python
    const sourceState = await readSiteState(sourceExec, source, python)
    const version = sourceState.live
    if (!version)
      throw new SitecycleError(
        `site ${source.name} has no live release on ${sourceExec.name}: nothing to clone (deploy it first)`,
        'site'
      )
    const record = (await listReleases(sourceExec, source, python)).find(r => r.dir === version)
    const sha256 = record?.info?.sha256
    if (!sha256)
      throw new SitecycleError(
        `the live release ${version} of site ${source.name} has no release.json on ${sourceExec.name}: cannot tell which file it was installed from`,
        'site'
      )
    const from = releaseSource(req)
    const deployRequest: DeployRequest = {
      config,
      site,
      exec,
      reporter,
      version,
      ...from,
      lockWait: req.lockWait,
      env: req.env
    }
    // The release found must be the very file the source runs, checked before anything is touched.
    const prepared = await prepareDeploy(deployRequest)
    await prepared.cleanup()
    if (prepared.release.sha256 !== sha256)
      throw new SitecycleError(
        `the release ${version} found for the clone (${prepared.release.file}, sha256 ${prepared.release.sha256}) is not the file site ${source.name} runs (sha256 ${sha256}): ` +
          `point --release or sites.${site.name}.releases at the releases site ${source.name} is deployed from`,
        'release'
      )
    reporter.info(`cloning site ${source.name} (${version}) into site ${site.name} on ${exec.name}`)
    await initSite({ config, site, exec, reporter, env: req.env })
    const data = await syncSite({
      config,
      site,
      exec,
      source,
      sourceExec,
      reporter,
      lockWait: req.lockWait
    })
    const deployed = await deploy(deployRequest)
    const installed = (await listReleases(exec, site, python)).find(r => r.dir === version)
    if (installed?.info?.sha256 !== sha256)
      throw new SitecycleError(
        `site ${site.name} now runs ${version} with sha256 ${installed?.info?.sha256 ?? 'unknown'}, but site ${source.name} runs it with ${sha256}: ` +
          `the release found for the clone is not the file the source was installed from`,
        'release'
      )
    return {
      status: 'cloned',
      site: site.name,
      host: exec.name,
      source: source.name,
      version,
      sha256,
      data,
      deploy: deployed,
      url: site.url
    }
  } finally {
    if (ownSourceExec) await sourceExec.close().catch(() => undefined)
  }
}
