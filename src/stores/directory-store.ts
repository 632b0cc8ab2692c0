/**
 * The directory store: a folder on this machine or on a server reached over SSH that pip
 * installs from as it is (PEP 503). Its parts live in ./directory/: the layout (layout.ts), the
 * simple index (index-html.ts), the release notes (notes.ts), the tar writer that carries the
 * pages (tar-writer.ts), the shell programs it runs on its host (scripts.ts), its lock
 * (lock.ts), the same-content check (first-difference.ts) and the store itself (store.ts).
 * This module is their public face: importers keep importing from here.
 */
export { firstDifference } from './directory/first-difference.js'
export {
  escapeHtml,
  fileHref,
  indexProjects,
  renderProjectPage,
  renderSimpleRoot,
  type IndexedFile,
  type IndexedProject
} from './directory/index-html.js'
export { directoryStoreLayout, type DirectoryStoreLayout } from './directory/layout.js'
export { renderNotesHtml, renderNotesMarkdown } from './directory/notes.js'
export { createDirectoryStore } from './directory/store.js'
export { tarArchive } from './directory/tar-writer.js'
