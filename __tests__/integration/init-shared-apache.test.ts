/**
 * Adding a site costs the other sites of a shared Apache nothing. A graceful restarts every
 * mod_wsgi daemon group on the Apache and cuts requests in flight (measured while writing this:
 * 16 of 5,008 requests of site A failed, socket hang-ups, while `init B` reloaded), so `init`
 * reloads only when no other WSGI site shares the Apache, or when told (`--reload`); otherwise it
 * names the sites a reload would interrupt and says how to finish. Real Apache, real CLI.
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { startApache, type TestApache } from '../helpers/apache.js'
import { describeRun, expectExit, runCli } from '../helpers/cli.js'
import { startLoad } from '../helpers/load.js'
import { buildSampleRelease, makeTempDir } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'shared-apache-secret-0123456789'
let apache: TestApache
let a: TestSite
let b: TestSite
let work: string
let releases: string

const cli = (s: TestSite, args: string[]) =>
  runCli([...args, '-c', join(s.dir, 'sitecycle.yml')], { env: { SAMPLE_SECRET_KEY: SECRET } })

/** Whether anything answers on the site's address (Apache listens there once it loaded the vhost). */
async function answers(s: TestSite): Promise<boolean> {
  return httpGet(`${s.url}/__version__`).then(
    () => true,
    () => false
  )
}

beforeAll(async () => {
  work = await makeTempDir('sitecycle-shared-')
  releases = join(work, 'releases')
  ;[apache] = await Promise.all([
    startApache(),
    buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  ])
  a = await makeTestSite({ apache })
  b = await makeTestSite({ apache })
})

afterAll(async () => {
  await apache?.stop()
  await a?.cleanup()
  await b?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
})

test('the first site on an Apache: init reloads it, the site answers', async () => {
  const r = await cli(a, ['init', 'v1'])
  expectExit(r, 0)
  expect(r.stdout).toMatch(/^site v1 is ready at /)
  expect(r.stderr).toMatch(/reload ok .*no other WSGI site shares this Apache/)
  expectExit(await cli(a, ['deploy', 'v1', '--release', releases, '--version', '1.0.0']), 0)
  expect((await httpGet(`${a.url}/__version__`)).body).toBe('1.0.0')
})

test('a second site under load on the first: no reload, no failed request, the sites named', async () => {
  const load = startLoad({ url: `${a.url}/__version__`, concurrency: 16, maxSeconds: 60 })
  let r
  try {
    await new Promise(res => setTimeout(res, 500))
    r = await cli(b, ['init', 'v1'])
    await new Promise(res => setTimeout(res, 1500))
  } finally {
    const report = await load.stop()
    expect(report.failures).toEqual([])
    expect(report.total).toBeGreaterThan(0)
  }
  expectExit(r, 0)
  expect(r.stdout).toMatch(/^site v1 is initialized at .*served after Apache's next reload$/m)
  expect(r.stderr).toContain('Apache was not reloaded')
  expect(r.stderr).toContain(`site v1 at ${a.root}`)
  expect(r.stderr).toContain('sitecycle init v1 --reload')
  expect(await answers(b)).toBe(false)
})

test('--reload reloads the shared Apache when told: the new site answers', async () => {
  const r = await cli(b, ['init', 'v1', '--reload'])
  expectExit(r, 0)
  expect(r.stdout).toMatch(/^site v1 is ready at /)
  expect(r.stderr).not.toContain('Apache was not reloaded')
  expect(await answers(b)).toBe(true)
  expect((await httpGet(`${a.url}/__version__`)).body).toBe('1.0.0')
})

test('--reload with --no-reload is a usage error', async () => {
  const r = await cli(b, ['init', 'v1', '--reload', '--no-reload'])
  expectExit(r, 2)
  expect(r.stderr).toContain('--reload and --no-reload: give one of them')
  expect(describeRun(r)).not.toMatch(/\n\s+at /)
})
