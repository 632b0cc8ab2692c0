/**
 * The top-level action.yml (`uses: OWNER/sitecycle@<sha>`), through the harness: it puts the CLI
 * of this commit on PATH for the job's later steps, checked on the node found there, with its
 * version as an output; a missing or old node fails the step with what to do, and nothing after
 * it runs.
 *
 * The bundles must be current: `npx rollup -c rollup.config.js --silent` (the test script does it).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { allJobs, ScratchRepos, type WorkflowRun } from '../../tools/harness/index.js'
import { REPO, SITECYCLE, SITECYCLE_SHA } from '../helpers/harness-repo.js'

const scratch = new ScratchRepos()
afterAll(() => scratch.cleanup())

const PACKAGE_VERSION = JSON.parse(
  execFileSync('git', ['-C', REPO, 'show', 'HEAD:package.json'], { encoding: 'utf8' })
).version as string

/** A user's workflow: the setup action, then plain `run:` steps that call `sitecycle`. */
function workflow(withNode = ''): string {
  return `
name: Use sitecycle
on: push
permissions: {}
jobs:
  use:
    runs-on: ubuntu-latest
    steps:
      - id: sitecycle
        uses: ${SITECYCLE}@${SITECYCLE_SHA}${withNode}
      - id: after
        env:
          SET_UP: \${{ steps.sitecycle.outputs.version }}
        run: |
          set -euo pipefail
          printf 'app:\\n  package: acme-app\\n  wsgi: acme.wsgi:application\\nsites:\\n  v1:\\n    root: %s/site\\n    url: http://127.0.0.1:1/\\n' "$RUNNER_TEMP" > "$RUNNER_TEMP/sitecycle.yml"
          {
            echo "which=$(command -v sitecycle)"
            echo "version=$(sitecycle version)"
            echo "set-up=$SET_UP"
            echo "hosts=$(sitecycle -c "$RUNNER_TEMP/sitecycle.yml" hosts v1 --json)"
          } >> "$GITHUB_OUTPUT"
`
}

async function runWith(files: Record<string, string>, withNode = ''): Promise<WorkflowRun> {
  const root = await scratch.repo({ '.github/workflows/w.yml': workflow(withNode), ...files })
  return scratch
    .harness({
      repository: { root },
      remoteActions: { [SITECYCLE]: { dir: REPO } },
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    })
    .runWorkflow(path.join(root, '.github/workflows/w.yml'))
}

function stepsOf(run: WorkflowRun) {
  return allJobs(run).flatMap(j => j.steps)
}

describe('the top-level action.yml', () => {
  it('puts the CLI of this commit on PATH for the later steps, with its version', async () => {
    const run = await runWith({})
    expect({ result: run.result, error: run.error }).toEqual({
      result: 'success',
      error: undefined
    })
    const [setup, after] = ['sitecycle', 'after'].map(id => stepsOf(run).find(s => s.id === id)!)
    const nodeVersion = execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()
    expect(setup.outputs).toEqual({
      version: PACKAGE_VERSION,
      path: expect.stringMatching(/\/sitecycle\/bin\/sitecycle$/),
      'node-version': nodeVersion.replace(/^v/, '')
    })
    // The later step found that command on PATH, and it ran a command against a config.
    expect(after.outputs.which).toBe(setup.outputs.path)
    expect(after.outputs.version).toBe(PACKAGE_VERSION)
    expect(after.outputs['set-up']).toBe(PACKAGE_VERSION)
    expect(JSON.parse(after.outputs.hosts)).toMatchObject({ site: 'v1' })
    // The wrapper runs the bundle of this checkout on the node checked, by absolute paths.
    const wrapper = await fs.readFile(setup.outputs.path, 'utf8')
    expect(wrapper).toContain(path.join(REPO, 'dist', 'cli.js'))
    expect(wrapper).toMatch(/exec \/\S*node /)
  })

  it('fails on a node older than 20, saying what to do, and runs nothing after it', async () => {
    const run = await runWith(
      { 'old-node': '#!/bin/sh\necho v18.20.4\n' },
      `\n        with:\n          node: \${{ github.workspace }}/old-node`
    )
    expect(run.result).toBe('failure')
    // The scratch file is not executable: the check found no such command.
    const errors = run.annotations.filter(a => a.level === 'error').map(a => a.message)
    expect(errors).toEqual([expect.stringMatching(/old-node' on PATH: sitecycle needs Node 20/)])
    expect(stepsOf(run).find(s => s.id === 'after')?.conclusion ?? 'skipped').toBe('skipped')
  })

  it('names the version of an old node it found', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-old-node-'))
    try {
      await fs.writeFile(path.join(dir, 'node'), '#!/bin/sh\necho v18.20.4\n', { mode: 0o755 })
      const run = await runWith({}, `\n        with:\n          node: ${path.join(dir, 'node')}`)
      expect(run.result).toBe('failure')
      const errors = run.annotations.filter(a => a.level === 'error').map(a => a.message)
      expect(errors).toEqual([
        expect.stringMatching(
          /node is Node 18\.20\.4: sitecycle needs Node 20 or later; add actions\/setup-node/
        )
      ])
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
