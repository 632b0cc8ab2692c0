/** `sitecycle build [dir]`: an sdist and a wheel of a Python project, with manifest.json. */
import type { Command } from 'commander'
import { buildRelease } from '../releases/build.js'
import { act, EXIT, type CliContext } from './context.js'
import { jsonOption, quietOption, type JsonOption } from './options.js'

export interface BuildOptions extends JsonOption {
  out: string
}

export function registerBuild(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('build')
    .description('build an sdist and a wheel of a Python project with manifest.json')
    .argument('[dir]', 'the project', '.')
    .option('--out <dir>', 'where the release folder is written', 'releases')
  jsonOption(cmd, 'the manifest')
  quietOption(cmd).action(
    act(ctx, async (source: string, o: BuildOptions) => {
      const built = await buildRelease({
        sourceDir: source,
        outDir: o.out,
        onProgress: l => ctx.reporter.info(`   ${l}`)
      })
      ctx.out(
        o.json
          ? JSON.stringify(built.manifest, null, 2)
          : `built ${built.manifest.name} ${built.manifest.version} into ${built.dir}`
      )
      return EXIT.ok
    })
  )
}
