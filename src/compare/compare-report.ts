/**
 * A compare report as text: Markdown for the job summary, plain lines for a terminal. Pure; the
 * report holds no secret value (compare.ts redacts), and `redact` runs over the result once more.
 */
import type { CompareReport, PathComparison } from './compare.js'
import { cappedList, cell, code, table } from './markdown.js'

/** Replaces secrets in a text. */
export type Redact = (text: string) => string

/** Most paths a Markdown section lists per kind. */
export const MARKDOWN_PATHS = 30

function side(r: CompareReport['a']): string {
  return `${r.site} (${r.release ?? 'no live release'}${r.sha256 ? `, sha256 ${r.sha256.slice(0, 12)}…` : ''})`
}

/** The job summary of a comparison. */
export function renderCompareMarkdown(r: CompareReport, redact: Redact = t => t): string {
  const heading = r.same
    ? `✅ Sites ${r.a.site} and ${r.b.site} are the same`
    : `🔍 Sites ${r.a.site} and ${r.b.site}: ${r.differences} difference${r.differences === 1 ? '' : 's'}`
  const mark = (same: boolean) => (same ? '✅ same' : '❌ differs')
  const db = r.database
  const out = [
    `## ${cell(heading)}`,
    '',
    ...table(
      ['', cell(`A: ${r.a.site}`), cell(`B: ${r.b.site}`), ''],
      [
        ['**Host**', cell(`${r.a.host}:${r.a.root}`), cell(`${r.b.host}:${r.b.root}`), ''],
        ['**Live release**', cell(side(r.a)), cell(side(r.b)), mark(r.release.same)],
        ['**Packages**', '', '', `${mark(r.packages.same)} (${r.packages.sameCount} same)`],
        ['**Release files**', '', '', `${mark(r.files.same)} (${r.files.counts.same} same)`],
        ...r.data.map(d => [
          '**Data folder**',
          cell(d.a ?? 'none'),
          cell(d.b ?? 'none'),
          `${mark(d.same && d.a !== null && d.b !== null)} (${d.counts.same} same)`
        ]),
        ['**Config**', '', '', `${mark(r.config.same)} (${r.config.sameKeys} keys same)`],
        ...(db
          ? [
              [
                '**Database**',
                cell(db.engines.a ?? 'none'),
                cell(db.engines.b ?? 'none'),
                `${mark(db.same)} (${db.sameTables} tables same)`
              ]
            ]
          : [])
      ]
    ),
    ''
  ]
  const p = r.packages
  if (!p.same)
    out.push(
      '### Packages',
      '',
      ...cappedList(
        [
          ...p.changed.map(c => `${code(c.name)}: ${cell(c.a)} on A, ${cell(c.b)} on B`),
          ...p.onlyA.map(n => `only on A: ${code(n)}`),
          ...p.onlyB.map(n => `only on B: ${code(n)}`)
        ],
        MARKDOWN_PATHS * 2
      ),
      ''
    )
  if (!r.files.same) out.push('### Release files', '', ...paths(r.files), '')
  for (const d of r.data)
    if (!d.same)
      out.push(
        `### Data: ${cell(d.a ?? 'none')} ↔ ${cell(d.b ?? 'none')}`,
        '',
        ...(d.exists.a ? [] : ['- missing on A']),
        ...(d.exists.b ? [] : ['- missing on B']),
        ...paths(d),
        ''
      )
  if (!r.config.same)
    out.push(
      '### Config',
      '',
      ...(r.config.present.a ? [] : ['- A has no rendered config']),
      ...(r.config.present.b ? [] : ['- B has no rendered config']),
      ...(r.config.differences.length
        ? table(
            ['Key', 'A', 'B'],
            r.config.differences.map(c => [
              code(c.key),
              c.secret ? '*secret, differs*' : c.a === null ? '*absent*' : code(c.a),
              c.secret ? '*secret, differs*' : c.b === null ? '*absent*' : code(c.b)
            ])
          )
        : []),
      ''
    )
  if (db && !db.same)
    out.push(
      '### Database',
      '',
      ...(db.engines.a !== db.engines.b
        ? [
            `Engines differ (${db.engines.a ?? 'none'} / ${db.engines.b ?? 'none'}): checksums are not compared.`,
            ''
          ]
        : []),
      ...(db.tables.length
        ? table(
            ['Table', 'Rows A', 'Rows B', 'Checksum', 'Columns'],
            db.tables.map(t => [
              code(t.table),
              t.rows.a === null ? '*absent*' : String(t.rows.a),
              t.rows.b === null ? '*absent*' : String(t.rows.b),
              t.checksum,
              cell(
                [
                  ...t.columns.onlyA.map(c => `only A: ${c}`),
                  ...t.columns.onlyB.map(c => `only B: ${c}`),
                  ...t.columns.changed
                ].join('\n')
              )
            ])
          )
        : []),
      ''
    )
  return redact(out.join('\n'))
}

function paths(p: PathComparison): string[] {
  return [
    ...section('changed', p.changed, p.counts.changed),
    ...section('only on A', p.onlyA, p.counts.onlyA),
    ...section('only on B', p.onlyB, p.counts.onlyB)
  ]
}

function section(what: string, items: string[], total: number): string[] {
  if (total === 0) return []
  return [
    `**${what}** (${total}):`,
    '',
    ...cappedList(
      items.map(i => code(i)),
      MARKDOWN_PATHS,
      total
    ),
    ''
  ]
}

/** Plain lines for a terminal: one per difference (paths capped as in the report). */
export function formatCompareText(r: CompareReport): string {
  const lines = [
    r.same
      ? `sites ${r.a.site} and ${r.b.site} are the same: ${side(r.a)}`
      : `sites ${r.a.site} and ${r.b.site}: ${r.differences} difference${r.differences === 1 ? '' : 's'}`
  ]
  if (!r.release.same) lines.push(`  release: ${side(r.a)} / ${side(r.b)}`)
  for (const c of r.packages.changed) lines.push(`  package ${c.name}: ${c.a} / ${c.b}`)
  for (const n of r.packages.onlyA) lines.push(`  package only on ${r.a.site}: ${n}`)
  for (const n of r.packages.onlyB) lines.push(`  package only on ${r.b.site}: ${n}`)
  const pathLines = (label: string, p: PathComparison) => {
    for (const x of p.changed) lines.push(`  ${label} changed: ${x}`)
    for (const x of p.onlyA) lines.push(`  ${label} only on ${r.a.site}: ${x}`)
    for (const x of p.onlyB) lines.push(`  ${label} only on ${r.b.site}: ${x}`)
    const more =
      p.counts.changed +
      p.counts.onlyA +
      p.counts.onlyB -
      p.changed.length -
      p.onlyA.length -
      p.onlyB.length
    if (more > 0) lines.push(`  ${label}: ... and ${more} more`)
  }
  pathLines('file', r.files)
  for (const d of r.data) pathLines(`data ${d.a ?? 'none'} / ${d.b ?? 'none'}`, d)
  for (const c of r.config.differences)
    lines.push(
      c.secret
        ? `  config ${c.key}: secret, differs`
        : `  config ${c.key}: ${c.a ?? '(absent)'} / ${c.b ?? '(absent)'}`
    )
  if (r.config.present.a !== r.config.present.b)
    lines.push(`  config: only ${r.config.present.a ? r.a.site : r.b.site} has one`)
  if (r.database) {
    if (r.database.engines.a !== r.database.engines.b)
      lines.push(
        `  database engines: ${r.database.engines.a ?? 'none'} / ${r.database.engines.b ?? 'none'}`
      )
    for (const t of r.database.tables)
      lines.push(
        `  table ${t.table}: rows ${t.rows.a ?? 'absent'} / ${t.rows.b ?? 'absent'}, checksum ${t.checksum}` +
          [
            ...t.columns.onlyA.map(c => `, column only on ${r.a.site}: ${c}`),
            ...t.columns.onlyB.map(c => `, column only on ${r.b.site}: ${c}`),
            ...t.columns.changed.map(c => `, column ${c}`)
          ].join('')
      )
  }
  return lines.join('\n')
}
