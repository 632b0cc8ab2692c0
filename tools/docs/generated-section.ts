/**
 * A generated part of a Markdown file: the text between a start and an end marker line, made by
 * `render` from the sources it documents. `npm run docs` rewrites each one (updateSection); the
 * docs test and `npm run docs -- --check` fail when one is stale (checkSection).
 */
import { promises as fs } from 'node:fs'
import * as path from 'node:path'

export interface GeneratedSection {
  /** What it is, for messages: `action tables`. */
  name: string
  /** The file that holds it, relative to the repository: `README.md`. */
  file: string
  start: string
  end: string
  /** The Markdown between the markers, from the sources under `root`. */
  render(root: string): Promise<string>
}

/** Markers missing, repeated or out of order. */
export class MarkerError extends Error {
  constructor(
    message: string,
    readonly file: string
  ) {
    super(`${file}: ${message}`)
    this.name = 'MarkerError'
  }
}

/** `text` (the content of `section.file`) with `body` between the markers. */
export function replaceSection(
  text: string,
  section: Pick<GeneratedSection, 'file' | 'start' | 'end'>,
  body: string
): string {
  const start = text.indexOf(section.start)
  const end = text.indexOf(section.end)
  if (start === -1 || end < start || text.indexOf(section.start, start + 1) !== -1)
    throw new MarkerError(
      `expected one ${section.start} line followed by one ${section.end} line`,
      section.file
    )
  return `${text.slice(0, start + section.start.length)}\n\n${body.trimEnd()}\n\n${text.slice(end)}`
}

async function actualAndExpected(
  root: string,
  section: GeneratedSection
): Promise<{ actual: string; expected: string }> {
  const actual = await fs.readFile(path.join(root, section.file), 'utf8')
  return { actual, expected: replaceSection(actual, section, await section.render(root)) }
}

/** Whether the section is current; the first differing line if not. */
export async function checkSection(
  root: string,
  section: GeneratedSection
): Promise<{ current: boolean; firstDifference?: string }> {
  const { actual, expected } = await actualAndExpected(root, section)
  if (actual === expected) return { current: true }
  const a = actual.split('\n')
  const e = expected.split('\n')
  const line = a.findIndex((text, i) => text !== e[i])
  const at = line === -1 ? Math.min(a.length, e.length) : line
  return {
    current: false,
    firstDifference: `${section.file}:${at + 1}: has ${JSON.stringify(a[at] ?? '')}, expected ${JSON.stringify(e[at] ?? '')}`
  }
}

/** Rewrites the section; returns whether the file changed. */
export async function updateSection(root: string, section: GeneratedSection): Promise<boolean> {
  const { actual, expected } = await actualAndExpected(root, section)
  if (actual === expected) return false
  await fs.writeFile(path.join(root, section.file), expected)
  return true
}

/** Text for one table cell: on one line, its pipes escaped. */
export function tableCell(text: string): string {
  return text
    .trim()
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
}
