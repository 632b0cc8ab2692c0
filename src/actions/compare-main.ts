// Entry point of actions/compare (bundled to dist/compare.js).
import * as core from '@actions/core'
import { runCompareAction } from './compare.js'
import { errorMessage } from './site-action.js'

runCompareAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
