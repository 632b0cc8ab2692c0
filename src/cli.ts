/**
 * The `sitecycle` command: the same pipelines as the actions, from a terminal or cron.
 * Progress goes to stderr, results to stdout (--json for machines). Exit codes:
 *   0 done (or nothing to do)
 *   1 the operation failed and was undone: the previous release serves
 *   2 bad input or config: nothing on the host was touched
 *   3 the site is locked by another run
 *   4 the operation failed and some undo failed: look at `sitecycle status`
 *   5 differences found: watch found drift, or compare --fail-on-difference found differences
 *
 * DESIGN: the command line is parsed by commander (maintained, no dependencies of its own, typed
 * options, a help per command, small in the bundle). Each command is a module of src/cli/ that
 * registers itself with its own arguments and options (shared ones from src/cli/options.ts), so
 * a flag a command does not honour is refused, not ignored; src/cli/program.ts puts them
 * together and turns commander's errors into one `sitecycle: ...` line with exit 2, the way every
 * other bad input is reported. This module is the entry (rollup and package.json `bin` point at
 * it): it builds the program, runs it, and maps what was thrown to the exit code. A command line
 * that names a command gets a program of that command alone (program.ts programFor: its module
 * and pipelines are imported then, no other command's; bench/README.md measures the start). The
 * README's CLI reference is generated from the same definitions (tools/docs/cli-reference.ts, `npm run docs`).
 * Shell completion: commander has none built in, so `sitecycle completion bash|zsh` prints a
 * script generated from the same definitions (src/cli/completion-script.ts).
 */
import { runCliWithAlerts } from './alerts/cli-alerts.js'
import { SshConnectionError } from './hosts/ssh-executor.js'
import { OperationFailed } from './pipelines/operation.js'
import { ConfigError, SitecycleError } from './util/errors.js'
import { StreamReporter } from './util/reporter.js'
import { warmResidentPython } from './hosts/resident-python.js'
import { openSecretsBundle } from './config/secrets-bundle.js'
import { DEFAULTS } from './config/schema.js'
import { EXIT, printOutcome, type CliContext } from './cli/context.js'
import {
  buildProgram,
  HelpShown,
  loadCommands,
  mayRunHostPrograms,
  programFor
} from './cli/program.js'

export { EXIT } from './cli/context.js'

/**
 * `sitecycle -c FILE deploy v1` as `sitecycle deploy v1 -c FILE`: the config file is an option of
 * the commands, and people give it first (as git -C); moved after the command line. And
 * `sitecycle --version` (or `-V`) as `sitecycle version`: only in first place, since deploy,
 * release and attempt start have a `--version` of their own.
 */
function configAfterCommand(argv: string[]): string[] {
  const rest = [...argv]
  const moved: string[] = []
  for (;;) {
    if ((rest[0] === '-c' || rest[0] === '--config') && rest.length > 1)
      moved.push(...rest.splice(0, 2))
    else if (rest[0]?.startsWith('--config=')) moved.push(...rest.splice(0, 1))
    else break
  }
  if (rest[0] === '--version' || rest[0] === '-V') rest[0] = 'version'
  return [...rest, ...moved]
}

/** Run the CLI; returns the exit code. `out` receives results, progress goes to the reporter. */
export async function main(
  argv: string[],
  out: (s: string) => void = s => process.stdout.write(s + '\n')
): Promise<number> {
  const reporter = new StreamReporter(undefined, false)
  // A workflow step's SITECYCLE_SECRETS (one JSON object) gives the secrets the config names.
  for (const value of openSecretsBundle(process.env)) reporter.addSecret(value)
  // `run`'s command comes after `--`, untouched by sitecycle's own options.
  const dashes = argv.indexOf('--')
  const ctx: CliContext = {
    reporter,
    out,
    argv: configAfterCommand(dashes < 0 ? argv : argv.slice(0, dashes)),
    commandArgv: dashes < 0 ? [] : argv.slice(dashes + 1),
    opened: [],
    code: EXIT.ok
  }
  try {
    const command = ctx.argv.find(a => !a.startsWith('-'))
    // A command that works on a site on this machine runs its host programs in the resident
    // Python (src/hosts/resident-python.ts): start it while the command's code loads.
    if (command && mayRunHostPrograms(command) && !ctx.argv.some(a => a === '--help' || a === '-h'))
      warmResidentPython(DEFAULTS.python)
    const { program, whole } = await programFor(ctx, command)
    if (dashes >= 0 && command !== 'run' && command !== 'idle')
      throw new SitecycleError(
        `--: only sitecycle run and sitecycle idle take a command after --, not sitecycle ${command ?? ''}`.trimEnd(),
        'usage'
      )
    if (!ctx.argv.length) {
      out(program.helpInformation().trimEnd())
      return EXIT.input
    }
    // `sitecycle help attempt start` as `sitecycle attempt start --help`: commander's help
    // command goes one level down only, and shows the program's help for an unknown command.
    const [first, asked] = ctx.argv
    if (first === 'help' && asked !== undefined && asked !== 'help') {
      const names = program.commands.map(c => c.name())
      if (!names.includes(asked))
        throw new SitecycleError(
          `help: unknown command '${asked}'; the commands: ${names.join(', ')}; see sitecycle --help`,
          'usage'
        )
    }
    const own =
      first === 'help' && asked !== undefined ? [...ctx.argv.slice(1), '--help'] : ctx.argv
    let acting = false
    program.hook('preAction', () => {
      acting = true
    })
    try {
      await program.parseAsync(own, { from: 'user' })
    } catch (e) {
      // A command line refused by the program of one command: its message may name the others
      // (the commands with that option, say), so the whole program parses it again.
      if (whole || acting || e instanceof HelpShown) throw e
      await buildProgram(ctx, await loadCommands()).parseAsync(own, { from: 'user' })
    }
    return ctx.code
  } catch (e) {
    if (e instanceof HelpShown) return e.exitCode === 0 ? EXIT.ok : EXIT.input
    if (e instanceof OperationFailed) {
      printOutcome(e.outcome, Boolean(argv.includes('--json')), out)
      reporter.warn(e.message)
      return e.outcome.undoComplete ? EXIT.failed : EXIT.needsAttention
    }
    if (e instanceof SitecycleError) {
      process.stderr.write(reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
      if (e.kind === 'lock') return EXIT.locked
      // A host key that is not the pinned one: refused before anything ran on the host.
      if (e instanceof SshConnectionError && e.reason === 'host-key') return EXIT.input
      if (
        e instanceof ConfigError ||
        ['config', 'input', 'usage', 'release', 'site', 'stage'].includes(e.kind)
      )
        return EXIT.input
      return EXIT.failed
    }
    process.stderr.write(
      reporter.filter.apply(
        `sitecycle: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
      ) + '\n'
    )
    return EXIT.failed
  } finally {
    for (const e of ctx.opened) await e.close().catch(() => undefined)
  }
}

const isMain = process.argv[1] && /(?:^|[\\/])(cli\.(?:js|ts)|sitecycle)$/.test(process.argv[1])
if (isMain) {
  runCliWithAlerts(process.argv.slice(2), main).then(code => process.exit(code))
}
