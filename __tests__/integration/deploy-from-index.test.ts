/**
 * A site configured to install dependencies from an index (sites.<n>.pip.index_url_env, a
 * secret URL) instead of a wheelhouse: the release carries only the app; pip takes the
 * dependency from the index. The index here is a PEP 503 folder served as a file:// URL.
 */
import { createHash } from 'node:crypto'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { buildRelease } from '../../src/releases/build.js'
import { findSampleApp, prepareSampleSource } from '../../src/releases/sample-source.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { makeTestSite, type TestSite } from '../helpers/site.js'

let tmp: string
let apache: TestApache
let site: TestSite
let releases: string
const lines: string[] = []
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(l => lines.push(l))

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sitecycle-index-'))
  // The dependency, built and put in a PEP 503 index.
  const depSrc = join(tmp, 'dep-src')
  await cp(join(dirname(findSampleApp()), 'sample-dep'), depSrc, { recursive: true })
  const dep = await buildRelease({ sourceDir: depSrc, outDir: join(tmp, 'dep-out'), commit: null })
  const wheel = dep.manifest.files.find(f => f.kind === 'wheel')!
  const page = join(tmp, 'index', 'simple', 'sitecycle-sample-dep')
  await mkdir(page, { recursive: true })
  await cp(join(dep.dir, wheel.name), join(page, wheel.name))
  const sha = createHash('sha256')
    .update(await readFile(join(page, wheel.name)))
    .digest('hex')
  await writeFile(
    join(page, 'index.html'),
    `<!DOCTYPE html><html><body><a href="${wheel.name}#sha256=${sha}">${wheel.name}</a></body></html>\n`
  )
  await writeFile(
    join(tmp, 'index', 'simple', 'index.html'),
    '<a href="sitecycle-sample-dep/">sitecycle-sample-dep</a>\n'
  )
  // The app, depending on it, released without a wheelhouse.
  releases = join(tmp, 'releases')
  const src = await prepareSampleSource({
    version: '1.0.0',
    into: join(tmp, 'src'),
    dependencies: ['sitecycle-sample-dep>=0.1']
  })
  await buildRelease({ sourceDir: src, outDir: releases, commit: null })
  process.env.SAMPLE_SECRET_KEY = 'index-test-secret'
  apache = await startApache()
  site = await makeTestSite({ apache, siteYaml: 'pip: { index_url_env: SITE_INDEX_URL }' })
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(tmp, { recursive: true, force: true })
})

test('without the index URL set, the deploy is refused before the host is touched', async () => {
  const before = await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8').catch(
    () => ''
  )
  await expect(
    deploy({
      config: site.config,
      site: site.site,
      exec,
      reporter: reporter(),
      release: releases,
      env: { SAMPLE_SECRET_KEY: 'x' }
    })
  ).rejects.toThrow(/pip.index_url_env names SITE_INDEX_URL, which is not set/)
  expect(
    await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8').catch(() => '')
  ).toBe(before)
})

test('with the index URL from the environment, the dependency comes from the index and the site answers with it', async () => {
  const url = `file://${join(tmp, 'index', 'simple')}`
  const o = await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    env: { SAMPLE_SECRET_KEY: 'x', SITE_INDEX_URL: url }
  })
  expect(o.status).toBe('deployed')
  expect(o.steps.find(s => s.name === 'install')?.note).toMatch(
    /dependencies from the site's index/
  )
  const home = await fetch(`${site.url}/`)
  expect(home.headers.get('x-sample-dep')).toBe('0.1.0')
  // the URL is a secret: never in the log or the journal
  expect(lines.join('\n')).not.toContain(url)
  expect(await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8')).not.toContain(url)
  expect(basename(url)).toBe('simple')
})
