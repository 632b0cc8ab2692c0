/**
 * On a real Apache: the after_install hooks run as the site's Apache user (never root) with HOME
 * the release, and an application with no version route of its own deploys: with no health.path
 * set, sitecycle's health path (answered by the slot's WSGI script) is all the check needs.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

let apache: TestApache
let site: TestSite
let config: SitecycleConfig
let releases: string
let out: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()
const wwwData = Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim())

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sample-key-unused-here'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  // A folder of the application's, as its data would be: the hook writes there.
  out = await mkdtemp(join(tmpdir(), 'sitecycle-hook-out-'))
  await chmod(out, 0o755)
  execFileSync('chown', ['www-data:www-data', out])
  apache = await startApache()
  site = await makeTestSite({
    apache,
    // An application with no route of sitecycle's: the standard library's demo answers any path.
    wsgi: 'wsgiref.simple_server:demo_app',
    hooks: [
      `python -c "__import__('pathlib').Path(__import__('sys').argv[1]).write_text('%d %s' % (__import__('os').getuid(), __import__('os').environ['HOME']))" ${out}/hook.txt`
    ]
  })
  // No health mapping: the default, sitecycle's own health path.
  const file = join(site.dir, 'sitecycle.yml')
  const yaml = (await readFile(file, 'utf8')).replace(/^ {4}health: .*\n/m, '')
  await writeFile(file, yaml)
  config = parseConfig(yaml, file)
  expect(config.sites.v1.health.path).toBe('/.sitecycle/health')
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
  await rm(out, { recursive: true, force: true })
})

test('an application without a version route deploys: its health is checked on the health path sitecycle answers', async () => {
  await initSite({ config, site: config.sites.v1, exec, reporter: reporter() })
  // Before any release, the slot's script answers 503, never a version.
  expect((await httpGet(`${site.url}/.sitecycle/health`)).status).toBe(503)
  const o = await deploy({
    config,
    site: config.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect(o.status).toBe('deployed')
  const h = await httpGet(`${site.url}/.sitecycle/health`)
  expect(h.status).toBe(200)
  expect(JSON.parse(h.body)).toMatchObject({ site: 'v1', version: '1.0.0' })
  // Everything else is the application's.
  const page = await httpGet(`${site.url}/__version__`)
  expect(page.body).toContain('Hello world!')
})

test("the hooks ran as the site's Apache user, not root, with HOME the release: what they made is the application's", async () => {
  const file = join(out, 'hook.txt')
  const [uid, home] = (await readFile(file, 'utf8')).split(' ')
  expect(Number(uid)).toBe(wwwData)
  expect(Number(uid)).not.toBe(0)
  expect(home).toBe(join(site.root, 'releases', '1.0.0'))
  expect((await stat(file)).uid).toBe(wwwData)
})
