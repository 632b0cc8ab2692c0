/**
 * A mirror's read-only login (`sites.<n>.database.reader`): what its check (engine
 * prepareReader) found, as the one error a refresh fails with before anything is swapped in.
 */
import type { ReaderAccess } from '../databases/engine.js'

/** How many items of each list an error names before it says how many more there are. */
const LISTED = 8

function listed(items: readonly string[]): string {
  const more = items.length - LISTED
  return items.slice(0, LISTED).join(', ') + (more > 0 ? ` and ${more} more` : '')
}

/**
 * Why reader `user` does not keep the mirror read-only (it cannot read something, or it may do
 * more than read), naming each; undefined when it reads everything and nothing more. Pure.
 */
export function readerProblem(
  user: string,
  database: string,
  access: ReaderAccess
): string | undefined {
  const parts: string[] = []
  if (access.unreadable.length) parts.push(`cannot read ${listed(access.unreadable)}`)
  if (access.beyond.length) parts.push(`${listed(access.beyond)}`)
  if (!parts.length) return undefined
  return (
    `the mirror's reader ${user} (database.reader) must read ${database} and nothing more, but it ${parts.join('; it ')}` +
    (access.beyond.length
      ? `: revoke what is beyond SELECT from ${user}, and make sure it is not the owner nor a member of the owner's role`
      : '') +
    (access.unreadable.length && !access.beyond.length
      ? `: create it and grant it read access (sitecycle init does with database.admin)`
      : '')
  )
}
