/** `sitecycle sync <site>`: copy the data of the site's `from:` site into it (a preview). */
import type { Command } from 'commander'
import { syncPlan, syncSite, syncSource } from '../pipelines/sync.js'
import { act, EXIT, siteAndExecutor, sourceExecutor, type CliContext } from './context.js'
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

export interface SyncOptions extends HostOptions, JsonOption, LockWaitOption, DryRunOption {
  snapshot?: string
  useLatest?: boolean
}

export function registerSync(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('sync')
    .summary("copy the data of the site's `from:` site into it (a preview)")
    .description(
      "copy the data of the site's `from:` site into it (a preview): snapshot the source (or --use-latest), restore, anonymize, run the site's hooks, verify"
    )
    .argument('<site>', 'the site, as named in the config')
    .option('--snapshot <id>', 'the snapshot of the source to sync from')
    .option('--use-latest', "sync from the source's newest snapshot instead of taking a new one")
  lockWaitOption(cmd)
  dryRunOption(cmd, 'print the steps')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: SyncOptions) => {
      if (o.dryRun) {
        ctx.out(syncPlan().join('\n'))
        return EXIT.ok
      }
      const t = await siteAndExecutor(ctx, o, name)
      return endDataCommand(
        ctx,
        Boolean(o.json),
        () =>
          syncSite({
            ...t,
            sourceExec: sourceExecutor(ctx, o, t, syncSource(t.config, t.site)),
            reporter: ctx.reporter,
            lockWait: o.lockWait,
            snapshot: o.snapshot,
            useLatest: Boolean(o.useLatest)
          }),
        describeDataOutcome
      )
    })
  )
}
