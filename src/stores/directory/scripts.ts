/** The shell programs the store runs on its host (each `sh -c <script> sh <args>`). */

/** Lists a folder's entries, one a line; nothing when the folder does not exist. */
export const LIST_DIR = '[ -d "$1" ] || exit 0; exec ls -1A -- "$1"'

/**
 * argv: store root. Prints, NUL-separated, `version`, its manifest.json, ... for every published
 * version, then `--simple--` and the entries of simple/ one a line: all a regeneration reads.
 */
export const READ_STATE = `
cd "$1" || exit 1
if [ -d releases ]; then
  for v in releases/*; do
    [ -f "$v/manifest.json" ] || continue
    printf '%s\\0' "\${v#releases/}"
    cat -- "$v/manifest.json" || exit 1
    printf '\\0'
  done
fi
printf -- '--simple--\\0'
[ -d simple ] && ls -1A -- simple
exit 0
`

/**
 * argv: store root, then pairs of (written-aside path, final path), then `--`, then paths to
 * remove. Unpacks the pages (stdin, a tar) aside, renames each over its final name, removes
 * the stale ones.
 */
export const WRITE_PAGES = `
set -e
tar --no-same-owner -x -f - -C "$1"
shift
while [ "$1" != -- ]; do mv -f -T -- "$1" "$2"; shift 2; done
shift
if [ $# -gt 0 ]; then rm -rf -- "$@"; fi
`

/** argv: staging dir, final dir. Checks every uploaded file against SHA256SUMS, then renames. */
export const CHECK_AND_RENAME =
  'cd "$1" && sha256sum --quiet --strict -c SHA256SUMS && chmod 755 . && mv -T -- "$1" "$2"'
