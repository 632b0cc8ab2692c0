/**
 * Every starter (workflows/*.yml), copied into an application's repository of another owner
 * (acme/weave calling sitecycle-org/sitecycle), run through the harness as GitHub would run it:
 *
 * - the permission ceiling: the called workflow is a probe with the real workflow's
 *   `workflow_call` interface and one job asking for what the real workflow's jobs ask for
 *   together; GitHub (and the harness) refuses the run before any job starts when the starter
 *   grants less;
 * - the secrets: `secrets: inherit` reaches a workflow of another owner empty, so each secret the
 *   called workflow declares must arrive by name; the probe reports which secrets it got.
 *
 * The real workflows themselves run end to end in the *-e2e integration tests.
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify as toYaml, parse as parseYaml } from 'yaml'
import { neededPermissions } from '../../tools/docs/starter-tables.js'
import { describeFailure, ScratchRepos, type Trigger } from '../../tools/harness/index.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const SITECYCLE = 'sitecycle-org/sitecycle'
const APP = 'acme/weave'
const SECRETS = {
  SITECYCLE_SSH_KEY: 'probe-ssh-key-5c1e',
  SITECYCLE_SECRETS: JSON.stringify({ DB_PASSWORD: 'probe-db-password-77a0' })
}

type Yaml = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

/** How each starter is started on GitHub. */
const TRIGGERS: Record<string, Trigger> = {
  'backup.yml': { event: 'schedule', payload: { schedule: '17 2 * * *' } },
  'deploy-preview.yml': {
    event: 'workflow_run',
    payload: {
      workflow_run: { id: 42, conclusion: 'success', event: 'push', head_sha: 'a'.repeat(40) }
    }
  },
  'deploy-production.yml': { event: 'workflow_dispatch', inputs: { version: '1.4.0' } },
  'mirrors.yml': { event: 'schedule', payload: { schedule: '7 3 * * *' } },
  'preview-sync.yml': { event: 'schedule', payload: { schedule: '47 2 * * *' } },
  'release.yml': { event: 'push' },
  'rollback.yml': { event: 'workflow_dispatch', inputs: { site: 'v1' } },
  'run.yml': {
    event: 'workflow_dispatch',
    inputs: { site: 'v1', command: '["python", "manage.py", "migrate", "--noinput"]' }
  },
  'upgrade-attempt.yml': {
    event: 'workflow_dispatch',
    inputs: { version: '2.0.0', step: 'attempt' }
  },
  'watch.yml': { event: 'schedule', payload: { schedule: '41 * * * *' } }
}

/** The called workflow's interface, and one job asking for what all of its jobs ask for. */
function probeOf(real: Yaml, file: string): string {
  const call = real.on.workflow_call as Yaml
  return toYaml({
    on: {
      workflow_call: {
        inputs: call.inputs ?? {},
        secrets: call.secrets ?? {},
        outputs: { seen: { value: '${{ jobs.probe.outputs.seen }}' } }
      }
    },
    permissions: {},
    jobs: {
      probe: {
        'runs-on': 'ubuntu-24.04',
        permissions: neededPermissions(real, file),
        outputs: { seen: '${{ steps.seen.outputs.seen }}' },
        steps: [
          {
            id: 'seen',
            shell: 'bash',
            env: { SECRETS: '${{ toJSON(secrets) }}' },
            // The names of the secrets that arrived non-empty, never their values.
            run: `echo "seen=$(jq -c '[to_entries[] | select(.value != "") | .key] | sort' <<<"$SECRETS")" >> "$GITHUB_OUTPUT"`
          }
        ]
      }
    }
  })
}

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const allStarters = (await fs.readdir(path.join(REPO, 'workflows')))
  .filter(name => name.endsWith('.yml'))
  .sort()
/** The starters that call a reusable workflow (deploy-staged.yml runs its steps itself, through
 * the CLI: integration/deploy-staged-workflow-e2e.test.ts runs it). */
const starters: string[] = []
for (const name of allStarters) {
  const doc = parseYaml(await fs.readFile(path.join(REPO, 'workflows', name), 'utf8')) as Yaml
  if (Object.values<Yaml>(doc.jobs).some(j => j.uses)) starters.push(name)
}

describe('each starter, copied into a repository of another owner', () => {
  it('has a trigger here', () => {
    expect(Object.keys(TRIGGERS).sort()).toEqual(starters)
  })

  it.each(starters)(
    '%s is allowed to start and its secrets reach the workflow it calls',
    async name => {
      const text = await fs.readFile(path.join(REPO, 'workflows', name), 'utf8')
      const job = Object.values<Yaml>((parseYaml(text) as Yaml).jobs).find(j => j.uses)!
      const called = /^OWNER\/sitecycle\/(.*)@/.exec(job.uses as string)![1]
      const real = parseYaml(await fs.readFile(path.join(REPO, called), 'utf8')) as Yaml
      const lib = await scratch.repo({ [called]: probeOf(real, called) })
      // As copied: OWNER replaced by the owner of the sitecycle repository used.
      const app = await scratch.repo({
        [`.github/workflows/${name}`]: text.replace(/OWNER\/sitecycle\//g, `${SITECYCLE}/`)
      })
      const run = await scratch
        .harness({
          repository: { root: app, name: APP },
          github: { repository: APP, ref: 'refs/tags/v1.4.0' },
          secrets: SECRETS,
          remoteWorkflows: {
            [`${SITECYCLE}/${called}`]: {
              file: path.join(lib, called),
              root: lib,
              repository: SITECYCLE,
              sha: '0'.repeat(40)
            }
          }
        })
        .runWorkflow(path.join(app, '.github/workflows', name), TRIGGERS[name])
      expect({
        result: run.result,
        failure: run.result === 'success' ? '' : describeFailure(run)
      }).toEqual({ result: 'success', failure: '' })
      const caller = run.jobs.find(j => j.call)!
      const seen = JSON.parse(caller.outputs.seen || '[]') as string[]
      // Every secret the called workflow declares arrives, whatever the owners.
      const declared = Object.keys((real.on.workflow_call.secrets ?? {}) as Yaml)
      expect(declared.length).toBeGreaterThan(0)
      expect(seen).toEqual(expect.arrayContaining(declared))
    },
    30_000
  )
})
