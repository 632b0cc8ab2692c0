/**
 * The snapshot action: inputs → snapshot (dump, files, manifest, retention) → optionally verify
 * it in a scratch database → outputs and job summary.
 */
import { describeBytes } from '../snapshots/list.js'
import { SnapshotFailed, takeSnapshot, type SnapshotOutcome } from '../snapshots/snapshot.js'
import { verifySnapshot, VerifyFailed, type VerifyOutcome } from '../snapshots/verify.js'
import type { ActionCore } from './action-core.js'
import { runDataAction, type DataReport } from './data-action.js'
import { readSnapshotSettings } from './data-inputs.js'
import type { SiteActionDeps } from './site-action.js'

/** The snapshot action's dependencies; tests replace the pipelines. */
export interface SnapshotActionDeps extends SiteActionDeps {
  takeSnapshot?: typeof takeSnapshot
  verifySnapshot?: typeof verifySnapshot
}

interface Result {
  snapshot: SnapshotOutcome
  verify?: VerifyOutcome
}

function report(r: Result): DataReport {
  const m = r.snapshot.manifest
  const verified = r.verify?.status === 'verified'
  return {
    status: 'created',
    heading: `📦 Snapshot ${r.snapshot.id} of site ${r.snapshot.site}${verified ? ', verified' : ''}`,
    rows: [
      ['Site', `${r.snapshot.site} on ${r.snapshot.host}`],
      ['Snapshot', `${r.snapshot.id} (${r.snapshot.dir})`],
      [
        'Database',
        m.database
          ? `${m.database.engine} dump ${describeBytes(m.database.size)}, ${m.database.tables.length} tables`
          : 'none'
      ],
      ['Files', `${m.files.count} files, ${describeBytes(m.files.bytes)}`],
      [
        'Verified',
        r.verify
          ? `yes: restored into ${r.verify.database?.scratch ?? 'no database'}, ${r.verify.database?.tables.length ?? 0} tables and ${r.verify.files.length} folders match`
          : 'not asked'
      ],
      ['Retention removed', r.snapshot.removed.join(', ') || 'nothing']
    ],
    outputs: {
      snapshot: r.snapshot.id,
      bytes: String((m.database?.size ?? 0) + m.files.bytes),
      removed: r.snapshot.removed.join(' '),
      verified: String(verified)
    },
    steps: r.snapshot.steps
  }
}

/** Run the snapshot action; throws (secrets redacted) when it fails, after outputs and summary. */
export async function runSnapshotAction(
  core: ActionCore,
  deps: SnapshotActionDeps = {}
): Promise<void> {
  let taken: SnapshotOutcome | undefined
  await runDataAction(
    core,
    {
      op: 'snapshot',
      readSettings: readSnapshotSettings,
      run: async ({ settings, target, reporter, env }) => {
        const req = { config: target.config, site: target.site, exec: target.exec, reporter }
        taken = await (deps.takeSnapshot ?? takeSnapshot)({
          ...req,
          lockWait: settings.lockWait,
          env
        })
        if (!settings.verify) return { snapshot: taken }
        const verify = await (deps.verifySnapshot ?? verifySnapshot)({
          ...req,
          snapshot: taken.id,
          lockWait: settings.lockWait
        })
        return { snapshot: taken, verify }
      },
      report,
      reportFailure: (error, { target }) => {
        if (error instanceof SnapshotFailed)
          return {
            status: 'failed',
            heading: `❌ Snapshot of site ${target.site.name} failed at step ${error.failedStep}`,
            rows: [['Site', `${target.site.name} on ${target.exec.name}`]],
            outputs: { verified: 'false' },
            steps: error.steps,
            error: error.message
          }
        if (error instanceof VerifyFailed && taken)
          return {
            ...report({ snapshot: taken }),
            status: 'failed',
            heading: `❌ Snapshot ${taken.id} of site ${target.site.name} does not verify`,
            outputs: { ...report({ snapshot: taken }).outputs, verified: 'false' },
            error: error.message,
            notes: error.outcome.problems
          }
        return undefined
      }
    },
    deps
  )
}
