/**
 * The files of a release folder as a flat list of names, for stores that hold flat lists
 * (GitHub release assets): top-level files keep their names, and `wheelhouse/<file>` becomes
 * `wheelhouse-<file>`. Mapping back needs the manifest: a name listed there (or manifest.json,
 * SHA256SUMS) stays at the top, any other `wheelhouse-` name goes back into `wheelhouse/`.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { MANIFEST_FILE, SHA256SUMS_FILE, type ReleaseManifest } from '../releases/manifest.js'
import { SitecycleError } from '../util/errors.js'

/** Folder of a release holding the wheels of its dependencies. */
export const WHEELHOUSE_DIR = 'wheelhouse'
/** Prefix of a wheelhouse file's flat name. */
export const WHEELHOUSE_PREFIX = 'wheelhouse-'

/** One file of a release folder and its flat name. */
export interface FlatReleaseFile {
  /** Absolute path on this machine. */
  file: string
  /** Flat name (an asset name). */
  name: string
  /** Path relative to the release folder (`wheelhouse/x.whl` or `x.tar.gz`). */
  relative: string
}

async function regularFiles(dir: string, where: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true })
  const names: string[] = []
  for (const e of entries) {
    if (e.isFile()) names.push(e.name)
    else if (!(e.isDirectory() && where === '' && e.name === WHEELHOUSE_DIR)) {
      throw new SitecycleError(
        `release folder ${path.join(dir)} holds ${where}${e.name}, which is not a plain file: a release folder holds files and a ${WHEELHOUSE_DIR}/ folder of files only`,
        'release'
      )
    }
  }
  return names.sort()
}

/**
 * The files of a release folder, flattened. manifest.json and SHA256SUMS come last, so a
 * reader that sees the manifest sees everything it lists.
 */
export async function flattenReleaseFolder(dir: string): Promise<FlatReleaseFile[]> {
  const top = await regularFiles(dir, '')
  if (!top.includes(MANIFEST_FILE)) {
    throw new SitecycleError(`release folder ${dir} has no ${MANIFEST_FILE}`, 'release')
  }
  const last = [SHA256SUMS_FILE, MANIFEST_FILE]
  const files: FlatReleaseFile[] = top
    .filter(n => !last.includes(n))
    .map(n => ({ file: path.join(dir, n), name: n, relative: n }))
  const wheelhouse = path.join(dir, WHEELHOUSE_DIR)
  const hasWheelhouse = await fs.stat(wheelhouse).then(
    s => s.isDirectory(),
    () => false
  )
  if (hasWheelhouse) {
    for (const n of await regularFiles(wheelhouse, `${WHEELHOUSE_DIR}/`)) {
      const name = `${WHEELHOUSE_PREFIX}${n}`
      if (top.includes(name)) {
        throw new SitecycleError(
          `release folder ${dir} holds both ${name} and ${WHEELHOUSE_DIR}/${n}: their flat names collide`,
          'release'
        )
      }
      files.push({ file: path.join(wheelhouse, n), name, relative: `${WHEELHOUSE_DIR}/${n}` })
    }
  }
  for (const n of last)
    if (top.includes(n)) files.push({ file: path.join(dir, n), name: n, relative: n })
  return files
}

/**
 * Where a flat name goes back inside the release folder (a relative path). Refuses names that
 * could leave the folder.
 */
export function unflattenName(name: string, manifest: ReleaseManifest): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+!-]*$/.test(name)) {
    throw new SitecycleError(
      `release file name '${name}' is not a plain file name; refusing to write it`,
      'release'
    )
  }
  const topLevel =
    name === MANIFEST_FILE || name === SHA256SUMS_FILE || manifest.files.some(f => f.name === name)
  if (!topLevel && name.startsWith(WHEELHOUSE_PREFIX) && name.length > WHEELHOUSE_PREFIX.length) {
    return `${WHEELHOUSE_DIR}/${name.slice(WHEELHOUSE_PREFIX.length)}`
  }
  return name
}
