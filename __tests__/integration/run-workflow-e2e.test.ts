/**
 * The one-off workflow (.github/workflows/run.yml) end to end, through the harness
 * (tools/harness): GitHub's own parser and expression engine, the real run action (dist/run.js),
 * a real private Apache with mod_wsgi and the sample app deployed on a local site by the CLI.
 *
 *   1. A command in the live release, as the site's Apache user, writes a file and prints the
 *      release's version and a secret of its environment: the output is in the log as it came,
 *      the secret masked; the job ran in the site's environment after its approval, in its
 *      own concurrency group; the outputs carry the exit code, status and version.
 *   2. A command that exits 7 fails the job with one line naming the command and the code, and
 *      the outputs still say 7.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (scripts/test.sh does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { allJobs, checkoutFixture, Harness, type WorkflowRun } from '../../tools/harness/index.js'
import { setUpAppRepo, type AppRepo } from '../helpers/app-repo.js'
import { REPO, WORKFLOWS, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'

const APP = 'acme/weave'
const SECRET = 'run-workflow-secret-4b9d1e'

let app: AppRepo
/** A folder the site's Apache user may write in. */
let out: string
const harnesses: Harness[] = []

/** run.yml called with `command` (an argv) on site v1, on a self-hosted runner on the server. */
async function runOneOff(command: string[]): Promise<WorkflowRun> {
  const h = new Harness({
    repository: { root: REPO, name: SITECYCLE, sha: SITECYCLE_SHA },
    github: { repository: APP, sha: app.git('rev-parse', 'HEAD'), ref: 'refs/heads/main' },
    remoteActions: {
      'actions/checkout': checkoutFixture({
        [APP]: { dir: app.site.dir, mode: 'clone' },
        [SITECYCLE]: { dir: REPO, mode: 'copy', sha: SITECYCLE_SHA }
      })
    },
    environments: { v1: { reviewers: ['release-manager'] } },
    approve: () => true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  })
  harnesses.push(h)
  return h.runWorkflow(path.join(WORKFLOWS, 'run.yml'), {
    inputs: { site: 'v1', command: JSON.stringify(command), 'runs-on': 'self-hosted' }
  })
}

function runStep(run: WorkflowRun) {
  return allJobs(run)
    .flatMap(j => j.steps)
    .find(s => s.id === 'run')!
}

beforeAll(async () => {
  app = await setUpAppRepo({
    tempPrefix: 'sitecycle-run-e2e-',
    versions: ['1.0.0'],
    siteYaml: 'env: { RUN_TOKEN: "{{ secret.SAMPLE_SECRET_KEY }}" }',
    env: { SAMPLE_SECRET_KEY: SECRET }
  })
  out = path.join(app.work, 'out')
  await fs.mkdir(out)
  await fs.chmod(out, 0o777)
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await app?.cleanup()
})

describe('run.yml, end to end through the harness', () => {
  it('runs a one-off command in the live release, its output in the log with the secret masked', async () => {
    const file = path.join(out, 'one-off.txt')
    const run = await runOneOff([
      'python',
      '-c',
      'import os, pwd, sys; ' +
        "open(sys.argv[1], 'w').write(os.environ['SITECYCLE_VERSION']); " +
        "print('one-off in', os.environ['SITECYCLE_VERSION'], 'as', pwd.getpwuid(os.getuid()).pw_name); " +
        "print('token', os.environ['RUN_TOKEN'], file=sys.stderr)",
      file
    ])
    expect({ result: run.result, error: run.error }).toEqual({
      result: 'success',
      error: undefined
    })
    expect(run.outputs).toEqual({ 'exit-code': '0', status: 'ran', version: '1.0.0' })
    expect(await fs.readFile(file, 'utf8')).toBe('1.0.0')
    expect(run.log).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/one-off in 1\.0\.0 as www-data$/),
        expect.stringMatching(/token \*\*\*$/)
      ])
    )
    expect(run.log.join('\n')).not.toContain(SECRET)
    expect(run.annotations.filter(a => a.level !== 'notice')).toEqual([])
    // In the site's environment, approved, without a deployment record of its own.
    expect(run.checks.filter(c => c.kind === 'environment')).toEqual([
      expect.objectContaining({ name: 'v1', reviewers: ['release-manager'], approved: true })
    ])
    // A group of its own (never replacing a deploy waiting for approval); the site lock keeps
    // it apart from a deploy on the host.
    expect(run.checks.filter(c => c.kind === 'concurrency')[0]).toMatchObject({
      scope: 'workflow',
      group: 'sitecycle-run-v1',
      deadlock: false
    })
    expect(
      run.checks.filter(c => c.kind === 'permissions').map(c => 'permissions' in c && c.permissions)
    ).toEqual([{}, { contents: 'read' }])
    const job = allJobs(run).find(j => j.id === 'run')!
    expect(job.summary).toContain('Ran a command in site v1, release 1.0.0')
    expect(job.summary).not.toContain(SECRET)
  })

  it('fails the job on a non-zero exit, with a line naming the command and the code', async () => {
    const run = await runOneOff(['python', '-c', "import sys; print('about to fail'); sys.exit(7)"])
    expect(run.result).toBe('failure')
    expect(runStep(run).outputs).toMatchObject({
      'exit-code': '7',
      status: 'failed',
      version: '1.0.0'
    })
    expect(run.log).toEqual(expect.arrayContaining([expect.stringMatching(/about to fail$/)]))
    const errors = run.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(errors).toEqual([
      expect.stringMatching(
        /^command python -c ".*" exited with code 7 in release 1\.0\.0 of site v1 on local$/
      )
    ])
  })
})
