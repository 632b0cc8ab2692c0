/**
 * Reading the commands a pipeline ran through a RecordingExecutor: the deploy's heavy work runs
 * under `nice -n N`, and the host scripts (src/commands/host-scripts.ts) as
 * `python3 -I [-S] -c PROGRAM args...`.
 */
import type { Command } from '../../src/commands/command.js'

/** The command without a leading `nice -n N` (the deploy's heavy work yields to users). */
export function unniced(argv: string[]): string[] {
  return argv[0] === 'nice' && argv[1] === '-n' ? argv.slice(3) : argv
}

/** A host script call: [python, -I, (-S), -c, program, ...args], perhaps niced. */
export function scriptOf(niced: string[]): { program: string; args: string[] } | undefined {
  const argv = unniced(niced)
  const i = argv.indexOf('-c')
  return i > 0 && argv[0].endsWith('python3')
    ? { program: argv[i + 1], args: argv.slice(i + 2) }
    : undefined
}

/** A matcher for RecordingExecutor.respond: the command runs this host script. */
export const isScript = (program: string) => (c: Command) => scriptOf(c.argv)?.program === program

/** The n-th argument of the host script the command runs. */
export const scriptArg = (c: Command, n: number) => scriptOf(c.argv)?.args[n]
