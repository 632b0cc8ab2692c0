/**
 * Child processes that end with this one. Node has no prctl(PR_SET_PDEATHSIG), so a process
 * started here outlives a SIGKILL of sitecycle (pip keeps installing, an ssh ControlMaster keeps
 * its connection). On Linux, util-linux's `setpriv --pdeathsig TERM -- <argv>` sets the signal
 * and execs the program: it is the same process (no extra process stays), and the kernel sends
 * it SIGTERM when sitecycle goes, however it goes. The setting is kept across exec and cleared
 * when the program changes its user (e.g. runuser to the site's user), so a process running as
 * another user is not covered.
 */
import { accessSync, constants } from 'node:fs'

/** Where util-linux installs setpriv (Debian, Ubuntu, the GitHub runners). */
const SETPRIV = '/usr/bin/setpriv'

let available: boolean | undefined

/** Whether children can be tied to this process's life here (Linux with setpriv). */
export function canTieChildren(): boolean {
  if (available === undefined) {
    try {
      accessSync(SETPRIV, constants.X_OK)
      available = process.platform === 'linux'
    } catch {
      available = false
    }
  }
  return available
}

/** `file args` as started so that it gets SIGTERM when this process ends (unchanged where that is not possible). */
export function tiedToThisProcess(
  file: string,
  args: readonly string[]
): { file: string; args: string[]; tied: boolean } {
  if (!canTieChildren()) return { file, args: [...args], tied: false }
  return { file: SETPRIV, args: ['--pdeathsig', 'TERM', '--', file, ...args], tied: true }
}

/**
 * What spawn itself would have said when setpriv could not start the program (it exits 127 or
 * 126 with `setpriv: failed to execute ...`): an error with Node's code, or undefined.
 */
export function tiedStartFailure(
  file: string,
  code: number,
  stderr: string
): NodeJS.ErrnoException | undefined {
  if ((code !== 127 && code !== 126) || !stderr.startsWith('setpriv: failed to execute'))
    return undefined
  const errno = code === 127 ? 'ENOENT' : 'EACCES'
  return Object.assign(new Error(`spawn ${file} ${errno}`), { code: errno, path: file })
}
