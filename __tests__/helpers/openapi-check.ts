/**
 * Checking HTTP requests and responses against GitHub's published OpenAPI description of
 * api.github.com (the npm package @octokit/openapi): find the operation by method, server and
 * path template; check path, query and header parameters and the body against the operation's
 * parameters and requestBody schema; check a response against the operation's responses.
 *
 * Schemas are checked by ajv (JSON Schema draft-07), each OpenAPI 3.0 schema turned into one
 * first (toDraft7): the subset the description uses ($ref, type, nullable, enum, required,
 * properties, additionalProperties, items, oneOf, anyOf, allOf, string/number/array bounds,
 * pattern, and the date-time and uri formats). A keyword outside it is an error, never
 * silently passed.
 */
import {
  Ajv,
  type ErrorObject,
  type SchemaCxt,
  type SchemaValidateFunction,
  type ValidateFunction
} from 'ajv'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

/** A JSON schema object of the description (after $ref resolution where noted). */
export type Schema = { [key: string]: unknown }

/** The parts of an OpenAPI 3.0 document this module reads. */
export interface OpenApiDocument {
  openapi: string
  servers?: { url: string }[]
  paths: Record<string, Record<string, unknown>>
  components: Record<string, Record<string, unknown>>
}

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header' | 'cookie'
  required?: boolean
  schema?: Schema
  'x-multi-segment'?: boolean
}

export interface Operation {
  operationId: string
  method: string
  /** The path template, e.g. `/repos/{owner}/{repo}/releases`. */
  template: string
  /** Origins the operation is served from (`https://api.github.com`, `https://uploads.github.com`). */
  origins: string[]
  parameters: Parameter[]
  requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> }
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>
  /** The path template as a regular expression, one group per parameter in `paramNames` order. */
  pattern: RegExp
  paramNames: string[]
  /** Characters of the template outside parameters: more literal wins over fewer. */
  literalLength: number
}

let cachedDocument: OpenApiDocument | undefined

/** GitHub's description of api.github.com, read once per test file (13 MB of JSON). */
export function loadGithubDescription(): OpenApiDocument {
  if (!cachedDocument) {
    const file = createRequire(import.meta.url).resolve(
      '@octokit/openapi/generated/api.github.com.json'
    )
    cachedDocument = JSON.parse(readFileSync(file, 'utf8')) as OpenApiDocument
  }
  return cachedDocument
}

/** Resolve a local `$ref` (`#/components/...`) until a non-reference object. */
export function deref<T = Schema>(doc: OpenApiDocument, value: unknown): T {
  let current = value as Schema
  for (let i = 0; current && typeof current.$ref === 'string'; i++) {
    if (i > 20) throw new Error(`$ref chain too long at ${String(current.$ref)}`)
    const ref = current.$ref as string
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`)
    let target: unknown = doc
    for (const part of ref.slice(2).split('/')) {
      target = (target as Record<string, unknown>)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')]
    }
    if (target === undefined) throw new Error(`unresolved $ref ${ref}`)
    current = target as Schema
  }
  return current as T
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

const operationIndexes = new WeakMap<OpenApiDocument, Operation[]>()

/** Every operation of the description, with its matcher (built once per document). */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const known = operationIndexes.get(doc)
  if (known) return known
  const all: Operation[] = []
  for (const [template, item] of Object.entries(doc.paths)) {
    const pathParams = ((item.parameters as unknown[]) ?? []).map(p => deref<Parameter>(doc, p))
    for (const method of METHODS) {
      const raw = item[method] as Schema | undefined
      if (!raw) continue
      const own = ((raw.parameters as unknown[]) ?? []).map(p => deref<Parameter>(doc, p))
      const parameters = [
        ...pathParams.filter(p => !own.some(o => o.name === p.name && o.in === p.in)),
        ...own
      ]
      const servers = (raw.servers ?? item.servers ?? doc.servers ?? []) as { url: string }[]
      const paramNames: string[] = []
      let literalLength = 0
      const source = template
        .split(/(\{[^}]+\})/)
        .map(part => {
          const m = /^\{([^}]+)\}$/.exec(part)
          if (!m) {
            literalLength += part.length
            return escapeRegex(part)
          }
          paramNames.push(m[1])
          const multi = parameters.find(p => p.in === 'path' && p.name === m[1])?.[
            'x-multi-segment'
          ]
          return multi ? '(.+)' : '([^/]+)'
        })
        .join('')
      const responses: Operation['responses'] = {}
      for (const [status, response] of Object.entries(
        (raw.responses as Record<string, unknown>) ?? {}
      )) {
        responses[status] = deref(doc, response) as Operation['responses'][string]
      }
      all.push({
        operationId: raw.operationId as string,
        method: method.toUpperCase(),
        template,
        origins: servers.map(s => new URL(s.url).origin),
        parameters,
        requestBody: raw.requestBody ? deref(doc, raw.requestBody) : undefined,
        responses,
        pattern: new RegExp(`^${source}$`),
        paramNames,
        literalLength
      })
    }
  }
  operationIndexes.set(doc, all)
  return all
}

/** The result of looking a request up in the description. */
export type OperationMatch =
  | { ok: true; operation: Operation; pathParams: Record<string, string> }
  | { ok: false; problem: string }

/**
 * Find the operation for a method and URL: same origin as one of the operation's servers, path
 * matching its template (literal segments win over parameters). Path parameters come back
 * percent-decoded.
 */
export function findOperation(doc: OpenApiDocument, method: string, url: URL): OperationMatch {
  const candidates = operationsOf(doc).filter(
    op => op.origins.includes(url.origin) && op.pattern.test(url.pathname)
  )
  if (candidates.length === 0) {
    return {
      ok: false,
      problem: `no path of GitHub's OpenAPI description matches ${url.origin}${url.pathname}`
    }
  }
  const forMethod = candidates
    .filter(op => op.method === method.toUpperCase())
    .sort((a, b) => b.literalLength - a.literalLength)
  if (forMethod.length === 0) {
    const offered = [...new Set(candidates.map(op => `${op.method} ${op.template}`))].join(', ')
    return {
      ok: false,
      problem: `${method} ${url.pathname} matches no operation: the description offers ${offered}`
    }
  }
  const operation = forMethod[0]
  const m = operation.pattern.exec(url.pathname) as RegExpExecArray
  const pathParams: Record<string, string> = {}
  try {
    operation.paramNames.forEach((name, i) => {
      pathParams[name] = decodeURIComponent(m[i + 1])
    })
  } catch {
    return { ok: false, problem: `${url.pathname}: a path parameter is not valid percent-encoding` }
  }
  return { ok: true, operation, pathParams }
}

/** Options of validateSchema. */
export interface ValidateOptions {
  /**
   * Report object properties the schema does not list (when it does not say
   * additionalProperties). Off for responses (GitHub adds fields); on for request bodies, where
   * an unlisted property is a misspelt one that GitHub would silently ignore.
   */
  rejectUnknownProperties?: boolean
}

const ANNOTATIONS = new Set([
  'description',
  'title',
  'example',
  'examples',
  'default',
  'readOnly',
  'writeOnly',
  'deprecated',
  'discriminator',
  'externalDocs',
  'xml'
])
/** The OpenAPI 3.0 schema keywords the description uses; any other is refused, never passed. */
const KEYWORDS = new Set([
  '$ref',
  'type',
  'nullable',
  'enum',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'oneOf',
  'anyOf',
  'allOf',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'maxProperties',
  'minProperties',
  'format'
])

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Formats checked; the description's other formats (int64, date, email, uri-template) pass. */
const FORMATS: Record<string, (text: string) => boolean> = {
  'date-time': text => DATE_TIME.test(text),
  uri: text => URL.canParse(text)
}
const UNCHECKED_FORMATS = ['int64', 'int32', 'date', 'email', 'uri-template', 'binary']

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/**
 * The schemas of the description as ajv (JSON Schema draft-07) reads them, under two roots:
 * `#/components/schemas/X` is `<root>#/$defs/X`. The strict root, for request bodies, also
 * refuses properties a schema does not list.
 */
const ROOT = 'https://sitecycle.invalid/github-openapi'
const STRICT_ROOT = 'https://sitecycle.invalid/github-openapi-strict'
const SCHEMA_REF = '#/components/schemas/'
/** Stands for where the value is (`body`, `response`, `$`) in a problem made inside ajv. */
const HERE = '\u0001'

/** Where ajv is in the data when it calls a keyword of this module. */
type DataValidationCxt = NonNullable<Parameters<SchemaValidateFunction>[3]>

interface Checker {
  ajv: Ajv
  compiled: Map<string, WeakMap<object, ValidateFunction>>
}

const checkers = new WeakMap<OpenApiDocument, Checker>()

/**
 * One OpenAPI 3.0 schema as a draft-07 one: `$ref` siblings dropped (OpenAPI ignores them),
 * `nullable` as "null, or else the schema", oneOf/anyOf and the unknown-property check as
 * keywords of this module (so their problems read as before), annotations and `x-` extensions
 * left out, and a keyword outside KEYWORDS kept as `sitecycleUnchecked`, which refuses to compile.
 */
function toDraft7(doc: OpenApiDocument, schema: unknown, root: string, strict: boolean): unknown {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return schema
  const s = schema as Schema
  if (typeof s.$ref === 'string') {
    if (s.$ref.startsWith(SCHEMA_REF))
      return { $ref: `${root}#/$defs/${s.$ref.slice(SCHEMA_REF.length)}` }
    return toDraft7(doc, deref(doc, s), root, strict)
  }
  const sub = (v: unknown): unknown => toDraft7(doc, v, root, strict)
  const out: Schema = {}
  for (const [key, value] of Object.entries(s)) {
    if (ANNOTATIONS.has(key) || key.startsWith('x-') || key === 'nullable') continue
    if (!KEYWORDS.has(key)) out.sitecycleUnchecked = key
    else if (key === 'properties')
      out.properties = Object.fromEntries(
        Object.entries(value as Schema).map(([name, p]) => [name, sub(p)])
      )
    else if (key === 'items' || key === 'additionalProperties') out[key] = sub(value)
    else if (key === 'allOf') out.allOf = (value as unknown[]).map(sub)
    else if (key === 'oneOf' || key === 'anyOf')
      out[key === 'oneOf' ? 'sitecycleOneOf' : 'sitecycleAnyOf'] = (value as unknown[]).map(sub)
    else out[key] = value
  }
  if (strict && s.properties && s.additionalProperties === undefined)
    out.sitecycleKnownProperties = Object.keys(s.properties as Schema)
  return s.nullable === true ? { if: { type: 'null' }, then: true, else: out } : out
}

/** Where in `root` an ajv instancePath is, as `.name` and `[i]` after HERE. */
function placeOf(instancePath: string, root: unknown): string {
  let at = HERE
  let value = root
  for (const raw of instancePath.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    at += Array.isArray(value) ? `[${part}]` : `.${part}`
    value = (value as Record<string, unknown> | undefined)?.[part]
  }
  return at
}

/** One ajv error as this module's sentence (`<where>: <what>`). */
function sentence(e: ErrorObject, root: unknown): string {
  if (e.keyword.startsWith('sitecycle')) return (e.params as { problem: string }).problem
  const at = placeOf(e.instancePath, root)
  const p = e.params as Record<string, unknown>
  const what: Record<string, () => string> = {
    type: () => `is ${typeOf(e.data)}, expected ${String(p.type)}`,
    enum: () => `${JSON.stringify(e.data)} is not one of ${JSON.stringify(p.allowedValues)}`,
    required: () => `required property '${String(p.missingProperty)}' is missing`,
    minLength: () => `shorter than ${String(p.limit)}`,
    maxLength: () => `longer than ${String(p.limit)}`,
    pattern: () => `does not match ${String(p.pattern)}`,
    format: () =>
      p.format === 'date-time'
        ? `${JSON.stringify(e.data)} is not an RFC 3339 date-time`
        : p.format === 'uri'
          ? `${JSON.stringify(e.data)} is not a URI`
          : `${JSON.stringify(e.data)} is not a ${String(p.format)}`,
    minimum: () => `less than ${String(p.limit)}`,
    maximum: () => `more than ${String(p.limit)}`,
    minItems: () => `fewer than ${String(p.limit)} items`,
    maxItems: () => `more than ${String(p.limit)} items`,
    uniqueItems: () => 'items are not unique',
    minProperties: () => `fewer than ${String(p.limit)} properties`,
    maxProperties: () => `more than ${String(p.limit)} properties`,
    additionalProperties: () => `property '${String(p.additionalProperty)}' is not allowed`
  }
  return `${at}: ${what[e.keyword]?.() ?? `${e.keyword} ${e.message ?? ''}`}`
}

/**
 * The problems of ajv's errors: `if` (of nullable) left out, and a value of the wrong type
 * reported for its type alone, as nothing else about it says more.
 */
function problemsOf(errors: ErrorObject[] | null | undefined, root: unknown): string[] {
  const all = (errors ?? []).filter(e => e.keyword !== 'if')
  const wrongType = all.filter(e => e.keyword === 'type').map(e => e.instancePath)
  return all
    .filter(
      e =>
        e.keyword === 'type' ||
        !wrongType.some(p => e.instancePath === p || e.instancePath.startsWith(`${p}/`))
    )
    .map(e => sentence(e, root))
}

function checkerOf(doc: OpenApiDocument): Checker {
  let checker = checkers.get(doc)
  if (checker) return checker
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    // The description is OpenAPI 3.0, not draft-07: its schemas are not checked against the
    // draft-07 meta-schema; keywords are, by toDraft7 and strict mode.
    validateSchema: false,
    formats: {
      ...FORMATS,
      ...Object.fromEntries(UNCHECKED_FORMATS.map(f => [f, true]))
    }
  })
  const c: Checker = { ajv, compiled: new Map() }
  /** oneOf or anyOf: each alternative checked on its own, problems kept to name them. */
  const alternatives =
    (one: boolean) =>
    (branches: object[], data: unknown, _parent?: unknown, cx?: DataValidationCxt): boolean => {
      const at = placeOf(cx?.instancePath ?? '', cx?.rootData)
      const results = branches.map(b => {
        const validate = compiled(c, b)
        return validate(data)
          ? []
          : problemsOf(validate.errors, data).map(p => p.replaceAll(HERE, at))
      })
      const passing = results.filter(r => r.length === 0).length
      const name = one ? 'oneOf' : 'anyOf'
      let problem: string | undefined
      if (passing === 0)
        problem = `${at}: matches none of ${name} (${results.map(r => r.join('; ')).join(' | ')})`
      else if (one && passing > 1)
        problem = `${at}: matches ${passing} alternatives of oneOf, expected exactly one`
      if (problem === undefined) return true
      setErrors(one ? oneOf : anyOf, [problem], cx)
      return false
    }
  const oneOf: SchemaValidateFunction = alternatives(true)
  const anyOf: SchemaValidateFunction = alternatives(false)
  const knownProperties: SchemaValidateFunction = (
    known: string[],
    data: unknown,
    _parent?: unknown,
    cx?: DataValidationCxt
  ): boolean => {
    const at = placeOf(cx?.instancePath ?? '', cx?.rootData)
    const unknown = Object.keys(data as object).filter(name => !known.includes(name))
    setErrors(
      knownProperties,
      unknown.map(
        name => `${at}: property '${name}' is not in the description (known: ${known.join(', ')})`
      ),
      cx
    )
    return unknown.length === 0
  }
  ajv.addKeyword({ keyword: 'sitecycleOneOf', validate: oneOf, errors: true })
  ajv.addKeyword({ keyword: 'sitecycleAnyOf', validate: anyOf, errors: true })
  ajv.addKeyword({
    keyword: 'sitecycleKnownProperties',
    type: 'object',
    validate: knownProperties,
    errors: true
  })
  ajv.addKeyword({
    keyword: 'sitecycleUnchecked',
    compile: (key: string, _parent: unknown, it: SchemaCxt) => {
      throw new Error(
        `the schema at ${it.errSchemaPath} uses '${key}', which this validator does not check`
      )
    }
  })
  for (const [root, strict] of [
    [ROOT, false],
    [STRICT_ROOT, true]
  ] as const) {
    const defs = Object.fromEntries(
      Object.entries(doc.components.schemas ?? {}).map(([name, s]) => [
        name,
        toDraft7(doc, s, root, strict)
      ])
    )
    ajv.addSchema({ $id: root, $defs: defs })
  }
  checkers.set(doc, c)
  checker = c
  return checker
}

function setErrors(fn: SchemaValidateFunction, problems: string[], cx?: DataValidationCxt): void {
  fn.errors = problems.map(problem => ({
    keyword: 'sitecycle',
    instancePath: cx?.instancePath ?? '',
    schemaPath: '',
    params: { problem },
    message: problem
  }))
}

/** The compiled validator of a (draft-07) schema of this checker, compiled once. */
function compiled(c: Checker, schema: object, key = 'draft7'): ValidateFunction {
  let cache = c.compiled.get(key)
  if (!cache) c.compiled.set(key, (cache = new WeakMap()))
  let validate = cache.get(schema)
  if (!validate) {
    validate = c.ajv.compile(schema)
    cache.set(schema, validate)
  }
  return validate
}

/**
 * Validate a value against a schema of the description, with ajv; returns the problems, each
 * naming where (`$.tag_name`) and what. Throws on a schema keyword it does not understand.
 */
export function validateSchema(
  doc: OpenApiDocument,
  schemaOrRef: unknown,
  value: unknown,
  at = '$',
  options: ValidateOptions = {}
): string[] {
  if (schemaOrRef === undefined || schemaOrRef === null) return []
  if (typeof schemaOrRef !== 'object') throw new Error(`schema at ${at} is not an object`)
  const c = checkerOf(doc)
  const strict = options.rejectUnknownProperties === true
  const key = strict ? 'openapi-strict' : 'openapi'
  let cache = c.compiled.get(key)
  if (!cache) c.compiled.set(key, (cache = new WeakMap()))
  let validate = cache.get(schemaOrRef)
  if (!validate) {
    const draft7 = toDraft7(doc, schemaOrRef, strict ? STRICT_ROOT : ROOT, strict)
    validate = c.ajv.compile(draft7 as object)
    cache.set(schemaOrRef, validate)
  }
  if (validate(value)) return []
  return problemsOf(validate.errors, value).map(p => p.replaceAll(HERE, at))
}

/** Turn a parameter's text (from a path or query) into the value its schema describes. */
function coerceParameter(text: string, schema: Schema | undefined): unknown {
  switch (schema?.type) {
    case 'integer':
      return /^-?\d+$/.test(text) ? Number(text) : text
    case 'number':
      return text.trim() !== '' && !Number.isNaN(Number(text)) ? Number(text) : text
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text
    case 'array':
      return text.split(',')
    default:
      return text
  }
}

/** A request as the check sees it. */
export interface CheckedRequest {
  method: string
  url: URL
  /** Header names lower-cased. */
  headers: Record<string, string>
  /** The raw body, or undefined when there is none. */
  body?: Buffer
}

/** What checking a request found: the operation, its parsed inputs, and the problems. */
export interface RequestCheck {
  operation?: Operation
  pathParams: Record<string, unknown>
  query: Record<string, unknown>
  /** Parsed JSON body, or the raw bytes for a binary body. */
  body?: unknown
  problems: string[]
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase()
}

/**
 * Check a request against the description: the operation exists for this method, origin and
 * path; every path and query parameter is described and has the described type; required
 * query and header parameters are there; the body has a described media type and, for JSON,
 * matches the requestBody schema (unknown properties included).
 */
export function checkRequest(doc: OpenApiDocument, request: CheckedRequest): RequestCheck {
  const found = findOperation(doc, request.method, request.url)
  if (!found.ok) return { pathParams: {}, query: {}, problems: [found.problem] }
  const { operation } = found
  const problems: string[] = []
  const where = `${operation.operationId} (${operation.method} ${operation.template})`
  const pathParams: Record<string, unknown> = {}
  for (const [name, text] of Object.entries(found.pathParams)) {
    const param = operation.parameters.find(p => p.in === 'path' && p.name === name)
    if (!param) {
      problems.push(`${where}: path parameter {${name}} is not described`)
      continue
    }
    pathParams[name] = coerceParameter(text, param.schema)
    problems.push(...validateSchema(doc, param.schema, pathParams[name], `path parameter ${name}`))
  }

  const query: Record<string, unknown> = {}
  for (const [name, text] of request.url.searchParams) {
    if (name === '') continue
    const param = operation.parameters.find(p => p.in === 'query' && p.name === name)
    if (!param) {
      problems.push(
        `${where}: query parameter '${name}' is not described (known: ${
          operation.parameters
            .filter(p => p.in === 'query')
            .map(p => p.name)
            .join(', ') || 'none'
        })`
      )
      continue
    }
    if (name in query) problems.push(`${where}: query parameter '${name}' is given twice`)
    query[name] = coerceParameter(text, param.schema)
    problems.push(...validateSchema(doc, param.schema, query[name], `query parameter ${name}`))
  }
  for (const param of operation.parameters) {
    if (!param.required) continue
    if (param.in === 'query' && !(param.name in query))
      problems.push(`${where}: required query parameter '${param.name}' is missing`)
    if (param.in === 'header' && !(param.name.toLowerCase() in request.headers))
      problems.push(`${where}: required header '${param.name}' is missing`)
  }

  let body: unknown
  const hasBody = request.body !== undefined && request.body.length > 0
  const described = operation.requestBody
  if (!described) {
    if (hasBody) problems.push(`${where}: sends a body, but the operation takes none`)
  } else if (!hasBody) {
    if (described.required) problems.push(`${where}: the request body is required`)
  } else {
    const type = mediaType(request.headers['content-type'])
    const content = type ? described.content[type] : undefined
    if (!type) {
      problems.push(`${where}: a body without a content-type header`)
    } else if (!content) {
      problems.push(
        `${where}: content-type ${type} is not one of ${Object.keys(described.content).join(', ')}`
      )
    } else if (type === 'application/json') {
      try {
        body = JSON.parse(request.body!.toString('utf8'))
        problems.push(
          ...validateSchema(doc, content.schema, body, 'body', { rejectUnknownProperties: true })
        )
      } catch (err) {
        problems.push(`${where}: the body is not JSON: ${(err as Error).message}`)
      }
    } else {
      body = request.body
      const schema = deref(doc, content.schema)
      if (!(schema?.type === 'string' && schema.format === 'binary')) {
        problems.push(`${where}: cannot check a ${type} body against ${JSON.stringify(schema)}`)
      }
    }
  }
  return {
    operation,
    pathParams,
    query,
    body,
    problems: problems.map(p => (p.startsWith(where) ? p : `${where}: ${p}`))
  }
}

/**
 * Check a response the fake is about to give: its status is one the operation describes, and
 * a JSON body matches that response's schema.
 */
export function checkResponse(
  doc: OpenApiDocument,
  operation: Operation,
  status: number,
  body: unknown
): string[] {
  const where = `${operation.operationId} response ${status}`
  const response = operation.responses[String(status)] ?? operation.responses.default
  if (!response)
    return [
      `${where}: status ${status} is not described (described: ${Object.keys(operation.responses).join(', ')})`
    ]
  const schema = response.content?.['application/json']?.schema
  if (body === undefined)
    return schema && status !== 204
      ? [`${where}: the description gives a JSON body, the fake sent none`]
      : []
  if (!schema) return []
  return validateSchema(doc, schema, body, 'response').map(p => `${where}: ${p}`)
}
