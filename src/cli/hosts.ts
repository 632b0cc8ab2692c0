/** `sitecycle hosts <site>`: the site's hosts in rolling-deploy order, from the config alone. */
import type { Command } from 'commander'
import { getSite, loadConfig } from '../config/load-config.js'
import { hostPlan } from '../config/site-hosts.js'
import { act, EXIT, type CliContext } from './context.js'
import {
  configOption,
  jsonOption,
  quietOption,
  type ConfigOptions,
  type JsonOption
} from './options.js'

export type HostsOptions = ConfigOptions & JsonOption

export function registerHosts(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('hosts')
    .description("the site's hosts in rolling-deploy order, the canary first")
    .argument('<site>', 'the site, as named in the config')
  jsonOption(cmd, 'one line with site, hosts, canary and rest (for a workflow matrix)')
  quietOption(configOption(cmd)).action(
    act(ctx, async (name: string, o: HostsOptions) => {
      const config = await loadConfig(o.config)
      const plan = hostPlan(getSite(config, name))
      ctx.out(o.json ? JSON.stringify(plan) : plan.hosts.join('\n'))
      return EXIT.ok
    })
  )
}
