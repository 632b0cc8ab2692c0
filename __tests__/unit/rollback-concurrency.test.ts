/**
 * A rollback never waits behind a deploy of the same site, and a newer deploy never replaces a
 * waiting rollback. The harness queues concurrency groups as GitHub does (one run in progress,
 * one pending, a newer request replacing the pending one); the workflows here are probes with
 * the real `workflow_call` interface and the real `concurrency:` of .github/workflows/deploy.yml
 * and rollback.yml, whose one job stands for the work (a deploy's canary job waiting for its
 * reviewers holds the deploy's group just as a running one does).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { promises as fs, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { ScratchRepos, type WorkflowRun } from '../../tools/harness/index.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

type Yaml = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** The real workflow's interface and concurrency; one job that waits for $MARK/go-<name>. */
async function probe(file: string): Promise<string> {
  const real = parseYaml(await fs.readFile(path.join(REPO, file), 'utf8')) as Yaml
  return toYaml({
    on: {
      workflow_call: {
        // `name` only tells the probe runs apart.
        inputs: { ...real.on.workflow_call.inputs, name: { type: 'string', default: '' } },
        outputs: { seen: { value: '${{ jobs.work.outputs.seen }}' } }
      }
    },
    permissions: {},
    concurrency: real.concurrency,
    jobs: {
      work: {
        'runs-on': 'ubuntu-24.04',
        outputs: { seen: '${{ steps.work.outputs.seen }}' },
        steps: [
          {
            id: 'work',
            shell: 'bash',
            env: { NAME: '${{ inputs.name }}' },
            run: [
              'echo "$NAME running"',
              'while [ ! -e "$MARK/go-$NAME" ]; do sleep 0.1; done',
              'touch "$MARK/done-$NAME"',
              'echo "seen=$(ls "$MARK" | grep done- | tr \'\\n\' \' \')" >> "$GITHUB_OUTPUT"'
            ].join('\n')
          }
        ]
      }
    }
  })
}

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

describe('deploy.yml and rollback.yml concurrency', () => {
  it('a rollback runs while a deploy of the site holds its group, and no newer deploy replaces it', async () => {
    const root = await scratch.repo({
      '.github/workflows/deploy.yml': await probe('.github/workflows/deploy.yml'),
      '.github/workflows/rollback.yml': await probe('.github/workflows/rollback.yml')
    })
    const mark = await scratch.repo({ '.keep': '' })
    const go = (name: string) => writeFileSync(path.join(mark, `go-${name}`), '')
    const runs: Record<string, Promise<WorkflowRun>> = {}
    const lines: string[] = []
    let hook: (line: string) => void = () => undefined
    const harness = scratch.harness({
      repository: { root, name: 'acme/weave' },
      env: { MARK: mark },
      onLog: line => {
        lines.push(line)
        hook(line)
      }
    })
    const start = (name: string, file: 'deploy' | 'rollback') => {
      runs[name] = harness.runWorkflow(path.join(root, `.github/workflows/${file}.yml`), {
        event: 'workflow_call',
        inputs: { site: 'v1', name }
      })
    }
    // 1. deploy A holds sitecycle-deploy-v1 (as while its canary waits for a reviewer);
    // 2. the emergency rollback R starts; 3. a newer deploy B is asked for while R waits or runs.
    hook = line => {
      if (line.endsWith(' A running')) start('R', 'rollback')
      if (line.endsWith(' R running')) {
        start('B', 'deploy')
        go('R')
      }
      // The old shared group: R pending behind A; B then replaces it.
      if (/Waiting for the concurrency group/.test(line) && !runs.B) start('B', 'deploy')
      if (/Canceling since a higher priority/.test(line)) go('A')
    }
    start('A', 'deploy')
    // The hook starts R once A runs: wait for that (or for A to end without it).
    let aEnded = false
    void runs.A.finally(() => (aEnded = true))
    while (!runs.R && !aEnded) await new Promise(resolve => setTimeout(resolve, 20))
    expect(runs.R).toBeDefined()
    const rollback = await runs.R
    go('A')
    const a = await runs.A
    go('B')
    const b = await runs.B
    expect(rollback.result).toBe('success')
    // The rollback finished while the deploy still held its group.
    expect(rollback.jobs[0].outputs.seen).toBe('done-R ')
    expect(a.result).toBe('success')
    // The newer deploy waited for the older one only.
    expect(b.result).toBe('success')
    expect(b.jobs[0].outputs.seen).toBe('done-A done-B done-R ')
  }, 60_000)
})
