/**
 * The store registry: a store's `type` in sitecycle.yml names its factory here. An unknown
 * type is a config error (the schema rejects it first).
 */
import type { HostSpec, StoreConfig } from '../config/model.js'
import type { GithubApi } from '../github/api.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { createArtifactStore, type ArtifactClientLike } from './actions-artifact-store.js'
import { createDirectoryStore } from './directory-store.js'
import { createGithubReleaseStore } from './github-release-store.js'
import type { ReleaseStore } from './store.js'

/** What a store may need, injected so tests can replace GitHub and the Actions runtime. */
export interface StoreDeps {
  /** An executor for a host (the directory store on an SSH host); the caller closes them. */
  executorFor(host: HostSpec): Executor
  /** The GitHub API (github-release store); built from the token when absent. */
  github?: GithubApi
  /** @actions/artifact's client, or a stand-in at its boundary (actions-artifact store). */
  artifactClient?: ArtifactClientLike
  env: NodeJS.ProcessEnv
}

export type StoreFactory = (config: StoreConfig, deps: StoreDeps) => ReleaseStore

export const STORE_FACTORIES: Record<StoreConfig['type'], StoreFactory> = {
  directory: createDirectoryStore,
  'github-release': createGithubReleaseStore,
  'actions-artifact': createArtifactStore
}

export function createStore(config: StoreConfig, deps: StoreDeps): ReleaseStore {
  const factory = STORE_FACTORIES[config.type]
  if (!factory)
    throw new SitecycleError(
      `unknown store type '${(config as { type: string }).type}'; expected one of ${Object.keys(STORE_FACTORIES).join(', ')}`,
      'config'
    )
  return factory(config, deps)
}
