/**
 * On a real Apache: static files (`static:`) a hook makes in the release are served by Apache
 * from the slot a request goes to, with a year's immutable cache for hashed names and no-cache for
 * others, Apache's own 404 for a missing one; a switch changes them with the code. watch takes
 * them as part of the release and still reports one changed afterwards. A changed `static:` is
 * said plainly by deploy, and takes effect with `init` (which reloads).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { maintenanceFlagPath } from '../../src/commands/apache.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { watchSite } from '../../src/watch/watch.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { makeTestSite, type TestSite } from '../helpers/site.js'

const HASHED = 'app.3f2a9c1b7d4e.css'
/** What Django's collectstatic does here: files into the release's static folder, per version. */
const COLLECT = [
  'import os',
  "d = os.path.join(os.environ['SITECYCLE_RELEASE_DIR'], 'static')",
  'os.makedirs(d, exist_ok=True)',
  "v = os.environ['SITECYCLE_VERSION'] + os.environ.get('STATIC_TAG', '')",
  `open(os.path.join(d, '${HASHED}'), 'w').write('body { content: "' + v + '" }')`,
  "open(os.path.join(d, 'plain.txt'), 'w').write('plain ' + v)"
].join('; ')

let apache: TestApache
let site: TestSite
let releases: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sample-key-unused-here'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  apache = await startApache()
  site = await makeTestSite({
    apache,
    appYaml: 'static: { /static/: static }',
    hooks: [
      'python -m sitecycle_sample.manage check',
      `python -c "${COLLECT.replace(/"/g, '\\"')}"`
    ]
  })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

/** GET as a user would (or through the private route to a slot): status, Cache-Control, body. */
function get(
  path: string,
  slot?: string
): Promise<{ status: number; cacheControl: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${site.url}${path}`,
      {
        localAddress: '127.0.0.1',
        agent: false,
        headers: slot ? { 'X-Sitecycle-Slot': slot } : {}
      },
      res => {
        let body = ''
        res.on('data', d => (body += d))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            cacheControl: res.headers['cache-control'],
            body: body.trim()
          })
        )
      }
    )
    req.on('error', reject)
    req.end()
  })
}

async function liveSlot(): Promise<'blue' | 'green'> {
  const map = await readFile(join(site.root, 'live.map'), 'utf8')
  return map.trim().split(/\s+/)[1] as 'blue' | 'green'
}

async function editedConfig(from: string, to: string): Promise<SitecycleConfig> {
  const file = join(site.dir, 'sitecycle.yml')
  const yaml = await readFile(file, 'utf8')
  expect(yaml).toContain(from)
  await writeFile(file, yaml.replace(from, to))
  return parseConfig(yaml.replace(from, to), file)
}

async function deployVersion(config: SitecycleConfig, version: string) {
  return deploy({
    config,
    site: config.sites.v1,
    exec,
    reporter: reporter(),
    release: releases,
    version
  })
}

test('Apache serves the files a hook made in the release: hashed names immutable, others no-cache, a missing one 404, no listing', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  expect((await deployVersion(site.config, '1.0.0')).status).toBe('deployed')
  const hashed = await get(`/static/${HASHED}`)
  expect(hashed).toEqual({
    status: 200,
    cacheControl: 'public, max-age=31536000, immutable',
    body: 'body { content: "1.0.0" }'
  })
  expect(await get('/static/plain.txt')).toEqual({
    status: 200,
    cacheControl: 'no-cache',
    body: 'plain 1.0.0'
  })
  // The hooks ran as www-data in a release lent to it; afterwards the release is root's again
  // (the application cannot change its own code), the files the hook made included.
  const release = join(site.root, 'releases', '1.0.0')
  for (const p of ['', 'static', 'static/plain.txt', 'bin', 'app.ini'])
    expect([p, (await stat(join(release, p))).uid]).toEqual([p, 0])
  // Apache's own 404, not the application's (which answers every path it does not know itself).
  const missing = await get('/static/missing.3f2a9c1b7d4e.css')
  expect(missing.status).toBe(404)
  expect(missing.body).toContain('<h1>Not Found</h1>')
  // No listing of the folder (403 with mod_autoindex loaded, 404 without it).
  const folder = await get('/static/')
  expect([403, 404]).toContain(folder.status)
  expect(folder.body).not.toContain('plain.txt')
  // Outside the prefix, the application as before.
  expect((await get('/__version__')).body).toBe('1.0.0')
})

test('watch takes the files a hook made as part of the release, and reports one changed afterwards', async () => {
  const clean = await watchSite({ config: site.config, site: site.site, exec })
  expect(clean.findings).toEqual([])
  expect(clean.files.counts).toEqual({ modified: 0, added: 0, removed: 0 })
  const file = join(site.root, 'releases', '1.0.0', 'static', 'plain.txt')
  await writeFile(file, 'defaced')
  const drifted = await watchSite({ config: site.config, site: site.site, exec })
  expect(drifted.drifted).toBe(true)
  expect(drifted.files.modified).toEqual([
    expect.objectContaining({ path: 'static/plain.txt', package: '(made at install)' })
  ])
  await rm(file)
  const gone = await watchSite({ config: site.config, site: site.site, exec })
  expect(gone.files.removed).toEqual([
    expect.objectContaining({ path: 'static/plain.txt', package: '(made at install)' })
  ])
  await writeFile(file, 'plain 1.0.0')
  expect((await watchSite({ config: site.config, site: site.site, exec })).findings).toEqual([])
})

test('the switch changes static files with the code; the idle slot keeps its own', async () => {
  const before = await liveSlot()
  expect((await deployVersion(site.config, '2.0.0')).status).toBe('deployed')
  expect(await liveSlot()).not.toBe(before)
  expect((await get(`/static/${HASHED}`)).body).toBe('body { content: "2.0.0" }')
  expect((await get('/static/plain.txt')).body).toBe('plain 2.0.0')
  expect((await get('/static/plain.txt', before)).body).toBe('plain 1.0.0')
})

test('maintenance applies to static files too', async () => {
  const flag = maintenanceFlagPath(site.site)
  await writeFile(flag, '')
  try {
    expect((await get('/static/plain.txt')).status).toBe(503)
  } finally {
    await rm(flag)
  }
  expect((await get('/static/plain.txt')).status).toBe(200)
})

test('a changed static: is said plainly by deploy (no reload), and init --reload makes it served', async () => {
  const changed = await editedConfig(
    'static: { /static/: static }',
    'static: { /static/: static, /assets/: static }'
  )
  const o = await deployVersion(changed, '2.0.0')
  expect(o.status).toBe('unchanged')
  expect(o.notes.join('\n')).toContain(
    'the static files (static:) of site v1 changed since its Apache vhost'
  )
  expect(o.notes.join('\n')).toContain('until you run: sitecycle init v1 --reload')
  // Not reloaded: /assets/ still goes to the application.
  expect((await get('/assets/plain.txt')).body).not.toBe('plain 2.0.0')
  await initSite({ config: changed, site: changed.sites.v1, exec, reporter: reporter() })
  expect(await get('/assets/plain.txt')).toMatchObject({ status: 200, body: 'plain 2.0.0' })
  expect((await deployVersion(changed, '2.0.0')).notes).toEqual([])
})

test('another changed Apache setting (shutdown_timeout) is said plainly too', async () => {
  const changed = await editedConfig('shutdown_timeout: 5', 'shutdown_timeout: 7')
  const o = await deployVersion(changed, '2.0.0')
  expect(o.status).toBe('unchanged')
  expect(o.notes.join('\n')).toMatch(
    /the Apache vhost \S+ of site v1 differs from what its config gives now .*until you run: sitecycle init v1 --reload/
  )
  await editedConfig('shutdown_timeout: 7', 'shutdown_timeout: 5')
})

test('a redeploy of an installed release whose hooks make other files keeps those: watch stays clean', async () => {
  const changed = await editedConfig(
    'static: { /static/: static, /assets/: static }',
    'static: { /static/: static, /assets/: static }\n  env: { STATIC_TAG: "-b" }'
  )
  const o = await deployVersion(changed, '1.0.0')
  expect(o.status).toBe('deployed')
  expect(o.steps.find(s => s.name === 'create-venv')?.note).toContain('reused')
  expect(o.steps.find(s => s.name === 'hooks')?.note).toContain(
    'the files they made kept in release.json'
  )
  expect((await get('/static/plain.txt')).body).toBe('plain 1.0.0-b')
  expect((await watchSite({ config: changed, site: changed.sites.v1, exec })).findings).toEqual([])
})

test('single mode: served from the current link, changed by the next deploy', async () => {
  const single = await makeTestSite({
    apache,
    mode: 'single',
    appYaml: 'static: { /static/: static }',
    hooks: [`python -c "${COLLECT.replace(/"/g, '\\"')}"`]
  })
  try {
    const at = (path: string) =>
      fetch(`${single.url}${path}`).then(async r => ({
        status: r.status,
        cacheControl: r.headers.get('cache-control'),
        body: (await r.text()).trim()
      }))
    const run = (version: string) =>
      deploy({
        config: single.config,
        site: single.site,
        exec,
        reporter: reporter(),
        release: releases,
        version
      })
    await initSite({ config: single.config, site: single.site, exec, reporter: reporter() })
    expect((await run('1.0.0')).status).toBe('deployed')
    expect(await at(`/static/${HASHED}`)).toEqual({
      status: 200,
      cacheControl: 'public, max-age=31536000, immutable',
      body: 'body { content: "1.0.0" }'
    })
    expect((await at('/static/nothing.txt')).status).toBe(404)
    expect((await run('2.0.0')).status).toBe('deployed')
    expect(await at('/static/plain.txt')).toEqual({
      status: 200,
      cacheControl: 'no-cache',
      body: 'plain 2.0.0'
    })
  } finally {
    await single.cleanup()
  }
})
