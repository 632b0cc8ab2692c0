/**
 * What a step tells the runner: `::name k=v::data` lines on its output (workflow commands) and
 * the file commands it writes (GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE in `name=value` and
 * `name<<DELIMITER` form, GITHUB_PATH one directory a line), decoded as the runner does.
 */
import { promises as fs } from 'node:fs'

/** One `::name props::data` command. */
export interface WorkflowCommand {
  name: string
  properties: Record<string, string>
  data: string
}

const COMMAND = /^::([A-Za-z][\w-]*)(?: ([^:]*))?::(.*)$/

function unescapeData(s: string): string {
  return s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%')
}

function unescapeProperty(s: string): string {
  return s
    .replace(/%0D/gi, '\r')
    .replace(/%0A/gi, '\n')
    .replace(/%3A/gi, ':')
    .replace(/%2C/gi, ',')
    .replace(/%25/g, '%')
}

/** Parse one output line as a workflow command; undefined when it is not one. */
export function parseCommandLine(line: string): WorkflowCommand | undefined {
  const m = COMMAND.exec(line.replace(/\r$/, '').trimStart())
  if (!m) return undefined
  const properties: Record<string, string> = {}
  for (const part of (m[2] ?? '').split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    properties[part.slice(0, eq).trim()] = unescapeProperty(part.slice(eq + 1))
  }
  return { name: m[1].toLowerCase(), properties, data: unescapeData(m[3]) }
}

/** A file command the runner would reject (the step fails). */
export class FileCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FileCommandError'
  }
}

/**
 * Parse the text of a GITHUB_OUTPUT, GITHUB_ENV or GITHUB_STATE file: `name=value` lines and
 * `name<<DELIMITER` blocks ending at a line that is exactly the delimiter. Empty lines are
 * skipped; anything else is an error, as in the runner. Later entries win.
 */
export function parseKeyValueText(text: string, what: string): Map<string, string> {
  const out = new Map<string, string>()
  const lines = text.split('\n').map(l => l.replace(/\r$/, ''))
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const equals = line.indexOf('=')
    const heredoc = line.indexOf('<<')
    if (equals >= 0 && (heredoc < 0 || equals < heredoc)) {
      const name = line.slice(0, equals)
      if (!name) throw new FileCommandError(`${what}: invalid format '${line}': empty name`)
      out.set(name, line.slice(equals + 1))
    } else if (heredoc >= 0) {
      const name = line.slice(0, heredoc)
      const delimiter = line.slice(heredoc + 2)
      if (!name) throw new FileCommandError(`${what}: invalid format '${line}': empty name`)
      if (!delimiter)
        throw new FileCommandError(`${what}: invalid format '${line}': empty delimiter`)
      const value: string[] = []
      let closed = false
      for (i++; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true
          break
        }
        value.push(lines[i])
      }
      if (!closed)
        throw new FileCommandError(`${what}: matching delimiter not found '${delimiter}'`)
      out.set(name, value.join('\n'))
    } else {
      throw new FileCommandError(`${what}: invalid format '${line}'`)
    }
  }
  return out
}

/** Read and parse a key-value file command; a missing file is empty. */
export async function readKeyValueFile(file: string, what: string): Promise<Map<string, string>> {
  const text = await fs.readFile(file, 'utf8').catch(() => '')
  return parseKeyValueText(text, what)
}

/** Read GITHUB_PATH: one directory a line, in the order written. */
export async function readPathFile(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .map(l => l.replace(/\r$/, '').trim())
    .filter(Boolean)
}
