/**
 * Concurrency groups across runs of one Harness (one repository on GitHub). Documented
 * behaviour imitated (docs.github.com, "Control the concurrency of workflows and jobs"):
 * "When a concurrent job or workflow is queued, if another job or workflow using the same
 * concurrency group in the repository is in progress, the queued job or workflow will be
 * pending. Any existing pending job or workflow in the same concurrency group, if it exists,
 * will be canceled and the new queued job or workflow will take its place. To also cancel any
 * currently running job or workflow in the same concurrency group, specify
 * cancel-in-progress: true." The message of a replaced or cancelled run is GitHub's:
 * "Canceling since a higher priority waiting request for '<group>' exists".
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { ScratchRepos, type WorkflowRun } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

/** A workflow named `name` in group `deploy-site`; run `a` waits for $MARK/go (or is long). */
function workflow(name: string, cancelInProgress: boolean, level: 'workflow' | 'job' = 'workflow') {
  const group = `
  group: deploy-site
  cancel-in-progress: ${cancelInProgress}`
  return `
on: push
${level === 'workflow' ? `concurrency:${group}` : ''}
env:
  NAME: ${name}
jobs:
  j:
    runs-on: ubuntu-latest
${level === 'job' ? `    concurrency:${group.replace(/\n/g, '\n    ')}` : ''}
    outputs:
      seen: \${{ steps.s.outputs.seen }}
    steps:
      - id: s
        run: |
          echo "$NAME running"
          if [ "$NAME" = a ]; then
            if [ "$LONG" = 1 ]; then sleep 600 & wait; fi
            while [ ! -e "$MARK/go" ]; do sleep 0.1; done
          fi
          touch "$MARK/done-$NAME"
          echo "seen=$(ls "$MARK" | grep done- | tr '\\n' ' ')" >> "$GITHUB_OUTPUT"
`
}

async function setup(files: Record<string, string>, long = false) {
  const root = await scratch.repo(files)
  const mark = await scratch.repo({ '.keep': '' })
  const started: Record<string, Promise<WorkflowRun>> = {}
  const hooks: ((line: string) => void)[] = []
  const harness = scratch.harness({
    repository: { root },
    env: { MARK: mark, LONG: long ? '1' : '0' },
    onLog: line => {
      for (const h of hooks) h(line)
    }
  })
  const start = (name: string) => {
    started[name] = harness.runWorkflow(path.join(root, `.github/workflows/${name}.yml`))
  }
  return { root, mark, started, hooks, start }
}

describe('concurrency groups', () => {
  it('keeps a newer run pending; a still newer one replaces it (cancelled) and runs after the first', async () => {
    const t = await setup({
      '.github/workflows/a.yml': workflow('a', false),
      '.github/workflows/b.yml': workflow('b', false),
      '.github/workflows/c.yml': workflow('c', false)
    })
    t.hooks.push(line => {
      if (line.endsWith('] a running')) t.start('b')
      if (line.startsWith('[.github/workflows/b.yml] Waiting for the concurrency group'))
        t.start('c')
      if (line.startsWith('[.github/workflows/b.yml] ##[error] Canceling since a higher priority'))
        writeFileSync(path.join(t.mark, 'go'), '')
    })
    t.start('a')
    const a = await t.started.a
    const b = await t.started.b
    const c = await t.started.c
    expect(a.result).toBe('success')
    expect(b.result).toBe('cancelled')
    expect(b.jobs).toEqual([])
    expect(b.log.join('\n')).toContain(
      "Canceling since a higher priority waiting request for 'deploy-site' exists"
    )
    expect(c.result).toBe('success')
    expect(c.jobs[0].outputs.seen).toBe('done-a done-c ')
  })

  it('cancel-in-progress: true cancels the run in progress', async () => {
    const t = await setup(
      {
        '.github/workflows/a.yml': workflow('a', true),
        '.github/workflows/b.yml': workflow('b', true)
      },
      true
    )
    t.hooks.push(line => {
      if (line.endsWith('] a running')) t.start('b')
    })
    t.start('a')
    const a = await t.started.a
    const b = await t.started.b
    expect(a.result).toBe('cancelled')
    expect(a.jobs[0].steps[0].outcome).toBe('cancelled')
    expect(b.result).toBe('success')
    expect(b.jobs[0].outputs.seen).toBe('done-b ')
  })

  it('queues jobs of different runs in a job-level group', async () => {
    const t = await setup({
      '.github/workflows/a.yml': workflow('a', false, 'job'),
      '.github/workflows/b.yml': workflow('b', false, 'job')
    })
    t.hooks.push(line => {
      if (line.endsWith('] a running')) t.start('b')
      if (line.startsWith('[j] Waiting for the concurrency group'))
        writeFileSync(path.join(t.mark, 'go'), '')
    })
    t.start('a')
    const a = await t.started.a
    const b = await t.started.b
    expect(a.result).toBe('success')
    expect(b.result).toBe('success')
    expect(b.jobs[0].outputs.seen).toBe('done-a done-b ')
  })

  it('a run waiting for a reviewer holds its group: a newer run in the group waits behind it', async () => {
    const root = await scratch.repo({
      '.github/workflows/deploy.yml': workflow('deploy', false).replace(
        '    runs-on: ubuntu-latest',
        '    runs-on: ubuntu-latest\n    environment: production'
      ),
      '.github/workflows/rollback.yml': workflow('rollback', false)
    })
    const mark = await scratch.repo({ '.keep': '' })
    let approve: (answer: boolean) => void = () => undefined
    let rollback: Promise<WorkflowRun> | undefined
    const harness = scratch.harness({
      repository: { root },
      env: { MARK: mark, LONG: '0' },
      environments: { production: { reviewers: ['alice'] } },
      approve: () => {
        rollback = harness.runWorkflow(path.join(root, '.github/workflows/rollback.yml'))
        return new Promise<boolean>(resolve => (approve = resolve))
      },
      onLog: line => {
        if (line.startsWith('[.github/workflows/rollback.yml] Waiting for the concurrency group'))
          approve(true)
      }
    })
    const deploy = await harness.runWorkflow(path.join(root, '.github/workflows/deploy.yml'))
    const rolledBack = await (rollback as Promise<WorkflowRun>)
    expect(deploy.result).toBe('success')
    expect(rolledBack.result).toBe('success')
    expect(rolledBack.jobs[0].outputs.seen).toBe('done-deploy done-rollback ')
  })
})
