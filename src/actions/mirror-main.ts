// Entry point of actions/mirror (bundled to dist/mirror.js).
import * as core from '@actions/core'
import { runMirrorAction } from './mirror.js'
import { errorMessage } from './site-action.js'

runMirrorAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
