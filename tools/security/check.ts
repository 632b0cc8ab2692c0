import * as path from 'node:path'
import { pathToFileURL } from 'node:url'
import { checkRepository, RULES } from './check-repository.js'
import { formatFinding, type RuleName } from './finding.js'

const USAGE = 'usage: check [--root DIR] [--rule NAME]...'

/**
 * The security checks from a terminal: `check [--root DIR] [--rule NAME]...` (root: the
 * current directory). Prints one line
 * per finding (`file:line:column [rule] message`) and returns the exit code: 0 no findings,
 * 1 findings, 2 bad arguments.
 */
export async function main(
  argv: readonly string[],
  write: (line: string) => void = line => process.stderr.write(line + '\n')
): Promise<number> {
  let root = process.cwd()
  const rules: RuleName[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = argv[i + 1]
    if (arg === '--root' && value) {
      root = path.resolve(value)
      i++
    } else if (arg === '--rule' && value) {
      rules.push(value as RuleName)
      i++
    } else {
      write(`check: unexpected argument ${JSON.stringify(arg)}; ${USAGE}`)
      return 2
    }
  }
  const unknown = rules.filter(rule => !(rule in RULES))
  if (unknown.length) {
    write(`check: unknown rule ${unknown.join(', ')}; known: ${Object.keys(RULES).join(', ')}`)
    return 2
  }
  const { files, findings } = await checkRepository(root, rules.length ? { rules } : {})
  for (const finding of findings) write(formatFinding(finding))
  write(
    `check: ${files.length} files, ${findings.length} finding${findings.length === 1 ? '' : 's'}`
  )
  return findings.length ? 1 : 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`check: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(2)
    }
  )
}
