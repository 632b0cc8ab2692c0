/**
 * The run action (actions/run): its inputs parsed once (the command as an argv, never a shell
 * line), bad ones refused before any host is touched, the command's output in the log line by
 * line with secrets masked, its exit code in the outputs, and a non-zero exit failing the step
 * with one line naming the command and the code. The pipeline (runInRelease) is replaced here; it
 * runs for real in __tests__/integration/run-command.test.ts and run-workflow-e2e.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { DeployInput, SiteInput } from '../../src/actions/inputs.js'
import { LogLines } from '../../src/actions/log-lines.js'
import { CommandFailed, RunOutput, runRunAction } from '../../src/actions/run.js'
import { parseCommandInput, readRunSettings, RunInput } from '../../src/actions/run-inputs.js'
import type { HostSpec } from '../../src/config/model.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import type { RunCommandOutcome, RunCommandRequest } from '../../src/pipelines/run-command.js'
import { DEFAULT_LOCK_WAIT_SECONDS } from '../../src/sites/lock.js'
import { SitecycleError } from '../../src/util/errors.js'
import { FakeCore } from '../helpers/fake-core.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const DB_PASSWORD = 'run-action-db-password-5e1f'

let dir: string
let configFile: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-run-action-'))
  configFile = path.join(dir, 'sitecycle.yml')
  await fs.writeFile(
    configFile,
    [
      'app: { package: sample, wsgi: "sample.wsgi:application" }',
      'sites:',
      '  v1:',
      '    host: local',
      '    root: /srv/sample/v1',
      '    url: http://127.0.0.1:8080',
      '    database: { engine: postgres, name: sample, user: sample, password_env: DB_PASSWORD }',
      ''
    ].join('\n')
  )
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

/** Executors handed out, so a test can say none was made (no host touched). */
function executors() {
  const made: HostSpec[] = []
  const create = (host: HostSpec) => {
    made.push(host)
    const exec = new RecordingExecutor('local')
    exec.close = async () => undefined
    return exec
  }
  return { made, create }
}

/** A stand-in pipeline: writes `out` (in pieces) to the command's stdout, then exits `code`. */
function pipeline(code: number, out: string[] = []) {
  const requests: RunCommandRequest[] = []
  const run = async (req: RunCommandRequest): Promise<RunCommandOutcome> => {
    requests.push(req)
    for (const piece of out) req.stdout.write(piece)
    req.stderr.write('warning on stderr\n')
    return {
      status: 'ran',
      site: req.site.name,
      release: req.release ?? '2.0.0',
      code,
      journal: {}
    }
  }
  return { requests, run }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a rejection')
}

describe('parseCommandInput', () => {
  it.each([
    ['["python", "manage.py", "migrate"]', ['python', 'manage.py', 'migrate']],
    ['  ["echo", "two words", ""]\n', ['echo', 'two words', '']],
    [
      'python\nmanage.py\n\n  createsuperuser  \n--noinput\n',
      ['python', 'manage.py', 'createsuperuser', '--noinput']
    ],
    // No splitting on spaces, no shell: one line is one argument.
    ['python manage.py migrate', ['python manage.py migrate']],
    ['echo\n$HOME; rm -rf /', ['echo', '$HOME; rm -rf /']]
  ])('%j is the argv %j', (text, argv) => {
    expect(parseCommandInput(text)).toEqual({ argv })
  })

  it.each([
    ['', /^input 'command' is empty; expected a JSON array of strings/],
    ['  \n ', /^input 'command' is empty;/],
    ['["python", ', /^input 'command' starts with \[ but is not valid JSON \(/],
    ['[]', /^input 'command' is an empty JSON array;/],
    ['["python", 3]', /^input 'command' item 1 is 3, not a string;/],
    ['["", "x"]', /^input 'command' names an empty program;/]
  ])('%j is refused: %s', (text, problem) => {
    const r = parseCommandInput(text)
    expect('problem' in r && r.problem).toMatch(problem)
  })
})

describe('readRunSettings', () => {
  it('reads the site inputs, the argv and the release', () => {
    const s = readRunSettings({
      getInput: n =>
        ({
          [SiteInput.Config]: configFile,
          [SiteInput.Site]: 'v1',
          [SiteInput.LockWait]: '60',
          [RunInput.Command]: '["python", "-V"]',
          [RunInput.Release]: '1.4.0'
        })[n] ?? ''
    })
    expect(s).toEqual({
      configFile,
      site: 'v1',
      lockWait: 60,
      argv: ['python', '-V'],
      release: '1.4.0'
    })
  })

  it('names every bad input in one error', () => {
    const e = (() => {
      try {
        readRunSettings({
          getInput: n =>
            ({
              [SiteInput.Site]: 'v1',
              [SiteInput.LockWait]: 'soon',
              [RunInput.Command]: '[1]',
              [RunInput.Release]: 'latest',
              [DeployInput.ConfigSecrets]: 'DB_PASSWORD=x'
            })[n] ?? ''
        })
      } catch (error) {
        return error as SitecycleError
      }
      throw new Error('expected an error')
    })()
    expect(e).toBeInstanceOf(SitecycleError)
    expect(e.kind).toBe('input')
    expect(e.message.split('\n')).toEqual([
      "input 'lock-wait' is 'soon'; expected a whole number of seconds, 0 or more (such as 0 or 600)",
      expect.stringMatching(/^input 'command' item 0 is 1, not a string;/),
      "input 'release' is 'latest'; expected an installed PEP 440 version such as 1.4.0, or empty for the live release",
      expect.stringMatching(
        /^input 'config-secrets' is not a JSON object of names to values \(its value is not shown\)/
      )
    ])
    expect(e.message).not.toContain('DB_PASSWORD=x')
  })
})

describe('runRunAction', () => {
  it('runs the argv in the release asked for, logs its output line by line with secrets masked, and sets the outputs', async () => {
    const core = new FakeCore({
      config: configFile,
      site: 'v1',
      release: '1.4.0',
      'lock-wait': '30',
      command: 'python\nmanage.py\nmigrate\n',
      'config-secrets': JSON.stringify({ DB_PASSWORD, OTHER: 'not-named-by-the-config' })
    })
    const { made, create } = executors()
    // The password is split across two writes, and the last line has no line ending.
    const p = pipeline(0, [
      'Applying 0001... OK\nconnected with run-action-db',
      '-password-5e1f\ndone'
    ])
    await runRunAction(core, { createExecutor: create, runInRelease: p.run, env: {} })
    expect(made).toHaveLength(1)
    expect(p.requests.map(r => [r.site.name, r.argv, r.release, r.lockWait])).toEqual([
      ['v1', ['python', 'manage.py', 'migrate'], '1.4.0', 30]
    ])
    expect(core.infos).toEqual(
      expect.arrayContaining([
        'Applying 0001... OK',
        'connected with ***',
        'done',
        'warning on stderr'
      ])
    )
    expect(core.visible()).not.toContain(DB_PASSWORD)
    expect(Object.fromEntries(core.outputs)).toEqual({
      status: 'ran',
      [RunOutput.ExitCode]: '0',
      [RunOutput.Version]: '1.4.0',
      url: 'http://127.0.0.1:8080'
    })
    expect(core.summaries).toHaveLength(1)
    expect(core.summaries[0]).toMatch(/^## ▶️ Ran a command in site v1, release 1\.4\.0\n/)
    expect(core.summaries[0]).toContain('| **Command** | python manage.py migrate |')
    expect(core.summaries[0]).toContain('| **Exit code** | 0 |')
    expect(core.failed).toBeUndefined()
  })

  it('runs in the live release when no release is given, with the default lock wait', async () => {
    const core = new FakeCore({ config: configFile, site: 'v1', command: '["python", "-V"]' })
    const p = pipeline(0)
    await runRunAction(core, { createExecutor: executors().create, runInRelease: p.run, env: {} })
    expect(p.requests[0].release).toBeUndefined()
    expect(p.requests[0].lockWait).toBe(DEFAULT_LOCK_WAIT_SECONDS)
    expect(core.outputs.get(RunOutput.Version)).toBe('2.0.0')
  })

  it('fails on a non-zero exit with a line naming the command and the code, and passes the code on', async () => {
    const core = new FakeCore({
      config: configFile,
      site: 'v1',
      command: '["python", "manage.py", "migrate", "--database", "two words"]'
    })
    const p = pipeline(3, ['relation "x" does not exist\n'])
    const e = await rejection(
      runRunAction(core, { createExecutor: executors().create, runInRelease: p.run, env: {} })
    )
    expect(e).toBeInstanceOf(CommandFailed)
    expect(e.message).toBe(
      'command python manage.py migrate --database "two words" exited with code 3 in release 2.0.0 of site v1 on local'
    )
    expect(Object.fromEntries(core.outputs)).toEqual({
      status: 'failed',
      [RunOutput.ExitCode]: '3',
      [RunOutput.Version]: '2.0.0',
      url: 'http://127.0.0.1:8080'
    })
    expect(core.infos).toContain('relation "x" does not exist')
    expect(core.summaries[0]).toMatch(
      /^## ❌ The command exited with code 3 in site v1, release 2\.0\.0\n/
    )
    expect(core.summaries[0]).toContain('| **Exit code** | 3 |')
  })

  it.each([
    [{ command: '' }, /^input 'command' is empty;/],
    [{ command: 'python manage.py migrate', release: 'live' }, /^input 'release' is 'live';/],
    [{ command: '{"argv": ["python"]}' }, null]
  ])(
    'refuses bad input %j before any host is touched or the pipeline called',
    async (inputs, message) => {
      const core = new FakeCore({ config: configFile, site: 'v1', ...inputs })
      const { made, create } = executors()
      const p = pipeline(0)
      if (message === null) {
        // Not JSON (it does not start with [): one argument a line, taken as it is.
        await runRunAction(core, { createExecutor: create, runInRelease: p.run, env: {} })
        expect(p.requests[0].argv).toEqual(['{"argv": ["python"]}'])
        return
      }
      const e = await rejection(
        runRunAction(core, { createExecutor: create, runInRelease: p.run, env: {} })
      )
      expect(e.message).toMatch(message)
      expect(made).toHaveLength(0)
      expect(p.requests).toHaveLength(0)
      expect(core.outputs.get('status')).toBe('failed')
      expect(core.outputs.has(RunOutput.ExitCode)).toBe(false)
      expect(core.summaries[0]).toMatch(/^## ❌ Run failed\n/)
    }
  )
})

describe('LogLines', () => {
  it('logs whole lines as they come, a character split across writes whole, the rest at the end', async () => {
    const lines: string[] = []
    const s = new LogLines(l => lines.push(l))
    const euro = Buffer.from('€\r\n')
    s.write('one\ntw')
    s.write(euro.subarray(0, 1))
    expect(lines).toEqual(['one'])
    s.write(euro.subarray(1))
    s.write('three')
    await new Promise<void>(resolve => s.end(resolve))
    expect(lines).toEqual(['one', 'tw€', 'three'])
  })
})

describe('actions/run/action.yml', () => {
  it('documents exactly the inputs the code reads and the outputs it sets, and runs dist/run.js on node24', async () => {
    const meta = parseYaml(
      await fs.readFile(path.join(REPO, 'actions/run/action.yml'), 'utf8')
    ) as {
      description: string
      inputs: Record<string, { description: string; required?: boolean; default?: string }>
      outputs: Record<string, { description: string }>
      runs: { using: string; main: string }
    }
    expect(Object.keys(meta.inputs).sort()).toEqual(
      [...Object.values(SiteInput), ...Object.values(RunInput), DeployInput.ConfigSecrets].sort()
    )
    expect(Object.keys(meta.outputs).sort()).toEqual(
      ['status', 'url', ...Object.values(RunOutput)].sort()
    )
    for (const spec of [...Object.values(meta.inputs), ...Object.values(meta.outputs)])
      expect(spec.description.length).toBeGreaterThan(20)
    expect(meta.inputs[SiteInput.Site].required).toBe(true)
    expect(meta.inputs[RunInput.Command].required).toBe(true)
    expect(meta.inputs[SiteInput.LockWait].default).toBe(String(DEFAULT_LOCK_WAIT_SECONDS))
    expect(meta.runs.using).toBe('node24')
    expect(path.resolve(REPO, 'actions/run', meta.runs.main)).toBe(path.join(REPO, 'dist/run.js'))
  })
})
