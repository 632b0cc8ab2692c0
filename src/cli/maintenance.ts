/** `sitecycle maintenance on|off <site>`: freeze the site behind its maintenance page, or open it again. */
import { Option, type Command } from 'commander'
import { formatDryRun, planMaintenance } from '../pipelines/dry-run.js'
import { setMaintenance, type MaintenanceRequest } from '../pipelines/maintenance.js'
import { checkMaintenanceMessage, checkRetryAfter } from '../sites/maintenance.js'
import { SitecycleError } from '../util/errors.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import {
  dryRunOption,
  jsonOption,
  lockWaitOption,
  parseSeconds,
  siteCommandOptions,
  type DryRunOption,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface MaintenanceOptions extends HostOptions, JsonOption, LockWaitOption, DryRunOption {
  message?: string
  retryAfter?: number
}

export function registerMaintenance(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('maintenance')
    .summary('freeze the site behind its maintenance page (on) or open it again (off)')
    .description(
      'freeze the site (users get 503, Retry-After and the maintenance page; the health path and sites.<n>.maintenance.allow still get through) or open it again'
    )
    .argument('<on|off>', 'on: freeze the site; off: open it again')
    .argument('<site>', 'the site, as named in the config')
    .addOption(
      new Option(
        '--message <text>',
        'the sentence users read on the maintenance page (on; plain text: control characters are refused, line breaks allowed)'
      ).argParser(value => {
        checkMaintenanceMessage(value, '--message')
        return value
      })
    )
    .addOption(
      new Option(
        '--retry-after <seconds>',
        'Retry-After of the maintenance page (on; 0 to 86400, default 300)'
      ).argParser(value => {
        const seconds = parseSeconds('retry-after')(value)
        checkRetryAfter(seconds, '--retry-after')
        return seconds
      })
    )
  lockWaitOption(cmd)
  dryRunOption(cmd, 'say what would change on the page')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (action: string, name: string, o: MaintenanceOptions) => {
      if (action !== 'on' && action !== 'off')
        throw new SitecycleError(
          `maintenance: expected on or off, e.g. sitecycle maintenance on v1`,
          'usage'
        )
      const t = await siteAndExecutor(ctx, o, name)
      const request: MaintenanceRequest = {
        ...t,
        reporter: ctx.reporter,
        action,
        lockWait: o.lockWait,
        options: {
          ...(o.message !== undefined && { message: o.message }),
          ...(o.retryAfter !== undefined && { retryAfter: o.retryAfter })
        }
      }
      if (o.dryRun) {
        const plan = await planMaintenance(request)
        ctx.out(o.json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
        return EXIT.ok
      }
      const m = await setMaintenance(request)
      ctx.out(
        o.json
          ? JSON.stringify(m, null, 2)
          : m.status === 'frozen'
            ? `site ${m.site} is frozen${m.wasFrozen ? ' (it already was; page updated)' : ''}: ${m.url} answers 503 with the maintenance page, Retry-After ${m.retryAfter}`
            : `site ${m.site} is open${m.wasFrozen ? ' again' : ' (it was not frozen)'}: ${m.url}`
      )
      return EXIT.ok
    })
  )
}
