import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { OperationFailed } from '../../src/pipelines/operation.js'
import { rollback } from '../../src/pipelines/rollback.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

// The fallback for hosts short of memory: one daemon group on a `current` link.
let apache: TestApache
let site: TestSite
let releases: string
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'single-mode-secret'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '3.0.0', releasesDir: releases, broken: 'health' })
  ])
  apache = await startApache()
  site = await makeTestSite({ apache, mode: 'single' })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

test('single mode: one daemon group, deploy v1 and v2, a broken v3 is switched back, rollback', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  const [vhostFile] = await readdir(apache.confDir)
  const vhost = await readFile(join(apache.confDir, vhostFile), 'utf8')
  expect(vhost.match(/WSGIDaemonProcess/g)?.length).toBe(1)
  expect(vhost).not.toContain('live.map')
  await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  const o = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '2.0.0'
  })
  expect(o).toMatchObject({ status: 'deployed', previousVersion: '1.0.0' })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
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
  expect((err as OperationFailed).outcome).toMatchObject({
    failedStep: 'verify-live',
    version: '2.0.0',
    rolledBack: true
  })
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('2.0.0')
  const r = await rollback({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect(r.version).toBe('1.0.0')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
})
