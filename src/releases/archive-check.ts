/**
 * Checking that a release archive is safe to unpack before anything installs it: every entry
 * stays inside the archive (and, for an sdist, inside its one `<name>-<version>/` folder), no
 * link points outside, and the archive itself is complete and uncorrupted.
 */
import path from 'node:path'
import { SitecycleError } from '../util/errors.js'
import {
  ArchiveFormatError,
  listTarGzEntries,
  listZipEntries,
  type ArchiveEntry
} from './archive-entries.js'
import { isValidVersion, normalizeVersion, parseReleaseFileName } from './version.js'

/** What checkArchive found in an archive it accepted. */
export interface ArchiveCheck {
  /** The archive, as given. */
  file: string
  format: 'tar.gz' | 'zip'
  kind: 'sdist' | 'wheel'
  /** Number of entries. */
  entries: number
  /** For an sdist: its top-level folder, e.g. `sitecycle-sample-1.0.0`. */
  topLevel?: string
}

function archiveFormat(file: string): {
  format: ArchiveCheck['format']
  kind: ArchiveCheck['kind']
} {
  const base = path.basename(file).toLowerCase()
  if (base.endsWith('.tar.gz') || base.endsWith('.tgz')) return { format: 'tar.gz', kind: 'sdist' }
  if (base.endsWith('.whl')) return { format: 'zip', kind: 'wheel' }
  if (base.endsWith('.zip')) return { format: 'zip', kind: 'sdist' }
  throw new SitecycleError(
    `release archive ${file} is neither an sdist (.tar.gz, .zip) nor a wheel (.whl)`,
    'release'
  )
}

/** Why an entry's own path is unsafe, or undefined when it is not. */
function pathProblem(name: string): string | undefined {
  if (name === '') return 'has an empty name'
  if (name.startsWith('/')) return 'has an absolute path'
  if (name.startsWith('\\')) return 'has an absolute path (backslash)'
  if (/^[A-Za-z]:/.test(name)) return 'has a drive letter'
  if (name.split(/[\\/]/).includes('..')) return "has a '..' segment"
  return undefined
}

/** Path segments without empty and `.` parts; backslashes count as separators. */
function segments(name: string): string[] {
  return name.split(/[\\/]/).filter(s => s !== '' && s !== '.')
}

/** Where a symlink points, as segments from the archive root; undefined when it leaves the archive. */
function resolveSymlink(entryName: string, target: string): string[] | undefined {
  if (target === '' || /^[\\/]/.test(target) || /^[A-Za-z]:/.test(target)) return undefined
  const resolved = segments(entryName).slice(0, -1)
  for (const part of segments(target)) {
    if (part === '..') {
      if (resolved.length === 0) return undefined
      resolved.pop()
    } else {
      resolved.push(part)
    }
  }
  return resolved
}

function sameSdistFolder(folder: string, expected: { name: string; version: string }): boolean {
  const dash = folder.lastIndexOf('-')
  if (dash <= 0) return false
  const version = folder.slice(dash + 1)
  const canonical = (n: string): string => n.toLowerCase().replace(/[-_.]+/g, '-')
  return (
    canonical(folder.slice(0, dash)) === canonical(expected.name) &&
    isValidVersion(version) &&
    normalizeVersion(version) === normalizeVersion(expected.version)
  )
}

function unsafe(file: string, message: string): SitecycleError {
  return new SitecycleError(`release archive ${file} is unsafe: ${message}`, 'release')
}

/**
 * Read a release archive (sdist .tar.gz or .zip, wheel .whl) in Node and refuse it, with a
 * SitecycleError naming the archive and the entry, when it is corrupt or truncated or any
 * entry has an absolute path, a drive letter or a `..` segment, is a device, lies under a
 * symlink, is a link pointing outside the archive, or (sdist) lies outside the single
 * top-level folder `<name>-<version>/` named after the file.
 */
export async function checkArchive(file: string): Promise<ArchiveCheck> {
  const { format, kind } = archiveFormat(file)
  const expected = kind === 'sdist' ? parseReleaseFileName(file) : undefined
  let entries: ArchiveEntry[]
  try {
    entries = format === 'tar.gz' ? await listTarGzEntries(file) : await listZipEntries(file)
  } catch (err) {
    if (err instanceof ArchiveFormatError) {
      throw new SitecycleError(
        `release archive ${file} is corrupt or truncated: ${err.message}`,
        'release'
      )
    }
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new SitecycleError(`release archive ${file} not found`, 'release')
    throw new SitecycleError(
      `cannot read release archive ${file}: ${(err as Error).message}`,
      'release'
    )
  }
  if (entries.length === 0) throw unsafe(file, 'it is empty')

  let topLevel: string | undefined
  const symlinks = new Set<string>()
  /** An entry (or link target) is inside the sdist's folder. */
  const insideTop = (parts: string[]): boolean => parts.length >= 1 && parts[0] === topLevel

  for (const entry of entries) {
    const shown = `'${entry.name}'`
    const problem = pathProblem(entry.name)
    if (problem) throw unsafe(file, `entry ${shown} ${problem}`)
    if (entry.type === 'other') throw unsafe(file, `entry ${shown} is a ${entry.description}`)
    const parts = segments(entry.name)
    if (parts.length === 0) {
      if (entry.type === 'directory') continue
      throw unsafe(file, `entry ${shown} has no file name`)
    }
    // Writing under a symlink would follow it, wherever the link's own check said it points.
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/')
      if (symlinks.has(parent))
        throw unsafe(file, `entry ${shown} lies under the symlink '${parent}'`)
    }
    // An extractor may open the later entry through the earlier link.
    if (symlinks.has(parts.join('/')))
      throw unsafe(file, `entry ${shown} replaces a symlink of the same name`)
    if (expected) {
      topLevel ??= parts[0]
      if (parts[0] !== topLevel || (parts.length === 1 && entry.type !== 'directory')) {
        throw unsafe(
          file,
          `entry ${shown} is outside the top-level folder '${topLevel}/' (an sdist holds one folder)`
        )
      }
    }
    if (entry.type === 'symlink') {
      const target = entry.linkTarget ?? ''
      const resolved = resolveSymlink(entry.name, target)
      if (!resolved || (expected && !insideTop(resolved))) {
        throw unsafe(
          file,
          `symlink ${shown} points outside the ${expected ? 'sdist folder' : 'archive'} ('${target}')`
        )
      }
      symlinks.add(parts.join('/'))
    }
    if (entry.type === 'hardlink') {
      const target = entry.linkTarget ?? ''
      const targetProblem = pathProblem(target)
      if (targetProblem || (expected && !insideTop(segments(target)))) {
        throw unsafe(
          file,
          `hardlink ${shown} points outside the ${expected ? 'sdist folder' : 'archive'} ('${target}')`
        )
      }
    }
  }
  if (expected && topLevel && !sameSdistFolder(topLevel, expected)) {
    throw unsafe(
      file,
      `its top-level folder '${topLevel}/' does not match the file name (expected '${expected.name}-${expected.version}/')`
    )
  }
  return { file, format, kind, entries: entries.length, ...(topLevel ? { topLevel } : {}) }
}
