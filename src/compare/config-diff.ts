/**
 * Comparing two sites' rendered config files (INI) without showing a secret. A key is a secret
 * when its template line uses `{{ secret.* }}`: its values are compared but shown as `***`. Any
 * other value is shown with every known secret value (from the environment) replaced by `***`.
 *
 * Each site's values are first put back into their template's terms: a value that is exactly its
 * template line rendered with that site's own name, root, url, version and release folder reads
 * as the template does (`hello from {{ site.name }}`), so two sites rendered from one template
 * differ only where their config really differs, not in their names and paths.
 */

/** One key of an INI file: `[section] key`. */
export interface IniEntry {
  section: string
  key: string
  value: string
}

/** Parse INI text: `[section]`, `key = value` or `key: value`, `#`/`;` comments, indented continuation lines. */
export function parseIni(text: string): IniEntry[] {
  const out: IniEntry[] = []
  let section = ''
  let last: IniEntry | undefined
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '')
    const trimmed = line.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue
    if (/^\s/.test(line) && last) {
      last.value += `\n${trimmed}`
      continue
    }
    const s = /^\[([^\]]*)\]$/.exec(trimmed)
    if (s) {
      section = s[1].trim()
      last = undefined
      continue
    }
    const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed)
    last = m ? { section, key: m[1], value: m[2] } : { section, key: trimmed, value: '' }
    out.push(last)
  }
  return out
}

const PLACEHOLDER = /\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/** The values a site's template placeholders `{{ site.* }}` and `{{ release.* }}` took. */
export interface SiteValues {
  site: { name: string; root: string; url: string }
  release: { version: string; dir: string }
}

/** `[section] key` of an entry, as shown in reports. */
export function entryName(e: Pick<IniEntry, 'section' | 'key'>): string {
  return e.section ? `[${e.section}] ${e.key}` : e.key
}

/** The `[section] key` names whose template line uses a `{{ secret.* }}` placeholder. */
export function secretKeysOfTemplate(template: string): Set<string> {
  const out = new Set<string>()
  for (const e of parseIni(template))
    if (/\{\{\s*secret\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}/.test(e.value)) out.add(entryName(e))
  return out
}

/** The names of the `{{ secret.NAME }}` placeholders of a template (to find their values). */
export function secretNamesOfTemplate(template: string): string[] {
  const names = new Set<string>()
  for (const m of template.matchAll(PLACEHOLDER)) if (m[1] === 'secret') names.add(m[2])
  return [...names]
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * `value` in its template's terms when it is `templateValue` rendered with `values` (environment
 * placeholders match anything and keep what they matched); otherwise `value` itself.
 */
export function normalizeValue(value: string, templateValue: string, values: SiteValues): string {
  const parts: { literal?: string; token?: string; concrete?: string; free?: boolean }[] = []
  let at = 0
  for (const m of templateValue.matchAll(PLACEHOLDER)) {
    parts.push({ literal: templateValue.slice(at, m.index) })
    const scope = m[1]
    const table: Record<string, Record<string, string>> = {
      site: values.site,
      release: values.release
    }
    const concrete = table[scope]?.[m[2]]
    if (concrete !== undefined) parts.push({ token: `{{ ${scope}.${m[2]} }}`, concrete })
    else parts.push({ free: true })
    at = m.index + m[0].length
  }
  parts.push({ literal: templateValue.slice(at) })
  if (!parts.some(p => p.token)) return value
  const pattern = parts
    .map(p =>
      p.literal !== undefined
        ? escapeRegExp(p.literal)
        : p.free
          ? '([\\s\\S]*?)'
          : `(${escapeRegExp(p.concrete!)})`
    )
    .join('')
  const m = new RegExp(`^${pattern}$`).exec(value)
  if (!m) return value
  let group = 1
  return parts
    .map(p => {
      if (p.literal !== undefined) return p.literal
      const captured = m[group++]
      return p.free ? captured : p.token!
    })
    .join('')
}

/** One side of the config comparison. */
export interface ConfigSide {
  /** The rendered app.ini of the live release (null: the site has none). */
  text: string | null
  /** The site's config template text (null: unknown; values are then compared as they are). */
  template: string | null
  values: SiteValues | null
}

/** One key that differs between the two sites. */
export interface ConfigDifference {
  /** `[section] key`. */
  key: string
  /** The value on site A as shown (secrets `***`); null when the key is absent there. */
  a: string | null
  b: string | null
  /** True when the key holds a secret: the values were compared, not shown. */
  secret: boolean
}

/** The config comparison. */
export interface ConfigComparison {
  same: boolean
  /** Whether each site has a rendered config. */
  present: { a: boolean; b: boolean }
  differences: ConfigDifference[]
  /** Keys equal on both sites (after putting site-specific values back into template terms). */
  sameKeys: number
}

/**
 * Compare two rendered configs. `redact` replaces known secret values in anything shown; keys
 * that are secrets in either site's template are never shown at all.
 */
export function compareConfigs(
  a: ConfigSide,
  b: ConfigSide,
  redact: (text: string) => string
): ConfigComparison {
  const secretKeys = new Set([
    ...secretKeysOfTemplate(a.template ?? ''),
    ...secretKeysOfTemplate(b.template ?? '')
  ])
  const view = (side: ConfigSide) => {
    const templateValues = new Map(parseIni(side.template ?? '').map(e => [entryName(e), e.value]))
    const out = new Map<string, { raw: string; normalized: string }>()
    for (const e of parseIni(side.text ?? '')) {
      const name = entryName(e)
      const t = templateValues.get(name)
      const normalized =
        t !== undefined && side.values && !secretKeys.has(name)
          ? normalizeValue(e.value, t, side.values)
          : e.value
      out.set(name, { raw: e.value, normalized })
    }
    return out
  }
  const va = view(a)
  const vb = view(b)
  const differences: ConfigDifference[] = []
  let sameKeys = 0
  for (const key of [...new Set([...va.keys(), ...vb.keys()])].sort()) {
    const x = va.get(key)
    const y = vb.get(key)
    if (x && y && x.normalized === y.normalized) {
      sameKeys++
      continue
    }
    const secret = secretKeys.has(key)
    const show = (v: { raw: string } | undefined) =>
      v === undefined ? null : secret ? '***' : redact(v.raw)
    differences.push({ key, a: show(x), b: show(y), secret })
  }
  const present = { a: a.text !== null, b: b.text !== null }
  return {
    same: differences.length === 0 && present.a === present.b,
    present,
    differences,
    sameKeys
  }
}
