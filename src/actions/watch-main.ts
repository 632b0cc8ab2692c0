// Entry point of actions/watch (bundled to dist/watch.js).
import * as core from '@actions/core'
import { runWatchAction } from './watch.js'
import { errorMessage } from './site-action.js'

runWatchAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
