// Entry point of actions/run (bundled to dist/run.js).
import * as core from '@actions/core'
import { runRunAction } from './run.js'
import { errorMessage } from './site-action.js'

runRunAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
