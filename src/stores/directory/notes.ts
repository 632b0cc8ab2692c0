/** The store's release notes, notes.md and notes.html: every published version, newest first. */
import type { ReleaseManifest } from '../../releases/manifest.js'
import { compareVersions } from '../../releases/version.js'
import { escapeHtml, htmlPage } from './index-html.js'

function dateOf(m: ReleaseManifest): string {
  return m.built_at.slice(0, 10)
}

function releaseNames(manifests: ReleaseManifest[]): string {
  const names = [...new Set(manifests.map(m => m.name))]
  return names.join(', ') || 'releases'
}

/** `notes.md`: every published version, newest first, with its date and notes. */
export function renderNotesMarkdown(manifests: ReleaseManifest[]): string {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const lines = [`# ${releaseNames(manifests)}: release notes`, '']
  if (newestFirst.length === 0) lines.push('No version is published.', '')
  for (const m of newestFirst) {
    lines.push(`## ${m.version} (${dateOf(m)})`, '')
    lines.push(m.notes?.trim() ? m.notes.trim() : '_No notes._', '')
    const deps = m.wheelhouse?.length
      ? `; dependencies: ${m.wheelhouse.map(w => w.name).join(', ')}`
      : ''
    lines.push(
      `Files: ${m.files.map(f => f.name).join(', ')}${deps}${m.commit ? `; commit ${m.commit}` : ''}.`,
      ''
    )
  }
  return lines.join('\n')
}

/** `notes.html`: the same as notes.md, as a page (notes shown as written, escaped). */
export function renderNotesHtml(manifests: ReleaseManifest[]): string {
  const newestFirst = [...manifests].sort((a, b) => compareVersions(b.version, a.version))
  const body: string[] = []
  if (newestFirst.length === 0) body.push('<p>No version is published.</p>')
  for (const m of newestFirst) {
    body.push(
      `<section id="v${escapeHtml(m.version)}">`,
      `  <h2>${escapeHtml(m.version)} <small><time datetime="${escapeHtml(m.built_at)}">${escapeHtml(dateOf(m))}</time></small></h2>`,
      m.notes?.trim()
        ? `  <div class="notes" style="white-space: pre-wrap">${escapeHtml(m.notes.trim())}</div>`
        : '  <p><em>No notes.</em></p>',
      `  <p>Files: ${m.files
        .map(
          f =>
            `<a href="releases/${escapeHtml(encodeURIComponent(m.version))}/${escapeHtml(encodeURIComponent(f.name))}">${escapeHtml(f.name)}</a>`
        )
        .join(', ')}${m.commit ? `; commit <code>${escapeHtml(m.commit)}</code>` : ''}</p>`,
      '</section>'
    )
  }
  return htmlPage(`${releaseNames(manifests)}: release notes`, body)
}
