/** `sitecycle sites`: every site with its role, live release, last sync and last snapshot. */
import type { Command } from 'commander'
import { loadConfig } from '../config/load-config.js'
import { createExecutor } from '../hosts/create-executor.js'
import { formatSites, listSites } from '../pipelines/sites.js'
import { act, EXIT, sshOf, type CliContext } from './context.js'
import {
  configOption,
  jsonOption,
  quietOption,
  sshOptions,
  type ConfigOptions,
  type HostOptions,
  type JsonOption
} from './options.js'

export type SitesOptions = ConfigOptions &
  Pick<HostOptions, 'sshKeyFile' | 'knownHosts'> &
  JsonOption

export function registerSites(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('sites')
    .description('every site: role, live release, last sync, last snapshot')
  jsonOption(cmd)
  quietOption(sshOptions(configOption(cmd))).action(
    act(ctx, async (o: SitesOptions) => {
      const config = await loadConfig(o.config)
      const rows = await listSites(config, site => {
        const e = createExecutor(site.host, sshOf(o, config))
        ctx.opened.push(e)
        return e
      })
      ctx.out(o.json ? JSON.stringify(rows, null, 2) : formatSites(rows))
      return EXIT.ok
    })
  )
}
