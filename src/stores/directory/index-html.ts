/**
 * The store's PEP 503 simple index: which files each project lists (from the manifests) and
 * its pages, with relative links, `#sha256=` fragments and `data-requires-python`.
 */
import { WHEELHOUSE_DIR, type ReleaseManifest } from '../../releases/manifest.js'
import {
  compareVersions,
  normalizeProjectName,
  parseReleaseFileName
} from '../../releases/version.js'

/** One file as a project page links it. */
export interface IndexedFile {
  /** The file name (the anchor's text). */
  name: string
  /** The version folder it lives in. */
  releaseVersion: string
  /** Path below the release folder: `<name>` or `wheelhouse/<name>`. */
  pathInRelease: string
  sha256: string
  /** Requires-Python of the app's own files; null for wheelhouse wheels (pip reads their metadata). */
  requiresPython: string | null
}

/** A project of the index: its normalised name (the page folder) and its files. */
export interface IndexedProject {
  name: string
  files: IndexedFile[]
}

/** Text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/**
 * The projects of the index from the manifests of the published releases: the app's sdist and
 * wheel under the app's name, each wheelhouse wheel under its own project. A wheel carried by
 * several releases (the same dependency) is listed once, from the newest release holding it.
 */
export function indexProjects(manifests: ReleaseManifest[]): IndexedProject[] {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const projects = new Map<string, Map<string, IndexedFile>>()
  const add = (project: string, file: IndexedFile): void => {
    const key = normalizeProjectName(project)
    const files = projects.get(key) ?? new Map<string, IndexedFile>()
    projects.set(key, files)
    if (!files.has(file.name)) files.set(file.name, file)
  }
  for (const m of newestFirst) {
    for (const f of m.files)
      add(m.name, {
        name: f.name,
        releaseVersion: m.version,
        pathInRelease: f.name,
        sha256: f.sha256,
        requiresPython: m.requires_python
      })
    for (const w of m.wheelhouse ?? [])
      add(parseReleaseFileName(w.name).name, {
        name: w.name,
        releaseVersion: m.version,
        pathInRelease: `${WHEELHOUSE_DIR}/${w.name}`,
        sha256: w.sha256,
        requiresPython: null
      })
  }
  const byVersionThenName = (a: IndexedFile, b: IndexedFile): number =>
    compareVersions(parseReleaseFileName(a.name).version, parseReleaseFileName(b.name).version) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  return [...projects.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, files]) => ({ name, files: [...files.values()].sort(byVersionThenName) }))
}

/** A PEP 503 page (also the notes page): a title, as heading too, and body lines. */
export function htmlPage(title: string, body: string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html>',
    '  <head>',
    '    <meta name="pypi:repository-version" content="1.0">',
    `    <title>${escapeHtml(title)}</title>`,
    '  </head>',
    '  <body>',
    `    <h1>${escapeHtml(title)}</h1>`,
    ...body.map(line => `    ${line}`),
    '  </body>',
    '</html>',
    ''
  ].join('\n')
}

/** The href of a file from its project page (`simple/<project>/`): relative, so the store can move. */
export function fileHref(file: IndexedFile): string {
  const segments = ['..', '..', 'releases', file.releaseVersion, ...file.pathInRelease.split('/')]
  return `${segments.map(s => (s === '..' ? s : encodeURIComponent(s))).join('/')}#sha256=${file.sha256}`
}

/** `simple/index.html`: one anchor per project (PEP 503). */
export function renderSimpleRoot(projects: IndexedProject[]): string {
  return htmlPage(
    'Simple index',
    projects.map(
      p => `<a href="${escapeHtml(encodeURIComponent(p.name))}/">${escapeHtml(p.name)}</a><br>`
    )
  )
}

/** `simple/<project>/index.html`: one anchor per file, with its sha256 and Requires-Python. */
export function renderProjectPage(project: IndexedProject): string {
  return htmlPage(
    `Links for ${project.name}`,
    project.files.map(f => {
      const rp =
        f.requiresPython !== null ? ` data-requires-python="${escapeHtml(f.requiresPython)}"` : ''
      return `<a href="${escapeHtml(fileHref(f))}"${rp}>${escapeHtml(f.name)}</a><br>`
    })
  )
}
