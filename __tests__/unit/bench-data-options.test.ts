// bench/data.mjs's command line (bench/data-options.mjs): `--only sqlite` runs the SQLite part
// alone, `--only sync` the sync and the bare pipe; anything else is refused with one line and
// exit code 2 before anything is built.
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

/** parseDataOptions(args) in a child node (the bench is plain .mjs, outside the TypeScript build). */
function parse(args: string[]): unknown {
  const program = `import { parseDataOptions } from ${JSON.stringify(join(root, 'bench', 'data-options.mjs'))}
const r = parseDataOptions(JSON.parse(process.argv[1]))
process.stdout.write(JSON.stringify(r instanceof Error ? { error: r.message } : r))`
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', program, JSON.stringify(args)],
    {
      encoding: 'utf8'
    }
  )
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout)
}

describe('bench:data options', () => {
  test('no options: every part, the default sizes, a new bundle', () => {
    expect(parse([])).toEqual({
      large: false,
      rows: 1_000_000,
      sqliteRows: 300_000,
      sqliteRuns: 5,
      days: 10,
      only: null,
      cli: null,
      verbose: false
    })
  })

  test('--only sqlite, with --cli and --sqlite-rows', () => {
    expect(
      parse([
        '--only',
        'sqlite',
        '--cli',
        'dist/cli.js',
        '--sqlite-rows',
        '1000',
        '--sqlite-runs',
        '3'
      ])
    ).toEqual(
      expect.objectContaining({
        only: 'sqlite',
        cli: 'dist/cli.js',
        sqliteRows: 1000,
        sqliteRuns: 3
      })
    )
  })

  test('--only sync, with --rows', () => {
    expect(parse(['--only', 'sync', '--rows', '200000'])).toEqual(
      expect.objectContaining({ only: 'sync', rows: 200_000 })
    )
  })

  test('an unknown part, --large with --only, a bad number, an unknown option: one sentence each', () => {
    expect(parse(['--only', 'postgres'])).toEqual({
      error: '--only "postgres" is not a part of the bench; the parts: sqlite, sync'
    })
    expect(parse(['--only', 'sqlite', '--large'])).toEqual({
      error: '--large measures the PostgreSQL part, which --only sqlite leaves out'
    })
    expect(parse(['--sqlite-rows', '0'])).toEqual({
      error: '--rows, --sqlite-rows, --sqlite-runs and --days take positive integers'
    })
    expect(parse(['--onyl', 'sqlite'])).toEqual({ error: expect.stringMatching(/--onyl/) })
  })

  test('the bench refuses an unknown part with exit code 2 and one line, before it builds anything', () => {
    const r = spawnSync(process.execPath, [join(root, 'bench', 'data.mjs'), '--only', 'pg'], {
      encoding: 'utf8'
    })
    expect(r.status).toBe(2)
    expect(r.stderr).toBe(
      'bench:data: --only "pg" is not a part of the bench; the parts: sqlite, sync\n'
    )
    expect(r.stdout).toBe('')
  })
})
