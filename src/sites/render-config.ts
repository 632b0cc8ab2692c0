import { readFile } from 'node:fs/promises'
import { SitecycleError } from '../util/errors.js'

/** A config file rendered in memory, with the secret values it holds (to mask them). */
export interface RenderedConfig {
  text: string
  /** Values of the {{ secret.* }} placeholders: never logged, never journaled. */
  secrets: string[]
  /** Names of the secrets it used. */
  secretNames: string[]
}

export interface RenderValues {
  site: { name: string; root: string; url: string }
  release: { version: string; dir: string }
}

const PLACEHOLDER = /\{\{\s*([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g

/**
 * Render a template: `{{ secret.NAME }}` and `{{ env.NAME }}` from the environment (a missing
 * one is an error naming it and the template line), `{{ site.name|root|url }}` and
 * `{{ release.version|dir }}` from the deploy. Anything else in braces is an error too.
 */
export function renderConfigText(
  template: string,
  file: string,
  values: RenderValues,
  env: NodeJS.ProcessEnv = process.env
): RenderedConfig {
  const secrets: string[] = []
  const secretNames: string[] = []
  const problems: string[] = []
  const lines = template.split('\n')
  const out = lines.map((line, i) => {
    const where = `${file}:${i + 1}`
    const stray = line.replace(PLACEHOLDER, '')
    if (/\{\{.*\}\}/.test(stray))
      problems.push(
        `${where}: placeholder ${/\{\{.*?\}\}/.exec(stray)?.[0]} is not understood; expected {{ secret.NAME }}, {{ env.NAME }}, {{ site.name|root|url }} or {{ release.version|dir }}`
      )
    return line.replace(PLACEHOLDER, (whole, scope: string, key: string) => {
      if (scope === 'secret' || scope === 'env') {
        const v = env[key]
        if (v === undefined || v === '') {
          problems.push(
            `${where}: ${scope === 'secret' ? 'secret' : 'environment variable'} ${key} is not set; ` +
              `set it in the environment of the deploy (in a workflow: env: ${key}: \${{ secrets.${key} }})`
          )
          return whole
        }
        if (scope === 'secret') {
          secrets.push(v)
          if (!secretNames.includes(key)) secretNames.push(key)
        }
        return v
      }
      const table: Record<string, Record<string, string>> = {
        site: values.site,
        release: values.release
      }
      const v = table[scope]?.[key]
      if (v === undefined) {
        problems.push(`${where}: unknown placeholder {{ ${scope}.${key} }}`)
        return whole
      }
      return v
    })
  })
  if (problems.length) throw new SitecycleError(problems.join('\n'), 'config')
  return { text: out.join('\n'), secrets, secretNames }
}

/** Read the template file and render it. */
export async function renderConfigFile(
  file: string,
  values: RenderValues,
  env: NodeJS.ProcessEnv = process.env
): Promise<RenderedConfig> {
  let template: string
  try {
    template = await readFile(file, 'utf8')
  } catch (e) {
    throw new SitecycleError(
      `cannot read the config template ${file}: ${(e as Error).message}`,
      'config'
    )
  }
  return renderConfigText(template, file, values, env)
}

/** Split a hook command line into argv: whitespace separates, single and double quotes group,
 * backslash escapes. No shell: no variables, globs, pipes or redirections. */
export function splitCommandLine(line: string, where: string): string[] {
  const out: string[] = []
  let cur = ''
  let has = false
  let quote: '"' | "'" | null = null
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (c === quote) quote = null
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i]
      else cur += c
      continue
    }
    if (c === "'" || c === '"') {
      quote = c
      has = true
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      has = true
    } else if (/\s/.test(c)) {
      if (has) out.push(cur)
      cur = ''
      has = false
    } else if ('|&;<>$`'.includes(c)) {
      throw new SitecycleError(
        `${where}: hook "${line}" uses the shell character ${c}; hooks run without a shell: put shell logic in a script of your package`,
        'config'
      )
    } else {
      cur += c
      has = true
    }
  }
  if (quote) throw new SitecycleError(`${where}: hook "${line}" has an unclosed ${quote}`, 'config')
  if (has) out.push(cur)
  if (!out.length) throw new SitecycleError(`${where}: empty hook command`, 'config')
  return out
}
