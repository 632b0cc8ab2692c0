/**
 * The workflow harness (tools/harness) on small workflows and actions written to temp dirs:
 * run steps and file commands, status functions, needs, matrices, workflow_call inputs and
 * secrets, reusable workflow calls, composite and JavaScript actions (with the real
 * @actions/core), remote actions from fixtures, static checks, masking, and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  allSteps,
  assertSucceeded,
  checkoutFixture,
  expandMatrix,
  Harness,
  HarnessInvalid,
  HarnessUnsupported,
  jobOf,
  parseCommandLine,
  parseKeyValueText,
  type HarnessOptions,
  type StaticCheck,
  type WorkflowRun
} from '../../tools/harness/index.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CORE = pathToFileURL(path.join(REPO, 'node_modules/@actions/core/lib/core.js')).href

let tmp: string
const harnesses: Harness[] = []

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-harness-unit-'))
})

afterAll(async () => {
  for (const h of harnesses) await h.cleanup()
  await fs.rm(tmp, { recursive: true, force: true })
})

let repoCount = 0
/** A repository root with these files; returns its path. */
async function repo(files: Record<string, string>): Promise<string> {
  const root = path.join(tmp, `repo-${++repoCount}`)
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, name)), { recursive: true })
    await fs.writeFile(path.join(root, name), content)
  }
  return root
}

function harness(options: HarnessOptions = {}): Harness {
  const h = new Harness(options)
  harnesses.push(h)
  return h
}

/** Run `.github/workflows/w.yml` of a repository made of `files`. */
async function runWorkflow(
  files: Record<string, string>,
  trigger: Parameters<Harness['runWorkflow']>[1] = {},
  options: HarnessOptions = {}
): Promise<WorkflowRun> {
  const root = await repo(files)
  return harness({ repository: { root }, ...options }).runWorkflow(
    path.join(root, '.github/workflows/w.yml'),
    trigger
  )
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected the harness to refuse')
}

describe('run steps and file commands', () => {
  it('passes outputs, env, PATH and summaries between steps as the runner does', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
env:
  LEVEL: workflow
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      LEVEL: job
    outputs:
      notes: \${{ steps.write.outputs.notes }}
      greeting: \${{ steps.py.outputs.greeting }}
    steps:
      - id: write
        run: |
          mkdir -p "$GITHUB_WORKSPACE/bin" sub
          printf '#!/bin/sh\\necho tool-ran\\n' > "$GITHUB_WORKSPACE/bin/mytool"
          chmod +x "$GITHUB_WORKSPACE/bin/mytool"
          echo "$GITHUB_WORKSPACE/bin" >> "$GITHUB_PATH"
          echo "FROM_ENV_FILE=set by step one" >> "$GITHUB_ENV"
          {
            echo 'notes<<EOF_NOTES'
            echo 'line one'
            echo 'line = two'
            echo 'EOF_NOTES'
            echo 'plain=a=b'
          } >> "$GITHUB_OUTPUT"
          echo '### built' >> "$GITHUB_STEP_SUMMARY"
      - name: Read them back in \${{ env.LEVEL }}
        working-directory: sub
        env:
          NOTES: \${{ steps.write.outputs.notes }}
          PLAIN: \${{ steps.write.outputs.plain }}
        run: |
          test "$(mytool)" = tool-ran
          test "$FROM_ENV_FILE" = "set by step one"
          test "$NOTES" = "$(printf 'line one\\nline = two')"
          test "$PLAIN" = "a=b"
          test "$LEVEL" = job
          test "$(basename "$PWD")" = sub
      - id: py
        shell: python
        run: |
          import os
          with open(os.environ["GITHUB_OUTPUT"], "a") as f:
              f.write("greeting=hello from python\\n")
      - shell: sh
        run: test "$0" != bash && echo "sh ran"
`
    })
    assertSucceeded(run)
    const job = jobOf(run, 'build')
    expect(job.outputs).toEqual({ notes: 'line one\nline = two', greeting: 'hello from python' })
    expect(job.summary).toContain('### built')
    expect(job.steps[1].name).toBe('Read them back in job')
    expect(job.steps.map(s => s.id)).toEqual(['write', '__run', 'py', '__run_2'])
    expect(run.log.some(l => l.endsWith('sh ran'))).toBe(true)
  })

  it('runs bash with -e and pipefail only when `shell: bash` is named, as the runner does', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-22.04
    steps:
      - id: default
        run: false | true
      - id: named
        continue-on-error: true
        shell: bash
        run: false | true
`
    })
    const job = jobOf(run, 'a')
    expect(job.steps[0].outcome).toBe('success')
    expect(job.steps[1].outcome).toBe('failure')
    expect(job.steps[1].conclusion).toBe('success')
    expect(job.result).toBe('success')
  })

  it('refuses a malformed GITHUB_OUTPUT and fails the step', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: printf 'x<<END\\nno end\\n' >> "$GITHUB_OUTPUT"
`
    })
    expect(run.result).toBe('failure')
    expect(jobOf(run, 'a').steps[0].error).toContain("matching delimiter not found 'END'")
  })

  it('kills a step at its timeout-minutes', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - timeout-minutes: 0.02
        run: sleep 30
`
    })
    expect(run.result).toBe('failure')
    expect(jobOf(run, 'a').steps[0].error).toContain('timed out')
  })
})

describe('status functions, if and continue-on-error', () => {
  it('skips success() steps after a failure and runs failure() and always() ones', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: ok
        run: echo "v=Yes" >> "$GITHUB_OUTPUT"
      - if: steps.ok.outputs.v == 'yes'
        id: compared
        run: echo compared case-insensitively
      - id: broken
        run: exit 3
      - id: after
        run: echo should not run
      - id: on-failure
        if: failure() && steps.broken.outcome == 'failure'
        run: echo handling the failure
      - id: cleanup
        if: \${{ always() }}
        run: echo cleaning up
      - id: only-on-success
        if: success()
        run: echo no
`
    })
    const steps = Object.fromEntries(jobOf(run, 'a').steps.map(s => [s.id, s]))
    expect(steps.compared.outcome).toBe('success')
    expect(steps.compared.condition).toBe("success() && (steps.ok.outputs.v == 'yes')")
    expect(steps.broken).toMatchObject({ outcome: 'failure', error: 'exit code 3' })
    expect(steps.after.outcome).toBe('skipped')
    expect(steps['on-failure'].outcome).toBe('success')
    expect(steps.cleanup.outcome).toBe('success')
    expect(steps['only-on-success'].outcome).toBe('skipped')
    expect(run.result).toBe('failure')
  })
})

describe('jobs: needs, outputs, results, matrix', () => {
  it('orders jobs by needs and passes outputs and results', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  report:
    needs: [build, broken]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - env:
          BUILD: \${{ needs.build.result }}/\${{ needs.build.outputs.version }}
          BROKEN: \${{ needs.broken.result }}
        run: echo "saw $BUILD $BROKEN"
  after-broken:
    needs: broken
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  on-failure:
    needs: after-broken
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo an ancestor failed
  build:
    runs-on: ubuntu-latest
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2.3" >> "$GITHUB_OUTPUT"
  broken:
    runs-on: ubuntu-latest
    steps:
      - run: exit 1
`
    })
    expect(run.jobs.map(j => `${j.id}:${j.result}`)).toEqual([
      'build:success',
      'broken:failure',
      'report:success',
      'after-broken:skipped',
      'on-failure:success'
    ])
    expect(run.log.some(l => l.endsWith('saw success/1.2.3 failure'))).toBe(true)
    expect(run.result).toBe('failure')
  })

  it('expands a matrix with include and exclude, and fail-fast cancels the rest', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  deploy:
    runs-on: \${{ matrix.os }}
    strategy:
      max-parallel: 1
      matrix:
        os: [ubuntu-latest]
        host: [canary, web1, web2, web3]
        exclude:
          - host: web3
        include:
          - host: web1
            broken: true
    steps:
      - env:
          INDEX: \${{ strategy.job-index }}/\${{ strategy.job-total }}
        run: |
          echo "deploying to \${{ matrix.host }} ($INDEX)"
          test "\${{ matrix.broken }}" != true
`
    })
    expect(run.jobs.map(j => `${j.name}:${j.result}`)).toEqual([
      'deploy (ubuntu-latest, canary):success',
      'deploy (ubuntu-latest, web1, true):failure',
      'deploy (ubuntu-latest, web2):cancelled'
    ])
    expect(run.log.some(l => l.endsWith('deploying to canary (0/3)'))).toBe(true)
  })

  it('expands include as GitHub documents it', () => {
    const legs = expandMatrix(
      {
        fruit: ['apple', 'pear'],
        animal: ['cat', 'dog'],
        include: [
          { color: 'green' },
          { color: 'pink', animal: 'cat' },
          { fruit: 'apple', shape: 'circle' },
          { fruit: 'banana' },
          { fruit: 'banana', animal: 'cat' }
        ]
      },
      'w.yml'
    )
    expect(legs).toEqual([
      { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
      { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
      { fruit: 'pear', animal: 'cat', color: 'pink' },
      { fruit: 'pear', animal: 'dog', color: 'green' },
      { fruit: 'banana' },
      { fruit: 'banana', animal: 'cat' }
    ])
  })
})

const CALLED = `
on:
  workflow_call:
    inputs:
      site:
        type: string
        required: true
      dry-run:
        type: boolean
        default: false
      retries:
        type: number
        default: 2
      label:
        type: string
        default: \${{ github.repository }}
    secrets:
      key:
        required: true
      optional:
        required: false
    outputs:
      answer:
        value: \${{ jobs.work.outputs.answer }}
      result:
        value: \${{ jobs.work.result }}
jobs:
  work:
    runs-on: self-hosted
    outputs:
      answer: \${{ steps.a.outputs.answer }}
    steps:
      - id: a
        env:
          SITE: \${{ inputs.site }}
          DRY: \${{ inputs.dry-run == true && 'dry' || 'real' }}
          RETRIES: \${{ inputs.retries }}-\${{ inputs.retries == 4 }}
          LABEL: \${{ inputs.label }}
          KEY: \${{ secrets.key }}
          REPO: \${{ job.workflow_repository }}@\${{ job.workflow_sha }}
        run: |
          echo "key is $KEY"
          echo "answer=$SITE/$DRY/$RETRIES/$LABEL/$REPO" >> "$GITHUB_OUTPUT"
`

describe('workflow_call', () => {
  it('types the inputs, applies defaults, checks secrets and evaluates outputs', async () => {
    const run = await runWorkflow(
      { '.github/workflows/w.yml': CALLED },
      { inputs: { site: 'v1', 'dry-run': true }, secrets: { key: 'k3y-secret-value' } },
      { github: { repository: 'acme/weave', sha: 'a'.repeat(40) } }
    )
    assertSucceeded(run)
    expect(run.outputs).toEqual({
      answer: `v1/dry/2-false/acme/weave/acme/weave@${'a'.repeat(40)}`,
      result: 'success'
    })
    expect(run.log.some(l => l.includes('key is ***'))).toBe(true)
    expect(run.log.join('\n')).not.toContain('k3y-secret-value')
  })

  it('refuses wrong types, unknown inputs, missing required inputs and secrets', async () => {
    const e = await refusal(
      runWorkflow(
        { '.github/workflows/w.yml': CALLED },
        { inputs: { 'dry-run': 'true', colour: 'red' }, secrets: { other: 'x' } }
      )
    )
    expect(e).toBeInstanceOf(HarnessInvalid)
    const problems = (e as HarnessInvalid).problems.join('\n')
    expect(problems).toContain('Invalid input, colour is not defined')
    expect(problems).toContain('Input site is required')
    expect(problems).toContain('Input dry-run must be a boolean, got "true"')
  })

  it('calls a local reusable workflow with inputs, secrets (and inherit) and reads its outputs', async () => {
    const run = await runWorkflow(
      {
        '.github/workflows/called.yml': CALLED,
        '.github/workflows/w.yml': `
on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
    with:
      site: v2
      retries: 4
    secrets:
      key: \${{ secrets.DEPLOY_KEY }}
  inherit:
    uses: ./.github/workflows/called.yml
    with:
      site: v3
    secrets: inherit
  use:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - env:
          ANSWER: \${{ needs.call.outputs.answer }}
        run: echo "got $ANSWER"
`
      },
      {},
      {
        github: { repository: 'acme/weave', sha: 'b'.repeat(40) },
        secrets: { DEPLOY_KEY: 'deploy-key-value', key: 'inherited-key' }
      }
    )
    assertSucceeded(run)
    const call = jobOf(run, 'call')
    expect(call.call?.outputs.answer).toBe(`v2/real/4-true/acme/weave/acme/weave@${'b'.repeat(40)}`)
    expect(jobOf(run, 'inherit').outputs.answer).toMatch(/^v3\/real\/2-false\//)
    expect(
      run.log.some(l => l.endsWith(`got v2/real/4-true/acme/weave/acme/weave@${'b'.repeat(40)}`))
    ).toBe(true)
    expect(run.log.join('\n')).not.toMatch(/deploy-key-value|inherited-key/)
  })
})

describe('workflow_dispatch and remote reusable workflows', () => {
  it('types dispatch inputs and checks choices', async () => {
    const files = {
      '.github/workflows/w.yml': `
on:
  workflow_dispatch:
    inputs:
      site:
        type: choice
        options: [v1, v2]
      force:
        type: boolean
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - env:
          TYPED: \${{ inputs.force == true }}
          RAW: \${{ github.event.inputs.force }}
          SITE: \${{ inputs.site }}
        run: echo "$SITE $TYPED $RAW"
`
    }
    const run = await runWorkflow(files, {
      event: 'workflow_dispatch',
      inputs: { site: 'v2', force: 'true' }
    })
    assertSucceeded(run)
    expect(run.log.some(l => l.endsWith('v2 true true'))).toBe(true)
    const e = await refusal(
      runWorkflow(files, { event: 'workflow_dispatch', inputs: { site: 'v9' } })
    )
    expect((e as HarnessInvalid).problems).toEqual(["Input site must be one of v1, v2, got 'v9'"])
  })

  it('calls a remote reusable workflow from its fixture: its repository in job.workflow_*, the caller in github', async () => {
    const lib = await repo({
      '.github/workflows/lib.yml': `
on:
  workflow_call:
    outputs:
      where:
        value: \${{ jobs.j.outputs.where }}
jobs:
  j:
    runs-on: ubuntu-latest
    outputs:
      where: \${{ steps.s.outputs.where }}
    steps:
      - id: s
        run: echo "where=\${{ job.workflow_repository }}@\${{ job.workflow_sha }} for \${{ github.repository }} on \${{ github.event_name }}" >> "$GITHUB_OUTPUT"
`
    })
    const run = await runWorkflow(
      {
        '.github/workflows/w.yml': `
on: push
jobs:
  call:
    uses: tools-org/lib/.github/workflows/lib.yml@v1
`
      },
      {},
      {
        remoteWorkflows: {
          'tools-org/lib/.github/workflows/lib.yml@v1': {
            file: path.join(lib, '.github/workflows/lib.yml'),
            root: lib,
            repository: 'tools-org/lib',
            sha: 'd'.repeat(40)
          }
        }
      }
    )
    assertSucceeded(run)
    expect(run.jobs[0].outputs.where).toBe(`tools-org/lib@${'d'.repeat(40)} for acme/app on push`)
  })
})

describe('actions', () => {
  it('runs a composite action: inputs with defaults, outputs, GITHUB_ACTION_PATH, nested actions', async () => {
    const root = await repo({
      'actions/greet/action.yml': `
name: greet
description: says hello
inputs:
  who:
    description: who
    required: true
  from:
    description: where from
    default: \${{ github.repository }}
outputs:
  message:
    description: the message
    value: '\${{ steps.say.outputs.text }} (inner says: \${{ steps.inner.outputs.said }})'
runs:
  using: composite
  steps:
    - id: inner
      uses: ./actions/inner
      with:
        word: shout
    - id: say
      shell: bash
      env:
        WHO: \${{ inputs.who }}
        FROM: \${{ inputs.from }}
      run: |
        test -f "$GITHUB_ACTION_PATH/action.yml"
        test "$OUTER" = "from the step"
        echo "text=hello $WHO from $FROM" >> "$GITHUB_OUTPUT"
`,
      'actions/inner/action.yml': `
name: inner
description: echoes
inputs:
  word:
    description: a word
outputs:
  said:
    description: it
    value: \${{ steps.s.outputs.said }}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      run: echo "said=\${{ inputs.word }}" >> "$GITHUB_OUTPUT"
`,
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: greet
        uses: ./actions/greet
        with:
          who: world
        env:
          OUTER: from the step
      - env:
          OUT: \${{ steps.greet.outputs.message }}
        run: |
          test "$OUT" = "hello world from acme/app (inner says: shout)"
      - id: missing
        uses: ./actions/none
        continue-on-error: true
`
    })
    const h = harness({ repository: { root }, workspace: root })
    const ok = await h.runWorkflow(path.join(root, '.github/workflows/w.yml'))
    assertSucceeded(ok)
    const steps = jobOf(ok, 'a').steps
    expect(steps[0].outputs.message).toBe('hello world from acme/app (inner says: shout)')
    expect(allSteps(steps).map(s => s.id)).toEqual([
      'greet',
      'inner',
      's',
      'say',
      '__run',
      'missing'
    ])
    expect(steps[2]).toMatchObject({ outcome: 'failure', conclusion: 'success' })
    expect(steps[2].error).toContain("can't find 'action.yml'")
  })

  it('runs a JavaScript action with INPUT_* and the runner variables, reads :: commands, runs its post step', async () => {
    const root = await repo({
      'actions/js/action.yml': `
name: js
description: a node action
inputs:
  site name:
    description: with a space
    required: true
  ssh-key:
    description: a secret
  flag:
    description: defaulted
    default: 'on'
outputs:
  seen:
    description: what it saw
runs:
  using: node20
  main: main.mjs
  post: post.mjs
  post-if: always()
`,
      'actions/js/main.mjs': `
import * as core from '${CORE}'
const key = core.getInput('ssh-key')
core.setSecret(key)
core.info('using key ' + key)
const env = process.env
const seen = [env['INPUT_SITE_NAME'], env.INPUT_FLAG, env.GITHUB_ACTIONS, env.GITHUB_REPOSITORY,
  env.GITHUB_SHA.slice(0, 6), env.GITHUB_REF, env.GITHUB_REF_NAME, env.GITHUB_WORKSPACE === process.cwd(),
  env.RUNNER_TEMP !== undefined, env.GITHUB_ACTION].join('|')
core.setOutput('seen', seen)
console.log('::set-output name=legacy::old style')
core.startGroup('a group')
core.warning('look out', { file: 'app.py', startLine: 3 })
core.endGroup()
core.notice('fyi')
core.saveState('started', 'yes')
core.summary.addRaw('from the js action').write()
`,
      'actions/js/post.mjs': `
import * as core from '${CORE}'
core.info('post saw state ' + core.getState('started') + ' and input ' + core.getInput('site name'))
`,
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: [self-hosted, linux]
    steps:
      - id: js
        uses: ./actions/js
        with:
          site name: v1
          ssh-key: \${{ secrets.KEY }}
      - run: echo after
`
    })
    const h = harness({
      repository: { root },
      workspace: root,
      github: { ref: 'refs/tags/v1.2.0', sha: 'c0ffee'.padEnd(40, '0') },
      secrets: { KEY: 'super-secret-key' }
    })
    const run = await h.runWorkflow(path.join(root, '.github/workflows/w.yml'))
    assertSucceeded(run)
    const job = jobOf(run, 'a')
    expect(job.steps[0].outputs).toEqual({
      seen: 'v1|on|true|acme/app|c0ffee|refs/tags/v1.2.0|v1.2.0|true|true|js',
      legacy: 'old style'
    })
    expect(run.annotations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'warning', message: 'look out', file: 'app.py', line: 3 }),
        expect.objectContaining({ level: 'notice', message: 'fyi' })
      ])
    )
    expect(job.summary).toContain('from the js action')
    expect(job.steps.map(s => `${s.name}:${s.outcome}`)).toEqual([
      'Run ./actions/js:success',
      'Run echo after:success',
      'Post Run ./actions/js:success'
    ])
    expect(run.log.some(l => l.endsWith('post saw state yes and input v1'))).toBe(true)
    expect(run.log.some(l => l.endsWith('using key ***'))).toBe(true)
    expect(run.log.join('\n')).not.toContain('super-secret-key')
  })

  it('answers a remote action from the fixture map, checking out from a local repository', async () => {
    const source = await repo({ 'README.md': 'first\n' })
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', source, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args], {
        encoding: 'utf8'
      }).trim()
    git('init', '-q')
    git('add', '-A')
    git('commit', '-qm', 'first')
    const first = git('rev-parse', 'HEAD')
    git('tag', 'v1.0.0')
    await fs.writeFile(path.join(source, 'README.md'), 'second\n')
    git('commit', '-qam', 'second')
    const root = await repo({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
        with:
          persist-credentials: false
      - id: old
        uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683
        with:
          repository: acme/lib
          ref: v1.0.0
          path: lib
      - run: |
          test "$(cat README.md)" = second
          test "$(cat lib/README.md)" = first
          test -z "$(git tag)"
          test -z "$(git config --get http.https://github.com/.extraheader || true)"
          git -C lib config --get http.https://github.com/.extraheader
`
    })
    const run = await harness({
      repository: { root },
      github: { repository: 'acme/app', sha: git('rev-parse', 'HEAD') },
      remoteActions: {
        'actions/checkout': checkoutFixture({
          'acme/app': { dir: source },
          'acme/lib': { dir: source }
        })
      }
    }).runWorkflow(path.join(root, '.github/workflows/w.yml'))
    assertSucceeded(run)
    expect(jobOf(run, 'a').steps[1].outputs.commit).toBe(first)
    expect(run.log.join('\n')).not.toContain(
      Buffer.from(`x-access-token:`).toString('base64').slice(0, 12)
    )

    const missing = await refusal(
      harness({ repository: { root } }).runWorkflow(path.join(root, '.github/workflows/w.yml'))
    )
    expect(missing).toBeInstanceOf(HarnessUnsupported)
    expect(missing.message).toContain(
      'actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 without a fixture'
    )
    expect(missing.message).toContain('.github/workflows/w.yml:7')
  })

  it('runs one action on its own with runAction', async () => {
    const dir = path.join(
      await repo({
        'a/action.yml': `
name: alone
description: one action
inputs:
  n:
    description: a number
outputs:
  double:
    description: twice n
    value: \${{ steps.d.outputs.v }}
runs:
  using: composite
  steps:
    - id: d
      shell: bash
      run: |
        echo "v=$(( \${{ inputs.n }} * 2 ))" >> "$GITHUB_OUTPUT"
        echo "DOUBLED=yes" >> "$GITHUB_ENV"
`
      }),
      'a'
    )
    const r = await harness().runAction(dir, { with: { n: '21' } })
    expect(r.result).toBe('success')
    expect(r.outputs.double).toBe('42')
    expect(r.env.DOUBLED).toBe('yes')
  })
})

describe('static checks', () => {
  const DEPLOY = `
on:
  workflow_call:
    inputs:
      site:
        type: string
        required: true
permissions:
  contents: read
concurrency:
  group: deploy-\${{ inputs.site }}
jobs:
  deploy:
    runs-on: ubuntu-latest
    permissions:
      deployments: write
    environment:
      name: \${{ inputs.site }}
      url: \${{ steps.d.outputs.url }}
    concurrency:
      group: deploy-job-\${{ inputs.site }}
    steps:
      - id: d
        env:
          TOKEN: \${{ secrets.ENV_TOKEN }}
        run: echo "url=https://$TOKEN.example.org" >> "$GITHUB_OUTPUT"
`
  it('records environments, approvals, concurrency groups and permissions; environment secrets join', async () => {
    const asked: string[] = []
    const run = await runWorkflow(
      { '.github/workflows/w.yml': DEPLOY },
      { inputs: { site: 'production' } },
      {
        environments: {
          production: { reviewers: ['alice'], waitTimer: 5, secrets: { ENV_TOKEN: 'envtok' } }
        },
        approve: r => (asked.push(`${r.job}:${r.environment}:${r.reviewers.join()}`), true)
      }
    )
    assertSucceeded(run)
    expect(asked).toEqual(['deploy:production:alice'])
    const kinds = (k: StaticCheck['kind']) => run.checks.filter(c => c.kind === k)
    expect(kinds('environment')).toEqual([
      expect.objectContaining({
        job: 'deploy',
        name: 'production',
        reviewers: ['alice'],
        waitTimer: 5,
        approved: true,
        url: 'https://***.example.org',
        where: '.github/workflows/w.yml:18'
      })
    ])
    expect(
      kinds('concurrency').map(
        c => c.kind === 'concurrency' && `${c.scope}:${c.group}:${c.deadlock}`
      )
    ).toEqual(['workflow:deploy-production:false', 'job:deploy-job-production:false'])
    expect(kinds('permissions').map(c => c.kind === 'permissions' && c.permissions)).toEqual([
      { contents: 'read' },
      { deployments: 'write' }
    ])
  })

  it('fails a job whose approval is rejected, before any step', async () => {
    const run = await runWorkflow(
      { '.github/workflows/w.yml': DEPLOY },
      { inputs: { site: 'production' } },
      { environments: { production: { reviewers: ['bob'] } }, approve: () => false }
    )
    expect(run.result).toBe('failure')
    expect(jobOf(run, 'deploy')).toMatchObject({
      steps: [],
      error: 'the deployment to production was rejected'
    })
  })

  it("cancels a called job that takes its caller's concurrency group (GitHub's deadlock)", async () => {
    const run = await runWorkflow({
      '.github/workflows/called.yml': `
on: workflow_call
jobs:
  inner:
    runs-on: ubuntu-latest
    concurrency: shared-group
    steps:
      - run: echo never
`,
      '.github/workflows/w.yml': `
on: push
concurrency: shared-group
jobs:
  call:
    uses: ./.github/workflows/called.yml
`
    })
    expect(run.result).toBe('cancelled')
    expect(jobOf(run, 'inner').error).toContain("deadlock for concurrency group 'shared-group'")
  })

  it('drops a job output that holds a secret, as GitHub does', async () => {
    const run = await runWorkflow(
      {
        '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      leaked: \${{ steps.s.outputs.v }}
      fine: \${{ steps.s.outputs.w }}
    steps:
      - id: s
        env:
          S: \${{ secrets.PASSWORD }}
        run: |
          echo "v=pw:$S" >> "$GITHUB_OUTPUT"
          echo "w=ok" >> "$GITHUB_OUTPUT"
`
      },
      {},
      { secrets: { PASSWORD: 'hunter2hunter2' } }
    )
    expect(jobOf(run, 'a').outputs).toEqual({ leaked: '', fine: 'ok' })
    expect(run.annotations.map(a => a.message)).toContain(
      "Skip output 'leaked' since it may contain secret."
    )
  })
})

describe('refusals', () => {
  const job = (body: string) => `
on: push
jobs:
  a:
${body}
`
  it.each([
    [
      'a service container',
      job(
        '    runs-on: ubuntu-latest\n    services:\n      db:\n        image: postgres\n    steps:\n      - run: true'
      ),
      'service containers (services:)',
      7
    ],
    [
      'a job container',
      job('    runs-on: ubuntu-latest\n    container: node:20\n    steps:\n      - run: true'),
      'job containers (container:)',
      6
    ],
    [
      'a Windows runner',
      job('    runs-on: windows-latest\n    steps:\n      - run: true'),
      'runs-on: windows-latest',
      5
    ],
    [
      'a docker action',
      job('    runs-on: ubuntu-latest\n    steps:\n      - uses: docker://alpine:3'),
      'docker actions',
      7
    ],
    [
      'PowerShell',
      job(
        '    runs-on: ubuntu-latest\n    steps:\n      - shell: pwsh\n        run: Write-Host hi'
      ),
      'shell: pwsh',
      7
    ],
    [
      'hashFiles()',
      job("    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ hashFiles('**/x') }}"),
      'hashFiles()',
      7
    ]
  ])('refuses %s, naming the feature and file:line', async (_what, workflow, feature, line) => {
    const e = await refusal(runWorkflow({ '.github/workflows/w.yml': workflow }))
    expect(e).toBeInstanceOf(HarnessUnsupported)
    expect((e as HarnessUnsupported).feature).toContain(feature)
    expect((e as HarnessUnsupported).where).toEqual({ file: '.github/workflows/w.yml', line })
  })

  it('refuses a docker action named by a local uses', async () => {
    const root = await repo({
      'd/action.yml': 'name: d\ndescription: d\nruns:\n  using: docker\n  image: Dockerfile\n',
      '.github/workflows/w.yml': job('    runs-on: ubuntu-latest\n    steps:\n      - uses: ./d')
    })
    const e = await refusal(
      harness({ repository: { root }, workspace: root }).runWorkflow(
        path.join(root, '.github/workflows/w.yml')
      )
    )
    expect(e.message).toBe(
      "the harness does not support actions with 'using: docker' (d/action.yml:4): only composite and node actions run here"
    )
  })

  it("refuses a workflow GitHub would reject, with the parser's line", async () => {
    const e = await refusal(
      runWorkflow({
        '.github/workflows/w.yml': job(
          '    runs-on: ubuntu-latest\n    steps:\n      - run: true\n        bogus: 1'
        )
      })
    )
    expect(e).toBeInstanceOf(HarnessInvalid)
    expect((e as HarnessInvalid).problems).toEqual([
      "w.yml (Line: 8, Col: 9): Unexpected value 'bogus'".replace(
        'w.yml',
        '.github/workflows/w.yml'
      )
    ])
  })

  it('refuses an event the workflow does not run on', async () => {
    const e = await refusal(
      runWorkflow(
        {
          '.github/workflows/w.yml': job(
            '    runs-on: ubuntu-latest\n    steps:\n      - run: true'
          )
        },
        { event: 'workflow_dispatch' }
      )
    )
    expect(e.message).toContain('does not run on workflow_dispatch')
  })
})

describe('workflow commands and file commands', () => {
  it('parses name=value and name<<DELIMITER forms as the runner does', () => {
    const parsed = parseKeyValueText(
      'a=1\n\nb<<X\nline 1\n\nline=3\nX\nc=x<<y\nd<<e=f\nv\ne=f\n',
      'GITHUB_OUTPUT'
    )
    expect(Object.fromEntries(parsed)).toEqual({ a: '1', b: 'line 1\n\nline=3', c: 'x<<y', d: 'v' })
    expect(() => parseKeyValueText('no-equals-sign\n', 'GITHUB_ENV')).toThrow(
      "invalid format 'no-equals-sign'"
    )
  })

  it('parses :: commands with escaped properties and data', () => {
    expect(
      parseCommandLine('::error file=a%2Cb.py,line=4,title=T%3A1::multi%0Aline 100%25')
    ).toEqual({
      name: 'error',
      properties: { file: 'a,b.py', line: '4', title: 'T:1' },
      data: 'multi\nline 100%'
    })
    expect(parseCommandLine('not a :: command')).toBeUndefined()
  })

  it('leaves commands alone between ::stop-commands:: and the token', async () => {
    const run = await runWorkflow({
      '.github/workflows/w.yml': `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: s
        run: |
          echo "::stop-commands::pause123"
          echo "::set-output name=x::ignored"
          echo "::pause123::"
          echo "::set-output name=y::kept"
`
    })
    expect(jobOf(run, 'a').steps[0].outputs).toEqual({ y: 'kept' })
    expect(run.log.some(l => l.endsWith('::set-output name=x::ignored'))).toBe(true)
  })
})

it('keeps its temp dir until cleanup', async () => {
  const h = new Harness()
  const root = await h.tempRoot()
  expect(existsSync(root)).toBe(true)
  await h.cleanup()
  expect(existsSync(root)).toBe(false)
})
