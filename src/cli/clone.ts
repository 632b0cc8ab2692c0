/** `sitecycle clone <source> <new-site>`: make a configured site from another: init, data, release. */
import type { Command } from 'commander'
import { getSite } from '../config/load-config.js'
import { cloneSite } from '../pipelines/clone.js'
import { act, siteAndExecutor, sourceExecutor, type CliContext } from './context.js'
import { endDataCommand } from './data-outcome.js'
import {
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface CloneOptions extends HostOptions, JsonOption, LockWaitOption {
  release?: string
}

export function registerClone(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('clone')
    .description(
      'make the configured site <new-site> from <source>: init, copy the data, deploy the release <source> runs'
    )
    .argument('<source>', 'the site to copy')
    .argument('<new-site>', 'the site to make, as named in the config')
    .option(
      '--release <path>',
      'where the release <source> runs is (file, folder or folder of releases)'
    )
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (sourceName: string, name: string, o: CloneOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const source = getSite(t.config, sourceName)
      return endDataCommand(
        ctx,
        Boolean(o.json),
        () =>
          cloneSite({
            config: t.config,
            source,
            site: t.site,
            exec: t.exec,
            sourceExec: sourceExecutor(ctx, o, t, source),
            reporter: ctx.reporter,
            lockWait: o.lockWait,
            release: o.release
          }),
        outcome =>
          `site ${outcome.site} cloned from ${outcome.source}: ${outcome.version} live at ${outcome.url}, data of snapshot ${outcome.data.snapshot}`
      )
    })
  )
}
