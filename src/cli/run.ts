/** `sitecycle run <site> -- <command...>`: a one-off command in the live release. */
import { PassThrough } from 'node:stream'
import type { Command } from 'commander'
import { runInRelease } from '../pipelines/run-command.js'
import { SitecycleError } from '../util/errors.js'
import { act, siteAndExecutor, type CliContext } from './context.js'
import {
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type LockWaitOption
} from './options.js'

export interface RunOptions extends HostOptions, LockWaitOption {
  release?: string
}

const AFTER_DASHES =
  'run: the command goes after --, e.g. sitecycle run v1 -- python manage.py createsuperuser'

export function registerRun(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('run')
    .usage('[options] <site> -- <command...>')
    .summary("a one-off command in the live release, as the site's Apache user")
    .description(
      "a one-off command in the live release (or installed release --release V) as the site's Apache user, in its virtualenv with its environment; output passed through, its exit code returned; holds the site lock, journalled as run"
    )
    .argument('<site>', 'the site, as named in the config')
    // Words before `--` are refused below with the hint that the command goes after it.
    .allowExcessArguments(true)
    .option('--release <version>', 'run in this installed release instead of the live one')
  lockWaitOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: RunOptions, c: Command) => {
      if (c.args.length > 1 || !ctx.commandArgv.length)
        throw new SitecycleError(AFTER_DASHES, 'usage')
      const t = await siteAndExecutor(ctx, o, name)
      const stdout = new PassThrough()
      stdout.pipe(process.stdout)
      const outcome = await runInRelease({
        ...t,
        reporter: ctx.reporter,
        argv: ctx.commandArgv,
        release: o.release,
        lockWait: o.lockWait,
        stdout,
        stderr: process.stderr
      })
      return outcome.code
    })
  )
}
