/** `sitecycle compare <siteA> <siteB>`: two sites side by side. */
import type { Command } from 'commander'
import { compareCommand } from '../compare/compare-command.js'
import { act, siteAndExecutor, type CliContext } from './context.js'
import { jsonOption, siteCommandOptions, type HostOptions, type JsonOption } from './options.js'

export interface CompareOptions extends HostOptions, JsonOption {
  failOnDifference?: boolean
}

export function registerCompare(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('compare')
    .summary('two sites side by side: releases, packages, files, config, database')
    .description(
      'live release, packages, release and data files (by hash), config (secrets redacted), database schema, row counts and checksums side by side'
    )
    .argument('<siteA>', 'a site, as named in the config')
    .argument('<siteB>', 'the site to compare it with')
    .option('--fail-on-difference', 'exit 5 when the sites differ')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (nameA: string, nameB: string, o: CompareOptions) => {
      const a = await siteAndExecutor(ctx, o, nameA)
      const b = await siteAndExecutor(ctx, o, nameB)
      return await compareCommand({
        a,
        b,
        json: Boolean(o.json),
        failOnDifference: Boolean(o.failOnDifference),
        reporter: ctx.reporter,
        out: ctx.out
      })
    })
  )
}
