// Entry point of actions/deploy (bundled to dist/deploy.js).
import * as core from '@actions/core'
import { runDeployAction } from './deploy.js'
import { errorMessage } from './site-action.js'

runDeployAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
