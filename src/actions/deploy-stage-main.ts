// Entry point of actions/deploy-stage, one stage of actions/deploy (bundled to dist/deploy-stage.js).
import * as core from '@actions/core'
import { runDeployStageAction } from './deploy-stage.js'
import { errorMessage } from './site-action.js'

runDeployStageAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
