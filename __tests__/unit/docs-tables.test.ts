import { afterEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  ActionMetadataError,
  ACTION_TABLES,
  END_MARKER,
  parseActionDoc,
  actionHeading,
  readActionDocs,
  renderActionTables,
  START_MARKER
} from '../../tools/docs/action-tables.js'
import { z } from 'zod'
import {
  CONFIG_REFERENCE,
  configKeys,
  undocumentedKeys
} from '../../tools/docs/config-reference.js'
import {
  cliReferenceSection,
  CLI_END_MARKER,
  CLI_START_MARKER,
  cliProgram,
  runnableCommands
} from '../../tools/docs/cli-reference.js'
import { commandPath } from '../../src/cli/program.js'
import { main } from '../../tools/docs/readme-tables.js'
import { FAULT_STEPS, operationPlans, parsePlanLine } from '../../tools/docs/fault-steps.js'
import { checkSection, MarkerError, replaceSection } from '../../tools/docs/generated-section.js'
import {
  STARTER_TABLE,
  readStarterCalls,
  renderStarterTable,
  starterProblems,
  STARTER_END_MARKER,
  STARTER_START_MARKER
} from '../../tools/docs/starter-tables.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const temps: string[] = []
afterEach(async () => {
  await Promise.all(temps.splice(0).map(dir => fs.rm(dir, { recursive: true, force: true })))
})

/** README.md and every actions/*\/action.yml, copied into a temporary root. */
async function copyOfRepo(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-docs-'))
  temps.push(root)
  await fs.copyFile(path.join(REPO, 'README.md'), path.join(root, 'README.md'))
  await fs.copyFile(path.join(REPO, 'action.yml'), path.join(root, 'action.yml'))
  for (const dir of await fs.readdir(path.join(REPO, 'actions'))) {
    const source = path.join(REPO, 'actions', dir, 'action.yml')
    if (!(await fs.stat(source).catch(() => undefined))) continue
    await fs.mkdir(path.join(root, 'actions', dir), { recursive: true })
    await fs.copyFile(source, path.join(root, 'actions', dir, 'action.yml'))
  }
  // The starters, their README and the workflows they call (the starter table).
  for (const dir of ['workflows', '.github/workflows']) {
    await fs.mkdir(path.join(root, dir), { recursive: true })
    for (const name of await fs.readdir(path.join(REPO, dir)))
      await fs.copyFile(path.join(REPO, dir, name), path.join(root, dir, name))
  }
  // The page whose step tables come from the pipelines.
  await fs.mkdir(path.join(root, 'docs'))
  await fs.copyFile(path.join(REPO, FAULT_STEPS.file), path.join(root, FAULT_STEPS.file))
  return root
}

describe('README action tables', () => {
  it("are current in this repository's README.md (run `npm run docs` when this fails)", async () => {
    const result = await checkSection(REPO, ACTION_TABLES)
    expect(result.firstDifference).toBeUndefined()
    expect(result.current).toBe(true)
  })

  it('document every input and output of every action', async () => {
    const readme = await fs.readFile(path.join(REPO, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf(START_MARKER), readme.indexOf(END_MARKER))
    const actions = await readActionDocs(REPO)
    expect(actions.map(action => action.dir)).toEqual(
      expect.arrayContaining(['.', 'actions/deploy', 'actions/rollback'])
    )
    for (const action of actions) {
      expect(section).toContain(actionHeading(action))
      for (const input of action.inputs)
        expect(section).toContain(`| \`${input.name}\` | ${input.required ? 'yes' : 'no'} |`)
      for (const output of action.outputs)
        expect(section).toContain(`| \`${output.name}\` | ${output.description}`)
    }
  })

  it('the check fails when an action.yml changes without the README, and `docs` brings it back', async () => {
    const root = await copyOfRepo()
    expect(await main(['--check', '--root', root], () => undefined)).toBe(0)

    const file = path.join(root, 'actions/deploy/action.yml')
    const yml = await fs.readFile(file, 'utf8')
    const before =
      'Seconds to wait for another operation on the site to finish and release its lock.'
    expect(yml).toContain(before)
    await fs.writeFile(file, yml.replace(before, 'Seconds to wait for the lock of the site.'))

    const messages: string[] = []
    expect(await main(['--check', '--root', root], line => messages.push(line))).toBe(1)
    expect(messages.join('\n')).toMatch(
      /not current; run `npm run docs`\. README\.md:\d+: has .*Seconds to wait for another operation/
    )
    const unchanged = await fs.readFile(path.join(root, 'README.md'), 'utf8')
    expect(unchanged).toBe(await fs.readFile(path.join(REPO, 'README.md'), 'utf8'))

    expect(await main(['--root', root], () => undefined)).toBe(0)
    const updated = await fs.readFile(path.join(root, 'README.md'), 'utf8')
    expect(updated).toContain(
      '| `lock-wait` | no | `5` | Seconds to wait for the lock of the site. `0` fails at once. |'
    )
    expect(await main(['--check', '--root', root], () => undefined)).toBe(0)
    // Only the text between the markers changed.
    const outside = (text: string): string =>
      text.slice(0, text.indexOf(START_MARKER)) + text.slice(text.indexOf(END_MARKER))
    expect(outside(updated)).toBe(outside(unchanged))
  })

  it('the check fails when an input is added', async () => {
    const root = await copyOfRepo()
    const file = path.join(root, 'actions/rollback/action.yml')
    const yml = await fs.readFile(file, 'utf8')
    await fs.writeFile(
      file,
      yml.replace(
        'outputs:\n',
        "  reason:\n    description: 'Why.'\n    required: false\noutputs:\n"
      )
    )
    expect((await checkSection(root, ACTION_TABLES)).current).toBe(false)
  })
})

describe('renderActionTables', () => {
  it('writes required, defaults as code, and escapes pipes and line breaks', () => {
    const doc = parseActionDoc(
      'actions/x',
      [
        'name: x',
        'description: Does x.',
        'inputs:',
        '  a:',
        "    description: 'one | two'",
        '    required: true',
        '  b:',
        '    description: |',
        '      first line',
        '      second line',
        '    default: ${{ github.token }}',
        '  c:',
        '    description: c',
        "    default: ''",
        'outputs:',
        '  o:',
        '    description: out'
      ].join('\n')
    )
    expect(renderActionTables([doc]).split('\n').slice(2)).toEqual([
      '### `actions/x`',
      '',
      'Does x.',
      '',
      '| input | required | default | description |',
      '| --- | --- | --- | --- |',
      '| `a` | yes | | one \\| two |',
      '| `b` | no | `${{ github.token }}` | first line second line |',
      '| `c` | no | | c |',
      '',
      '| output | description |',
      '| --- | --- |',
      '| `o` | out |',
      ''
    ])
  })

  it('names the file of an input without a description', () => {
    expect(() =>
      parseActionDoc('actions/x', 'name: x\ninputs:\n  a:\n    required: true\n')
    ).toThrow(new ActionMetadataError('inputs.a has no description', 'actions/x/action.yml'))
  })

  it('needs both markers, in order', () => {
    expect(() => replaceSection('# readme\n', ACTION_TABLES, 'tables')).toThrow(
      new MarkerError(
        `expected one ${START_MARKER} line followed by one ${END_MARKER} line`,
        'README.md'
      )
    )
    expect(() =>
      replaceSection(`${END_MARKER}\n${START_MARKER}\n`, ACTION_TABLES, 'tables')
    ).toThrow(MarkerError)
    expect(() =>
      replaceSection(`${START_MARKER}\n${START_MARKER}\n${END_MARKER}\n`, ACTION_TABLES, 'tables')
    ).toThrow(MarkerError)
    expect(
      replaceSection(`a\n${START_MARKER}\nold\n${END_MARKER}\nb\n`, ACTION_TABLES, 'new\n')
    ).toBe(`a\n${START_MARKER}\n\nnew\n\n${END_MARKER}\nb\n`)
  })
})

describe('the starter table of workflows/README.md', () => {
  it('is current (run `npm run docs` when this fails)', async () => {
    expect((await checkSection(REPO, STARTER_TABLE)).current).toBe(true)
  })

  it('each starter grants exactly what the jobs of the workflow it calls ask for, and passes secrets by name', async () => {
    const calls = await readStarterCalls(REPO)
    expect(calls.map(call => call.starter)).toEqual(
      expect.arrayContaining(['workflows/deploy-preview.yml', 'workflows/deploy-production.yml'])
    )
    expect(starterProblems(calls)).toEqual([])
    const production = calls.find(call => call.starter === 'workflows/deploy-production.yml')
    // The canary and rest jobs of deploy.yml record their deployment themselves.
    expect(production?.needs).toEqual({
      contents: 'read',
      actions: 'read',
      deployments: 'write'
    })
  })

  it('reports a starter granting less than the called jobs need, or inheriting secrets', async () => {
    const root = await copyOfRepo()
    const file = path.join(root, 'workflows/deploy-production.yml')
    const yml = await fs.readFile(file, 'utf8')
    expect(yml).toContain('      deployments: write\n')
    await fs.writeFile(
      file,
      yml
        .replace('      deployments: write\n', '')
        .replace(/ {4}secrets:\n( {6}.*\n)+/, '    secrets: inherit\n')
    )
    const problems = starterProblems(await readStarterCalls(root))
    expect(problems).toEqual([
      expect.stringMatching(
        /^workflows\/deploy-production\.yml jobs\.deploy grants .* but \.github\/workflows\/deploy\.yml needs .*\(deployments: write\)$/
      ),
      expect.stringMatching(
        /^workflows\/deploy-production\.yml jobs\.deploy passes secrets: inherit/
      )
    ])
    // And the table follows the workflows, not the starters: `docs` rewrites only between the markers.
    const readme = path.join(root, 'workflows/README.md')
    await fs.writeFile(
      readme,
      (await fs.readFile(readme, 'utf8')).replace('`deployments: write` |', '`deployments: read` |')
    )
    expect((await checkSection(root, STARTER_TABLE)).current).toBe(false)
    expect(await main(['--check', '--root', root], () => undefined)).toBe(1)
    expect(await main(['--root', root], () => undefined)).toBe(0)
    expect((await checkSection(root, STARTER_TABLE)).current).toBe(true)
    const text = await fs.readFile(readme, 'utf8')
    const table = text.slice(text.indexOf(STARTER_START_MARKER), text.indexOf(STARTER_END_MARKER))
    expect(table).toContain(renderStarterTable(await readStarterCalls(root)))
  })
})

describe('the config reference', () => {
  it('lists every key of the schema, each with a description, and none the schema lacks', () => {
    expect(undocumentedKeys()).toEqual({ missing: [], stale: [] })
    const paths = configKeys().map(k => k.path)
    for (const p of [
      'sites.<name>.apache.ctl',
      'sites.<name>.apache.enable_dir',
      'sites.<name>.apache.shutdown_timeout',
      'sites.<name>.preflight.min_free_mb',
      'sites.<name>.access.basic_auth.user',
      'sites.<name>.database.host',
      'sites.<name>.database.port',
      'sites.<name>.database.user',
      'release.stores[].type'
    ])
      expect(paths).toContain(p)
  })

  it('gives types and defaults from the schema', () => {
    const schema = z.object({
      a: z.object({ n: z.int().min(1).default(3), s: z.enum(['x', 'y']).optional() }).prefault({}),
      list: z.array(z.object({ k: z.string() })).default([])
    })
    expect(configKeys(schema)).toEqual([
      { path: 'a', type: 'mapping', required: false },
      { path: 'a.n', type: 'integer', required: false, default: '3' },
      { path: 'a.s', type: 'x | y', required: false },
      { path: 'list', type: 'list of mapping', required: false, default: '[]' },
      { path: 'list[].k', type: 'string', required: true }
    ])
  })

  it('is current in README.md, and a stale one is found', async () => {
    expect(await checkSection(REPO, CONFIG_REFERENCE)).toEqual({ current: true })
    const root = await copyOfRepo()
    const readme = path.join(root, 'README.md')
    const text = await fs.readFile(readme, 'utf8')
    await fs.writeFile(readme, text.replace(/^\| `sites\.<name>\.apache\.ctl` .*\n/m, ''))
    expect((await checkSection(root, CONFIG_REFERENCE)).current).toBe(false)
    expect(await main(['--check', '--root', root], () => undefined)).toBe(1)
  })
})

describe('the CLI reference', () => {
  it('is current in README.md (run `npm run docs` when this fails)', async () => {
    expect(await checkSection(REPO, cliReferenceSection())).toEqual({ current: true })
  })

  it('has a section for every command, naming each of its arguments and options', async () => {
    const readme = await fs.readFile(path.join(REPO, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf(CLI_START_MARKER), readme.indexOf(CLI_END_MARKER))
    const commands = runnableCommands(cliProgram())
    expect(commands.map(commandPath)).toEqual(
      expect.arrayContaining(['deploy', 'attempt start', 'maintenance', 'release'])
    )
    for (const cmd of commands) {
      const start = section.indexOf(`#### \`sitecycle ${commandPath(cmd)} ${cmd.usage()}\``)
      expect(start).toBeGreaterThan(-1)
      const next = section.indexOf('#### ', start + 1)
      const own = section.slice(start, next === -1 ? undefined : next)
      for (const o of cmd.options.filter(x => !x.hidden))
        expect(own).toContain(`| \`${o.flags}\` |`)
      for (const a of cmd.registeredArguments) expect(own).toContain(`| \`${a.name()}`)
    }
  })

  it('a stale reference is found, and `docs` brings it back', async () => {
    const root = await copyOfRepo()
    const readme = path.join(root, 'README.md')
    const text = await fs.readFile(readme, 'utf8')
    const line = /^\| `--use-latest` .*\n/m
    expect(text).toMatch(line)
    await fs.writeFile(readme, text.replace(line, ''))
    const messages: string[] = []
    expect(await main(['--check', '--root', root], m => messages.push(m))).toBe(1)
    expect(messages.join('\n')).toMatch(/CLI reference is not current; run `npm run docs`/)
    expect(await main(['--root', root], () => undefined)).toBe(0)
    expect(await fs.readFile(readme, 'utf8')).toBe(text)
  })
})

describe('the step tables of docs/check-recovery.md', () => {
  it('are current (run `npm run docs` when this fails)', async () => {
    expect(await checkSection(REPO, FAULT_STEPS)).toEqual({ current: true })
  })

  it('list every step of each plan, with its undo, and refuse a line that is not a plan line', async () => {
    const page = await fs.readFile(path.join(REPO, FAULT_STEPS.file), 'utf8')
    for (const { plan } of operationPlans())
      for (const step of plan.map(parsePlanLine)) expect(page).toContain(`| \`${step.name}\` |`)
    expect(parsePlanLine(' 4. freeze: freeze the site (undo: yes)')).toEqual({
      name: 'freeze',
      title: 'freeze the site',
      undo: true
    })
    expect(parsePlanLine('12. prune: remove old releases')).toEqual({
      name: 'prune',
      title: 'remove old releases',
      undo: false
    })
    expect(() => parsePlanLine('prune remove old releases')).toThrow(/not a plan line/)
  })
})
