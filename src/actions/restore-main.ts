// Entry point of actions/restore (bundled to dist/restore.js).
import * as core from '@actions/core'
import { runRestoreAction } from './restore.js'
import { errorMessage } from './site-action.js'

runRestoreAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
