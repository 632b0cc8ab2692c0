import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type YAMLMap
} from 'yaml'
import type { Finding, RuleName } from './finding.js'

/** A workflow (`.github/workflows/*.yml`, `workflows/*.yml`) or an action's `action.yml`. */
export type SourceKind = 'workflow' | 'action'

/** One YAML file parsed with positions, as every rule reads it. */
export interface SourceFile {
  /** Path relative to the repository root, `/`-separated. */
  path: string
  kind: SourceKind
  text: string
  doc: Document.Parsed
  lines: LineCounter
}

/** A `steps:` entry with where it sits, for messages. */
export interface StepRef {
  step: YAMLMap
  /** `jobs.build.steps[2]` or `runs.steps[0]`. */
  where: string
}

/** The files the checks cover, relative to `root`: workflows, starter workflows, actions. */
export async function listCheckedFiles(
  root: string
): Promise<{ path: string; kind: SourceKind }[]> {
  const found: { path: string; kind: SourceKind }[] = []
  for (const dir of ['.github/workflows', 'workflows']) {
    for (const name of await tryReadDir(path.join(root, dir))) {
      if (/\.ya?ml$/.test(name)) found.push({ path: `${dir}/${name}`, kind: 'workflow' })
    }
  }
  for (const name of ['action.yml', 'action.yaml']) {
    if (await exists(path.join(root, name))) found.push({ path: name, kind: 'action' })
  }
  for (const name of await tryReadDir(path.join(root, 'actions'))) {
    for (const file of ['action.yml', 'action.yaml']) {
      if (await exists(path.join(root, 'actions', name, file))) {
        found.push({ path: `actions/${name}/${file}`, kind: 'action' })
      }
    }
  }
  return found.sort((a, b) => a.path.localeCompare(b.path))
}

/** Parses `text` as the file `relPath`; YAML syntax errors stay in `doc.errors`. */
export function parseSourceFile(relPath: string, kind: SourceKind, text: string): SourceFile {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: false })
  return { path: relPath, kind, text, doc, lines }
}

/** Reads and parses one file under `root`. */
export async function loadSourceFile(
  root: string,
  relPath: string,
  kind: SourceKind
): Promise<SourceFile> {
  const text = await fs.readFile(path.join(root, relPath), 'utf8')
  return parseSourceFile(relPath, kind, text)
}

/** 1-based line and column of a source offset. */
export function positionOf(file: SourceFile, offset: number): { line: number; column: number } {
  const pos = file.lines.linePos(offset)
  return { line: pos.line, column: pos.col }
}

/** A finding at the start of `node` (line 1 when the node is missing). */
export function findingAt(
  file: SourceFile,
  node: Node | null | undefined,
  rule: RuleName,
  message: string
): Finding {
  const offset = node?.range?.[0] ?? 0
  return { file: file.path, ...positionOf(file, offset), rule, message }
}

/** A finding at a source offset. */
export function findingAtOffset(
  file: SourceFile,
  offset: number,
  rule: RuleName,
  message: string
): Finding {
  return { file: file.path, ...positionOf(file, offset), rule, message }
}

/** The map node at `key` of `map`, if it is a map. */
export function mapAt(map: unknown, key: string): YAMLMap | undefined {
  if (!isMap(map)) return undefined
  const value = map.get(key, true)
  return isMap(value) ? value : undefined
}

/** The node at `key` of `map`, whatever it is. */
export function nodeAt(map: unknown, key: string): Node | undefined {
  if (!isMap(map)) return undefined
  const value = map.get(key, true) as unknown
  return value && typeof value === 'object' ? (value as Node) : undefined
}

/** The string value at `key` of `map`, if it is a scalar. */
export function stringAt(map: unknown, key: string): string | undefined {
  const node = nodeAt(map, key)
  return isScalar(node) && node.value !== null ? String(node.value) : undefined
}

/** The jobs of a workflow, as `[id, job map]`. */
export function jobsOf(file: SourceFile): [string, YAMLMap][] {
  const jobs = mapAt(file.doc.contents, 'jobs')
  if (!jobs) return []
  const result: [string, YAMLMap][] = []
  for (const pair of jobs.items) {
    if (isScalar(pair.key) && isMap(pair.value)) result.push([String(pair.key.value), pair.value])
  }
  return result
}

/** Every step of a workflow's jobs, or of a composite action's `runs.steps`. */
export function stepsOf(file: SourceFile): StepRef[] {
  const result: StepRef[] = []
  const collect = (steps: unknown, prefix: string): void => {
    if (!isSeq(steps)) return
    steps.items.forEach((step, index) => {
      if (isMap(step)) result.push({ step, where: `${prefix}[${index}]` })
    })
  }
  if (file.kind === 'workflow') {
    for (const [id, job] of jobsOf(file)) collect(job.get('steps', true), `jobs.${id}.steps`)
  } else {
    collect(mapAt(file.doc.contents, 'runs')?.get('steps', true), 'runs.steps')
  }
  return result
}

async function tryReadDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file)
    return true
  } catch {
    return false
  }
}
