/**
 * The README's table of exit codes, one test per code, through the real CLI on a real site
 * (private Apache, blue/green daemon groups): 0 done, 1 failed and undone, 2 bad input (nothing
 * touched, no journal line), 3 locked by a live run, 4 failed with an undo that failed, 5 drift.
 */
import { execFileSync } from 'node:child_process'
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { currentHolder } from '../../src/sites/lock.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli, type CliResult } from '../helpers/cli.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'exit-codes-secret-0123456789'
let apache: TestApache
let site: TestSite
let work: string
let releases: string
let config: string
let journal: string

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli([...args, '-c', config], { env: { SAMPLE_SECRET_KEY: SECRET, ...env } })
}
const deploy3 = (env: Record<string, string> = {}) =>
  cli(['deploy', 'v1', '--release', releases, '--version', '3.0.0'], env)
const served = async () => (await httpGet(`${site.url}/__version__`)).body

beforeAll(async () => {
  work = await makeTempDir('sitecycle-exit-codes-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    ...['1.0.0', '2.0.0', '3.0.0'].map(version =>
      buildSampleRelease({ version, releasesDir: releases })
    )
  ])
  site = await makeTestSite({ apache })
  config = join(site.dir, 'sitecycle.yml')
  journal = join(site.root, '.sitecycle', 'journal.jsonl')
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
  if (site) execFileSync('chattr', ['-a', join(site.root, 'releases')])
  await site?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

test('0: done', async () => {
  expectExit(await cli(['status', 'v1']), 0)
  expectExit(await cli(['watch', 'v1']), 0)
})

test('1: failed, every undo ran, the previous release serves', async () => {
  const r = await deploy3({ SITECYCLE_FAULT_FAIL_AT: 'verify-idle' })
  expectExit(r, 1)
  expect(r.stderr).toContain('rolled back: 2.0.0 serves again')
  expect(await served()).toBe('2.0.0')
})

test('2: bad input, refused before the host is touched: no journal line', async () => {
  const before = await readFile(journal, 'utf8')
  const r = await cli(['deploy', 'v1', '--release', releases, '--version', '3.0.0..'])
  expectExit(r, 2)
  expect(r.stderr).toMatch(/^sitecycle: --version 3\.0\.0\.\.: invalid version/)
  expect(r.stderr).not.toMatch(/\n\s+at /)
  expect(await readFile(journal, 'utf8')).toBe(before)
})

test('3: the site is locked by a run that is still running', async () => {
  // This test process holds the lock, as a deploy running elsewhere on the host would.
  const lock = join(site.root, '.sitecycle', 'lock')
  await mkdir(lock)
  await writeFile(
    join(lock, 'holder.json'),
    JSON.stringify(currentHolder('deploy', 'held-by-the-test'))
  )
  try {
    const r = await deploy3()
    expectExit(r, 3)
    expect(r.stderr).toContain('held-by-the-test')
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
  expect(await served()).toBe('2.0.0')
})

test('5: drift found by watch', async () => {
  const live = join(site.root, 'releases', '2.0.0', 'app.ini')
  const text = await readFile(live, 'utf8')
  await appendFile(live, 'debug = true\n')
  try {
    const r = await cli(['watch', 'v1'])
    expectExit(r, 5)
  } finally {
    await writeFile(live, text)
  }
  expectExit(await cli(['watch', 'v1']), 0)
})

test('4: failed, and an undo failed: the site needs a look', async () => {
  // releases/ append-only: create-venv makes releases/3.0.0, its undo cannot remove it.
  const dir = join(site.root, 'releases')
  execFileSync('chattr', ['+a', dir])
  try {
    const r = await deploy3({ SITECYCLE_FAULT_FAIL_AT: 'verify-idle' })
    expectExit(r, 4)
    expect(r.stderr).toMatch(/undo of 'create-venv' failed/)
    expect(r.stderr).toContain('some undo steps failed: check `sitecycle status`')
  } finally {
    execFileSync('chattr', ['-a', dir])
  }
  // Users never left 2.0.0.
  expect(await served()).toBe('2.0.0')
})
