/**
 * The harness enforces the GITHUB_TOKEN permission ceiling of called workflows, as GitHub does
 * when it queues a run. Documented behaviour imitated (docs.github.com):
 * - "Reusing workflows" > Access and permissions: "The GITHUB_TOKEN permissions passed from the
 *   caller workflow can be only downgraded (not elevated) by the called workflow." GitHub
 *   refuses the run before any job starts: "The nested job 'X' is requesting
 *   'deployments: write', but is only allowed 'deployments: none'".
 * - "Controlling permissions for GITHUB_TOKEN": once any scope is given every other one is
 *   `none`; `read-all`, `write-all`, `{}`; without `permissions:` a job gets the workflow's,
 *   else the repository default.
 * - "GITHUB_TOKEN reference": default access permissive (read/write) or restricted (contents
 *   and packages read).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { ScratchRepos, type HarnessOptions, type Trigger } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const CALLED = (jobPermissions: string, workflowPermissions = '') => `
on: workflow_call
${workflowPermissions}
jobs:
  deploy:
    runs-on: ubuntu-latest
${jobPermissions}
    steps:
      - run: echo deployed
`

/** A caller whose `early` job would leave a file, then a job calling called.yml with `grant`. */
function caller(grant: string, workflowPermissions = ''): string {
  return `
on: push
${workflowPermissions}
jobs:
  early:
    runs-on: ubuntu-latest
    steps:
      - run: touch "$MARK"
  call:
    needs: early
${grant}
    uses: ./.github/workflows/called.yml
`
}

async function runPair(
  callerYaml: string,
  calledYaml: string,
  options: HarnessOptions = {},
  trigger: Trigger = {}
) {
  const root = await scratch.repo({
    '.github/workflows/w.yml': callerYaml,
    '.github/workflows/called.yml': calledYaml
  })
  const mark = path.join(root, 'early-ran')
  const run = await scratch
    .harness({ repository: { root }, env: { MARK: mark }, ...options })
    .runWorkflow(path.join(root, '.github/workflows/w.yml'), trigger)
  return { run, earlyRan: existsSync(mark) }
}

const DEPLOY_WRITE = `    permissions:
      deployments: write`

describe('the permission ceiling of called workflows', () => {
  it("refuses the deploy starters' grant before any job starts, with GitHub's message", async () => {
    const { run, earlyRan } = await runPair(
      caller(`    permissions:
      contents: read
      actions: read`),
      CALLED(DEPLOY_WRITE)
    )
    expect(run.result).toBe('failure')
    expect(run.error).toContain(
      "The nested job 'deploy' is requesting 'deployments: write', but is only allowed 'deployments: none'."
    )
    expect(run.error).toContain("Error calling workflow './.github/workflows/called.yml'")
    expect(run.jobs).toEqual([])
    expect(earlyRan).toBe(false)
  })

  it('runs when the caller job grants what the called jobs ask, and a called job without permissions inherits', async () => {
    const { run, earlyRan } = await runPair(
      caller(`    permissions:
      contents: read
      deployments: write`),
      CALLED(DEPLOY_WRITE).replace(
        '      - run: echo deployed',
        '      - run: echo deployed\n  other:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo inherits'
      )
    )
    expect(run.error).toBeUndefined()
    expect(run.result).toBe('success')
    expect(earlyRan).toBe(true)
  })

  it("checks the called workflow's workflow-level permissions for each of its jobs", async () => {
    const { run } = await runPair(
      caller(`    permissions:
      contents: read`),
      CALLED('', 'permissions:\n  contents: write')
    )
    expect(run.error).toContain(
      "The nested job 'deploy' is requesting 'contents: write', but is only allowed 'contents: read'."
    )
  })

  it.each([
    ['no permissions anywhere, restricted default', '', '', undefined, 'deployments: none'],
    ['no permissions anywhere, permissive default', '', '', 'permissive' as const, undefined],
    [
      'the caller workflow-level grant',
      '',
      'permissions:\n  deployments: write',
      undefined,
      undefined
    ],
    ['permissions: {}', '    permissions: {}', '', 'permissive' as const, 'deployments: none'],
    ['read-all', '    permissions: read-all', '', undefined, 'deployments: read'],
    ['write-all', '    permissions: write-all', '', undefined, undefined]
  ])('grant from %s', async (_what, grant, workflowLevel, mode, refused) => {
    const { run } = await runPair(
      caller(grant, workflowLevel),
      CALLED(DEPLOY_WRITE),
      mode ? { defaultTokenPermissions: mode } : {}
    )
    if (refused) {
      expect(run.result).toBe('failure')
      expect(run.error).toContain(`but is only allowed '${refused}'`)
    } else {
      expect(run.error).toBeUndefined()
      expect(run.result).toBe('success')
    }
  })

  it('checks nested calls against the grant of the job that calls them', async () => {
    const root = await scratch.repo({
      '.github/workflows/w.yml': caller(`    permissions:
      deployments: write
      contents: read`),
      '.github/workflows/called.yml': `
on: workflow_call
jobs:
  inner:
    permissions:
      contents: read
    uses: ./.github/workflows/deepest.yml
`,
      '.github/workflows/deepest.yml': CALLED(DEPLOY_WRITE)
    })
    const run = await scratch
      .harness({ repository: { root }, env: { MARK: path.join(root, 'm') } })
      .runWorkflow(path.join(root, '.github/workflows/w.yml'))
    expect(run.result).toBe('failure')
    expect(run.error).toContain("Error calling workflow './.github/workflows/deepest.yml'")
    expect(run.error).toContain(
      "The nested job 'deploy' is requesting 'deployments: write', but is only allowed 'deployments: none'."
    )
  })

  it("checks a workflow_call run against trigger.permissions, the test's caller grant", async () => {
    const files = { '.github/workflows/w.yml': CALLED(DEPLOY_WRITE) }
    const refused = await scratch.run(files, { permissions: { contents: 'read' } })
    expect(refused.error).toContain("is requesting 'deployments: write'")
    const granted = await scratch.run(files, { permissions: { deployments: 'write' } })
    expect(granted.result).toBe('success')
  })
})
