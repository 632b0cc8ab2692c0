/**
 * Basic auth and maintenance on a real Apache: a preview site (protected by default) and a
 * production site (open) side by side in one private Apache, each deployed for real.
 */
import { readFile, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { setMaintenance } from '../../src/pipelines/maintenance.js'
import { Journal } from '../../src/sites/journal.js'
import { siteLayout } from '../../src/sites/layout.js'
import { frozenState } from '../../src/sites/maintenance.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { main } from '../../src/cli.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { startLoad } from '../helpers/load.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { makeTestSite, type TestSite } from '../helpers/site.js'

const PASSWORD = 'preview-Pa55word-9f3a71c2'
const PASSWORD_ENV = 'SITECYCLE_TEST_PREVIEW_PASSWORD'
let apache: TestApache
let preview: TestSite
let production: TestSite
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** GET `path` from a chosen loopback source address (Apache sees it as REMOTE_ADDR). */
function get(
  url: string,
  opts: { from?: string; headers?: Record<string, string> } = {}
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { localAddress: opts.from ?? '127.0.0.1', headers: opts.headers ?? {}, agent: false },
      res => {
        let body = ''
        res.on('data', d => (body += d))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.trim() })
        )
      }
    )
    req.on('error', reject)
    req.end()
  })
}

const basic = (user: string, password: string) => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
})

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sample-secret-0123456789'
  process.env[PASSWORD_ENV] = PASSWORD
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  apache = await startApache()
  preview = await makeTestSite({
    apache,
    siteYaml: `role: preview\naccess: { basic_auth: { user: tester, password_env: ${PASSWORD_ENV} } }`
  })
  production = await makeTestSite({
    apache,
    siteYaml: 'maintenance: { allow: [127.0.0.2], retry_after: 120 }'
  })
  for (const s of [preview, production]) {
    await initSite({ config: s.config, site: s.site, exec, reporter: reporter() })
    const o = await deploy({
      config: s.config,
      site: s.site,
      exec,
      reporter: reporter(),
      release: releases,
      version: '1.0.0'
    })
    expect(o.status).toBe('deployed')
  }
})

afterAll(async () => {
  delete process.env[PASSWORD_ENV]
  await apache?.stop()
  await preview?.cleanup()
  await production?.cleanup()
  if (releases) await rm(releases, { recursive: true, force: true })
})

describe('basic auth', () => {
  test('a preview site answers 401 without credentials or with a wrong password, 200 with them', async () => {
    const none = await get(`${preview.url}/`)
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm="v1 \(preview\)"/)
    expect((await get(`${preview.url}/`, { headers: basic('tester', 'wrong') })).status).toBe(401)
    expect((await get(`${preview.url}/`, { headers: basic('other', PASSWORD) })).status).toBe(401)
    const ok = await get(`${preview.url}/`, { headers: basic('tester', PASSWORD) })
    expect(ok.status).toBe(200)
    expect(ok.body).toContain('hello from v1')
  })

  test('the private route to the idle slot is protected too', async () => {
    const live = (await readFile(join(preview.root, 'live.map'), 'utf8')).trim().split(/\s+/)[1]
    const idle = live === 'blue' ? 'green' : 'blue'
    const r = await get(`${preview.url}/`, { headers: { 'X-Sitecycle-Slot': idle } })
    expect(r.status).toBe(401)
  })

  test("only sitecycle's health path is open, from the host itself, so sitecycle verifies without the password", async () => {
    const h = await get(`${preview.url}/.sitecycle/health`)
    expect(h.status).toBe(200)
    expect(h.headers['content-type']).toBe('application/json')
    // The release's version, and what the application's health.path answered: never its content.
    expect(JSON.parse(h.body)).toEqual({
      site: 'v1',
      slot: expect.stringMatching(/^(blue|green)$/),
      version: '1.0.0',
      app: { path: '/__version__', status: 200, version: true }
    })
    // An exact match: a longer path is not the health path.
    expect((await get(`${preview.url}/.sitecycle/healthx`)).status).toBe(401)
    // From another address, even a loopback one, it asks for the password like any path.
    expect((await get(`${preview.url}/.sitecycle/health`, { from: '127.0.0.2' })).status).toBe(401)
    // The application's own health path is the application's: protected like any other.
    expect((await get(`${preview.url}/__version__`)).status).toBe(401)
  })

  test('the password file holds a bcrypt hash, mode 0640, Apache group; the password is nowhere on the host', async () => {
    const file = join(preview.root, 'shared', '.htpasswd')
    const text = await readFile(file, 'utf8')
    expect(text).toMatch(/^tester:\$2y\$\d\d\$[./A-Za-z0-9]{53}\n$/)
    expect((await stat(file)).mode & 0o777).toBe(0o640)
    expect((await exec.run({ argv: ['stat', '-c', '%G', file] })).stdout.trim()).toBe('www-data')
    const grep = await exec.tryRun({ argv: ['grep', '-rlF', PASSWORD, preview.root] })
    expect(grep.stdout).toBe('')
    expect(lines.join('\n')).not.toContain(PASSWORD)
  })

  test('the production site has no auth', async () => {
    const r = await get(`${production.url}/`)
    expect(r.status).toBe(200)
    expect(r.headers['www-authenticate']).toBeUndefined()
    await expect(stat(join(production.root, 'shared', '.htpasswd'))).rejects.toThrow()
  })

  test('deploy still verifies and switches on a protected site', async () => {
    const o = await deploy({
      config: preview.config,
      site: preview.site,
      exec,
      reporter: reporter(),
      release: releases,
      version: '2.0.0'
    })
    expect(o).toMatchObject({ status: 'deployed', version: '2.0.0', previousVersion: '1.0.0' })
    const r = await get(`${preview.url}/__version__`, { headers: basic('tester', PASSWORD) })
    expect(r.body).toBe('2.0.0')
  })

  test('a re-init with a new password rotates it: the old one is refused', async () => {
    const before = await readFile(join(preview.root, 'shared', '.htpasswd'), 'utf8')
    const next = 'rotated-Pa55word-77e1'
    await initSite({
      config: preview.config,
      site: preview.site,
      exec,
      reporter: reporter(),
      env: { [PASSWORD_ENV]: next }
    })
    expect(await readFile(join(preview.root, 'shared', '.htpasswd'), 'utf8')).not.toBe(before)
    expect((await get(`${preview.url}/`, { headers: basic('tester', PASSWORD) })).status).toBe(401)
    expect((await get(`${preview.url}/`, { headers: basic('tester', next) })).status).toBe(200)
    await initSite({ config: preview.config, site: preview.site, exec, reporter: reporter() })
    expect((await get(`${preview.url}/`, { headers: basic('tester', PASSWORD) })).status).toBe(200)
  })

  test('init of a protected site without its password variable fails naming the variable', async () => {
    await expect(
      initSite({ config: preview.config, site: preview.site, exec, reporter: reporter(), env: {} })
    ).rejects.toThrow(new RegExp(`${PASSWORD_ENV}.*not set`))
  })
})

describe('maintenance', () => {
  const maintenance = (action: 'on' | 'off', message?: string) =>
    setMaintenance({
      config: production.config,
      site: production.site,
      exec,
      reporter: reporter(),
      action,
      options: message ? { message } : {}
    })

  test("on: users get 503, Retry-After and the page; sitecycle's health path and an allowed address get through; off: back to normal", async () => {
    const o = await maintenance('on', 'Back at <noon> & later')
    expect(o).toMatchObject({ status: 'frozen', wasFrozen: false, retryAfter: 120 })

    for (const path of ['/', '/anything?x=1']) {
      const r = await get(`${production.url}${path}`)
      expect(r.status).toBe(503)
      expect(r.headers['retry-after']).toBe('120')
      expect(r.headers['content-type']).toMatch(/^text\/html/)
      expect(r.headers['cache-control']).toBe('no-store')
      expect(r.body).toContain('Down for maintenance')
      expect(r.body).toContain('Back at &lt;noon&gt; &amp; later')
    }
    const post = await new Promise<number>((resolve, reject) => {
      const req = request(`${production.url}/`, { method: 'POST', agent: false }, res => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end('x=1')
    })
    expect(post).toBe(503)

    // sitecycle's health path answers through the freeze, with the version and no page;
    // the application's own health path is frozen like any other of its paths.
    const health = await get(`${production.url}/.sitecycle/health`)
    expect(health.status).toBe(200)
    expect(JSON.parse(health.body)).toMatchObject({ version: '1.0.0' })
    expect(health.body).not.toContain('maintenance')
    expect((await get(`${production.url}/__version__`)).status).toBe(503)

    const allowed = await get(`${production.url}/`, { from: '127.0.0.2' })
    expect(allowed.status).toBe(200)
    expect(allowed.body).toContain('hello from v1')
    expect(allowed.headers['retry-after']).toBeUndefined()

    // The page is reachable only as the 503's error document, never by its own URL.
    expect(
      (await get(`${production.url}/.sitecycle/maintenance`, { from: '127.0.0.2' })).status
    ).toBe(404)

    const off = await maintenance('off')
    expect(off).toMatchObject({ status: 'unfrozen', wasFrozen: true })
    const r = await get(`${production.url}/`)
    expect(r.status).toBe(200)
    expect(r.body).toContain('hello from v1')
    expect(r.headers['retry-after']).toBeUndefined()
  })

  test('the CLI freezes with --message and --retry-after, and both changes are in the journal', async () => {
    const config = join(production.dir, 'sitecycle.yml')
    const out: string[] = []
    expect(
      await main(
        [
          'maintenance',
          'on',
          'v1',
          '-c',
          config,
          '--message',
          'Upgrading',
          '--retry-after',
          '45',
          '-q'
        ],
        s => out.push(s)
      )
    ).toBe(0)
    expect(out.join('\n')).toMatch(/frozen.*Retry-After 45/)
    const r = await get(`${production.url}/`)
    expect(r.status).toBe(503)
    expect(r.headers['retry-after']).toBe('45')
    expect(r.body).toContain('Upgrading')
    expect((await frozenState(exec, production.site)).frozen).toBe(true)

    expect(await main(['maintenance', 'off', 'v1', '-c', config, '-q'], s => out.push(s))).toBe(0)
    expect((await get(`${production.url}/`)).status).toBe(200)
    expect(await main(['maintenance', 'sideways', 'v1', '-c', config], () => {})).toBe(2)

    const journal = new Journal(exec, siteLayout(production.root).journal)
    const ops = (await journal.operations()).filter(o => o.op.startsWith('maintenance-'))
    expect(ops.map(o => [o.op, o.end?.status])).toEqual([
      ['maintenance-on', 'frozen'],
      ['maintenance-off', 'unfrozen'],
      ['maintenance-on', 'frozen'],
      ['maintenance-off', 'unfrozen']
    ])
    expect(ops[2].steps[0]).toMatchObject({ step: 'freeze', retryAfter: 45 })
  })

  test('under continuous load through on and off, no request fails except with the intended 503', async () => {
    const load = startLoad({ url: `${production.url}/`, concurrency: 8, maxSeconds: 30 })
    const pause = (ms: number) => new Promise(r => setTimeout(r, ms))
    await pause(300)
    for (let i = 0; i < 3; i++) {
      await maintenance('on')
      await pause(300)
      await maintenance('off')
      await pause(300)
    }
    const report = await load.stop()
    const unintended = report.samples.filter(
      s => s.status !== 200 && !(s.status === 503 && s.body.includes('<title>Maintenance</title>'))
    )
    expect(unintended).toEqual([])
    const maintenancePages = report.samples.filter(s => s.status === 503)
    expect(maintenancePages.length).toBeGreaterThan(10)
    expect(report.samples.filter(s => s.status === 200).length).toBeGreaterThan(10)
    // Every 200 came from the application itself.
    expect(report.samples.filter(s => s.status === 200).every(s => s.version === '1.0.0')).toBe(
      true
    )
    // No rule or header failed along the way (a missing file, a bad expression).
    expect(await readFile(apache.errorLog, 'utf8')).not.toMatch(
      /AH0\d+: .*(maintenance|retry-after|expr)/i
    )
  })
})
