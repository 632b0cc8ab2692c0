// Entry point of actions/rollback (bundled to dist/rollback.js).
import * as core from '@actions/core'
import { runRollbackAction } from './rollback.js'
import { errorMessage } from './site-action.js'

runRollbackAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
