/**
 * Small Markdown builders shared by the compare and watch reports: tables whose cells are
 * escaped, lists capped with a count of what was left out, fenced blocks.
 */

/** A Markdown table; every cell already escaped with {@link cell}. */
export function table(header: string[], rows: string[][]): string[] {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)]
}

/** A table cell or inline text: HTML escaped, pipes escaped, line breaks as <br>. */
export function cell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

/** Text as inline code, whatever backticks it holds. */
export function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map(r => r.length))
  const fence = '`'.repeat(longest + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${text.replace(/\r?\n/g, ' ')}${pad}${fence}`
}

/** `<`, `>` and `&` as entities. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A bullet list of at most `max` items, then a line saying how many more there are. */
export function cappedList(items: readonly string[], max: number, total = items.length): string[] {
  const shown = items.slice(0, max).map(i => `- ${i}`)
  if (total > shown.length) shown.push(`- … and ${total - shown.length} more`)
  return shown
}
