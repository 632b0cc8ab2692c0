/**
 * `secrets: inherit` passes the caller's secrets only when the called workflow belongs to the
 * same owner. Documented behaviour imitated (docs.github.com, "Reusing workflows" > Passing
 * inputs and secrets / jobs.<job_id>.secrets.inherit): "Workflows that call reusable workflows
 * in the same organization or enterprise can use the inherit keyword to implicitly pass the
 * secrets." Across owners GitHub passes none and says nothing: the called workflow sees empty
 * secrets. A `secrets:` mapping passes named secrets to a workflow of any owner.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import path from 'node:path'
import { assertSucceeded, ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

async function callRemote(libRepository: string, secretsYaml: string) {
  const lib = await scratch.repo({
    '.github/workflows/lib.yml': `
on:
  workflow_call:
    secrets:
      SSH_KEY:
        required: false
    outputs:
      seen:
        value: \${{ jobs.j.outputs.seen }}
jobs:
  j:
    runs-on: ubuntu-latest
    outputs:
      seen: \${{ steps.s.outputs.seen }}
    steps:
      - id: s
        env:
          KEY: \${{ secrets.SSH_KEY }}
        run: echo "seen=\${KEY:+present}\${KEY:-empty}" | sed 's/present.*/present/' >> "$GITHUB_OUTPUT"
`
  })
  const root = await scratch.repo({
    '.github/workflows/w.yml': `
on: push
jobs:
  call:
    uses: ${libRepository}/.github/workflows/lib.yml@v1
    secrets: ${secretsYaml}
`
  })
  const run = await scratch
    .harness({
      repository: { root, name: 'acme/app' },
      secrets: { SSH_KEY: 'the-key' },
      remoteWorkflows: {
        [`${libRepository}/.github/workflows/lib.yml`]: {
          file: path.join(lib, '.github/workflows/lib.yml'),
          root: lib,
          repository: libRepository,
          sha: 'e'.repeat(40)
        }
      }
    })
    .runWorkflow(path.join(root, '.github/workflows/w.yml'))
  assertSucceeded(run)
  return run
}

describe('secrets: inherit', () => {
  it('passes the secrets to a workflow of the same owner', async () => {
    const run = await callRemote('acme/tools', 'inherit')
    expect(run.jobs[0].outputs.seen).toBe('present')
  })

  it('passes none to a workflow of another owner, without an error', async () => {
    const run = await callRemote('sitecycle-org/sitecycle', 'inherit')
    expect(run.result).toBe('success')
    expect(run.jobs[0].outputs.seen).toBe('empty')
  })

  it('an explicit secrets: mapping passes across owners', async () => {
    const run = await callRemote(
      'sitecycle-org/sitecycle',
      '\n      SSH_KEY: ${{ secrets.SSH_KEY }}'
    )
    expect(run.jobs[0].outputs.seen).toBe('present')
  })
})
