/** `sitecycle remove <site>`: take away an old site after its kept time. */
import type { Command } from 'commander'
import { removeOldSite } from '../pipelines/remove-old.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import {
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface RemoveOptions extends HostOptions, JsonOption, LockWaitOption {
  now?: boolean
  reload?: boolean
}

export function registerRemove(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('remove')
    .description(
      'take away an old site after its kept time; keeps its snapshots, journal and database'
    )
    .argument('<site>', 'the old site, as named on its host')
    .option('--now', 'remove it before its kept time is over')
    .option('--reload', 'reload Apache at once afterwards')
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: RemoveOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const r = await removeOldSite({
        config: t.config,
        site: t.site,
        exec: t.exec,
        reporter: ctx.reporter,
        now: Boolean(o.now),
        reload: Boolean(o.reload),
        ...(o.lockWait !== undefined && { lockWait: o.lockWait })
      })
      ctx.out(
        o.json
          ? JSON.stringify(r, null, 2)
          : `site ${r.site} removed${r.database ? `; database ${r.database} left in place` : ''}`
      )
      return EXIT.ok
    })
  )
}
