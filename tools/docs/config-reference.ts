/**
 * The README's config reference, generated from the config schema (src/config/schema.ts): every
 * key path with its type, default and description (src/config/key-docs.ts), so the README cannot
 * drift from what sitecycle.yml accepts.
 */
import { z } from 'zod'
import { configSchema } from '../../src/config/schema.js'
import { CONFIG_KEY_DOCS } from '../../src/config/key-docs.js'
import { tableCell as cell, type GeneratedSection } from './generated-section.js'

export const CONFIG_START_MARKER = '<!-- sitecycle:config-reference:start -->'
export const CONFIG_END_MARKER = '<!-- sitecycle:config-reference:end -->'

/** One key of sitecycle.yml. */
export interface ConfigKey {
  /** `sites.<name>.apache.ctl`; list items as `[]`. */
  path: string
  type: string
  required: boolean
  /** The default as YAML would write it; absent: none. */
  default?: string
}

type Def = { type: string } & Record<string, unknown>
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def

interface Unwrapped {
  schema: z.ZodType
  required: boolean
  default?: string
}

function yamlValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(yamlValue).join(', ')}]`
  if (typeof v === 'string') return v === '' ? "''" : v
  return JSON.stringify(v)
}

function unwrap(schema: z.ZodType): Unwrapped {
  let s = schema
  let required = true
  let dflt: string | undefined
  for (;;) {
    const def = defOf(s)
    if (def.type === 'optional') required = false
    else if (def.type === 'default') {
      required = false
      const v = def.defaultValue
      dflt ??= yamlValue(typeof v === 'function' ? (v as () => unknown)() : v)
    } else if (def.type === 'prefault') required = false
    else if (def.type !== 'pipe') return { schema: s, required, default: dflt }
    s = (def.type === 'pipe' ? def.in : def.innerType) as z.ZodType
  }
}

function typeOf(schema: z.ZodType): string {
  const def = defOf(schema)
  switch (def.type) {
    case 'string':
      return 'string'
    case 'number':
    case 'int':
      return (def as { format?: string }).format?.includes('int') || def.type === 'int'
        ? 'integer'
        : 'number'
    case 'boolean':
      return 'boolean'
    case 'enum':
      return Object.values(def.entries as Record<string, string>).join(' | ')
    case 'literal':
      return (def.values as unknown[]).map(yamlValue).join(' | ')
    case 'array':
      return `list of ${typeOf(unwrap(def.element as z.ZodType).schema)}`
    case 'object':
      return 'mapping'
    case 'record':
      return 'mapping'
    case 'union':
      return [...new Set((def.options as z.ZodType[]).map(o => typeOf(unwrap(o).schema)))].join(
        ' or '
      )
    case 'nullable':
      return `${typeOf(unwrap(def.innerType as z.ZodType).schema)} or null`
    case 'unknown':
      return 'string or list of strings'
    default:
      return def.type
  }
}

function walk(schema: z.ZodType, path: string, out: ConfigKey[]): void {
  const def = defOf(schema)
  if (def.type === 'object') {
    const shape = (schema as z.ZodObject).shape as Record<string, z.ZodType>
    for (const [key, child] of Object.entries(shape)) {
      const p = path ? `${path}.${key}` : key
      const u = unwrap(child)
      out.push({
        path: p,
        type: typeOf(u.schema),
        required: u.required,
        ...(u.default !== undefined && { default: u.default })
      })
      walk(u.schema, p, out)
    }
  } else if (def.type === 'record') {
    walk(unwrap(def.valueType as z.ZodType).schema, `${path}.<name>`, out)
  } else if (def.type === 'array') {
    walk(unwrap(def.element as z.ZodType).schema, `${path}[]`, out)
  } else if (def.type === 'union') {
    for (const o of def.options as z.ZodType[]) walk(unwrap(o).schema, path, out)
  }
}

/** Every key of sitecycle.yml, in the schema's order. */
export function configKeys(schema: z.ZodType = configSchema): ConfigKey[] {
  const out: ConfigKey[] = []
  walk(schema, '', out)
  return out
}

/** The keys of the schema with no description, and descriptions of keys the schema lacks. */
export function undocumentedKeys(): { missing: string[]; stale: string[] } {
  const paths = configKeys().map(k => k.path)
  return {
    missing: paths.filter(p => !Object.hasOwn(CONFIG_KEY_DOCS, p)),
    stale: Object.keys(CONFIG_KEY_DOCS).filter(p => !paths.includes(p))
  }
}

/** The reference as Markdown: one table per top-level key. */
export function renderConfigReference(): string {
  const { missing, stale } = undocumentedKeys()
  if (missing.length || stale.length)
    throw new Error(
      `src/config/key-docs.ts does not match the schema: ${missing.length ? `no description of ${missing.join(', ')}` : ''}${missing.length && stale.length ? '; ' : ''}${stale.length ? `descriptions of unknown keys ${stale.join(', ')}` : ''}`
    )
  const keys = configKeys()
  const parts = [
    '<!-- Generated from src/config/schema.ts and src/config/key-docs.ts by `npm run docs`; edit those, not this. -->',
    ''
  ]
  const tops = [...new Set(keys.map(k => k.path.split('.')[0].replace(/\[\]$/, '')))]
  for (const top of tops) {
    parts.push(
      `#### \`${top}\``,
      '',
      '| key | type | default | description |',
      '| --- | --- | --- | --- |'
    )
    for (const k of keys.filter(x => x.path === top || x.path.startsWith(`${top}.`)))
      parts.push(
        `| \`${k.path}\` | ${cell(k.type)} | ${k.default !== undefined ? `\`${cell(k.default)}\`` : k.required ? '(required)' : ''} | ${cell(CONFIG_KEY_DOCS[k.path])} |`
      )
    parts.push('')
  }
  return parts.join('\n').trimEnd() + '\n'
}

/** The config reference of README.md, from the schema and the key descriptions. */
export const CONFIG_REFERENCE: GeneratedSection = {
  name: 'config reference',
  file: 'README.md',
  start: CONFIG_START_MARKER,
  end: CONFIG_END_MARKER,
  render: async () => renderConfigReference()
}
