/**
 * Database names shared by every engine's command module: the check that a name can be carried
 * at all, and the name of a scratch database made beside a site's own. Pure.
 */
import { SitecycleError } from '../../util/errors.js'

/** Reject a name no SQL dialect or client can carry: empty, or holding a NUL byte. */
export function checkName(name: string, what: string): void {
  if (name === '' || name.includes('\0')) {
    throw new SitecycleError(
      `${what} ${JSON.stringify(name)} is not a valid name: it is empty or holds a NUL byte`
    )
  }
}

/**
 * The name of a scratch database beside `name`: `<name>__sc_<kind>_<id>`, the name part cut
 * (on a character boundary) so the whole fits `maxBytes` (63 for PostgreSQL, 64 for MySQL).
 */
export function scratchDatabaseName(
  name: string,
  kind: 'restore' | 'old' | 'copy' | 'new' | 'keep',
  id: string,
  maxBytes: number
): string {
  const suffix = `__sc_${kind}_${id}`
  let base = name
  while (Buffer.byteLength(base + suffix, 'utf8') > maxBytes && base.length > 0)
    base = [...base].slice(0, -1).join('')
  return base + suffix
}
