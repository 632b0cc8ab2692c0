/**
 * Checking HTTP requests and responses against GitHub's published OpenAPI description of
 * api.github.com (the npm package @octokit/openapi): find the operation by method, server and
 * path template; check path, query and header parameters and the body against the operation's
 * parameters and requestBody schema; check a response against the operation's responses.
 *
 * The schema validator covers the subset of OpenAPI 3.0 schemas the description uses ($ref,
 * type, nullable, enum, required, properties, additionalProperties, items, oneOf, anyOf,
 * allOf, string/number/array bounds, pattern, and the date-time and uri formats). A keyword it
 * does not know is an error, never silently passed.
 */
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

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function matchesType(type: string, value: unknown): boolean {
  const actual = typeOf(value)
  if (type === 'number') return actual === 'number' || actual === 'integer'
  return actual === type
}

/**
 * Validate a value against a schema of the description; returns the problems, each naming
 * where (`$.tag_name`) and what. Throws on a schema keyword it does not understand.
 */
export function validateSchema(
  doc: OpenApiDocument,
  schemaOrRef: unknown,
  value: unknown,
  at = '$',
  options: ValidateOptions = {}
): string[] {
  const schema = deref(doc, schemaOrRef)
  if (schema === undefined || schema === null) return []
  if (typeof schema !== 'object') throw new Error(`schema at ${at} is not an object`)
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key) && !key.startsWith('x-')) {
      throw new Error(`the schema at ${at} uses '${key}', which this validator does not check`)
    }
  }
  if (value === null) {
    if (schema.nullable === true) return []
    // A schema without a type and without other constraints (e.g. {}) accepts null.
    if (
      schema.type === undefined &&
      !schema.oneOf &&
      !schema.anyOf &&
      !schema.allOf &&
      !schema.enum
    )
      return []
    if (schema.type !== undefined) return [`${at}: is null, expected ${String(schema.type)}`]
  }
  const problems: string[] = []
  if (typeof schema.type === 'string' && !matchesType(schema.type, value)) {
    return [`${at}: is ${typeOf(value)}, expected ${schema.type}`]
  }
  if (Array.isArray(schema.enum) && !schema.enum.some(e => e === value)) {
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      problems.push(`${at}: shorter than ${schema.minLength}`)
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength)
      problems.push(`${at}: longer than ${schema.maxLength}`)
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${at}: does not match ${schema.pattern}`)
    if (schema.format === 'date-time' && !DATE_TIME.test(value))
      problems.push(`${at}: ${JSON.stringify(value)} is not an RFC 3339 date-time`)
    if (schema.format === 'uri' && !URL.canParse(value))
      problems.push(`${at}: ${JSON.stringify(value)} is not a URI`)
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum)
      problems.push(`${at}: less than ${schema.minimum}`)
    if (typeof schema.maximum === 'number' && value > schema.maximum)
      problems.push(`${at}: more than ${schema.maximum}`)
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems)
      problems.push(`${at}: fewer than ${schema.minItems} items`)
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems)
      problems.push(`${at}: more than ${schema.maxItems} items`)
    if (
      schema.uniqueItems === true &&
      new Set(value.map(v => JSON.stringify(v))).size !== value.length
    )
      problems.push(`${at}: items are not unique`)
    if (schema.items)
      value.forEach((item, i) =>
        problems.push(...validateSchema(doc, schema.items, item, `${at}[${i}]`, options))
      )
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>
    const properties = (schema.properties ?? {}) as Record<string, unknown>
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in object)) problems.push(`${at}: required property '${name}' is missing`)
    }
    const count = Object.keys(object).length
    if (typeof schema.maxProperties === 'number' && count > schema.maxProperties)
      problems.push(`${at}: more than ${schema.maxProperties} properties`)
    if (typeof schema.minProperties === 'number' && count < schema.minProperties)
      problems.push(`${at}: fewer than ${schema.minProperties} properties`)
    for (const [name, v] of Object.entries(object)) {
      if (name in properties) {
        problems.push(...validateSchema(doc, properties[name], v, `${at}.${name}`, options))
      } else if (schema.additionalProperties === false) {
        problems.push(`${at}: property '${name}' is not allowed`)
      } else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        problems.push(
          ...validateSchema(doc, schema.additionalProperties, v, `${at}.${name}`, options)
        )
      } else if (
        options.rejectUnknownProperties &&
        schema.properties &&
        schema.additionalProperties === undefined
      ) {
        problems.push(
          `${at}: property '${name}' is not in the description (known: ${Object.keys(properties).join(', ')})`
        )
      }
    }
  }
  if (Array.isArray(schema.allOf)) {
    for (const sub of schema.allOf) problems.push(...validateSchema(doc, sub, value, at, options))
  }
  if (Array.isArray(schema.anyOf)) {
    const results = schema.anyOf.map(sub => validateSchema(doc, sub, value, at, options))
    if (!results.some(r => r.length === 0))
      problems.push(`${at}: matches none of anyOf (${results.map(r => r.join('; ')).join(' | ')})`)
  }
  if (Array.isArray(schema.oneOf)) {
    const results = schema.oneOf.map(sub => validateSchema(doc, sub, value, at, options))
    const passing = results.filter(r => r.length === 0).length
    if (passing === 0)
      problems.push(`${at}: matches none of oneOf (${results.map(r => r.join('; ')).join(' | ')})`)
    else if (passing > 1)
      problems.push(`${at}: matches ${passing} alternatives of oneOf, expected exactly one`)
  }
  return problems
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
