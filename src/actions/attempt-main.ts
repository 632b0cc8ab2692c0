// Entry point of actions/attempt (bundled to dist/attempt.js).
import * as core from '@actions/core'
import { runAttemptAction } from './attempt.js'
import { errorMessage } from './site-action.js'

runAttemptAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
