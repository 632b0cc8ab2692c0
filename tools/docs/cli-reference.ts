/**
 * The README's CLI reference, generated from the command definitions of src/cli/ (the same
 * commander program `sitecycle` runs): one section per command with its usage, description,
 * arguments and options. `npm run docs` rewrites it between its markers; the docs test fails
 * when it is stale.
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import type { Command } from 'commander'
import { EXIT, type CliContext } from '../../src/cli/context.js'
import { allCommands, buildProgram, commandPath, loadCommands } from '../../src/cli/program.js'
import { StreamReporter } from '../../src/util/reporter.js'

export const CLI_START_MARKER = '<!-- sitecycle:cli-reference:start -->'
export const CLI_END_MARKER = '<!-- sitecycle:cli-reference:end -->'

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

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

/** `readme` with its CLI reference (between the markers) generated afresh. */
export function withCliReference(readme: string, program?: Command): string {
  const start = readme.indexOf(CLI_START_MARKER)
  const end = readme.indexOf(CLI_END_MARKER)
  if (start === -1 || end < start || readme.indexOf(CLI_START_MARKER, start + 1) !== -1)
    throw new Error(
      `README.md: expected one ${CLI_START_MARKER} line followed by one ${CLI_END_MARKER} line`
    )
  return `${readme.slice(0, start + CLI_START_MARKER.length)}\n\n${renderCliReference(program)}\n${readme.slice(end)}`
}

/** Whether README.md's CLI reference is current; the first differing line if not. */
export async function checkCliReference(
  root: string,
  program?: Command
): Promise<{ current: boolean; firstDifference?: string }> {
  const actual = await fs.readFile(path.join(root, 'README.md'), 'utf8')
  const expected = withCliReference(actual, program)
  if (actual === expected) return { current: true }
  const a = actual.split('\n')
  const e = expected.split('\n')
  const at = a.findIndex((text, i) => text !== e[i])
  return {
    current: false,
    firstDifference: `README.md:${at + 1}: has ${JSON.stringify(a[at] ?? '')}, expected ${JSON.stringify(e[at] ?? '')}`
  }
}

/** Rewrite README.md's CLI reference; returns whether the file changed. */
export async function updateCliReference(root: string): Promise<boolean> {
  const file = path.join(root, 'README.md')
  const actual = await fs.readFile(file, 'utf8')
  const expected = withCliReference(actual)
  if (actual === expected) return false
  await fs.writeFile(file, expected)
  return true
}
