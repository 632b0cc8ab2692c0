/**
 * The README's CLI reference, generated from the command definitions of src/cli/ (the same
 * commander program `sitecycle` runs): one section per command with its usage, description,
 * arguments and options. `npm run docs` rewrites it between its markers; the docs test fails
 * when it is stale.
 */
import type { Command } from 'commander'
import { EXIT, type CliContext } from '../../src/cli/context.js'
import { allCommands, buildProgram, commandPath, loadCommands } from '../../src/cli/program.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { tableCell as cell, type GeneratedSection } from './generated-section.js'

export const CLI_START_MARKER = '<!-- sitecycle:cli-reference:start -->'
export const CLI_END_MARKER = '<!-- sitecycle:cli-reference:end -->'

/** A CLI context that prints nothing, for a program built but never run. */
export function silentCliContext(): CliContext {
  return {
    reporter: new StreamReporter(() => undefined),
    out: () => undefined,
    argv: [],
    commandArgv: [],
    opened: [],
    code: EXIT.ok
  }
}

/** Every command's register function (their modules are loaded on demand by the CLI). */
export const EVERY_COMMAND = await loadCommands()

/** The program as `sitecycle` builds it with every command, never run. */
export function cliProgram(): Command {
  return buildProgram(silentCliContext(), EVERY_COMMAND)
}

/** The commands that run (attempt's subcommands, not attempt itself), in help order. */
export function runnableCommands(program: Command = cliProgram()): Command[] {
  return allCommands(program).filter(c => c.commands.length === 0)
}

/** The reference as Markdown: one section per command. */
export function renderCliReference(program: Command = cliProgram()): string {
  const parts = [
    '<!-- Generated from the command definitions in src/cli/ by `npm run docs`; edit those, not this. -->',
    '',
    'Every command also takes `-h, --help` (its own help, as does `sitecycle help <command>`). A flag a command does not list, a missing or an extra argument is refused with exit 2 and one line naming it.',
    ''
  ]
  for (const cmd of runnableCommands(program)) {
    const name = commandPath(cmd)
    const help = cmd.createHelp()
    parts.push(`#### \`sitecycle ${name} ${cmd.usage()}\``, '', cell(cmd.description()), '')
    const args = help.visibleArguments(cmd)
    const options = help.visibleOptions(cmd).filter(o => o.long !== '--help')
    if (args.length || options.length)
      parts.push('| argument or option | description |', '| --- | --- |')
    for (const a of args)
      parts.push(
        `| \`${help.argumentTerm(a)}\` | ${cell(a.description)}${a.defaultValue !== undefined ? ` (default \`${String(a.defaultValue)}\`)` : ''} |`
      )
    for (const o of options)
      parts.push(
        `| \`${o.flags}\` | ${cell(o.description)}${o.defaultValue !== undefined ? ` (default \`${String(o.defaultValue)}\`)` : ''} |`
      )
    parts.push('')
  }
  return parts.join('\n').trimEnd() + '\n'
}

/** The CLI reference of README.md, from the command definitions. */
export function cliReferenceSection(program?: Command): GeneratedSection {
  return {
    name: 'CLI reference',
    file: 'README.md',
    start: CLI_START_MARKER,
    end: CLI_END_MARKER,
    render: async () => renderCliReference(program)
  }
}
