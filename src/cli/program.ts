/**
 * The `sitecycle` program: every command registered from its own module, and commander's errors
 * (unknown or misplaced option, missing or extra argument, unknown command) turned into one
 * SitecycleError line of kind `usage`, printed and exited with like any other bad input (exit 2).
 */
import { Command, CommanderError, type Option } from 'commander'
import { SitecycleError } from '../util/errors.js'
import { registerAttempt } from './attempt.js'
import { registerBuild } from './build.js'
import { registerClone } from './clone.js'
import { registerCompare } from './compare.js'
import { registerCompletion } from './completion.js'
import type { CliContext, RegisterCommand } from './context.js'
import { registerDemo } from './demo.js'
import { registerDeploy } from './deploy.js'
import { registerHosts } from './hosts.js'
import { registerIdle } from './idle.js'
import { registerInit } from './init.js'
import { registerMaintenance } from './maintenance.js'
import { registerMirror } from './mirror.js'
import { registerRelease } from './release.js'
import { registerRemove } from './remove.js'
import { registerRestore } from './restore.js'
import { registerRollback } from './rollback.js'
import { registerRun } from './run.js'
import { registerSites } from './sites.js'
import { registerSnapshot } from './snapshot.js'
import { registerSnapshots } from './snapshots.js'
import { registerStatus } from './status.js'
import { registerSync } from './sync.js'
import { registerUnlock } from './unlock.js'
import { registerVerify } from './verify.js'
import { registerVersion } from './version.js'
import { registerWatch } from './watch.js'

/** The commands, in the order `sitecycle --help` lists them. */
export const COMMANDS: readonly RegisterCommand[] = [
  registerInit,
  registerDeploy,
  registerIdle,
  registerRollback,
  registerStatus,
  registerSites,
  registerUnlock,
  registerRun,
  registerSnapshot,
  registerSnapshots,
  registerVerify,
  registerRestore,
  registerSync,
  registerClone,
  registerMirror,
  registerAttempt,
  registerRemove,
  registerMaintenance,
  registerCompare,
  registerWatch,
  registerHosts,
  registerRelease,
  registerBuild,
  registerDemo,
  registerVersion,
  registerCompletion
]

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

/** The program with every command; its errors thrown (never printed, never exiting). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('sitecycle')
    .description(
      'The same pipelines as the actions, from a terminal or cron. Progress goes to stderr, results to stdout (--json for machines).'
    )
    .usage('<command> [site] [options]')
    .helpCommand('help [command]', 'the help of a command')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
  for (const register of COMMANDS) register(program, ctx)
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
