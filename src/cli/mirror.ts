/** `sitecycle mirror <site>`: refresh a mirror site; `mirror --list`: the mirror sites of the config. */
import type { Command } from 'commander'
import { loadConfig } from '../config/load-config.js'
import { MirrorFailed, refreshMirror } from '../pipelines/mirror.js'
import { SitecycleError } from '../util/errors.js'
import { act, EXIT, reportFailedPipeline, siteAndExecutor, type CliContext } from './context.js'
import {
  jsonOption,
  lockWaitOption,
  siteCommandOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface MirrorOptions extends HostOptions, JsonOption, LockWaitOption {
  list?: boolean
}

export function registerMirror(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('mirror')
    .summary("refresh a mirror site from its `from` site's snapshot at least `lag` old")
    .description(
      'refresh a mirror site from the newest snapshot of its `from` site that is at least its `lag` old (--list --json: the mirror sites, for a workflow matrix)'
    )
    .argument('[site]', 'the mirror site, as named in the config (not with --list)')
    .option('--list', 'print the mirror sites of the config instead of refreshing one')
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string | undefined, o: MirrorOptions) => {
      if (o.list) {
        if (name !== undefined)
          throw new SitecycleError(
            `mirror --list: lists every mirror site; no site is named (got ${name})`,
            'usage'
          )
        const config = await loadConfig(o.config)
        const names = Object.values(config.sites)
          .filter(s => s.role === 'mirror')
          .map(s => s.name)
        ctx.out(o.json ? JSON.stringify(names) : names.join('\n'))
        return EXIT.ok
      }
      if (name === undefined)
        throw new SitecycleError('mirror: which site? e.g. sitecycle mirror v1', 'usage')
      const t = await siteAndExecutor(ctx, o, name)
      try {
        const m = await refreshMirror({ ...t, reporter: ctx.reporter, lockWait: o.lockWait })
        ctx.out(
          o.json
            ? JSON.stringify(m, null, 2)
            : m.status === 'refreshed'
              ? `mirror ${m.site} shows snapshot ${m.snapshot} of site ${m.from} now (lag ${m.lag}; it showed ${m.previousSnapshot ?? 'none'})`
              : m.status === 'unchanged'
                ? `mirror ${m.site} already shows snapshot ${m.snapshot} of site ${m.from} (lag ${m.lag}): nothing to do`
                : `mirror ${m.site}: no snapshot of site ${m.from} is ${m.lag} old yet; it keeps ${m.snapshot ?? 'what it has'}`
        )
        return EXIT.ok
      } catch (e) {
        if (!(e instanceof MirrorFailed)) throw e
        return reportFailedPipeline(ctx, e, Boolean(o.json))
      }
    })
  )
}
