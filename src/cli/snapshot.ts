/** `sitecycle snapshot <site>`: dump the database and copy the data folders, then verify it. */
import type { Command } from 'commander'
import { describeBytes } from '../snapshots/list.js'
import { SnapshotFailed, takeSnapshot } from '../snapshots/snapshot.js'
import { verifySnapshot, VerifyFailed } from '../snapshots/verify.js'
import {
  act,
  EXIT,
  printError,
  reportFailedPipeline,
  siteAndExecutor,
  type CliContext
} from './context.js'
import {
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface SnapshotOptions extends HostOptions, JsonOption, LockWaitOption {
  /** false with --no-verify. */
  verify: boolean
}

export function registerSnapshot(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('snapshot')
    .summary('dump the database and copy the data folders into a snapshot, then verify it')
    .description(
      'dump the database and copy the data folders into snapshots/<id> (unchanged files hard-linked to the previous snapshot), apply the retention policy, then verify it as `verify` does'
    )
    .argument('<site>', 'the site, as named in the config')
    .option(
      '--no-verify',
      'do not verify the new snapshot (by default it is restored into a scratch database and its files checked)'
    )
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: SnapshotOptions) => {
      const json = Boolean(o.json)
      const t = await siteAndExecutor(ctx, o, name)
      const reporter = ctx.reporter
      try {
        const s = await takeSnapshot({ ...t, reporter, lockWait: o.lockWait })
        // As the snapshot action does by default: a snapshot is checked before it is trusted.
        const verified = o.verify
          ? await verifySnapshot({ ...t, reporter, lockWait: o.lockWait, snapshot: s.id })
          : undefined
        ctx.out(
          json
            ? JSON.stringify(verified ? { ...s, verify: verified } : s, null, 2)
            : `snapshot ${s.id} of site ${t.site.name} written to ${s.dir}: ${s.manifest.database ? `${s.manifest.database.engine} dump ${describeBytes(s.manifest.database.size)}, ` : ''}${s.manifest.files.count} files ${describeBytes(s.manifest.files.bytes)}` +
                (s.removed.length ? `; retention removed ${s.removed.join(', ')}` : '') +
                (verified ? '; verified' : '; not verified (--no-verify)')
        )
        return EXIT.ok
      } catch (e) {
        if (e instanceof VerifyFailed) {
          printError(ctx, e.message)
          if (json) ctx.out(JSON.stringify(e.outcome, null, 2))
          return EXIT.failed
        }
        if (!(e instanceof SnapshotFailed)) throw e
        return reportFailedPipeline(ctx, e, json)
      }
    })
  )
}
