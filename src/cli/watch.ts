/** `sitecycle watch <site>`: drift of the live virtualenv, config and live link; exit 5 on drift. */
import type { Command } from 'commander'
import { watchCommand } from '../watch/watch-command.js'
import { act, siteAndExecutor, type CliContext } from './context.js'
import { jsonOption, siteCommandOptions, type HostOptions, type JsonOption } from './options.js'

export type WatchOptions = HostOptions & JsonOption

export function registerWatch(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('watch')
    .summary('drift of the live virtualenv, rendered config and live link; exit 5 on drift')
    .description(
      "check the live virtualenv's files against their wheels' RECORD hashes, the rendered config against its hash at deploy, the live link against the journal; exit 5 when anything drifted"
    )
    .argument('<site>', 'the site, as named in the config')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: WatchOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      return await watchCommand({ ...t, json: Boolean(o.json), out: ctx.out })
    })
  )
}
