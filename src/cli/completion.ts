/** `sitecycle completion bash|zsh`: print the shell completion script made from the commands' definitions. */
import { Argument, type Command } from 'commander'
import { act, EXIT, type CliContext } from './context.js'
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './completion-script.js'

export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command('completion')
    .description(
      'print a shell completion script for commands and their flags: source <(sitecycle completion bash) in ~/.bashrc'
    )
    .addArgument(
      new Argument(
        '<shell>',
        "bash, or zsh (the bash script through zsh's bashcompinit: source <(sitecycle completion zsh) in ~/.zshrc)"
      ).choices(COMPLETION_SHELLS)
    )
    .addHelpText(
      'after',
      '\nSite names are not completed: listing them (sitecycle sites) reaches every host.'
    )
    .action(
      act(ctx, async (shell: CompletionShell) => {
        ctx.out(completionScript(program, shell).trimEnd())
        return EXIT.ok
      })
    )
}
