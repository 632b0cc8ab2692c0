/** `sitecycle init <site>`: prepare the site root on its host and write its Apache vhost. */
import type { Command } from 'commander'
import { initSiteOutcome } from '../pipelines/init.js'
import { SitecycleError } from '../util/errors.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import { siteCommandOptions, type HostOptions } from './options.js'

export interface InitOptions extends HostOptions {
  /** true: --reload; false: --no-reload; undefined: neither. */
  reload?: boolean
}

export function registerInit(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('init')
    .description('prepare the site root on its host and write its Apache vhost')
    .argument('<site>', 'the site, as named in the config')
    .option(
      '--reload',
      'reload Apache after writing the vhost even when other WSGI sites share it (a graceful cuts their requests in flight)'
    )
    .option(
      '--no-reload',
      'do not reload Apache after writing the vhost (by default it reloads only when no other WSGI site is served by the same Apache)'
    )
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: InitOptions) => {
      // --reload and --no-reload set one value: the last one would win silently.
      if (ctx.argv.includes('--reload') && ctx.argv.includes('--no-reload'))
        throw new SitecycleError('--reload and --no-reload: give one of them', 'usage')
      const t = await siteAndExecutor(ctx, o, name)
      const reporter = ctx.reporter
      const outcome = await initSiteOutcome({
        ...t,
        reporter,
        reload: o.reload === true ? 'always' : o.reload === false ? 'never' : 'when-alone'
      })
      if (outcome.otherSites.length)
        reporter.warn(
          `Apache was not reloaded: a graceful restart restarts the daemon processes of every WSGI site on it and cuts their requests in flight (${outcome.otherSites.join('; ')}). ` +
            `Site ${t.site.name} is served after Apache's next reload: run \`sitecycle init ${t.site.name} --reload\` at a quiet time, or reload Apache yourself`
        )
      ctx.out(
        outcome.reloaded
          ? `site ${t.site.name} is ready at ${t.site.root} on ${t.exec.name}; vhost for ${t.site.url}`
          : `site ${t.site.name} is initialized at ${t.site.root} on ${t.exec.name}; vhost for ${t.site.url} written, served after Apache's next reload`
      )
      return EXIT.ok
    })
  )
}
