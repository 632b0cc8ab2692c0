/**
 * `sitecycle maintenance on|off <site>`: freeze or unfreeze a site (sites/maintenance.ts) as an
 * operation of its own: under the site lock, with its start and end in the site's journal.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { freeze, frozenState, unfreeze, type FreezeOptions } from '../sites/maintenance.js'
import type { Reporter } from '../util/reporter.js'
import { withSiteOperation } from './operation.js'

export interface MaintenanceRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** `on` freezes the site, `off` unfreezes it. */
  action: 'on' | 'off'
  /** `on`: the page's message, Retry-After and link. */
  options?: FreezeOptions
  /** Seconds to wait for the site lock (0: fail at once). */
  lockWait?: number
}

/** What `maintenance on|off` did. */
export interface MaintenanceOutcome {
  site: string
  /** frozen | unfrozen */
  status: 'frozen' | 'unfrozen'
  /** Whether the site was frozen before. */
  wasFrozen: boolean
  /** When the current freeze began (on). */
  since?: string
  retryAfter?: number
  url: string
  journal: Record<string, unknown>
}

/** Freeze (`on`) or unfreeze (`off`) a site, recorded in its journal. */
export async function setMaintenance(req: MaintenanceRequest): Promise<MaintenanceOutcome> {
  const { site, exec, reporter, action } = req
  return withSiteOperation(
    {
      op: `maintenance-${action}`,
      config: req.config,
      site,
      exec,
      reporter,
      lockWait: req.lockWait
    },
    async () => ({ frozen: (await frozenState(exec, site)).frozen }),
    async ctx => {
      const before = await frozenState(exec, site)
      if (action === 'on') {
        const state = await freeze(exec, site, req.config.app.python, req.options)
        reporter.info(
          `site ${site.name} is frozen: users get 503 and the maintenance page (Retry-After ${state.retryAfter}s)`
        )
        await ctx.journal.append({
          id: ctx.opId,
          op: ctx.holder.op,
          event: 'step',
          step: 'freeze',
          status: 'ok',
          retryAfter: state.retryAfter,
          // Whether a message was given, not the message: the journal holds names, not free text.
          customMessage: req.options?.message !== undefined
        })
        return {
          site: site.name,
          status: 'frozen' as const,
          wasFrozen: before.frozen,
          since: state.since,
          retryAfter: state.retryAfter,
          url: site.url,
          journal: { frozen: true, since: state.since }
        }
      }
      await unfreeze(exec, site)
      reporter.info(`site ${site.name} is open again`)
      await ctx.journal.append({
        id: ctx.opId,
        op: ctx.holder.op,
        event: 'step',
        step: 'unfreeze',
        status: 'ok',
        ...(before.since && { frozenSince: before.since })
      })
      return {
        site: site.name,
        status: 'unfrozen' as const,
        wasFrozen: before.frozen,
        url: site.url,
        journal: { frozen: false }
      }
    }
  )
}
