/** How a command killed after its timeout ends, wherever it ran on this machine. */

/** Exit code reported for a command killed after its timeout (the same as coreutils `timeout`). */
export const TIMEOUT_EXIT_CODE = 124

/** The command's stderr with the line that says it was killed after `timeoutMs`. */
export function withTimeoutNote(stderr: Buffer, timeoutMs: number | undefined): Buffer {
  const sep = stderr.length && !stderr.toString().endsWith('\n') ? '\n' : ''
  return Buffer.concat([stderr, Buffer.from(`${sep}killed after its timeout of ${timeoutMs} ms\n`)])
}
