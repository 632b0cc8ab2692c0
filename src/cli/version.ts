/** `sitecycle version`: this sitecycle's version (the top-level action checks the CLI runs with it). */
import type { Command } from 'commander'
import { sitecycleVersion } from '../snapshots/manifest.js'
import { act, EXIT, type CliContext } from './context.js'

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description("print this sitecycle's version, such as 0.1.0")
    .action(
      act(ctx, async () => {
        ctx.out(sitecycleVersion())
        return EXIT.ok
      })
    )
}
