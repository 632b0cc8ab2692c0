/**
 * Problems found in a config file, each tied to the YAML node it is about, and their rendering
 * as `<file>:<line>:<col>: <dotted.path>: <what is wrong>; expected <expected form>`.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../util/errors.js'
import { knownKeysAt } from './schema.js'

export type ConfigPath = readonly (string | number)[]

/** One thing wrong in the file. */
export interface ConfigProblem {
  /** Offset in the file of the node the problem is about. */
  offset: number
  /** Where in the config, e.g. ['sites', 'v1', 'keep_releases']; empty for the whole file. */
  path: ConfigPath
  /** What is wrong, e.g. `got "five"`. */
  what: string
  /** The expected form, e.g. `an integer of at least 2`; omitted when the message says it all. */
  expected?: string
}

/** A parsed document and where its nodes are, for naming lines. */
export interface SourceMap {
  doc: Document
  lines: LineCounter
}

/** The ConfigError reporting every problem, one per line, in the order they appear in the file. */
export function configError(
  file: string,
  source: SourceMap,
  problems: readonly ConfigProblem[]
): ConfigError {
  const sorted = [...problems].sort((a, b) => a.offset - b.offset)
  const lines = sorted.map(p => {
    const { line, col } = source.lines.linePos(p.offset)
    const where = p.path.length > 0 ? `${dottedPath(p.path)}: ` : ''
    return `${file}:${line}:${col}: ${where}${p.what}${p.expected ? `; expected ${p.expected}` : ''}`
  })
  return new ConfigError(lines.join('\n'), file, source.lines.linePos(sorted[0]?.offset ?? 0).line)
}

/** `sites.v1.hooks.after_install[0]` */
export function dottedPath(path: ConfigPath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('')
}

/** How a value read from YAML is shown in a message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (value !== null && typeof value === 'object') return 'a mapping'
  const shown = JSON.stringify(value) ?? String(value)
  return shown.length > 60 ? `${shown.slice(0, 57)}..."` : shown
}

interface Located {
  /** Offset of the key of the deepest mapping entry found on the way. */
  keyOffset?: number
  /** Offset of the node at the full path, when it exists. */
  valueOffset?: number
  found: boolean
}

function locate(source: SourceMap, path: ConfigPath): Located {
  const { doc } = source
  let node: unknown = doc.contents
  let keyOffset: number | undefined
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) {
      const pair = node.items.find(p => isScalar(p.key) && String(p.key.value) === String(segment))
      if (!pair) return { keyOffset, found: false }
      keyOffset = (pair.key as Node).range?.[0] ?? keyOffset
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment]
      keyOffset = (node as Node | null)?.range?.[0] ?? keyOffset
    } else {
      return { keyOffset, found: false }
    }
  }
  return { keyOffset, valueOffset: (node as Node | null)?.range?.[0], found: true }
}

function startOffset(source: SourceMap): number {
  return source.doc.contents?.range?.[0] ?? 0
}

/** Offset of the node at `path`, or of the entry that should have held it. */
export function offsetOf(source: SourceMap, path: ConfigPath): number {
  const at = locate(source, path)
  return (at.found ? (at.valueOffset ?? at.keyOffset) : at.keyOffset) ?? startOffset(source)
}

/** Offset of the key that ends `path` (its last segment is a key of a mapping). */
export function keyOffsetOf(source: SourceMap, path: ConfigPath): number {
  return locate(source, path).keyOffset ?? startOffset(source)
}

/** Read the value at `path` in the plain data. */
function valueAt(data: unknown, path: ConfigPath): unknown {
  let value = data
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string | number, unknown>)[segment]
  }
  return value
}

/** Turn zod's issues into problems located in the file. */
export function problemsFromIssues(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  source: SourceMap
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const issue of issues) {
    const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol')
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(path) ?? []
      for (const key of issue.keys) {
        const suggestion = didYouMean(key, known)
        problems.push({
          offset: keyOffsetOf(source, [...path, key]),
          path,
          what: `unknown key '${key}'${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
          expected: known.length > 0 ? `one of ${known.join(', ')}` : undefined
        })
      }
      continue
    }
    const value = valueAt(data, path)
    const reason =
      issue.code === 'custom' ? (issue.params?.reason as string | undefined) : undefined
    problems.push({
      offset: offsetOf(source, path),
      path,
      what:
        value === undefined
          ? 'missing'
          : `got ${describeValue(value)}${reason ? ` (${reason})` : ''}`,
      expected: issue.message
    })
  }
  return problems
}

/** The known word closest to `word`, when it is close enough to be a likely typo. */
export function didYouMean(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  const limit = Math.max(1, Math.floor(Math.max(word.length, 4) / 3))
  if (bestDistance <= limit) return best
  // A shortened key, such as `expect` for `expect_version`.
  return word.length >= 3
    ? known.find(k => k.toLowerCase().startsWith(word.toLowerCase()))
    : undefined
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)
      )
    }
    previous = current
  }
  return previous[b.length]
}
