/**
 * The one place a shell line is built. Everything else passes argv arrays; a remote host
 * over SSH needs a single line for its login shell, so it is made here, and only here.
 * The output is POSIX sh: every word single-quoted, so nothing in it is expanded.
 */
import type { Command } from '../commands/command.js'
import { SitecycleError } from '../util/errors.js'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Quote one word for a POSIX shell: wrapped in single quotes, each `'` written as `'\''`.
 * Any string, including newlines, `$()`, backticks and NUL-free binary, reaches the program intact.
 */
export function quoteArg(s: string): string {
  if (s.includes('\0')) {
    throw new SitecycleError(
      `A command argument contains a NUL byte, which no shell can pass: ${JSON.stringify(s)}`
    )
  }
  return `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * Turn a command into one POSIX sh line that runs it with its working directory and environment:
 * `cd '/x' && env -u PIP_FIND_LINKS A='b' '/usr/bin/python3' '-m' 'pip'`.
 * `env` is used only when there is something to set or unset. Variable names are checked
 * (they cannot be quoted), so a bad name is an error here rather than a shell surprise there.
 */
export function toShellLine(command: Command): string {
  if (command.argv.length === 0)
    throw new SitecycleError('Cannot run an empty command (argv is [])')
  const words: string[] = []
  const unset = command.unsetEnv ?? []
  const env = Object.entries(command.env ?? {})
  for (const name of [...unset, ...env.map(([k]) => k)]) {
    if (!ENV_NAME.test(name)) {
      throw new SitecycleError(
        `Environment variable name ${JSON.stringify(name)} is not valid: use letters, digits and _, not starting with a digit`
      )
    }
  }
  if (unset.length > 0 || env.length > 0) {
    words.push('env')
    for (const name of unset) words.push('-u', name)
    for (const [name, value] of env) words.push(`${name}=${quoteArg(value)}`)
  }
  words.push(...command.argv.map(quoteArg))
  const line = words.join(' ')
  if (command.cwd === undefined) return line
  // A directory starting with '-' would be read by cd as an option.
  const dir = command.cwd.startsWith('-') ? `./${command.cwd}` : command.cwd
  return `cd ${quoteArg(dir)} && ${line}`
}
