/**
 * Where things are in a directory store (a folder on this machine or on a server reached over
 * SSH, always through an Executor). Its layout serves pip as it is (PEP 503):
 *
 *   <path>/releases/<version>/     manifest.json, SHA256SUMS, sdist, wheel, wheelhouse/, requirements.lock
 *   <path>/simple/index.html       one anchor per project
 *   <path>/simple/<project>/index.html
 *                                  anchors to the files, relative (`../../releases/<version>/<file>`),
 *                                  with `#sha256=` fragments and `data-requires-python`; the
 *                                  wheelhouse wheels are listed under their own projects
 *   <path>/notes.md, notes.html    the release notes: versions, dates, notes, newest first
 *   <path>/.lock/                  held while the store changes (mkdir is atomic)
 *
 * So `pip install --index-url file://<path>/simple <name>==<version>` works, and so does
 * `pip install --no-index --find-links <path>/releases/<version> <name>==<version>`.
 *
 * The files live only in their release folder: a publish is one rename of a hidden, fully
 * uploaded and checked folder into `releases/`, so a half-published version is never visible,
 * and removing a version is removing one folder. The index and the notes are derived from the
 * manifests and rewritten after each change (each page written aside, then renamed over).
 */
import path from 'node:path'
import { normalizeProjectName } from '../../releases/version.js'

const posix = path.posix

/** Where everything is in a directory store rooted at `root` (an absolute POSIX path on its host). */
export function directoryStoreLayout(root: string) {
  return {
    root,
    releases: posix.join(root, 'releases'),
    release: (version: string) => posix.join(root, 'releases', version),
    simple: posix.join(root, 'simple'),
    /** The project's page folder: its PEP 503 normalised name. */
    project: (name: string) => posix.join(root, 'simple', normalizeProjectName(name)),
    notesMarkdown: posix.join(root, 'notes.md'),
    notesHtml: posix.join(root, 'notes.html'),
    lock: posix.join(root, '.lock')
  }
}

/** The layout of one store. */
export type DirectoryStoreLayout = ReturnType<typeof directoryStoreLayout>
