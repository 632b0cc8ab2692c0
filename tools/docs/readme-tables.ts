import { pathToFileURL } from 'node:url'
import { ACTION_TABLES } from './action-tables.js'
import { cliReferenceSection } from './cli-reference.js'
import { CONFIG_REFERENCE } from './config-reference.js'
import { FAULT_STEPS } from './fault-steps.js'
import { checkSection, updateSection, type GeneratedSection } from './generated-section.js'
import { STARTER_TABLE } from './starter-tables.js'

const USAGE = 'usage: readme-tables [--check] [--root DIR]'

/** Every generated section of the repository's Markdown, in the order they are written. */
export function generatedSections(): GeneratedSection[] {
  return [ACTION_TABLES, STARTER_TABLE, CONFIG_REFERENCE, cliReferenceSection(), FAULT_STEPS]
}

/**
 * `readme-tables [--root DIR]` regenerates the README's inputs/outputs tables from
 * `actions/*\/action.yml`, the starters' permissions table of workflows/README.md, the README's
 * config reference from the config schema and its CLI reference from the command definitions of
 * src/cli/, and the step tables of docs/check-recovery.md from the pipelines; `--check` changes nothing and fails when they are not current.
 * Returns the exit code: 0 current (or rewritten), 1 not current, 2 bad arguments.
 */
export async function main(
  argv: readonly string[],
  write: (line: string) => void = line => process.stderr.write(line + '\n')
): Promise<number> {
  let root = process.cwd()
  let check = false
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') check = true
    else if (argv[i] === '--root' && argv[i + 1]) root = argv[++i]
    else {
      write(`readme-tables: unexpected argument ${JSON.stringify(argv[i])}; ${USAGE}`)
      return 2
    }
  }
  let current = true
  for (const section of generatedSections()) {
    if (check) {
      const result = await checkSection(root, section)
      if (!result.current) {
        current = false
        write(
          `readme-tables: ${section.file}'s ${section.name} is not current; run \`npm run docs\`. ${result.firstDifference}`
        )
      }
    } else {
      const changed = await updateSection(root, section)
      write(
        `readme-tables: ${section.file}'s ${section.name} ${changed ? 'updated' : 'already current'}`
      )
    }
  }
  return current ? 0 : 1
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    code => process.exit(code),
    (error: unknown) => {
      process.stderr.write(
        `readme-tables: ${error instanceof Error ? error.message : String(error)}\n`
      )
      process.exit(2)
    }
  )
}
