// Placeholder: being written (issue 3). The factory signature is final.
import type { StoreConfig } from '../config/model.js'
import { SitecycleError } from '../util/errors.js'
import type { StoreDeps } from './registry.js'
import type { ReleaseStore } from './store.js'

export function createArtifactStore(_config: StoreConfig, _deps: StoreDeps): ReleaseStore {
  throw new SitecycleError('the actions-artifact-store is not implemented yet', 'config')
}
export type ArtifactClientLike = unknown
