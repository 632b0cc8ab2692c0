/**
 * A one-off of run.yml has a concurrency group of its own, as rollback.yml has: it runs while a
 * deploy of the same site is held by its environment's reviewer, and it never takes the place of
 * that pending deploy (GitHub keeps one run pending per group, a newer one replacing it, so in
 * deploy.yml's group it would have). The harness queues concurrency groups as GitHub does and
 * holds a job in its environment while the approval is unanswered, its run keeping its groups.
 * The workflows are probes with the real `workflow_call` inputs and the real `concurrency:` of
 * .github/workflows/deploy.yml and run.yml; their one job runs in the site's environment, as the
 * real jobs do (rollback-concurrency.test.ts does the same for rollback.yml). On the hosts the
 * site lock keeps the two apart (run-command.test.ts, site-lock.test.ts).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { ScratchRepos, type WorkflowRun } from '../../tools/harness/index.js'
import { concurrencyProbe as probe } from '../helpers/concurrency-probe.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

describe('run.yml and deploy.yml concurrency', () => {
  it('a one-off runs while a deploy waits for approval, and the deploy still runs after', async () => {
    const root = await scratch.repo({
      '.github/workflows/deploy.yml': await probe('.github/workflows/deploy.yml'),
      '.github/workflows/run.yml': await probe('.github/workflows/run.yml')
    })
    const mark = await scratch.repo({ '.keep': '' })
    const runs: Record<string, Promise<WorkflowRun> | undefined> = {}
    const ended = new Set<string>()
    let approveA: (ok: boolean) => void = () => undefined
    let approvals = 0
    let oneOffWaits = false
    const harness = scratch.harness({
      repository: { root, name: 'acme/weave' },
      env: { MARK: mark },
      environments: { v1: { reviewers: ['release-manager'] } },
      // Deploy A's approval is answered only once the one-off has ended (or waits for a group).
      approve: () => {
        if (++approvals > 1) return true
        start('O', 'run')
        return new Promise<boolean>(resolve => (approveA = resolve))
      },
      onLog: line => {
        if (/Waiting for the concurrency group/.test(line)) oneOffWaits = true
      }
    })
    const start = (name: string, file: 'deploy' | 'run') => {
      runs[name] = harness.runWorkflow(path.join(root, `.github/workflows/${file}.yml`), {
        event: 'workflow_call',
        inputs: { site: 'v1', name, ...(file === 'run' && { command: '["python", "-V"]' }) }
      })
      const end = () => void ended.add(name)
      runs[name].then(end, end)
    }
    start('A', 'deploy')
    while (!ended.has('O') && !oneOffWaits) await new Promise(r => setTimeout(r, 20))
    // In deploy.yml's group the one-off would wait here behind the unapproved deploy.
    expect(oneOffWaits).toBe(false)
    const oneOff = (await runs.O)!
    expect(oneOff.result).toBe('success')
    expect(oneOff.jobs[0].outputs.seen).toBe('done-O ')
    expect(ended.has('A')).toBe(false)
    approveA(true)
    const a = (await runs.A)!
    // The pending deploy was not replaced: it runs once approved, after the one-off.
    expect(a.result).toBe('success')
    expect(a.jobs[0].outputs.seen).toBe('done-A done-O ')
  }, 60_000)
})
