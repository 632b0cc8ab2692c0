/** `sitecycle restore <site>`: put a snapshot back into the site, frozen meanwhile; undone on failure. */
import type { Command } from 'commander'
import { restorePlan, restoreSite } from '../pipelines/restore.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import { describeDataOutcome, endDataCommand } from './data-outcome.js'
import {
  dryRunOption,
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type DryRunOption,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface RestoreOptions extends HostOptions, JsonOption, LockWaitOption, DryRunOption {
  snapshot?: string
}

export function registerRestore(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('restore')
    .summary('put a snapshot back into the site, frozen meanwhile; undone on failure')
    .description(
      'put a snapshot back into the site, frozen meanwhile: database (fresh copy swapped in) and data folders; undone on failure'
    )
    .argument('<site>', 'the site, as named in the config')
    .option('--snapshot <id>', 'the snapshot to restore (default the newest)')
  lockWaitOption(cmd)
  dryRunOption(cmd, 'print the steps')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: RestoreOptions) => {
      if (o.dryRun) {
        ctx.out(restorePlan().join('\n'))
        return EXIT.ok
      }
      const t = await siteAndExecutor(ctx, o, name)
      return endDataCommand(
        ctx,
        Boolean(o.json),
        () =>
          restoreSite({ ...t, reporter: ctx.reporter, lockWait: o.lockWait, snapshot: o.snapshot }),
        describeDataOutcome
      )
    })
  )
}
