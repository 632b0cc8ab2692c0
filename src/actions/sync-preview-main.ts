// Entry point of actions/sync-preview (bundled to dist/sync-preview.js).
import * as core from '@actions/core'
import { runSyncPreviewAction } from './sync-preview.js'
import { errorMessage } from './site-action.js'

runSyncPreviewAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
