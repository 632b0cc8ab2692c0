/**
 * The `sitecycle` program: every command registered from its own module, and commander's errors
 * (unknown or misplaced option, missing or extra argument, unknown command) turned into one
 * SitecycleError line of kind `usage`, printed and exited with like any other bad input (exit 2).
 */
import { Command, CommanderError, type Option } from 'commander'
import { SitecycleError } from '../util/errors.js'
import type { CliContext, RegisterCommand } from './context.js'

/** A command of the program: its name, and its module's register function, loaded when needed. */
export interface CommandModule {
  name: string
  load: () => Promise<RegisterCommand>
  /** false: the command runs no host program on this machine (no site, or only SSH hosts). */
  hostPrograms?: false
}

/**
 * The commands, in the order `sitecycle --help` lists them. Each module (and the pipelines it
 * imports) is loaded only when the program needs it: a command line that names a command loads
 * that command's module alone (programFor), so the CLI's start reads no other command's code.
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { name: 'init', load: async () => (await import('./init.js')).registerInit },
  { name: 'deploy', load: async () => (await import('./deploy.js')).registerDeploy },
  { name: 'idle', load: async () => (await import('./idle.js')).registerIdle },
  { name: 'rollback', load: async () => (await import('./rollback.js')).registerRollback },
  { name: 'status', load: async () => (await import('./status.js')).registerStatus },
  { name: 'sites', load: async () => (await import('./sites.js')).registerSites },
  { name: 'unlock', load: async () => (await import('./unlock.js')).registerUnlock },
  { name: 'run', load: async () => (await import('./run.js')).registerRun },
  { name: 'snapshot', load: async () => (await import('./snapshot.js')).registerSnapshot },
  { name: 'snapshots', load: async () => (await import('./snapshots.js')).registerSnapshots },
  { name: 'verify', load: async () => (await import('./verify.js')).registerVerify },
  { name: 'restore', load: async () => (await import('./restore.js')).registerRestore },
  { name: 'sync', load: async () => (await import('./sync.js')).registerSync },
  { name: 'clone', load: async () => (await import('./clone.js')).registerClone },
  { name: 'mirror', load: async () => (await import('./mirror.js')).registerMirror },
  { name: 'attempt', load: async () => (await import('./attempt.js')).registerAttempt },
  { name: 'remove', load: async () => (await import('./remove.js')).registerRemove },
  { name: 'maintenance', load: async () => (await import('./maintenance.js')).registerMaintenance },
  { name: 'compare', load: async () => (await import('./compare.js')).registerCompare },
  { name: 'watch', load: async () => (await import('./watch.js')).registerWatch },
  {
    name: 'hosts',
    load: async () => (await import('./hosts.js')).registerHosts,
    hostPrograms: false
  },
  {
    name: 'release',
    load: async () => (await import('./release.js')).registerRelease,
    hostPrograms: false
  },
  {
    name: 'build',
    load: async () => (await import('./build.js')).registerBuild,
    hostPrograms: false
  },
  { name: 'demo', load: async () => (await import('./demo.js')).registerDemo },
  {
    name: 'version',
    load: async () => (await import('./version.js')).registerVersion,
    hostPrograms: false
  },
  {
    name: 'completion',
    load: async () => (await import('./completion.js')).registerCompletion,
    hostPrograms: false
  }
]

/** Whether `name` is a command that may run host programs on this machine (not help, not unknown). */
export function mayRunHostPrograms(name: string): boolean {
  const m = COMMAND_MODULES.find(c => c.name === name)
  return m !== undefined && m.hostPrograms !== false
}

/** The register functions of the commands named (of every command when `names` is absent), in help order. */
export async function loadCommands(names?: readonly string[]): Promise<RegisterCommand[]> {
  const chosen = names ? COMMAND_MODULES.filter(m => names.includes(m.name)) : COMMAND_MODULES
  // One after the other: jest's ESM loader fails on concurrent imports of shared modules.
  const registers: RegisterCommand[] = []
  for (const m of chosen) registers.push(await m.load())
  return registers
}

export const EXIT_CODES_HELP = `exit codes: 0 done, 1 failed and undone, 2 bad input (nothing touched), 3 locked, 4 needs attention,
5 differences found (watch; compare --fail-on-difference)

environment: SITECYCLE_SSH_KEY (an SSH private key), SITECYCLE_UNATTENDED=1 (as --unattended),
SITECYCLE_SECRETS (one JSON object of the secrets the config names, such as {"DB_PASSWORD": "..."})`

/** Help for a bad command line is asked with `sitecycle <command> --help`; errors are one line. */
export class HelpShown extends Error {
  constructor(readonly exitCode: number) {
    super('help shown')
  }
}

/** `sitecycle attempt start`, as the user typed it. */
export function commandPath(cmd: Command): string {
  const names: string[] = []
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** Every command and subcommand of the program (not the program itself). */
export function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap(c => [c, ...allCommands(c)])
}

/** The commands that have an option named `flag` (e.g. `--snapshot`). */
function commandsWith(program: Command, flag: string): string[] {
  return allCommands(program)
    .filter(c => c.options.some((o: Option) => o.long === flag || o.short === flag))
    .map(commandPath)
}

/** The commands with a dry run, in the order the refusal names them (a test checks the list). */
export const DRY_RUN_COMMANDS = ['deploy', 'rollback', 'maintenance', 'restore', 'sync'] as const
/** The commands that can go to a release marked bad when told to. */
export const ALLOW_BAD_COMMANDS = ['deploy', 'rollback'] as const

/** `sitecycle attempt` without its subcommand, or `sitecycle` without a command. */
function whichOne(cmd: Command): SitecycleError {
  const path = commandPath(cmd)
  return new SitecycleError(
    path
      ? `${path}: which one? ${cmd.commands.map(c => c.name()).join(', ')}; see sitecycle ${path} --help`
      : 'which command? see sitecycle --help',
    'usage'
  )
}

/** A commander error of `cmd` as the one line sitecycle prints for bad input. */
export function usageError(err: CommanderError, cmd: Command, program: Command): Error {
  const path = commandPath(cmd)
  const name = path ? `sitecycle ${path}` : 'sitecycle'
  const see = `see ${name} --help`
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? ''
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.help':
    case 'commander.version':
      return err.exitCode === 0 ? new HelpShown(0) : whichOne(cmd)
    case 'commander.unknownOption': {
      // `sitecycle attempt --json`: the subcommand is missing, not the option.
      if (cmd.commands.length && cmd.parent) return whichOne(cmd)
      const owners = commandsWith(program, quoted)
      if (quoted === '--dry-run')
        return new SitecycleError(
          `--dry-run: ${name} has no dry run (refused rather than run for real); the commands with one: ${DRY_RUN_COMMANDS.join(', ')}`,
          'usage'
        )
      if (quoted === '--allow-bad')
        return new SitecycleError(
          `--allow-bad: only ${ALLOW_BAD_COMMANDS.join(' and ')} go to a release, not ${name}`,
          'usage'
        )
      const where =
        owners.length > 4
          ? `an option of ${owners.length} other commands`
          : `it is one of ${owners.map(o => `sitecycle ${o}`).join(', ')}`
      return new SitecycleError(
        owners.length
          ? `${quoted}: not an option of ${name} (${where}); ${see}`
          : `${quoted}: unknown option; ${see}`,
        'usage'
      )
    }
    case 'commander.missingArgument':
      return new SitecycleError(
        quoted === 'site'
          ? `${path}: which site? e.g. ${name} v1`
          : quoted === 'preview'
            ? `${path}: which preview site? e.g. ${name} v2`
            : `${path}: missing <${quoted}>; usage: ${name} ${cmd.usage()}`,
        'usage'
      )
    case 'commander.excessArguments': {
      const expected = cmd.registeredArguments.length
      const extra = cmd.args.slice(expected)
      return new SitecycleError(
        `${path}: unexpected argument${extra.length === 1 ? '' : 's'} ${extra.map(a => `'${a}'`).join(' ')}; usage: ${name} ${cmd.usage()}`,
        'usage'
      )
    }
    case 'commander.unknownCommand':
      return new SitecycleError(
        `${path ? `${path}: ` : ''}unknown command '${quoted}'; the commands: ${cmd.commands.map(c => c.name()).join(', ')}; ${see}`,
        'usage'
      )
    case 'commander.optionMissingArgument':
      return new SitecycleError(
        `${quoted.split(' ')[0]}: expects a value (${quoted}); ${see}`,
        'usage'
      )
    default:
      return new SitecycleError(
        `${path ? `${path}: ` : ''}${err.message.replace(/^error: /, '').split('\n')[0]}; ${see}`,
        'usage'
      )
  }
}

/** The program with the commands given (every command: `await loadCommands()`); its errors thrown (never printed, never exiting). */
export function buildProgram(ctx: CliContext, registers: readonly RegisterCommand[]): Command {
  const program = new Command('sitecycle')
    .description(
      'The same pipelines as the actions, from a terminal or cron. Progress goes to stderr, results to stdout (--json for machines).'
    )
    .usage('<command> [site] [options]')
    .helpCommand('help [command]', 'the help of a command')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
  for (const register of registers) register(program, ctx)
  for (const cmd of [program, ...allCommands(program)]) {
    cmd
      .configureOutput({
        writeOut: s => ctx.out(s.replace(/\n$/, '')),
        writeErr: () => undefined,
        outputError: () => undefined
      })
      .exitOverride(err => {
        throw usageError(err, cmd, program)
      })
      .showSuggestionAfterError(false)
  }
  program.hook('preAction', (_program, action) => {
    if (action.opts().quiet) Object.assign(ctx.reporter, { quiet: true })
  })
  return program
}

/**
 * Commands that read the whole program (help lists every command; completion completes every
 * command): never built alone.
 */
const WHOLE_PROGRAM_COMMANDS = new Set(['help', 'completion'])

/**
 * The program for a command line that runs `command` (the first word that is not an option): that
 * command's module alone when it names one, so the start loads no other command's code; every
 * command otherwise (no command, help, an unknown word). `whole` says which.
 */
export async function programFor(
  ctx: CliContext,
  command: string | undefined
): Promise<{ program: Command; whole: boolean }> {
  const alone =
    command !== undefined &&
    !WHOLE_PROGRAM_COMMANDS.has(command) &&
    COMMAND_MODULES.some(m => m.name === command)
  return {
    program: buildProgram(ctx, await loadCommands(alone ? [command] : undefined)),
    whole: !alone
  }
}
