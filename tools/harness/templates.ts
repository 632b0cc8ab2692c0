/**
 * Loading workflows and action.yml files through GitHub's own parser (@actions/workflow-parser):
 * the file is validated against the schema GitHub uses (and, for workflows, converted as the
 * service would, which catches needs cycles, duplicate step ids and the like). The harness then
 * walks the parser's token tree, which keeps every value's line and its `${{ }}` expressions.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import {
  convertWorkflowTemplate,
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
  NoOperationTraceWriter,
  type WorkflowTemplate
} from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import type {
  MappingToken,
  SequenceToken,
  TemplateToken
} from '@actions/workflow-parser/templates/tokens/index'
import { parseWorkflow } from '@actions/workflow-parser/workflows/workflow-parser'
import { HarnessInvalid, HarnessUnsupported, type SourceLocation } from './errors.js'

export type { MappingToken, SequenceToken, TemplateToken }

/** A parsed, validated file: its token tree and the name used in messages. */
export interface LoadedTemplate {
  /** Absolute path of the file. */
  path: string
  /** The name used in messages (relative to the repository root when known). */
  name: string
  root: MappingToken
}

/** A loaded workflow file. */
export interface LoadedWorkflow extends LoadedTemplate {
  /** The service's conversion of the workflow (events with their input definitions, jobs). */
  model: WorkflowTemplate
}

/** A loaded action.yml and the directory it sits in. */
export interface LoadedAction extends LoadedTemplate {
  dir: string
}

function displayName(file: string, base?: string): string {
  if (!base) return file
  const rel = path.relative(base, file)
  return rel.startsWith('..') ? file : rel
}

/**
 * Read, schema-check and convert a workflow. `base` (the repository root) makes messages name
 * `.github/workflows/x.yml` rather than an absolute path. Throws HarnessInvalid with every
 * problem the parser found.
 */
export async function loadWorkflow(file: string, base?: string): Promise<LoadedWorkflow> {
  const name = displayName(path.resolve(file), base)
  const content = await fs.readFile(file, 'utf8')
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  const problems = parsed.context.errors.getErrors().map(e => e.message)
  if (problems.length || !parsed.value || !isMapping(parsed.value)) {
    throw new HarnessInvalid(`${name} is not a valid workflow`, problems)
  }
  const model = await convertWorkflowTemplate(parsed.context, parsed.value)
  const converted = (model.errors ?? []).map(e => e.Message)
  if (converted.length) throw new HarnessInvalid(`${name} is not a valid workflow`, converted)
  return { path: path.resolve(file), name, root: parsed.value, model }
}

/** Read and schema-check the action.yml (or action.yaml) in `dir`. Throws HarnessInvalid. */
export async function loadAction(dir: string, base?: string): Promise<LoadedAction> {
  let file = path.join(dir, 'action.yml')
  let content: string
  try {
    content = await fs.readFile(file, 'utf8')
  } catch {
    file = path.join(dir, 'action.yaml')
    try {
      content = await fs.readFile(file, 'utf8')
    } catch {
      throw new HarnessInvalid(`no action.yml or action.yaml in ${dir}`)
    }
  }
  const name = displayName(path.resolve(file), base)
  const parsed = parseAction({ name, content }, new NoOperationTraceWriter())
  const problems = parsed.context.errors.getErrors().map(e => e.message)
  if (problems.length || !parsed.value || !isMapping(parsed.value)) {
    throw new HarnessInvalid(`${name} is not a valid action`, problems)
  }
  return { path: path.resolve(file), name, root: parsed.value, dir: path.resolve(dir) }
}

// ---- token helpers ------------------------------------------------------------------------------

/** The file and line of a token, for messages. */
export function where(file: string, token: TemplateToken | undefined): SourceLocation {
  return { file, line: token?.line }
}

/** The value under `key` of a mapping token (undefined when absent or when `map` is undefined). */
export function find(map: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return map && isMapping(map) ? map.find(key) : undefined
}

/** The pairs of a mapping token as [key, value], keys as written. */
export function entries(map: TemplateToken | undefined): [string, TemplateToken][] {
  if (!map || !isMapping(map)) return []
  const out: [string, TemplateToken][] = []
  for (const pair of map) out.push([String(literalOf(pair.key)), pair.value])
  return out
}

/** The items of a sequence token. */
export function items(seq: TemplateToken | undefined): TemplateToken[] {
  if (!seq || !isSequence(seq)) return []
  return [...(seq as SequenceToken)]
}

/** A literal token's value (string, number, boolean or null); undefined for anything else. */
export function literalOf(
  token: TemplateToken | undefined
): string | number | boolean | null | undefined {
  if (!token) return undefined
  if (isString(token)) return token.value
  if (isNumber(token)) return token.value
  if (isBoolean(token)) return token.value
  if (token.templateTokenType === 7) return null
  return undefined
}

/** A literal string value, or undefined (expressions and other types included). */
export function stringOf(token: TemplateToken | undefined): string | undefined {
  return token && isString(token) ? token.value : undefined
}

/** True when the token holds `${{ }}`. */
export function isExpressionToken(token: TemplateToken | undefined): boolean {
  return !!token && isBasicExpression(token)
}

/** Refuse a key the harness cannot honour when it is present in a mapping. */
export function refuseKey(
  file: string,
  map: TemplateToken | undefined,
  key: string,
  feature: string,
  hint?: string
): void {
  const value = find(map, key)
  if (value !== undefined) throw new HarnessUnsupported(feature, where(file, value), hint)
}
