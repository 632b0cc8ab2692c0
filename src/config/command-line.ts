/**
 * A command line of the config file (a hook, app.tests) split into argv, without a shell. Checked
 * when the config is loaded (load-config.ts), so a hook a deploy cannot run is refused before any
 * host is touched, and split again where it runs.
 */
import { SitecycleError } from '../util/errors.js'

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
