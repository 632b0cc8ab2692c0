/**
 * A wheel's own word on what it is: Name, Version and Requires-Python in its
 * `*.dist-info/METADATA`, read in Node from the zip (no install, no Python).
 */
import { SitecycleError } from '../util/errors.js'
import { listZipNames, readZipMember } from './archive-entries.js'
import { compareVersions, isValidVersion, normalizeProjectName } from './version.js'

/** Header fields of a METADATA file (RFC 822 style, up to the first blank line). */
export function parseMetadataHeaders(text: string): Map<string, string> {
  const headers = new Map<string, string>()
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break
    if (/^\s/.test(line)) continue // continuation of a long header such as License
    const colon = line.indexOf(':')
    if (colon > 0) {
      const key = line.slice(0, colon).toLowerCase()
      if (!headers.has(key)) headers.set(key, line.slice(colon + 1).trim())
    }
  }
  return headers
}

/** Name, version and Requires-Python from a wheel's `*.dist-info/METADATA`. */
export async function readWheelMetadata(
  wheel: string
): Promise<{ name: string; version: string; requiresPython: string | null }> {
  const names = await listZipNames(wheel)
  const members = names.filter(n => /^[^/]+\.dist-info\/METADATA$/.test(n))
  // pip installs a wheel with exactly one .dist-info folder; another one would be a second story.
  if (members.length > 1)
    throw new SitecycleError(
      `wheel ${wheel} has ${members.length} .dist-info/METADATA files (${members.join(', ')}); a wheel has one`,
      'release'
    )
  const member = members[0]
  const data = member ? await readZipMember(wheel, member) : undefined
  if (!data) throw new SitecycleError(`wheel ${wheel} has no .dist-info/METADATA`, 'release')
  const headers = parseMetadataHeaders(data.toString('utf8'))
  const name = headers.get('name')
  const version = headers.get('version')
  if (!name || !version) {
    throw new SitecycleError(`wheel ${wheel}: METADATA lacks Name or Version`, 'release')
  }
  return { name, version, requiresPython: headers.get('requires-python') || null }
}

/**
 * Refuse a wheel whose METADATA Name or Version is not what its file name and manifest say
 * (`expected`), naming the wheel and both values: pip would install, and the site report, what
 * the METADATA says.
 */
export async function checkWheelMetadata(
  wheel: string,
  expected: { name: string; version: string; manifestPath: string }
): Promise<void> {
  const meta = await readWheelMetadata(wheel)
  if (normalizeProjectName(meta.name) !== normalizeProjectName(expected.name))
    throw new SitecycleError(
      `wheel ${wheel} says in its METADATA it is ${meta.name}, but its file name and ${expected.manifestPath} say ${expected.name}`,
      'release'
    )
  if (!isValidVersion(meta.version) || compareVersions(meta.version, expected.version) !== 0)
    throw new SitecycleError(
      `wheel ${wheel} says in its METADATA it is version ${meta.version}, but its file name and ${expected.manifestPath} say ${expected.version}`,
      'release'
    )
}
