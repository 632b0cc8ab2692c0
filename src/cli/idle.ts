/** `sitecycle idle <site> -- <command...>`: a command on this machine against the prepared idle slot. */
import type { Command } from 'commander'
import { runAgainstIdle, stageRun } from '../pipelines/deploy-stages.js'
import { SitecycleError } from '../util/errors.js'
import { act, siteAndExecutor, type CliContext } from './context.js'
import { siteCommandOptions, type HostOptions } from './options.js'

export interface IdleOptions extends HostOptions {
  run?: string
}

const AFTER_DASHES = 'idle: the command goes after --, e.g. sitecycle idle v1 -- ./tests/smoke.sh'

export function registerIdle(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('idle')
    .usage('[options] <site> -- <command...>')
    .summary('a command on this machine against the release a deploy in stages prepared')
    .description(
      'run a command on this machine (a smoke test, an end-to-end suite) against the release a deploy in stages of this run prepared in the idle slot, between --stage prepare and --stage switch: it gets SITECYCLE_IDLE_URL, SITECYCLE_IDLE_HOST and SITECYCLE_IDLE_HEADER (over SSH a local port forwarded to the server loopback); its output passed through, its exit code returned'
    )
    .argument('<site>', 'the site, as named in the config')
    .allowExcessArguments(true)
    .option('--run <name>', 'outside GitHub Actions: the run that prepared the deploy (its --run)')
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: IdleOptions, c: Command) => {
      if (c.args.length > 1 || !ctx.commandArgv.length)
        throw new SitecycleError(AFTER_DASHES, 'usage')
      const run = stageRun(process.env, o.run)
      const t = await siteAndExecutor(ctx, o, name)
      const r = await runAgainstIdle({
        ...t,
        reporter: ctx.reporter,
        run,
        command: ctx.commandArgv
      })
      if (r.code !== 0)
        ctx.reporter.warn(
          `${ctx.commandArgv.join(' ')} exited with code ${r.code} against ${r.env.SITECYCLE_IDLE_VERSION} in the idle slot of site ${name}`
        )
      return r.code
    })
  )
}
