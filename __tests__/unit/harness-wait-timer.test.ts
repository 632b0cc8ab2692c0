/**
 * Environment wait timers are counted in the run record, never slept. Documented behaviour
 * imitated (docs.github.com, "Managing environments for deployment" > Wait timer): "Use a wait
 * timer to delay a job for a specific amount of time after the job is initially triggered. The
 * time (in minutes) must be an integer between 1 and 43,200 (30 days)." (0 is no timer.)
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { assertSucceeded, HarnessInvalid, jobOf, ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const FILES = {
  '.github/workflows/w.yml': `
on: push
jobs:
  staging:
    uses: ./.github/workflows/called.yml
  production:
    needs: staging
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo deployed
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo plain
`,
  '.github/workflows/called.yml': `
on: workflow_call
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: staging
    steps:
      - run: echo staged
`
}

describe('environment wait timers', () => {
  it('counts each job’s wait timer in the run record, called workflows included, without sleeping', async () => {
    const run = await scratch.run(
      FILES,
      {},
      {
        environments: { production: { waitTimer: 600 }, staging: { waitTimer: 5 } }
      }
    )
    assertSucceeded(run)
    expect(jobOf(run, 'production').waitTimerMinutes).toBe(600)
    expect(jobOf(run, 'deploy').waitTimerMinutes).toBe(5)
    expect(jobOf(run, 'plain').waitTimerMinutes).toBeUndefined()
    expect(run.waitTimerMinutes).toBe(605)
    expect(run.jobs.find(j => j.id === 'staging')?.call?.waitTimerMinutes).toBe(5)
  })

  it('refuses a wait timer GitHub would not accept', async () => {
    const error = await scratch
      .run(FILES, {}, { environments: { production: { waitTimer: 50000 } } })
      .then(
        () => undefined,
        (e: unknown) => e
      )
    expect(error).toBeInstanceOf(HarnessInvalid)
    expect(String(error)).toContain('from 0 to 43200, got 50000')
  })
})
