/**
 * The secrets context, GITHUB_WORKFLOW and RUNNER_ENVIRONMENT as GitHub and its runner set
 * them. Documented behaviour imitated (docs.github.com):
 * - "Contexts reference" > secrets context: its example contents are `github_token` (lower
 *   case, the automatic token) and the repository's secrets by name; "Using secrets": secret
 *   names are not case-sensitive, and GitHub stores them in upper case.
 * - "Variables reference" > Default environment variables: GITHUB_WORKFLOW is "The name of the
 *   workflow. If the workflow file doesn't specify a name, the value of this variable is the
 *   full path of the workflow file in the repository"; RUNNER_ENVIRONMENT is `github-hosted`
 *   or `self-hosted`.
 * - "Reusing workflows": "the github context is always associated with the caller workflow",
 *   so a called workflow's GITHUB_WORKFLOW is its caller's.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { allJobs, assertSucceeded, ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const PROBE = `
    outputs:
      seen: \${{ steps.s.outputs.seen }}
    steps:
      - id: s
        env:
          SECRETS_JSON: \${{ toJSON(secrets) }}
          CTX_WORKFLOW: \${{ github.workflow }}
          CTX_RUNNER: \${{ runner.environment }}
          UPPER_TOKEN: \${{ secrets.GITHUB_TOKEN != '' }}
        run: |
          keys=$(printf '%s' "$SECRETS_JSON" | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin))))')
          echo "seen=$GITHUB_WORKFLOW|$CTX_WORKFLOW|$RUNNER_ENVIRONMENT|$CTX_RUNNER|$keys|$UPPER_TOKEN" >> "$GITHUB_OUTPUT"
`

describe('runner variables and the secrets context', () => {
  it('spells toJSON(secrets) keys as GitHub does; GITHUB_WORKFLOW is the caller name; RUNNER_ENVIRONMENT follows runs-on', async () => {
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': `
name: Deploy site
on: push
jobs:
  hosted:
    runs-on: ubuntu-latest${PROBE}
  own:
    runs-on: [self-hosted, linux]${PROBE}
  call:
    uses: ./.github/workflows/called.yml
`,
        '.github/workflows/called.yml': `
name: Called
on: workflow_call
jobs:
  inner:
    runs-on: ubuntu-24.04${PROBE}
`
      },
      {},
      { secrets: { ssh_key: 'k1', DB_PASSWORD: 'k2' } }
    )
    assertSucceeded(run)
    const seen = Object.fromEntries(allJobs(run).map(j => [j.id, j.outputs.seen]))
    expect(seen.hosted).toBe(
      'Deploy site|Deploy site|github-hosted|github-hosted|DB_PASSWORD,SSH_KEY,github_token|true'
    )
    expect(seen.own).toBe(
      'Deploy site|Deploy site|self-hosted|self-hosted|DB_PASSWORD,SSH_KEY,github_token|true'
    )
    // A called workflow's secrets: only those passed (none here) and the token.
    expect(seen.inner).toBe('Deploy site|Deploy site|github-hosted|github-hosted|github_token|true')
  })

  it('names an unnamed workflow by its path', async () => {
    const run = await scratch.run({
      '.github/workflows/w.yml': `
on: push
jobs:
  hosted:
    runs-on: ubuntu-latest${PROBE}
`
    })
    assertSucceeded(run)
    expect(run.jobs[0].outputs.seen.split('|').slice(0, 2)).toEqual([
      '.github/workflows/w.yml',
      '.github/workflows/w.yml'
    ])
  })
})
