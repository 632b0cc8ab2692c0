/**
 * The command line parser (src/cli/): each command takes its own arguments and options, typed,
 * and shows them in its own help; a flag it does not take, a missing or an extra argument is
 * refused with exit 2 and one line naming it, before any config is read.
 */
import { describe, expect, it } from '@jest/globals'
import type { Command } from 'commander'
import { main } from '../../src/cli.js'
import { sitecycleVersion } from '../../src/snapshots/manifest.js'
import { captureStderr } from '../helpers/stderr-capture.js'
import type { CliContext } from '../../src/cli/context.js'
import {
  ALLOW_BAD_COMMANDS,
  allCommands,
  buildProgram,
  COMMAND_MODULES,
  commandPath,
  DRY_RUN_COMMANDS
} from '../../src/cli/program.js'
import {
  EVERY_COMMAND,
  runnableCommands,
  silentCliContext
} from '../../tools/docs/cli-reference.js'

const stderrLines = captureStderr()

const NO_CONFIG = ['-c', '/nonexistent/sitecycle.yml']

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = []
  const code = await main(argv, s => out.push(s))
  return { code, out: out.join('\n'), err: stderrLines().join('') }
}

function newProgram(): { program: Command; ctx: CliContext } {
  const ctx = silentCliContext()
  return { program: buildProgram(ctx, EVERY_COMMAND), ctx }
}

/** Parse `argv` with every command's action replaced by one that records what it was given. */
async function parsed(
  argv: string[]
): Promise<{ command: string; args: unknown[]; options: Record<string, unknown> }> {
  const { program } = newProgram()
  let got: { command: string; args: unknown[]; options: Record<string, unknown> } | undefined
  for (const cmd of runnableCommands(program))
    cmd.action((...a: unknown[]) => {
      got = {
        command: commandPath(cmd),
        args: a.slice(0, -2),
        options: a[a.length - 2] as Record<string, unknown>
      }
    })
  await program.parseAsync(argv, { from: 'user' })
  if (!got) throw new Error(`no action ran for ${argv.join(' ')}`)
  return got
}

test('each command module registers the one command of its name, in the order of the help', async () => {
  const names: string[] = []
  for (const m of COMMAND_MODULES) {
    const program = buildProgram(silentCliContext(), [await m.load()])
    expect(program.commands.map(c => c.name())).toEqual([m.name])
    names.push(m.name)
  }
  expect(newProgram().program.commands.map(c => c.name())).toEqual(names)
})

const PATHS = runnableCommands(newProgram().program).map(commandPath)

describe('help', () => {
  it('knows the 30 commands (attempt has 5 subcommands)', () => {
    expect(PATHS).toEqual([
      'init',
      'deploy',
      'idle',
      'rollback',
      'status',
      'sites',
      'unlock',
      'run',
      'snapshot',
      'snapshots',
      'verify',
      'restore',
      'sync',
      'clone',
      'mirror',
      'attempt start',
      'attempt promote',
      'attempt cancel',
      'attempt status',
      'attempt plan',
      'remove',
      'maintenance',
      'compare',
      'watch',
      'hosts',
      'release',
      'build',
      'demo',
      'version',
      'completion'
    ])
  })

  it.each(PATHS)('%s --help names its own flags and no other command’s', async path => {
    const { program } = newProgram()
    const cmd = allCommands(program).find(c => commandPath(c) === path) as Command
    const own = new Set(cmd.options.filter(o => !o.hidden).map(o => o.long))
    const others = new Set(
      allCommands(program)
        .flatMap(c => c.options.map(o => o.long))
        .filter(f => f && !own.has(f))
    )
    const r = await run([...path.split(' '), '--help'])
    expect(r.code).toBe(0)
    expect(r.err).toBe('')
    expect(r.out).toMatch(new RegExp(`^Usage: sitecycle ${path} `))
    const options = r.out.slice(r.out.indexOf('\nOptions:'))
    const listed = [...options.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)].map(m => m[1])
    expect(new Set(listed)).toEqual(new Set([...own, '--help']))
    for (const f of others) expect(listed).not.toContain(f)
    // `sitecycle help <command>` says the same.
    expect((await run(['help', ...path.split(' ')])).out).toBe(r.out)
  })

  it('sitecycle --help and sitecycle help list every command and exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await run(argv)
      expect(r.code).toBe(0)
      for (const name of newProgram().program.commands.map(c => c.name()))
        expect(r.out).toMatch(new RegExp(`^ {2}${name} `, 'm'))
      expect(r.out).toContain('exit codes: 0 done')
    }
  })

  it('sitecycle help <unknown command> is refused naming it; help help is the help', async () => {
    const r = await run(['help', 'nope'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^sitecycle: help: unknown command 'nope'; the commands: init, deploy, /)
    const h = await run(['help', 'help'])
    expect(h.code).toBe(0)
    expect(h.out).toMatch(/^Usage: sitecycle <command>/)
  })

  it('sitecycle alone prints the help and exits 2', async () => {
    const r = await run([])
    expect(r.code).toBe(2)
    expect(r.out).toMatch(/^Usage: sitecycle <command>/)
  })
})

describe('refused with exit 2 and one line', () => {
  it.each([
    [
      // The example of issue #14: it used to exit 0, the three flags ignored.
      ['deploy', 'v1', '--dry-run', '--use-latest', '--snapshot', 'nope', '--keep-old', '3y'],
      'sitecycle: --use-latest: not an option of sitecycle deploy (it is one of sitecycle sync); see sitecycle deploy --help\n'
    ],
    [
      ['deploy', 'v1', '--snapshot', 'nope'],
      'sitecycle: --snapshot: not an option of sitecycle deploy (it is one of sitecycle verify, sitecycle restore, sitecycle sync); see sitecycle deploy --help\n'
    ],
    [
      ['deploy', 'v1', '--keep-old', '3y'],
      'sitecycle: --keep-old: not an option of sitecycle deploy (it is one of sitecycle attempt promote); see sitecycle deploy --help\n'
    ],
    [
      ['status', 'v1', '--nope'],
      'sitecycle: --nope: unknown option; see sitecycle status --help\n'
    ],
    [
      ['hosts', 'v1', '--host', 'h'],
      'sitecycle: --host: not an option of sitecycle hosts (an option of 22 other commands); see sitecycle hosts --help\n'
    ],
    [['deploy'], 'sitecycle: deploy: which site? e.g. sitecycle deploy v1\n'],
    [
      ['attempt', 'start'],
      'sitecycle: attempt start: which preview site? e.g. sitecycle attempt start v2\n'
    ],
    [
      ['clone', 'v1'],
      'sitecycle: clone: missing <new-site>; usage: sitecycle clone [options] <source> <new-site>\n'
    ],
    [
      ['compare', 'v1'],
      'sitecycle: compare: missing <siteB>; usage: sitecycle compare [options] <siteA> <siteB>\n'
    ],
    [
      ['deploy', 'v1', 'v2'],
      "sitecycle: deploy: unexpected argument 'v2'; usage: sitecycle deploy [options] <site>\n"
    ],
    [
      ['sites', 'v1', 'v2'],
      "sitecycle: sites: unexpected arguments 'v1' 'v2'; usage: sitecycle sites [options]\n"
    ],
    [
      ['nope'],
      "sitecycle: unknown command 'nope'; the commands: init, deploy, idle, rollback, status, sites, unlock, run, snapshot, snapshots, verify, restore, sync, clone, mirror, attempt, remove, maintenance, compare, watch, hosts, release, build, demo, version, completion; see sitecycle --help\n"
    ],
    [
      ['attempt'],
      'sitecycle: attempt: which one? start, promote, cancel, status, plan; see sitecycle attempt --help\n'
    ],
    [
      ['attempt', 'begin', 'v2'],
      "sitecycle: attempt: unknown command 'begin'; the commands: start, promote, cancel, status, plan; see sitecycle attempt --help\n"
    ],
    [
      ['deploy', 'v1', '--lock-wait'],
      'sitecycle: --lock-wait: expects a value (--lock-wait <seconds>); see sitecycle deploy --help\n'
    ],
    [
      ['deploy', 'v1', ...NO_CONFIG, '--lock-wait', 'soon'],
      'sitecycle: --lock-wait soon: expected a number of seconds, e.g. --lock-wait 60\n'
    ],
    [
      ['rollback', 'v1', '--to', 'one'],
      'sitecycle: --to one: invalid version; expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3\n'
    ],
    [
      ['attempt', 'promote', 'v2', '--keep-old', '3y'],
      'sitecycle: --keep-old 3y: expected a duration such as 7d, 12h or 1w2d (units s, m, h, d, w)\n'
    ],
    [
      ['attempt', 'start', 'v2', '--keep-old', '3d'],
      'sitecycle: --keep-old: not an option of sitecycle attempt start (it is one of sitecycle attempt promote); see sitecycle attempt start --help\n'
    ],
    [
      ['maintenance', 'up', 'v1'],
      'sitecycle: maintenance: expected on or off, e.g. sitecycle maintenance on v1\n'
    ],
    [
      ['init', 'v1', '--reload', '--no-reload'],
      'sitecycle: --reload and --no-reload: give one of them\n'
    ],
    [
      ['deploy', 'v1', '--stage', 'switch', '--version', '1.0.0'],
      'sitecycle: --version: given to --stage prepare, not to --stage switch\n'
    ],
    [
      ['deploy', 'v1', '--run', 'r1'],
      'sitecycle: --run: only a deploy in stages takes it (--stage)\n'
    ],
    [
      ['deploy', 'v1', '--stage', 'prepare', '--run', 'r1', '--hold', '0'],
      'sitecycle: --hold 0: give whole minutes, 1 to 1440\n'
    ],
    [
      ['deploy', 'v1', '--stage', 'prepare'],
      'sitecycle: a deploy in stages is held by its run between stages: in GitHub Actions the run says who it is (GITHUB_RUN_ID); elsewhere pass --run NAME, the same to every stage\n'
    ],
    [
      ['idle', 'v1'],
      'sitecycle: idle: the command goes after --, e.g. sitecycle idle v1 -- ./tests/smoke.sh\n'
    ]
  ])('%j', async (argv, message) => {
    // With a config file that is not there: a refusal that came later would say so instead.
    const r = await run(argv.includes('--lock-wait') ? argv : [...argv, ...NO_CONFIG])
    expect(r.code).toBe(2)
    expect(r.err).toBe(message)
    expect(r.out).toBe('')
  })

  it.each([['--version'], ['-V'], ['version']])(
    'sitecycle %s prints the version that sitecycle version prints, and exits 0',
    async flag => {
      const r = await run([flag])
      expect(r).toEqual({ code: 0, out: sitecycleVersion(), err: '' })
      expect(sitecycleVersion()).toMatch(/^\d+\.\d+\.\d+/)
    }
  )

  it("--version after a command is still that command's option (deploy --version 1.0.0)", async () => {
    const r = await run(['deploy', 'v1', '--stage', 'switch', '--version', '1.0.0', ...NO_CONFIG])
    expect(r.code).toBe(2)
    expect(r.err).toBe('sitecycle: --version: given to --stage prepare, not to --stage switch\n')
  })

  it('the commands named by the --dry-run and --allow-bad refusals are those with the flag', () => {
    const { program } = newProgram()
    const withFlag = (flag: string) =>
      runnableCommands(program)
        .filter(c => c.options.some(o => o.long === flag))
        .map(commandPath)
        .sort()
    expect(withFlag('--dry-run')).toEqual([...DRY_RUN_COMMANDS].sort())
    expect(withFlag('--allow-bad')).toEqual([...ALLOW_BAD_COMMANDS].sort())
  })
})

describe('every flag of the command line before commander is still there', () => {
  const before = [
    'config',
    'release',
    'store',
    'version',
    'to',
    'lock-wait',
    'host',
    'ssh-key-file',
    'known-hosts',
    'dry-run',
    'allow-bad',
    'no-reload',
    'no-verify',
    'force',
    'json',
    'fail-on-difference',
    'quiet',
    'help',
    'out',
    'port',
    'dir',
    'keep',
    'notes',
    'skip-tests',
    'allow-dirty',
    'tag',
    'handoff',
    'snapshot',
    'use-latest',
    'message',
    'retry-after',
    'list',
    'unattended',
    'keep-old',
    'now',
    'reload'
  ]
  it.each(before)('--%s', flag => {
    const { program } = newProgram()
    const flags = new Set(
      allCommands(program).flatMap(c => [...c.options.map(o => o.long), '--help'])
    )
    expect(flags).toContain(`--${flag}`)
  })
})

describe('each command parses its flags to typed options', () => {
  const host = ['-c', 'f.yml', '--host', 'h1', '--ssh-key-file', 'k', '--known-hosts', 'kh']
  const hostOpts = { config: 'f.yml', host: 'h1', sshKeyFile: 'k', knownHosts: 'kh' }
  it.each<[string[], string, unknown[], Record<string, unknown>]>([
    [
      ['init', 'v1', '--reload', ...host, '-q', '--unattended'],
      'init',
      ['v1'],
      { reload: true, quiet: true, unattended: true, ...hostOpts }
    ],
    [['init', 'v1', '--no-reload'], 'init', ['v1'], { reload: false, config: 'sitecycle.yml' }],
    [['init', 'v1'], 'init', ['v1'], { config: 'sitecycle.yml' }],
    [
      [
        'deploy',
        'v1',
        '--release',
        'r',
        '--version',
        '1.2.3',
        '--store',
        's',
        '--lock-wait',
        '7',
        '--dry-run',
        '--allow-bad',
        '--json',
        ...host
      ],
      'deploy',
      ['v1'],
      {
        release: 'r',
        version: '1.2.3',
        store: 's',
        lockWait: 7,
        dryRun: true,
        allowBad: true,
        json: true,
        ...hostOpts
      }
    ],
    [
      [
        'rollback',
        'v1',
        '--to',
        '1.0.0',
        '--lock-wait',
        '0.5',
        '--dry-run',
        '--allow-bad',
        '--json'
      ],
      'rollback',
      ['v1'],
      {
        to: '1.0.0',
        lockWait: 0.5,
        dryRun: true,
        allowBad: true,
        json: true,
        config: 'sitecycle.yml'
      }
    ],
    [['status', 'v1', '--json', ...host], 'status', ['v1'], { json: true, ...hostOpts }],
    [
      ['sites', '--json', '-c', 'f.yml', '--ssh-key-file', 'k', '--known-hosts', 'kh'],
      'sites',
      [],
      { json: true, config: 'f.yml', sshKeyFile: 'k', knownHosts: 'kh' }
    ],
    [['unlock', 'v1', '--force'], 'unlock', ['v1'], { force: true, config: 'sitecycle.yml' }],
    [
      ['run', 'v1', '--release', '1.0.0', '--lock-wait', '3'],
      'run',
      ['v1'],
      { release: '1.0.0', lockWait: 3, config: 'sitecycle.yml' }
    ],
    [
      ['snapshot', 'v1', '--no-verify', '--json', '--lock-wait', '1'],
      'snapshot',
      ['v1'],
      { verify: false, json: true, lockWait: 1, config: 'sitecycle.yml' }
    ],
    [['snapshot', 'v1'], 'snapshot', ['v1'], { verify: true, config: 'sitecycle.yml' }],
    [['snapshots', 'v1', '--json'], 'snapshots', ['v1'], { json: true, config: 'sitecycle.yml' }],
    [
      ['verify', 'v1', '--snapshot', 'all', '--json'],
      'verify',
      ['v1'],
      { snapshot: 'all', json: true, config: 'sitecycle.yml' }
    ],
    [
      ['restore', 'v1', '--snapshot', '20260101T000000Z', '--dry-run'],
      'restore',
      ['v1'],
      { snapshot: '20260101T000000Z', dryRun: true, config: 'sitecycle.yml' }
    ],
    [
      ['sync', 'v2', '--use-latest', '--snapshot', 's1', '--dry-run', '--json'],
      'sync',
      ['v2'],
      { useLatest: true, snapshot: 's1', dryRun: true, json: true, config: 'sitecycle.yml' }
    ],
    [
      ['clone', 'v1', 'v3', '--release', 'r', '--json'],
      'clone',
      ['v1', 'v3'],
      { release: 'r', json: true, config: 'sitecycle.yml' }
    ],
    [
      ['mirror', '--list', '--json', '--config', 'f.yml'],
      'mirror',
      [undefined],
      { list: true, json: true, config: 'f.yml' }
    ],
    [
      ['mirror', 'm1', '--lock-wait', '2'],
      'mirror',
      ['m1'],
      { lockWait: 2, config: 'sitecycle.yml' }
    ],
    [
      [
        'attempt',
        'start',
        'v2',
        '--release',
        'r',
        '--version',
        '2.0.0',
        '--message',
        'upgrading',
        '--json'
      ],
      'attempt start',
      ['v2'],
      { release: 'r', version: '2.0.0', message: 'upgrading', json: true, config: 'sitecycle.yml' }
    ],
    [
      ['attempt', 'promote', 'v2', '--keep-old', '12h'],
      'attempt promote',
      ['v2'],
      { keepOld: 43200, config: 'sitecycle.yml' }
    ],
    [
      ['attempt', 'cancel', 'v2', '--json'],
      'attempt cancel',
      ['v2'],
      { json: true, config: 'sitecycle.yml' }
    ],
    [['attempt', 'status', 'v2'], 'attempt status', ['v2'], { config: 'sitecycle.yml' }],
    [['attempt', 'plan', 'v2', '--config', 'f.yml'], 'attempt plan', ['v2'], { config: 'f.yml' }],
    [
      ['remove', 'v1', '--now', '--reload', '--json'],
      'remove',
      ['v1'],
      { now: true, reload: true, json: true, config: 'sitecycle.yml' }
    ],
    [
      ['maintenance', 'on', 'v1', '--message', 'back soon', '--retry-after=60', '--dry-run'],
      'maintenance',
      ['on', 'v1'],
      { message: 'back soon', retryAfter: 60, dryRun: true, config: 'sitecycle.yml' }
    ],
    [
      ['compare', 'v1', 'v2', '--fail-on-difference', '--json'],
      'compare',
      ['v1', 'v2'],
      { failOnDifference: true, json: true, config: 'sitecycle.yml' }
    ],
    [['watch', 'v1', '--json'], 'watch', ['v1'], { json: true, config: 'sitecycle.yml' }],
    [
      ['hosts', 'v1', '--json', '--config', 'f.yml'],
      'hosts',
      ['v1'],
      { json: true, config: 'f.yml' }
    ],
    [
      [
        'release',
        '--version',
        '1.4.0',
        '--tag',
        'v1.4.0',
        '--notes',
        'n',
        '--skip-tests',
        '--allow-dirty',
        '--store',
        's',
        '--handoff',
        'h.json',
        '--json'
      ],
      'release',
      [],
      {
        version: '1.4.0',
        tag: 'v1.4.0',
        notes: 'n',
        skipTests: true,
        allowDirty: true,
        store: 's',
        handoff: 'h.json',
        json: true,
        config: 'sitecycle.yml'
      }
    ],
    [['build', 'app', '--out', 'o', '--json'], 'build', ['app'], { out: 'o', json: true }],
    [['build'], 'build', ['.'], { out: 'releases' }],
    [
      ['demo', '--port', '8080', '--dir', 'd', '--keep'],
      'demo',
      [],
      { port: 8080, dir: 'd', keep: true }
    ]
  ])('%j', async (argv, command, args, options) => {
    const got = await parsed(argv)
    expect(got.command).toBe(command)
    expect(got.args).toEqual(args)
    expect(got.options).toEqual(options)
  })

  it('options may come before the arguments, and --name=value works', async () => {
    expect(await parsed(['deploy', '--lock-wait=4', '-c', 'f.yml', 'v1'])).toEqual({
      command: 'deploy',
      args: ['v1'],
      options: { lockWait: 4, config: 'f.yml' }
    })
  })

  it('the config file may come before the command, as people write it', async () => {
    // Read from the file named (not there: said so), not refused as a misplaced option.
    for (const argv of [
      [...NO_CONFIG, 'status', 'v1'],
      ['--config=/nonexistent/sitecycle.yml', 'attempt', 'status', 'v2'],
      [...NO_CONFIG, 'run', 'v1', '--', 'python', '-c', 'x']
    ]) {
      const r = await run(argv)
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 })
      expect(r.err).toMatch(/\/nonexistent\/sitecycle\.yml/)
      expect(r.err).not.toMatch(/not an option/)
    }
  })

  it("run's command after -- is not parsed by sitecycle", async () => {
    // -c after -- is python's: sitecycle's own -c names a file that is not there, and says so.
    const r = await run(['run', 'v1', ...NO_CONFIG, '--', 'python', '-c', 'x', '--json'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/\/nonexistent\/sitecycle\.yml/)
  })
})
