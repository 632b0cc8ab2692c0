/**
 * A rollback never waits behind a deploy of the same site that waits for its reviewers, and a
 * newer deploy never replaces a waiting rollback. The harness queues concurrency groups as GitHub
 * does (one run in progress, one pending, a newer request replacing the pending one) and holds a
 * job in its environment while the approval is unanswered, its run keeping its groups. The
 * workflows here are probes with the real `workflow_call` inputs and the real `concurrency:` of
 * .github/workflows/deploy.yml and rollback.yml; their one job runs in the site's environment,
 * as the real host jobs do.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { ScratchRepos, type WorkflowRun } from '../../tools/harness/index.js'
import { concurrencyProbe as probe } from '../helpers/concurrency-probe.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

describe('deploy.yml and rollback.yml concurrency', () => {
  it('a rollback runs while a deploy of the site waits for its reviewers, and no newer deploy replaces it', async () => {
    const root = await scratch.repo({
      '.github/workflows/deploy.yml': await probe('.github/workflows/deploy.yml'),
      '.github/workflows/rollback.yml': await probe('.github/workflows/rollback.yml')
    })
    const mark = await scratch.repo({ '.keep': '' })
    const runs: Record<string, Promise<WorkflowRun> | undefined> = {}
    let approveA: (ok: boolean) => void = () => undefined
    let approvals = 0
    const harness = scratch.harness({
      repository: { root, name: 'acme/weave' },
      env: { MARK: mark },
      environments: { v1: { reviewers: ['release-manager'] } },
      // Deploy A's approval stays unanswered (the reviewer is away); the others are approved.
      approve: () => {
        if (++approvals > 1) return true
        start('R', 'rollback')
        return new Promise<boolean>(resolve => (approveA = resolve))
      },
      onLog: line => {
        // A newer deploy B is asked for once R runs, or (one shared group) waits behind A.
        if (runs.B) return
        if (line.endsWith(' R running') || /Waiting for the concurrency group/.test(line))
          start('B', 'deploy')
      }
    })
    const start = (name: string, file: 'deploy' | 'rollback') => {
      runs[name] = harness.runWorkflow(path.join(root, `.github/workflows/${file}.yml`), {
        event: 'workflow_call',
        inputs: { site: 'v1', name }
      })
    }
    start('A', 'deploy')
    // The approve callback starts R when A's job waits: wait for that (or for A to end without it).
    let aEnded = false
    void runs.A!.finally(() => (aEnded = true))
    while (!runs.R && !aEnded) await new Promise(resolve => setTimeout(resolve, 20))
    expect(runs.R).toBeDefined()
    const rollback = (await runs.R)!
    approveA(true)
    const a = (await runs.A)!
    const b = (await runs.B)!
    expect(rollback.result).toBe('success')
    // The rollback finished while deploy A still waited for its reviewer.
    expect(rollback.jobs[0].outputs.seen).toBe('done-R ')
    expect(a.result).toBe('success')
    // The newer deploy waited for the older one, then ran.
    expect(b.result).toBe('success')
    expect(b.jobs[0].outputs.seen).toBe('done-A done-B done-R ')
  }, 60_000)
})
