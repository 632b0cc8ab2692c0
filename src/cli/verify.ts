/** `sitecycle verify <site>`: check a snapshot byte by byte and by restoring it into a scratch database. */
import type { Command } from 'commander'
import { verifySnapshot, verifySnapshots, VerifyFailed } from '../snapshots/verify.js'
import { act, EXIT, printError, siteAndExecutor, type CliContext } from './context.js'
import {
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface VerifyOptions extends HostOptions, JsonOption, LockWaitOption {
  snapshot?: string
}

export function registerVerify(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('verify')
    .summary('check a snapshot against its sums and by restoring it into a scratch database')
    .description(
      "check a snapshot byte by byte against its sums, restore it into a scratch database and compare every table's checksum with its manifest"
    )
    .argument('<site>', 'the site, as named in the config')
    .option(
      '--snapshot <id>',
      'the snapshot to verify (default the newest); `all` verifies every complete snapshot in one run'
    )
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: VerifyOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      const asked = o.snapshot
      const req = { ...t, reporter: ctx.reporter, lockWait: o.lockWait }
      try {
        const outcomes =
          asked === 'all'
            ? await verifySnapshots({ ...req, snapshots: 'all' })
            : [await verifySnapshot({ ...req, snapshot: asked })]
        if (o.json) ctx.out(JSON.stringify(asked === 'all' ? outcomes : outcomes[0], null, 2))
        else
          for (const v of outcomes)
            ctx.out(
              `snapshot ${v.snapshot} of site ${t.site.name} verified: ${v.sums ? `${v.sums.checked} files match their sha256, ` : ''}${v.database ? `${v.database.tables.length} tables restored into ${v.database.scratch} match the manifest, ` : ''}${v.files.length} data folders match`
            )
        return EXIT.ok
      } catch (e) {
        if (!(e instanceof VerifyFailed)) throw e
        printError(ctx, e.message)
        if (o.json) ctx.out(JSON.stringify(asked === 'all' ? e.outcomes : e.outcome, null, 2))
        return EXIT.failed
      }
    })
  )
}
