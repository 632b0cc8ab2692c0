/**
 * `${{ }}` through GitHub's own expression engine (@actions/expressions): the workflow parser
 * has already turned each value into a literal or an expression token (`a ${{ x }} b` becomes
 * `format('a {0} b', x)`); here those are evaluated against the contexts of the moment, with
 * the status functions (success, failure, always, cancelled) bound to the job or composite
 * action being run. hashFiles() is refused rather than guessed.
 */
import { data, Evaluator, Lexer, Parser } from '@actions/expressions'
import type { FunctionDefinition } from '@actions/expressions/funcs/info'
import { isBasicExpression, isMapping, isSequence } from '@actions/workflow-parser'
import { HarnessInvalid, HarnessUnsupported } from './errors.js'
import { entries, items, literalOf, type TemplateToken } from './templates.js'

/** A plain JSON-like value as contexts hold them. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** The named contexts an expression may read. */
export type Contexts = Partial<
  Record<
    | 'github'
    | 'env'
    | 'vars'
    | 'secrets'
    | 'inputs'
    | 'matrix'
    | 'steps'
    | 'needs'
    | 'job'
    | 'jobs'
    | 'runner'
    | 'strategy',
    Json
  >
>

/** What success()/failure()/cancelled() answer at this point. */
export interface StatusView {
  /** Something before this point failed (a step of the job, or an ancestor job). */
  failed: boolean
  /** The run was cancelled. */
  cancelled: boolean
  /** For a job: an ancestor job was skipped or cancelled, so success() is false (and failure() too). */
  blocked?: boolean
}

/** Everything an evaluation needs: contexts, the status of the moment, and where it is written. */
export interface Scope {
  contexts: Contexts
  status: StatusView
  /** File name for messages. */
  file: string
}

const CONTEXT_NAMES = [
  'github',
  'env',
  'vars',
  'secrets',
  'inputs',
  'matrix',
  'steps',
  'needs',
  'job',
  'jobs',
  'runner',
  'strategy'
]
const STATUS_FUNCTIONS = ['success', 'failure', 'always', 'cancelled']
const EXTENSION_FUNCTIONS = [
  ...STATUS_FUNCTIONS.map(name => ({ name, minArgs: 0, maxArgs: 0 })),
  { name: 'hashFiles', minArgs: 1, maxArgs: 255 }
]

/** Convert a JSON-like value to the engine's data. */
export function toData(value: Json | undefined): data.ExpressionData {
  if (value === undefined || value === null) return new data.Null()
  if (typeof value === 'string') return new data.StringData(value)
  if (typeof value === 'number') return new data.NumberData(value)
  if (typeof value === 'boolean') return new data.BooleanData(value)
  if (Array.isArray(value)) return new data.Array(...value.map(toData))
  return new data.Dictionary(
    ...Object.entries(value).map(([key, v]) => ({ key, value: toData(v) }))
  )
}

/** Convert the engine's data back to a JSON-like value. */
export function fromData(d: data.ExpressionData): Json {
  switch (d.kind) {
    case data.Kind.Null:
      return null
    case data.Kind.String:
      return (d as data.StringData).value
    case data.Kind.Number:
      return (d as data.NumberData).value
    case data.Kind.Boolean:
      return (d as data.BooleanData).value
    case data.Kind.Array:
      return (d as data.Array).values().map(fromData)
    default: {
      const out: { [key: string]: Json } = {}
      for (const p of (d as data.Dictionary).pairs()) out[p.key] = fromData(p.value)
      return out
    }
  }
}

/** GitHub's truthiness: false, 0, -0, NaN, '' and null are false; arrays and objects are true. */
export function truthy(value: Json | undefined): boolean {
  if (value === undefined || value === null) return false
  if (typeof value === 'boolean') return value
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value)
  if (typeof value === 'string') return value !== ''
  return true
}

/** A value as a string field receives it: null → '', true → 'true', objects as JSON. */
export function asString(value: Json | undefined): string {
  if (value === undefined || value === null) return ''
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return JSON.stringify(value, null, 2)
}

function functionsFor(scope: Scope, line: number | undefined): Map<string, FunctionDefinition> {
  const bool = (v: boolean) => new data.BooleanData(v)
  const fn = (name: string, call: () => data.ExpressionData): [string, FunctionDefinition] => [
    name.toLowerCase(),
    { name, minArgs: 0, maxArgs: 0, call }
  ]
  return new Map([
    fn('success', () =>
      bool(!scope.status.failed && !scope.status.cancelled && !scope.status.blocked)
    ),
    fn('failure', () => bool(scope.status.failed && !scope.status.cancelled)),
    fn('cancelled', () => bool(scope.status.cancelled)),
    fn('always', () => bool(true)),
    [
      'hashfiles',
      {
        name: 'hashFiles',
        minArgs: 1,
        maxArgs: 255,
        call: () => {
          throw new HarnessUnsupported('hashFiles()', { file: scope.file, line })
        }
      }
    ]
  ])
}

/** Parse an expression (without `${{ }}`) with GitHub's lexer and parser. */
function parse(expression: string, file: string, line?: number) {
  try {
    const lexed = new Lexer(expression).lex()
    return new Parser(lexed.tokens, CONTEXT_NAMES, EXTENSION_FUNCTIONS).parse()
  } catch (e) {
    throw new HarnessInvalid(
      `${file}${line ? `:${line}` : ''}: cannot parse \${{ ${expression} }}: ${(e as Error).message}`
    )
  }
}

/** Evaluate one expression (the text inside `${{ }}`). */
export function evaluateExpression(expression: string, scope: Scope, line?: number): Json {
  const tree = parse(expression, scope.file, line)
  const context = toData(scope.contexts as Json) as data.Dictionary
  try {
    return fromData(new Evaluator(tree, context, functionsFor(scope, line)).evaluate())
  } catch (e) {
    if (e instanceof HarnessUnsupported) throw e
    throw new HarnessInvalid(
      `${scope.file}${line ? `:${line}` : ''}: \${{ ${expression} }} failed: ${(e as Error).message}`
    )
  }
}

/** Evaluate a token of the parser's tree to a JSON-like value (mappings and sequences deeply). */
export function evaluateToken(token: TemplateToken | undefined, scope: Scope): Json {
  if (!token) return null
  if (isBasicExpression(token)) return evaluateExpression(token.expression, scope, token.line)
  if (isMapping(token)) {
    const out: { [key: string]: Json } = {}
    for (const [key, value] of entries(token)) out[key] = evaluateToken(value, scope)
    return out
  }
  if (isSequence(token)) return items(token).map(t => evaluateToken(t, scope))
  const literal = literalOf(token)
  if (literal === undefined) {
    throw new HarnessUnsupported('${{ insert }} and other template directives', {
      file: scope.file,
      line: token.line
    })
  }
  return literal
}

/** Evaluate a token that a string field receives. */
export function evaluateString(token: TemplateToken | undefined, scope: Scope): string {
  return asString(evaluateToken(token, scope))
}

/** Evaluate a mapping of strings (env:, with:), in order. */
export function evaluateStringMap(
  token: TemplateToken | undefined,
  scope: Scope
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [key, value] of entries(token)) out[key] = evaluateString(value, scope)
  return out
}

interface AstLike {
  functionName?: { lexeme: string }
  args?: AstLike[]
  left?: AstLike
  right?: AstLike
  expr?: AstLike
  group?: AstLike
  index?: AstLike
}

function callsStatusFunction(node: AstLike | undefined): boolean {
  if (!node || typeof node !== 'object') return false
  if (node.functionName && STATUS_FUNCTIONS.includes(node.functionName.lexeme.toLowerCase()))
    return true
  return [node.left, node.right, node.expr, node.group, node.index, ...(node.args ?? [])].some(
    callsStatusFunction
  )
}

/**
 * The condition an `if:` runs, as the runner builds it: the text (with or without `${{ }}`),
 * wrapped in `success() && (...)` unless it calls a status function; empty means success().
 */
export function conditionOf(token: TemplateToken | undefined, file: string): string {
  if (!token) return 'success()'
  let text: string
  if (isBasicExpression(token)) text = token.expression
  else {
    const literal = literalOf(token)
    if (literal === undefined || literal === null) return 'success()'
    text = String(literal).trim()
  }
  if (text === '') return 'success()'
  const tree = parse(text, file, token.line) as unknown as AstLike
  return callsStatusFunction(tree) ? text : `success() && (${text})`
}

/** Evaluate an `if:` (as conditionOf builds it) to true or false. */
export function evaluateCondition(
  token: TemplateToken | undefined,
  scope: Scope
): { condition: string; result: boolean } {
  const condition = conditionOf(token, scope.file)
  return { condition, result: truthy(evaluateExpression(condition, scope, token?.line)) }
}
