/**
 * In a job with `environment:`, the environment's secrets and variables win over secrets and
 * variables of the same name from the repository or the caller. Documented behaviour imitated
 * (docs.github.com):
 * - "Reusing workflows" > Using inputs and secrets: "Environment secrets cannot be passed from
 *   the caller workflow ... If you include the environment keyword in the reusable workflow at
 *   the job level, the environment secret will be used, and not the secret passed from the
 *   caller workflow."
 * - "Using secrets in GitHub Actions": an environment's secrets are available to a job only
 *   once it references the environment; "Store information in variables": "If a variable with
 *   the same name exists at multiple levels, the variable at the lowest level takes
 *   precedence" (environment over repository).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { assertSucceeded, ScratchRepos } from '../../tools/harness/index.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

describe('environment secrets and variables', () => {
  it('override the caller secret and the repository variable of the same name, in that job only', async () => {
    const run = await scratch.run(
      {
        '.github/workflows/w.yml': `
on:
  workflow_call:
    secrets:
      SSH_KEY:
        required: true
    outputs:
      deployed:
        value: \${{ jobs.deploy.outputs.seen }}
      plain:
        value: \${{ jobs.plain.outputs.seen }}
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    outputs:
      seen: \${{ steps.s.outputs.seen }}
    steps:
      - id: s
        env:
          KEY: \${{ secrets.SSH_KEY }}
          HOST: \${{ vars.DB_HOST }}
        run: |
          case "$KEY" in env-key) k=environment ;; caller-key) k=caller ;; *) k=none ;; esac
          echo "seen=$k $HOST" >> "$GITHUB_OUTPUT"
  plain:
    runs-on: ubuntu-latest
    outputs:
      seen: \${{ steps.s.outputs.seen }}
    steps:
      - id: s
        env:
          KEY: \${{ secrets.SSH_KEY }}
          HOST: \${{ vars.DB_HOST }}
        run: |
          case "$KEY" in env-key) k=environment ;; caller-key) k=caller ;; *) k=none ;; esac
          echo "seen=$k $HOST" >> "$GITHUB_OUTPUT"
`
      },
      { secrets: { SSH_KEY: 'caller-key' } },
      {
        vars: { DB_HOST: 'repo-db' },
        environments: {
          production: { secrets: { SSH_KEY: 'env-key' }, vars: { DB_HOST: 'env-db' } }
        }
      }
    )
    assertSucceeded(run)
    expect(run.outputs).toEqual({ deployed: 'environment env-db', plain: 'caller repo-db' })
  })
})
