/**
 * Secrets in the actions: what to mask for a secret value, and the pinned known-hosts file
 * written from the `known-hosts` input (private to this run, removed at its end).
 */
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

/** Shorter lines of a multi-line secret are not masked on their own: they would mask common words. */
const MIN_MASKED_LINE = 4

/**
 * The strings to mask for one secret value: the whole value (trimmed) and each of its lines, since
 * the runner matches masks line by line and a multi-line value (a private key) is printed so.
 */
export function secretParts(value: string): string[] {
  const whole = value.trim()
  if (!whole) return []
  const lines = whole
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l.length >= MIN_MASKED_LINE)
  return [...new Set([whole, ...lines])]
}

/** A file written for this run, and how to remove it. */
export interface TempFile {
  /** Absolute path of the file. */
  path: string
  /** Remove the file and its private directory (never throws). */
  remove(): Promise<void>
}

/**
 * Write pinned known-hosts lines to a file of mode 0600 in a fresh 0700 directory under
 * `baseDir` (the runner's temp dir, RUNNER_TEMP, by default).
 */
export async function writeKnownHostsFile(
  content: string,
  baseDir: string = process.env.RUNNER_TEMP || os.tmpdir()
): Promise<TempFile> {
  const dir = await fs.mkdtemp(path.join(baseDir, 'sitecycle-known-hosts-'))
  await fs.chmod(dir, 0o700)
  const file = path.join(dir, 'known_hosts')
  const text = content.replace(/\r\n?/g, '\n').trim() + '\n'
  await fs.writeFile(file, text, { mode: 0o600 })
  return {
    path: file,
    remove: () => fs.rm(dir, { recursive: true, force: true }).catch(() => undefined)
  }
}
