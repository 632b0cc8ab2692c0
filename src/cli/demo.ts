/** `sitecycle demo`: the sample app through deploys and a rollback on a local Apache. */
import { Option, type Command } from 'commander'
import { runDemo } from '../demo/demo.js'
import { act, type CliContext } from './context.js'
import { parseSeconds, quietOption } from './options.js'

export interface DemoOptions {
  port?: number
  dir?: string
  keep?: boolean
}

export function registerDemo(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('demo')
    .summary('the sample app deployed to a local Apache, then a broken release rolled back')
    .description(
      'build the sample app, deploy v1 and v2 to a local Apache, then a broken v3 and watch it roll back (on embedded defaults)'
    )
    .addOption(
      new Option('--port <port>', 'the port of the local Apache').argParser(parseSeconds('port'))
    )
    .option('--dir <dir>', 'the folder the demo works in')
    // Accepted as before; the demo keeps its folder either way.
    .addOption(new Option('--keep', 'keep the demo folder (the default)').hideHelp())
  quietOption(cmd).action(
    act(ctx, async (o: DemoOptions) =>
      runDemo({ port: o.port, dir: o.dir, keep: true, reporter: ctx.reporter, out: ctx.out })
    )
  )
}
