/**
 * The clone action: inputs → a new site (configured in sitecycle.yml) made from an existing one:
 * initialized, its data synced, the release the source runs deployed → outputs and job summary.
 */
import { cloneSite, type CloneOutcome } from '../pipelines/clone.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { runDataAction, type DataReport } from './data-action.js'
import { DataInput, readCloneSettings } from './data-inputs.js'
import { selectSite } from './inputs.js'
import { dataFailureReport } from './restore.js'
import type { SiteActionDeps } from './site-action.js'

/** The clone action's dependencies; tests replace the pipeline. */
export interface CloneActionDeps extends SiteActionDeps {
  cloneSite?: typeof cloneSite
}

function report(o: CloneOutcome): DataReport {
  return {
    status: o.status,
    heading: `🧬 Cloned site ${o.source} into site ${o.site} (${o.version})`,
    rows: [
      ['Site', `${o.site} on ${o.host}`],
      ['From', o.source],
      ['Release', `${o.version} (sha256 ${o.sha256})`],
      ['Snapshot', o.data.snapshot],
      ['URL', o.url]
    ],
    outputs: { version: o.version, snapshot: o.data.snapshot },
    steps: [...o.data.steps, ...o.deploy.steps]
  }
}

/** Run the clone action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runCloneAction(core: ActionCore, deps: CloneActionDeps = {}): Promise<void> {
  await runDataAction(
    core,
    {
      op: 'clone',
      readSettings: readCloneSettings,
      run: ({ settings, target, reporter, env }) => {
        const from = settings.from ?? target.site.from
        if (!from)
          throw new SitecycleError(
            `input '${DataInput.From}' is empty and sites.${target.site.name}.from is not set; expected the site to clone, such as v1`,
            'input'
          )
        return (deps.cloneSite ?? cloneSite)({
          config: target.config,
          source: selectSite(target.config, from),
          site: target.site,
          exec: target.exec,
          reporter,
          env,
          lockWait: settings.lockWait,
          ...(settings.release !== undefined && { release: settings.release })
        })
      },
      report,
      reportFailure: (error, { target }) => dataFailureReport(error, 'Clone', target.site.name)
    },
    deps
  )
}
