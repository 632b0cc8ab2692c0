/** The steps of a deploy, in order, each with its undo; and its plan (a dry run's list). */
import { basename } from 'node:path'
import type { SiteConfig } from '../../config/model.js'
import { makeDirs, removeTree } from '../../commands/files.js'
import { EMPTY_RELEASE, siteLayout } from '../../sites/layout.js'
import {
  awaitSlotGroup,
  describeProbe,
  pointSlot,
  probeHealth,
  restartSlotGroup,
  signalSlotGroup,
  switchLiveSlot
} from '../../sites/site-state.js'
import { linkSharedEntries } from '../../sites/shared-links.js'
import { SitecycleError } from '../../util/errors.js'
import { describePlan, type Step } from '../pipeline.js'
import { pruneReleases } from '../prune.js'
import type { DeployContext, DeployStepOptions } from './context.js'
import { freezeSteps, freezesAroundHooks, removeDbSnapshotStep, unfreezeStep } from './freeze.js'
import { restoreIdleSlot, rewriteIdleScript } from './idle-slot.js'
import {
  completeRelease,
  createReleaseVenv,
  installRelease,
  runHooks,
  writeReleaseConfig
} from './install.js'
import { preflight } from './preflight.js'

/**
 * The steps of a deploy, in order. With `freeze` (a site with `hooks.freeze`): freeze and
 * snapshot-db before the hooks, unfreeze after verify-live, remove-db-snapshot at the end.
 */
export function deploySteps(options: DeployStepOptions = {}): Step<DeployContext>[] {
  const withFreeze = <T>(steps: T[]): T[] => (options.freeze ? steps : [])
  return [
    {
      name: 'preflight',
      title:
        'check the host: site initialized, Python version, pip, free space, apachectl configtest',
      run: preflight
    },
    {
      name: 'upload',
      title: 'copy the release file to the host',
      run: async c => {
        const dir = `${siteLayout(c.site.root).incoming}/${c.opId}`
        await c.exec.run(makeDirs([dir], '700'))
        await c.exec.put(c.release.file, c.upload, 0o644)
        return `${basename(c.release.file)} (${c.release.size} bytes)`
      },
      undo: async c => {
        await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`))
      }
    },
    {
      name: 'create-venv',
      title: 'create a fresh virtualenv for the release under releases/',
      run: createReleaseVenv,
      undo: async c => {
        if (c.createdRelease)
          await c.exec.run(removeTree(siteLayout(c.site.root).release(c.release.version)))
      }
    },
    {
      name: 'restart-idle',
      title:
        'point the idle slot at the new release and send SIGINT to its daemon group: Apache respawns it while pip installs',
      when: c => c.site.apache.mode === 'blue-green' && !c.reusedRelease,
      run: async c => {
        // A site initialized by an older sitecycle may have a script that cannot wait for its
        // release: the idle one is rewritten now, before its daemons restart (the live one is
        // left alone: a changed script restarts its group).
        const rewrote = await rewriteIdleScript(c)
        c.idleSignalled = await signalSlotGroup(
          c.exec,
          c.site,
          c.python,
          c.state.idleSlot,
          c.release.version
        )
        return `slot ${c.state.idleSlot}, pids ${c.idleSignalled} signalled${rewrote ? `; rewrote ${c.state.idleSlot}.wsgi` : ''}`
      },
      undo: restoreIdleSlot
    },
    {
      name: 'install',
      title: 'install the release into its virtualenv with pip, offline',
      when: c => !c.reusedRelease,
      run: installRelease
    },
    {
      name: 'link-shared',
      title: "link the site's shared entries into the release (shared[].link)",
      when: c => (c.site.shared ?? []).some(e => e.link !== undefined),
      run: async c => {
        const dir = siteLayout(c.site.root).release(c.release.version)
        const linked = await linkSharedEntries(c.exec, c.site, dir)
        return linked.length ? linked.join(', ') : 'already linked'
      }
    },
    {
      name: 'render-config',
      title:
        "write the rendered config file and the application's environment (env.json) into the release",
      when: c => c.rendered !== undefined || c.appEnv !== undefined || c.reusedRelease === true,
      run: writeReleaseConfig
    },
    ...withFreeze(freezeSteps()),
    {
      name: 'hooks',
      title: "run the site's after_install hooks in the new virtualenv",
      when: c => c.site.hooks.afterInstall.length > 0,
      run: runHooks
    },
    {
      name: 'complete-release',
      title: 'write release.json: the release is installed, configured and its hooks have run',
      when: c => !c.reusedRelease,
      run: completeRelease
    },
    {
      name: 'await-idle',
      title:
        "wait for the idle slot's new daemons (restarted during the install); a reused release's are restarted now",
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        const slot = c.state.idleSlot
        let pids: string
        let rewrote = false
        if (c.reusedRelease) {
          // A release installed before (same content): nothing to hide the restart behind. Its
          // script is brought up to date first (a changed app.wsgi), as restart-idle does.
          rewrote = await rewriteIdleScript(c)
          await pointSlot(c.exec, c.site, c.python, slot, c.release.version)
          pids = await restartSlotGroup(c.exec, c.site, c.python, slot)
        } else {
          pids = await awaitSlotGroup(c.exec, c.site, c.python, slot, c.idleSignalled!)
        }
        return `slot ${slot}, pids ${pids}${rewrote ? `; rewrote ${slot}.wsgi` : ''}`
      },
      undo: async c => {
        // A reused release's restart is undone here; restart-idle undoes its own.
        if (c.reusedRelease) await restoreIdleSlot(c)
      }
    },
    {
      name: 'verify-idle',
      title:
        'verify the new release over HTTP through the private route, before any user reaches it',
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, {
          slot: c.state.idleSlot,
          version: c.release.version
        })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(
              p,
              `the new release ${c.release.version} on slot ${c.state.idleSlot}`,
              c.release.version
            ),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    {
      name: 'switch',
      title: 'route users to the new release (one atomic rename of live.map)',
      run: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.release.version)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot, c.state.liveSlot)
        }
        c.switched = true
        return c.site.apache.mode === 'single'
          ? 'current link'
          : `live slot ${c.state.liveSlot} -> ${c.state.idleSlot}`
      },
      undo: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot, c.state.idleSlot)
        }
        c.switched = false
      }
    },
    {
      name: 'verify-live',
      title: 'verify the site as users see it',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, { version: c.release.version })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(p, `site ${c.site.name} after the switch`, c.release.version),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    ...withFreeze([unfreezeStep()]),
    {
      name: 'prune',
      title: 'remove old releases beyond keep_releases (never the live one or the one before it)',
      critical: false,
      run: async c => {
        // Under the lock the slots and releases are known: the live one is the new release, the
        // other slot holds the one before it (nothing to read again). The upload goes in the same rm.
        const removed = await pruneReleases(c.exec, c.site, c.python, {
          releases: c.releases,
          inSlots: new Set(
            [c.release.version, c.state.live].filter((r): r is string => r !== null)
          ),
          alsoRemove: [`${siteLayout(c.site.root).incoming}/${c.opId}`]
        })
        return removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove'
      }
    },
    ...withFreeze([removeDbSnapshotStep()])
  ]
}

/** The plan without touching anything (with the freeze steps when `site` freezes around its hooks). */
export function deployPlan(site?: SiteConfig): string[] {
  return describePlan(deploySteps({ freeze: site !== undefined && freezesAroundHooks(site) }))
}
