/**
 * Cancelling a run, as GitHub does it. Documented behaviour imitated (docs.github.com,
 * "Canceling a workflow run" > Steps GitHub takes to cancel a workflow run):
 * 1. "the server re-evaluates if conditions for all currently running jobs. If the condition
 *    evaluates to true, the job will not get canceled" (`if: always()`); no condition is
 *    `success()`.
 * 3. "For jobs that continue to run, the server re-evaluates if conditions for the unfinished
 *    steps"; in a cancelled job only steps whose condition holds run (`always()`,
 *    `cancelled()`), and post steps run (their default `post-if` is `always()`).
 * 4. "the runner machine sends SIGINT/Ctrl-C to the step's entry process ... If the process
 *    doesn't exit within 7500 ms, the runner will send SIGTERM ... then wait for 2500 ms ...
 *    kills the process tree."
 * 5. "After the cancellation process, the runner will kill all remaining processes".
 * "Evaluate expressions" > Status check functions: `cancelled()` is true when the workflow was
 * canceled, `success()` and `failure()` false.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { allSteps, jobOf, ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const POST_ACTION = {
  'actions/with-post/action.yml': `
name: with post
description: leaves a file in its post step
runs:
  using: node20
  main: main.js
  post: post.js
`,
  'actions/with-post/main.js': '',
  'actions/with-post/post.js': `require('fs').writeFileSync(process.env.MARK + '/post', 'ran')\n`
}

describe('run cancellation', () => {
  it('interrupts the running step, runs always() and cancelled() steps and post steps, cancels jobs not started', async () => {
    const root = await scratch.repo({
      ...POST_ACTION,
      '.github/workflows/w.yml': `
on: push
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: cp -r "$SOURCE/actions" .
      - uses: ./actions/with-post
      - name: long
        run: |
          echo "long step started"
          sleep 600 & wait
          echo "long step went on"
      - name: after
        run: touch "$MARK/after"
      - name: always
        if: always()
        run: touch "$MARK/always"
      - name: on cancel
        if: cancelled()
        run: touch "$MARK/cancelled"
      - name: on failure
        if: failure()
        run: touch "$MARK/failure"
  later:
    needs: work
    runs-on: ubuntu-latest
    steps:
      - run: touch "$MARK/later"
  report:
    needs: work
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: touch "$MARK/report"
`
    })
    const mark = await scratch.repo({ '.keep': '' })
    const controller = new AbortController()
    const run = await scratch
      .harness({
        repository: { root },
        env: { MARK: mark, SOURCE: root },
        onLog: line => {
          if (line.endsWith('long step started')) controller.abort()
        }
      })
      .runWorkflow(path.join(root, '.github/workflows/w.yml'), { signal: controller.signal })

    expect(run.result).toBe('cancelled')
    expect(run.jobs.map(j => `${j.id}:${j.result}`)).toEqual([
      'work:cancelled',
      'later:cancelled',
      'report:success'
    ])
    const steps = Object.fromEntries(allSteps(jobOf(run, 'work').steps).map(s => [s.name, s]))
    expect(steps.long.outcome).toBe('cancelled')
    expect(steps.after.outcome).toBe('skipped')
    expect(steps.always.outcome).toBe('success')
    expect(steps['on cancel'].outcome).toBe('success')
    expect(steps['on failure'].outcome).toBe('skipped')
    expect(
      jobOf(run, 'work')
        .steps.filter(s => s.post)
        .map(s => s.outcome)
    ).toEqual(['success'])
    expect(run.log.some(l => l.endsWith('long step went on'))).toBe(false)
    for (const f of ['always', 'cancelled', 'post', 'report'])
      expect(existsSync(path.join(mark, f))).toBe(true)
    for (const f of ['after', 'failure', 'later'])
      expect(existsSync(path.join(mark, f))).toBe(false)
  })

  it('lets a running job whose if: still holds when cancelled go on to its end', async () => {
    const mark = await scratch.repo({ '.keep': '' })
    const controller = new AbortController()
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': `
on: push
jobs:
  keeps:
    if: always()
    runs-on: ubuntu-latest
    steps:
      - name: waits
        run: |
          echo "waiting for the go"
          while [ ! -e "$MARK/go" ]; do sleep 0.1; done
      - name: next
        run: touch "$MARK/next"
`
      },
      { signal: controller.signal },
      {
        env: { MARK: mark },
        onLog: line => {
          if (line.endsWith('waiting for the go')) {
            controller.abort()
            writeFileSync(path.join(mark, 'go'), '')
          }
        }
      }
    )
    expect(run.result).toBe('cancelled')
    expect(run.jobs[0].result).toBe('success')
    expect(run.jobs[0].steps.map(s => s.outcome)).toEqual(['success', 'success'])
    expect(existsSync(path.join(mark, 'next'))).toBe(true)
  })

  it('does not interrupt a running always() step of a cancelled job (the runner evaluates its if: again)', async () => {
    const mark = await scratch.repo({ '.keep': '' })
    const controller = new AbortController()
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': `
on: push
jobs:
  job:
    runs-on: ubuntu-latest
    steps:
      - name: cleanup-like
        if: always()
        run: |
          echo "waiting for the go"
          while [ ! -e "$MARK/go" ]; do sleep 0.1; done
          echo "finished anyway"
      - name: next
        run: touch "$MARK/next"
`
      },
      { signal: controller.signal },
      {
        env: { MARK: mark },
        onLog: line => {
          if (line.endsWith('waiting for the go')) {
            controller.abort()
            writeFileSync(path.join(mark, 'go'), '')
          }
        }
      }
    )
    expect(run.jobs[0].result).toBe('cancelled')
    expect(run.jobs[0].steps.map(s => `${s.name}:${s.outcome}`)).toEqual([
      'cleanup-like:success',
      'next:skipped'
    ])
    expect(run.log.some(l => l.endsWith('finished anyway'))).toBe(true)
  })
})
