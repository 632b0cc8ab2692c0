// Entry point of actions/clone (bundled to dist/clone.js).
import * as core from '@actions/core'
import { runCloneAction } from './clone.js'
import { errorMessage } from './site-action.js'

runCloneAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
