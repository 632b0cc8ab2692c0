/**
 * The integration tests' default timeout, 10 minutes a test or hook. Jest reads `testTimeout`
 * only from the top of its config, not from a project, so the integration project sets it here
 * (setupFilesAfterEnv). A limit, not a measure: side by side on 2 cores, a file takes longer.
 */
import { jest } from '@jest/globals'

jest.setTimeout(600_000)
