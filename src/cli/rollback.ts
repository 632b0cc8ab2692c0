/** `sitecycle rollback <site>`: go back to the previous release (or --to VERSION). */
import { Option, type Command } from 'commander'
import { formatDryRun, planRollback } from '../pipelines/dry-run.js'
import { rollback, type RollbackRequest } from '../pipelines/rollback.js'
import { act, EXIT, printOutcome, siteAndExecutor, type CliContext } from './context.js'
import {
  allowBadOption,
  dryRunOption,
  jsonOption,
  lockWaitOption,
  parseVersion,
  siteCommandOptions,
  type AllowBadOption,
  type DryRunOption,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface RollbackOptions
  extends HostOptions, JsonOption, LockWaitOption, DryRunOption, AllowBadOption {
  to?: string
}

export function registerRollback(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('rollback')
    .description('go back to the previous release (or --to VERSION); marks the one left as bad')
    .argument('<site>', 'the site, as named in the config')
    .addOption(
      new Option('--to <version>', 'the installed version to roll back to').argParser(
        parseVersion('to')
      )
    )
  lockWaitOption(cmd)
  dryRunOption(cmd, 'name the release it would go back to and the one it would mark bad')
  allowBadOption(cmd, 'roll back (--to) to')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: RollbackOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const request: RollbackRequest = {
        ...t,
        reporter: ctx.reporter,
        to: o.to,
        lockWait: o.lockWait,
        allowBad: Boolean(o.allowBad)
      }
      if (o.dryRun) {
        const plan = await planRollback(request)
        ctx.out(o.json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
        return EXIT.ok
      }
      printOutcome(await rollback(request), Boolean(o.json), ctx.out)
      return EXIT.ok
    })
  )
}
