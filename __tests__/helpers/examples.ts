/**
 * What the tests of the real examples (examples/flask-app, examples/django-project) share: the
 * wheelhouse they install from, the example's own config blocks, and CLI runs that must pass.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describeRun, type CliResult } from './cli.js'
import { REPO } from './harness-repo.js'

/**
 * The wheelhouse: SITECYCLE_TEST_WHEELHOUSE, default ../shared/wheelhouse. CI has it, so a
 * missing one fails loudly rather than skipping; `holding` says which wheels the test needs.
 */
export function testWheelhouse(holding: string): string {
  const dir = resolve(
    process.env.SITECYCLE_TEST_WHEELHOUSE ?? join(REPO, '..', 'shared', 'wheelhouse')
  )
  if (!existsSync(dir))
    throw new Error(
      `the wheelhouse ${dir} is missing: set SITECYCLE_TEST_WHEELHOUSE to a folder with ${holding} wheels`
    )
  return dir
}

/** The block `key:` of an example's sitecycle.yml, as written (at `indent`). */
export function exampleBlock(example: string, yaml: string, key: string, indent = ''): string {
  const lines = yaml.split('\n')
  const start = lines.indexOf(`${indent}${key}:`)
  const end = lines.findIndex(
    (l, i) => i > start && l.trim() !== '' && !l.startsWith(`${indent} `) && !l.startsWith('#')
  )
  if (start < 0 || end < 0) throw new Error(`no ${key}: block in ${example}/sitecycle.yml`)
  return lines.slice(start, end).join('\n')
}

/** A CLI run that must exit 0: its result, or an error with its output. */
export async function mustPass(args: string[], run: Promise<CliResult>): Promise<CliResult> {
  const r = await run
  if (r.code !== 0) throw new Error(`sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  return r
}
