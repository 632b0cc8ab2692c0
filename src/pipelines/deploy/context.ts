/** What a deploy is asked (DeployRequest) and what its steps share while it runs (DeployContext). */
import type { SitecycleConfig, SiteConfig, StoreConfig } from '../../config/model.js'
import type { RenderedEnv } from '../../config/app-env.js'
import type { Executor } from '../../hosts/executor.js'
import type { ResolvedRelease } from '../../releases/resolve-release.js'
import type { InstalledRelease, SiteState } from '../../sites/site-state.js'
import type { RenderedConfig } from '../../sites/render-config.js'
import type { StoreDeps } from '../../stores/registry.js'
import type { Reporter } from '../../util/reporter.js'
import type { OperationContext } from '../operation.js'

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

/** What the deploy's steps read and write while it runs (one per run, under the site lock). */
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
