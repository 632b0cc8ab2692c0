/** `sitecycle unlock <site>`: clear the lock of a run that is gone (refuses while it runs). */
import type { Command } from 'commander'
import { unlockSite } from '../pipelines/status.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import { siteCommandOptions, type HostOptions } from './options.js'

export interface UnlockOptions extends HostOptions {
  force?: boolean
}

export function registerUnlock(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('unlock')
    .description('clear the lock of a run that is gone (refuses while it runs)')
    .argument('<site>', 'the site, as named in the config')
    .option('--force', "unlock even when the holder's state cannot be told from here")
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: UnlockOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const h = await unlockSite(t.site, t.exec, Boolean(o.force))
      ctx.out(
        h
          ? `lock of ${h.op} ${h.id} (${h.actor}) on site ${t.site.name} cleared`
          : `site ${t.site.name} is not locked`
      )
      return EXIT.ok
    })
  )
}
