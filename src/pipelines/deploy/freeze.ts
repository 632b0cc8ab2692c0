/**
 * The steps of `hooks.freeze` around a deploy's hooks (freeze, snapshot-db, unfreeze,
 * remove-db-snapshot), and what a failed deploy says about the database its hooks may have
 * changed.
 */
import type { SiteConfig } from '../../config/model.js'
import { removeTree } from '../../commands/files.js'
import type { DatabaseConfig } from '../../databases/engine.js'
import { getEngine } from '../../databases/registry.js'
import { freeze, frozenState, unfreeze } from '../../sites/maintenance.js'
import { SitecycleError } from '../../util/errors.js'
import { drainLiveGroup, preDeployDumpPath, restoreWhileHeld } from '../frozen-deploy.js'
import type { PipelineError, Step } from '../pipeline.js'
import type { DeployContext } from './context.js'

/** What a failed deploy without `hooks.freeze` says about its database, after its hooks ran. */
export const CODE_ONLY_ROLLBACK =
  'code-only rollback: the database was not restored (the site was not frozen before its hooks)'

/**
 * Whether a deploy of `site` freezes it around its hooks: `hooks.freeze` is on, there are hooks
 * to run and a database to protect (the loader refuses freeze without a database).
 */
export function freezesAroundHooks(site: SiteConfig): boolean {
  return (
    site.hooks.freeze === true && site.hooks.afterInstall.length > 0 && site.database !== undefined
  )
}

function databaseOf(c: DeployContext): DatabaseConfig {
  return { ...c.site.database!, python: c.python }
}

/** freeze and snapshot-db: users out, then the database dumped (the undo of the hooks). */
export function freezeSteps(): Step<DeployContext>[] {
  return [
    {
      name: 'freeze',
      title:
        'freeze the site before its hooks migrate the database: users get the maintenance page (503); the requests admitted before finish',
      when: c => freezesAroundHooks(c.site),
      run: async c => {
        c.frozenBefore = (await frozenState(c.exec, c.site)).frozen
        // A site frozen by someone else (maintenance on, an upgrade attempt) keeps its own page.
        if (c.frozenBefore) return 'it was frozen already: it stays frozen'
        await freeze(c.exec, c.site, c.python, {
          message: 'This site is being upgraded. Please come back in a few minutes.'
        })
        // Requests admitted before the freeze finish now, before the dump: none writes after it.
        try {
          await drainLiveGroup(c, c.state)
        } catch (e) {
          // A failed step's own undo does not run: users are not left frozen out.
          await unfreeze(c.exec, c.site)
          throw e
        }
        return 'users get 503 and the maintenance page; requests admitted before finished'
      },
      undo: async c => {
        if (c.dbRestoreFailed)
          throw new SitecycleError(
            `site ${c.site.name} stays frozen: its database could not be put back from ${c.dbSnapshot}; ` +
              `restore it from there, then run \`sitecycle maintenance off ${c.site.name}\``,
            'database'
          )
        if (!c.frozenBefore) await unfreeze(c.exec, c.site)
      }
    },
    {
      name: 'snapshot-db',
      title: 'dump the database (users are frozen out), to put it back if a later step fails',
      when: c => freezesAroundHooks(c.site),
      run: async c => {
        const db = databaseOf(c)
        const engine = getEngine(db.engine)
        if (!(await engine.exists(c.exec, db)))
          return `no database ${db.name} yet: nothing to put back if the deploy fails`
        const path = preDeployDumpPath(c.site.root, c.opId)
        const dumped = await engine.dump(c.exec, db, path, c.reporter)
        c.dbSnapshot = path
        return `${db.engine} ${db.name} -> ${path} (${dumped.size} bytes)`
      },
      undo: async c => {
        if (!c.dbSnapshot) return
        // Held: no request, the health path's included, runs while the connections are closed.
        await restoreWhileHeld(c, c.state, async () => {
          try {
            await getEngine(c.site.database!.engine).restore(
              c.exec,
              databaseOf(c),
              c.dbSnapshot!,
              c.reporter
            )
          } catch (e) {
            c.dbRestoreFailed = true
            throw e
          }
          c.dbRestored = true
        })
      }
    }
  ]
}

/** unfreeze: after verify-live, users reach the new release (unless the site was frozen before). */
export function unfreezeStep(): Step<DeployContext> {
  return {
    name: 'unfreeze',
    title: 'unfreeze the site: users reach the new release',
    when: c => freezesAroundHooks(c.site) && !c.frozenBefore,
    run: async c => {
      await unfreeze(c.exec, c.site)
      return 'users reach the site again'
    }
  }
}

/** remove-db-snapshot: the dump taken after the freeze is not needed once the deploy succeeded. */
export function removeDbSnapshotStep(): Step<DeployContext> {
  return {
    name: 'remove-db-snapshot',
    title: 'remove the database dump taken after the freeze',
    critical: false,
    when: c => c.dbSnapshot !== undefined,
    run: async c => {
      await c.exec.run(removeTree(c.dbSnapshot!))
      return c.dbSnapshot
    }
  }
}

/** What a failed deploy did about the database its hooks may have changed, in one sentence. */
export function databaseNote(c: DeployContext, e: PipelineError): string | undefined {
  const hooks = e.reports.find(r => r.name === 'hooks')
  const hooksRan = hooks?.status === 'ok' || hooks?.status === 'failed'
  // A site without a database has no data its hooks could have changed: nothing to say.
  if (!hooksRan || !c.site.database) return undefined
  if (!freezesAroundHooks(c.site)) return CODE_ONLY_ROLLBACK
  if (c.dbRestored)
    return `the database was restored from ${c.dbSnapshot}, taken after the site was frozen: no user write is lost`
  if (c.dbRestoreFailed)
    return `the database could not be restored: site ${c.site.name} stays frozen; its dump from before the hooks is ${c.dbSnapshot}`
  if (!c.dbSnapshot)
    return `the database did not exist before the hooks: it was left as the hooks made it`
  return `the database was not restored: restore it from ${c.dbSnapshot}`
}
