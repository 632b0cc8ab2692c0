/**
 * Running a Python host program (src/host/*.py, bundled as text): `python -I -S -c <program>`,
 * and the one that redirects a command's stdout to a file or a file to its stdin (a dump written
 * or loaded on the host, gzipped or not). Pure builders: nothing here runs anything.
 */
import { cmd, type Command } from '../command.js'
import redirectStdioProgram from '../../host/redirect-stdio.py'

/** Run `python -I -S -c <program> args...` on the host. */
export function pythonProgram(
  python: string,
  program: string,
  args: string[],
  extra: Omit<Command, 'argv'> = {}
): Command {
  return cmd([python, '-I', '-S', '-c', program, ...args], extra)
}

/**
 * argv: mode (`in` or `out`), file, extra, then the command's argv. `out`: the command's stdout
 * goes to the file (gzipped when extra is `1`); `in`: the file (gunzipped when it is gzip),
 * followed by the text `extra`, is the command's stdin. Exits with the command's code; a failed
 * `out` removes the file.
 */
export const REDIRECT_PROGRAM = redirectStdioProgram

/**
 * Run `argv` on the host with its stdout written to `file` (`gzip` compresses it), through
 * {@link REDIRECT_PROGRAM}.
 */
export function redirectOutput(
  python: string,
  argv: string[],
  file: string,
  gzip: boolean,
  extra: Omit<Command, 'argv'> = {}
): Command {
  return pythonProgram(python, REDIRECT_PROGRAM, ['out', file, gzip ? '1' : '0', ...argv], extra)
}

/** Run `argv` on the host with `file` (plain or gzip), then `trailer`, as its stdin. */
export function redirectInput(
  python: string,
  argv: string[],
  file: string,
  trailer = '',
  extra: Omit<Command, 'argv'> = {}
): Command {
  return pythonProgram(python, REDIRECT_PROGRAM, ['in', file, trailer, ...argv], extra)
}
