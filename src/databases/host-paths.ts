/**
 * What the engines need from the host's file system, through the Executor: a scratch id, a temp
 * directory, the size of a dump, moving a finished dump into place.
 */
import { randomBytes } from 'node:crypto'
import { cmd } from '../commands/command.js'
import { pathExists, removeTree, renamePath } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** A short random id for scratch names (`<name>__sc_restore_<id>`). */
export function scratchId(): string {
  return randomBytes(4).toString('hex')
}

/** Make a private temp directory on the host (`mktemp -d`, under `parent` when given). */
export async function makeTempDir(exec: Executor, parent?: string): Promise<string> {
  const argv = parent
    ? ['mktemp', '-d', '-p', parent, 'sitecycle-db.XXXXXXXX']
    : ['mktemp', '-d', '-t', 'sitecycle-db.XXXXXXXX']
  return (await exec.run(cmd(argv))).stdout.trim()
}

/** Bytes a file or directory takes (apparent size, `du -sb`). */
export async function pathSize(exec: Executor, path: string): Promise<number> {
  const out = (await exec.run(cmd(['du', '-sb', '--', path]))).stdout
  const n = Number(out.split(/\s/)[0])
  if (!Number.isFinite(n))
    throw new SitecycleError(`could not read the size of ${path} on ${exec.name}: ${out}`)
  return n
}

/** Whether a path exists on the host. */
export async function hostPathExists(exec: Executor, path: string): Promise<boolean> {
  return (await exec.tryRun(pathExists(path))).code === 0
}

/** Refuse to overwrite an existing dump. */
export async function ensureAbsent(exec: Executor, path: string): Promise<void> {
  if (await hostPathExists(exec, path)) {
    throw new SitecycleError(
      `${path} already exists on ${exec.name}: a dump is never written over another; choose a new path`
    )
  }
}

/**
 * Write a dump aside (`<path>.partial-<id>`) with `write`, then rename it to `path`; on failure
 * the partial dump is removed and the error re-thrown.
 */
export async function writeAside(
  exec: Executor,
  path: string,
  write: (partial: string) => Promise<void>
): Promise<void> {
  await ensureAbsent(exec, path)
  const partial = `${path}.partial-${scratchId()}`
  try {
    await write(partial)
    await exec.run(renamePath(partial, path))
  } catch (e) {
    await exec.tryRun(removeTree(partial)).catch(() => undefined)
    throw e
  }
}

/**
 * The message of an error for a user: a failed host program's command line is shortened (its
 * Python text replaced by `<program>`), the rest kept, stderr tail included.
 */
export function failureMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e)
  return text.replace(/ -c "(?:[^"\\]|\\.)*"/, ' -c <program>')
}

const cpuCounts = new WeakMap<Executor, Promise<number>>()

/**
 * How many CPUs the host has (`nproc`, once per executor), for parallel dump and restore
 * workers; 1 when it cannot be read.
 */
export function hostCpuCount(exec: Executor): Promise<number> {
  let count = cpuCounts.get(exec)
  if (!count) {
    count = exec
      .tryRun(cmd(['nproc']))
      .then(r => {
        const n = Number(r.stdout.trim())
        return r.code === 0 && Number.isInteger(n) && n > 0 ? n : 1
      })
      .catch(() => 1)
    cpuCounts.set(exec, count)
  }
  return count
}
