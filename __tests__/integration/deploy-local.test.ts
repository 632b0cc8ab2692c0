import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { siteStatus } from '../../src/pipelines/status.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'swordfish-0123456789'
let apache: TestApache
let site: TestSite
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = SECRET
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '3.0.0', releasesDir: releases, broken: 'health' }),
    buildSampleRelease({ version: '3.0.1', releasesDir: releases, broken: 'import' })
  ])
  apache = await startApache()
  site = await makeTestSite({ apache })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

test('init prepares the site; before the first deploy it answers 503', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  const r = await httpGet(`${site.url}/__version__`)
  expect(r.status).toBe(503)
  expect(r.body).toContain('no release deployed yet')
})

test('deploy v1 then v2: each version is served', async () => {
  const o1 = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect(o1.status).toBe('deployed')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  const o2 = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  })
  expect(o2).toMatchObject({ status: 'deployed', version: '2.0.0', previousVersion: '1.0.0' })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  const home = await httpGet(`${site.url}/`)
  expect(home.body).toContain('hello from v1')
})

/** GET from a chosen loopback source address, with headers. */
function getFrom(
  localAddress: string,
  url: string,
  headers: Record<string, string>
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers, agent: false }, res => {
      let body = ''
      res.on('data', d => (body += d))
      res.on('end', () => resolve(body.trim()))
    })
    req.on('error', reject)
    req.end()
  })
}

test('the private route to the idle slot answers only requests from loopback 127.0.0.1', async () => {
  // 2.0.0 is live, 1.0.0 is warm in the idle slot
  const live = (await readFile(join(site.root, 'live.map'), 'utf8')).trim().split(/\s+/)[1]
  const idle = live === 'blue' ? 'green' : 'blue'
  const url = `${site.url}/__version__`
  expect(await getFrom('127.0.0.1', url, { 'X-Sitecycle-Slot': idle })).toBe('1.0.0')
  expect(await getFrom('127.0.0.2', url, { 'X-Sitecycle-Slot': idle })).toBe('2.0.0')
  expect(await getFrom('127.0.0.1', url, {})).toBe('2.0.0')
})

test('a release whose health check fails is rolled back: v2 serves, the error says why', async () => {
  let err: unknown
  try {
    await deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: reporter(),
      release: releases,
      version: '3.0.0'
    })
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(OperationFailed)
  const f = err as OperationFailed
  expect(f.outcome.failedStep).toBe('verify-idle')
  expect(f.message).toMatch(/HTTP 500/)
  expect(f.outcome.version).toBe('2.0.0')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
})

test('a release whose import fails is refused, and a good release after it starts cleanly in that slot', async () => {
  await expect(
    deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: reporter(),
      release: releases,
      version: '3.0.1'
    })
  ).rejects.toThrow(/verify-idle/)
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  // v1 goes into the slot whose last import failed: a restart by signal, not a touch, brings it up.
  const o = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect(o.status).toBe('deployed')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})

test('rollback goes back to the warm previous release and marks the abandoned one bad', async () => {
  const o = await rollback({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(o).toMatchObject({ status: 'rolled-back', version: '2.0.0', previousVersion: '1.0.0' })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  const st = await siteStatus(site.config, site.site, exec)
  expect(st.live).toBe('2.0.0')
  expect(st.releases.find(r => r.dir === '1.0.0')?.bad).toBe(true)
  expect(st.history[0]).toMatchObject({ op: 'rollback', status: 'rolled-back' })
})

test('the secret is in the rendered config only: not in logs, journal or status', async () => {
  const ini = await readFile(join(site.root, 'releases', '2.0.0', 'app.ini'), 'utf8')
  expect(ini).toContain(SECRET)
  const journal = await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8')
  expect(journal.length).toBeGreaterThan(100)
  expect(journal).not.toContain(SECRET)
  expect(lines.join('\n')).not.toContain(SECRET)
  expect(JSON.stringify(await siteStatus(site.config, site.site, exec))).not.toContain(SECRET)
})
