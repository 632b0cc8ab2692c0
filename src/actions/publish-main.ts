// Entry point of actions/publish (bundled to dist/publish.js).
import * as core from '@actions/core'
import { runPublishAction } from './publish.js'
import { errorMessage } from './site-action.js'

runPublishAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
