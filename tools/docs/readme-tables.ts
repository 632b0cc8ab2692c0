import { pathToFileURL } from 'node:url'
import { checkReadmeTables, updateReadmeTables } from './action-tables.js'
import { checkCliReference, updateCliReference } from './cli-reference.js'
import { checkConfigReference, updateConfigReference } from './config-reference.js'
import { checkStarterTable, STARTERS_README, updateStarterTable } from './starter-tables.js'

const USAGE = 'usage: readme-tables [--check] [--root DIR]'

/**
 * `readme-tables [--root DIR]` regenerates the README's inputs/outputs tables from
 * `actions/*\/action.yml`, its config reference from the config schema and its CLI reference from
 * the command definitions of src/cli/; `--check` changes nothing and fails when they are not current.
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
  if (check) {
    const result = await checkReadmeTables(root)
    const starters = await checkStarterTable(root)
    if (!result.current)
      write(
        `readme-tables: README.md's action tables are not current; run \`npm run docs\`. ${result.firstDifference}`
      )
    if (!starters)
      write(
        `readme-tables: ${STARTERS_README}'s starter table is not current; run \`npm run docs\``
      )
    const reference = await checkConfigReference(root)
    if (!reference.current)
      write(
        `readme-tables: README.md's config reference is not current; run \`npm run docs\`. ${reference.firstDifference}`
      )
    const cli = await checkCliReference(root)
    if (!cli.current)
      write(
        `readme-tables: README.md's CLI reference is not current; run \`npm run docs\`. ${cli.firstDifference}`
      )
    return result.current && starters && reference.current && cli.current ? 0 : 1
  }
  const changed = await updateReadmeTables(root)
  write(changed ? 'readme-tables: README.md updated' : 'readme-tables: README.md already current')
  const startersChanged = await updateStarterTable(root)
  write(
    startersChanged
      ? `readme-tables: ${STARTERS_README} updated`
      : `readme-tables: ${STARTERS_README} already current`
  )
  write(
    (await updateConfigReference(root))
      ? 'readme-tables: README.md config reference updated'
      : 'readme-tables: README.md config reference already current'
  )
  write(
    (await updateCliReference(root))
      ? 'readme-tables: README.md CLI reference updated'
      : 'readme-tables: README.md CLI reference already current'
  )
  return 0
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
