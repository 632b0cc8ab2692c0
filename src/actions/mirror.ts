/**
 * The mirror action: inputs → refresh the mirror site from the newest snapshot of its `from`
 * site that is at least its `lag` old → outputs and job summary.
 */
import { describeAge } from '../snapshots/list.js'
import { MirrorFailed, refreshMirror, type MirrorOutcome } from '../pipelines/mirror.js'
import type { ActionCore } from './action-core.js'
import { runDataAction, type DataReport } from './data-action.js'
import { readMirrorSettings } from './data-inputs.js'
import type { SiteActionDeps } from './site-action.js'

/** The mirror action's dependencies; tests replace the pipeline or the clock. */
export interface MirrorActionDeps extends SiteActionDeps {
  refreshMirror?: typeof refreshMirror
  now?: () => Date
}

const HEADING: Record<MirrorOutcome['status'], (o: MirrorOutcome) => string> = {
  refreshed: o => `🪞 Mirror ${o.site} shows snapshot ${o.snapshot} of site ${o.from} now`,
  unchanged: o => `✅ Mirror ${o.site} already shows snapshot ${o.snapshot}: nothing to do`,
  waiting: o => `⏳ Mirror ${o.site}: no snapshot of site ${o.from} is ${o.lag} old yet`
}

function report(o: MirrorOutcome): DataReport {
  return {
    status: o.status,
    heading: HEADING[o.status](o),
    rows: [
      ['Mirror', `${o.site} on ${o.host}`],
      ['From', `${o.from}, ${o.lag} behind`],
      [
        'Shows',
        o.snapshot ? `${o.snapshot} (${describeAge(o.ageSeconds ?? 0)} old)` : 'no snapshot yet'
      ],
      ['Before', o.previousSnapshot ?? 'none'],
      ['URL', o.url],
      ['Operation', o.operationId]
    ],
    outputs: { snapshot: o.snapshot ?? '', 'previous-snapshot': o.previousSnapshot ?? '' },
    steps: o.steps,
    notes: o.notes
  }
}

/** Run the mirror action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runMirrorAction(
  core: ActionCore,
  deps: MirrorActionDeps = {}
): Promise<void> {
  await runDataAction(
    core,
    {
      op: 'mirror',
      readSettings: readMirrorSettings,
      run: ({ settings, target, reporter, env }) =>
        (deps.refreshMirror ?? refreshMirror)({
          config: target.config,
          site: target.site,
          exec: target.exec,
          reporter,
          env,
          lockWait: settings.lockWait,
          ...(deps.now && { now: deps.now })
        }),
      report,
      reportFailure: (error, { target }) =>
        error instanceof MirrorFailed
          ? {
              status: 'failed',
              heading: `❌ Refresh of mirror ${target.site.name} failed at step ${error.failedStep}`,
              rows: [['Mirror', `${target.site.name} on ${target.exec.name}`]],
              outputs: {},
              steps: error.steps,
              error: error.message
            }
          : undefined
    },
    deps
  )
}
