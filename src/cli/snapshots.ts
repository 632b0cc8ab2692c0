/** `sitecycle snapshots <site>`: the site's snapshots with age and size. */
import type { Command } from 'commander'
import { formatSnapshotList, listSnapshots } from '../snapshots/list.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import { jsonOption, siteCommandOptions, type HostOptions, type JsonOption } from './options.js'

export type SnapshotsOptions = HostOptions & JsonOption

export function registerSnapshots(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('snapshots')
    .description("list the site's snapshots with age and size")
    .argument('<site>', 'the site, as named in the config')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: SnapshotsOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const list = await listSnapshots(t.exec, t.site, t.config.app.python)
      ctx.out(o.json ? JSON.stringify(list, null, 2) : formatSnapshotList(t.site.name, list))
      return EXIT.ok
    })
  )
}
