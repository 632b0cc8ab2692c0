/**
 * `sitecycle run`: a one-off command in the live release (or a named installed one) as the site's
 * Apache user, in the release's virtualenv with its environment, its output passed through and
 * its exit code returned; journalled as `run` with the release's secrets hidden. Real CLI, real
 * Apache, the sample app.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'run-command-secret-0123456789'
let apache: TestApache
let site: TestSite
let work: string
let releases: string
let config: string
let journalPath: string

// -c first: whatever follows `--` belongs to the command.
const cli = (args: string[]): Promise<CliResult> =>
  runCli(['-c', config, ...args], { env: { SAMPLE_SECRET_KEY: SECRET } })

/** Prints who runs it, in which release and environment, then exits with argv[1]. */
const PROBE = [
  'python',
  '-c',
  "import os, pwd, sys; print(pwd.getpwuid(os.getuid()).pw_name, os.environ['SITECYCLE_VERSION'], " +
    "sys.prefix == os.getcwd(), os.environ['RUN_MODE'], len(os.environ['RUN_TOKEN'])); " +
    "print('to stderr', file=sys.stderr); sys.exit(int(sys.argv[1]))"
]

beforeAll(async () => {
  work = await makeTempDir('sitecycle-run-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    ...['1.0.0', '2.0.0'].map(version => buildSampleRelease({ version, releasesDir: releases }))
  ])
  site = await makeTestSite({
    apache,
    siteYaml: 'env: { RUN_MODE: staging, RUN_TOKEN: "{{ secret.SAMPLE_SECRET_KEY }}" }'
  })
  config = join(site.dir, 'sitecycle.yml')
  journalPath = join(site.root, '.sitecycle', 'journal.jsonl')
  for (const args of [
    ['init', 'v1'],
    ['deploy', 'v1', '--release', releases, '--version', '1.0.0'],
    ['deploy', 'v1', '--release', releases, '--version', '2.0.0']
  ]) {
    const r = await cli(args)
    if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
  }
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

async function runLines(): Promise<Record<string, unknown>[]> {
  return (await readFile(journalPath, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l) as Record<string, unknown>)
    .filter(e => e.op === 'run')
}

test('in the live release, as the Apache user, with its environment; the exit code passed on', async () => {
  const r = await cli(['run', 'v1', '--', ...PROBE, '3'])
  expectExit(r, 3)
  expect(r.stdout).toBe(`www-data 2.0.0 True staging ${SECRET.length}\n`)
  expect(r.stderr).toContain('to stderr\n')
  expect(r.stderr).toMatch(/running in v1 2\.0\.0 as www-data: python -c/)
  const lines = await runLines()
  expect(lines.map(e => e.event)).toEqual(['start', 'end'])
  expect(lines[0]).toMatchObject({ release: '2.0.0', as: 'www-data' })
  expect(lines[1]).toMatchObject({ status: 'ran', code: 3 })
})

test('in a named installed release; a secret on the command line is hidden in the journal and the log', async () => {
  const r = await cli(['run', 'v1', '--release', '1.0.0', '--', ...PROBE, '0', SECRET])
  expectExit(r, 0)
  expect(r.stdout).toBe(`www-data 1.0.0 True staging ${SECRET.length}\n`)
  expect(r.stderr).not.toContain(SECRET)
  const journal = await readFile(journalPath, 'utf8')
  expect(journal).not.toContain(SECRET)
  expect((await runLines()).at(-2)).toMatchObject({ release: '1.0.0' })
})

test('a release that is not installed is refused (exit 2) with no journal line', async () => {
  const before = await readFile(journalPath, 'utf8')
  const r = await cli(['run', 'v1', '--release', '9.9.9', '--', 'python', '-V'])
  expectExit(r, 2)
  expect(r.stderr).toMatch(/^sitecycle: version 9\.9\.9 is not installed on site v1; installed: /m)
  expect(await readFile(journalPath, 'utf8')).toBe(before)
})

test('a program that does not exist in the release: 127, as a shell says', async () => {
  const r = await cli(['run', 'v1', '--', 'no-such-program-here'])
  expectExit(r, 127)
})
