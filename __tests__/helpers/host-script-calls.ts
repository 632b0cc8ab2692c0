/**
 * Reading the commands a pipeline ran through a RecordingExecutor: the deploy's heavy work runs
 * under `nice -n N`, and the host scripts (src/commands/host-scripts.ts) as
 * `python3 -I [-S] -c PROGRAM args...`.
 */
import type { Command } from '../../src/commands/command.js'
import { COMMIT_FILE_PROGRAM } from '../../src/commands/files.js'
import * as scripts from '../../src/commands/host-scripts.js'
import type { RecordedCall, RecordingExecutor } from '../../src/hosts/recording-executor.js'

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

/** host/commit-file.py on a RecordingExecutor's pretend files: the file gets the input. */
export function fakeCommitFile(exec: RecordingExecutor): RecordingExecutor {
  return exec.respond(
    c => c.argv.includes(COMMIT_FILE_PROGRAM),
    c => {
      exec.files.set(c.argv[c.argv.indexOf(COMMIT_FILE_PROGRAM) + 1], String(c.input ?? ''))
      return {}
    }
  )
}

/**
 * host/take-lock.py and host/release-lock.py on a RecordingExecutor's pretend files (and
 * host/commit-file.py: {@link fakeCommitFile}): the lock is
 * taken when `<state>/lock/holder.json` is not there (the rename of the attempt then fails), and
 * released when its holder has the operation's id. Returns the executor, for chaining.
 */
export function fakeLockPrograms(exec: RecordingExecutor): RecordingExecutor {
  return fakeCommitFile(exec)
    .respond(isScript(scripts.TAKE_LOCK), c => {
      const [state, id, holderText] = scriptOf(c.argv)!.args
      if (exec.files.has(`${state}/lock/holder.json`)) {
        const detail = `mv: cannot move '${state}/lock.${id}' to '${state}/lock': Directory not empty`
        return {
          stdout: JSON.stringify({ taken: false, step: 'rename', errno: 'ENOTEMPTY', detail })
        }
      }
      exec.files.set(`${state}/lock/holder.json`, holderText)
      return { stdout: JSON.stringify({ taken: true }) }
    })
    .respond(isScript(scripts.RELEASE_LOCK), c => {
      const [state, id] = scriptOf(c.argv)!.args
      const text = exec.files.get(`${state}/lock/holder.json`)
      let held: unknown
      try {
        held = text === undefined ? undefined : (JSON.parse(text) as { id?: unknown }).id
      } catch {
        held = 'unknown'
      }
      if (held !== id) return { stdout: JSON.stringify({ released: false }) }
      for (const p of [...exec.files.keys()])
        if (p.startsWith(`${state}/lock/`)) exec.files.delete(p)
      return { stdout: JSON.stringify({ released: true }) }
    })
}

/** Whether a recorded run is host/release-lock.py that released the lock. */
export function releasedLock(call: RecordedCall): boolean {
  return (
    call.argv !== undefined &&
    scriptOf(call.argv)?.program === scripts.RELEASE_LOCK &&
    (JSON.parse(call.result?.stdout || '{}') as { released?: boolean }).released === true
  )
}
