import { readFile, realpath } from 'node:fs/promises'
import { relative, isAbsolute, sep } from 'node:path'
import { SitecycleError } from '../util/errors.js'
import { lineBreaking } from '../config/line-breaking.js'

export { splitCommandLine } from '../config/command-line.js'
export { lineBreaking }

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
        const bad = lineBreaking(v)
        if (bad) {
          // Named, never shown: the value is a secret, and written raw it would add lines to the file.
          problems.push(
            `${where}: ${scope === 'secret' ? 'secret' : 'environment variable'} ${key} holds ${bad}; ` +
              'a value must fit on one line of the config file: set it without line breaks or control characters'
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

/**
 * Read a config template that must lie inside `repository` (the config file's folder): its real
 * path (symlinks followed) is checked to be there before a byte is read, so a link to
 * /etc/shadow or a private key is refused, naming the template and where it points.
 */
export async function readTemplate(file: string, repository: string): Promise<string> {
  let real: string
  let root: string
  try {
    ;[real, root] = await Promise.all([realpath(file), realpath(repository)])
  } catch (e) {
    throw new SitecycleError(
      `cannot read the config template ${file}: ${(e as Error).message}`,
      'config'
    )
  }
  const rel = relative(root, real)
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw new SitecycleError(
      `the config template ${file} resolves to ${real}, outside the repository ${root}; ` +
        "expected a file of the repository (the config file's folder), not a link out of it",
      'config'
    )
  try {
    return await readFile(real, 'utf8')
  } catch (e) {
    throw new SitecycleError(
      `cannot read the config template ${file}: ${(e as Error).message}`,
      'config'
    )
  }
}

/** Read the template file (inside `repository`, see readTemplate) and render it. */
export async function renderConfigFile(
  file: string,
  repository: string,
  values: RenderValues,
  env: NodeJS.ProcessEnv = process.env
): Promise<RenderedConfig> {
  return renderConfigText(await readTemplate(file, repository), file, values, env)
}
