/**
 * Static files served by Apache (`app.static`, `sites.<n>.static`): URL prefixes mapped to folders
 * inside the release directory (the release's virtualenv, `releases/<version>`), such as
 * `{ /static/: static }` for `releases/<version>/static`. A hook fills the folder (Django's
 * collectstatic with STATIC_ROOT in `$SITECYCLE_RELEASE_DIR/static`), and Apache serves it from
 * the slot the request goes to, so a switch changes code and static files at once.
 */

/** One URL prefix and its folder, as the config gives it for a site (the site's over app's). */
export interface StaticEntry {
  /** URL prefix starting and ending with `/`, such as `/static/`. */
  prefix: string
  /** Folder relative to the release directory, normalised, such as `static` or `web/assets`. */
  folder: string
  /** Where it is written, such as `app.static./static/` or `sites.v1.static./media/`. */
  key: string
}

export const STATIC_FORM =
  'a mapping of URL prefixes to folders of the release, such as { /static/: static }'
export const STATIC_PREFIX_FORM =
  'a URL prefix starting and ending with /, of letters, digits and . _ ~ - /, other than / itself, such as /static/'
export const STATIC_FOLDER_FORM =
  "a folder relative to the release directory, of letters, digits and . _ -, without '..' and not the virtualenv's own (bin, lib, lib64, include), such as static"

/** The virtualenv's own folders and sitecycle's files: never served. */
const RESERVED = ['bin', 'lib', 'lib64', 'include', 'release.json', 'app.ini', 'env.json', 'BAD']

/** Why a URL prefix is refused, or undefined. */
export function staticPrefixProblem(prefix: string): string | undefined {
  if (!prefix.startsWith('/') || !prefix.endsWith('/')) return 'does not start and end with /'
  if (prefix === '/') return 'would send every request to the folder, none to the application'
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(prefix)) return 'holds a character Apache cannot take there'
  const parts = prefix.slice(1, -1).split('/')
  if (parts.some(p => p === '' || p === '.' || p === '..'))
    return "has an empty, '.' or '..' segment"
  if (parts[0] === '.sitecycle') return "/.sitecycle/ is sitecycle's own"
  return undefined
}

/** The folder normalised (no trailing /), or why it is refused. */
export function staticFolder(folder: string): { folder: string } | { problem: string } {
  const f = folder.replace(/\/+$/, '')
  if (f.startsWith('/')) return { problem: 'not relative to the release directory' }
  if (!/^[A-Za-z0-9._/-]+$/.test(f))
    return { problem: 'holds a character other than letters, digits, . _ - /' }
  const parts = f.split('/')
  if (parts.some(p => p === '' || p === '.' || p === '..'))
    return { problem: "has an empty, '.' or '..' segment" }
  if (RESERVED.includes(parts[0]!))
    return { problem: `${parts[0]} is the virtualenv's or sitecycle's own` }
  return { folder: f }
}
