// Entry point of actions/snapshot (bundled to dist/snapshot.js).
import * as core from '@actions/core'
import { runSnapshotAction } from './snapshot.js'
import { errorMessage } from './site-action.js'

runSnapshotAction(core).catch((error: unknown) => core.setFailed(errorMessage(error)))
