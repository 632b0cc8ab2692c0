/**
 * A watch report as text: Markdown for the job summary, plain lines for a terminal. Pure.
 */
import { cappedList, cell, code, table } from '../compare/markdown.js'
import type { WatchReport } from './watch.js'

/** Replaces secrets in a text. */
export type Redact = (text: string) => string

/** Most findings a Markdown report lists (the JSON has them all, up to the watch's cap). */
export const MARKDOWN_FINDINGS = 100

/** The job summary of a watch run. */
export function renderWatchMarkdown(r: WatchReport, redact: Redact = t => t): string {
  const heading = r.drifted
    ? `⚠️ Site ${r.site} has drifted: ${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}`
    : `✅ Site ${r.site} is as sitecycle installed it`
  const status = (s: string) =>
    s === 'ok' || s === 'unchanged'
      ? `✅ ${s}`
      : s === 'drifted' || s === 'modified' || s === 'missing'
        ? `❌ ${s}`
        : `➖ ${s}`
  const out = [
    `## ${cell(heading)}`,
    '',
    ...table(
      ['', ''],
      [
        ['**Site**', cell(`${r.site} on ${r.host} (${r.root})`)],
        [
          '**Live**',
          cell(`${r.live.release ?? 'nothing'}${r.live.slot ? ` (slot ${r.live.slot})` : ''}`)
        ],
        [
          '**Links**',
          `${status(r.links.status)}${r.links.status === 'unknown' ? cell(`: ${r.links.expected.operation ?? ''} is unfinished`) : cell(`: the journal says ${r.links.expected.version ?? 'nothing'}`)}`
        ],
        [
          '**Files**',
          `${status(r.files.status)}: ${r.files.checked} checked in ${r.files.packages.length} package${r.files.packages.length === 1 ? '' : 's'}; ` +
            `${r.files.counts.modified} modified, ${r.files.counts.added} added, ${r.files.counts.removed} removed`
        ],
        ['**Config**', status(r.config.status)],
        ['**Checked at**', cell(r.checkedAt)]
      ]
    ),
    ''
  ]
  if (r.findings.length)
    out.push(
      '### Findings',
      '',
      ...cappedList(
        r.findings.map(f => cell(f)),
        MARKDOWN_FINDINGS
      ),
      ''
    )
  if (r.config.status === 'unrecorded')
    out.push(
      `> The live release was installed before sitecycle recorded the hash of its config (${code(
        'app.ini.sha256'
      )}): the config is checked from its next deploy on.`,
      ''
    )
  return redact(out.join('\n'))
}

/** Plain lines for a terminal. */
export function formatWatchText(r: WatchReport): string {
  const lines = [
    r.drifted
      ? `site ${r.site} on ${r.host} has drifted (${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}):`
      : `site ${r.site} on ${r.host} is as installed: ${r.files.checked} files in ${r.files.packages.length} packages match their RECORDs, config ${r.config.status}, links ${r.links.status} (${r.live.release ?? 'nothing'} live)`
  ]
  for (const f of r.findings) lines.push(`  ${f}`)
  return lines.join('\n')
}
