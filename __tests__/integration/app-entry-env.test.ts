/**
 * On a real Apache: an application whose entry point is a factory called with arguments, and
 * whose environment (one variable from a secret) it reads at import time and reports over HTTP.
 * A deploy with a changed app.wsgi and env shows the new values after the switch, while the
 * slot that was live keeps its script (and its old code and environment) untouched; a redeploy
 * of a release already installed gets them too.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { siteStatus } from '../../src/pipelines/status.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { watchSite } from '../../src/watch/watch.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, makeTestSite, type TestSite } from '../helpers/site.js'

const SECRET = 'entry-env-secret-8372'
const SHOW = 'APP_MESSAGE,APP_TOKEN,SITECYCLE_SLOT'
let apache: TestApache
let site: TestSite
let releases: string
let hookOut: string
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))
const exec = new LocalExecutor()

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sample-key-unused-here'
  process.env.APP_TOKEN_SECRET = SECRET
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  // The hooks run as the site's user: they write into a folder of its own.
  hookOut = await mkdtemp(join(tmpdir(), 'sitecycle-hook-out-'))
  await chmod(hookOut, 0o755)
  execFileSync('chown', ['www-data:www-data', hookOut])
  await Promise.all([
    buildSampleRelease({ version: '1.0.0', releasesDir: releases }),
    buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  ])
  apache = await startApache()
  site = await makeTestSite({
    apache,
    wsgi: `sitecycle_sample.wsgi:create_app('first', show='${SHOW}')`,
    appYaml: 'env:\n  APP_MESSAGE: one',
    siteYaml: 'env:\n  APP_TOKEN: "tok-{{ secret.APP_TOKEN_SECRET }}"',
    hooks: [
      'python -m sitecycle_sample.manage check',
      // Outside the release (cwd): not a file of the release for watch.
      `python -m sitecycle_sample.manage env --out ${hookOut}/hook-env.txt APP_MESSAGE APP_TOKEN`
    ]
  })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
  if (hookOut) await rm(hookOut, { recursive: true, force: true })
})

/** The site's config file with some text replaced, loaded again (a user's edit). */
async function editedConfig(edits: [string, string][]): Promise<SitecycleConfig> {
  const file = join(site.dir, 'sitecycle.yml')
  let yaml = await readFile(file, 'utf8')
  for (const [from, to] of edits) {
    expect(yaml).toContain(from)
    yaml = yaml.replace(from, to)
  }
  await writeFile(file, yaml)
  return parseConfig(yaml, file)
}

async function liveSlot(): Promise<'blue' | 'green'> {
  const map = await readFile(join(site.root, 'live.map'), 'utf8')
  return map.trim().split(/\s+/)[1] as 'blue' | 'green'
}

/** GET through the private route to a slot (accepted from loopback only). */
function getSlot(slot: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${site.url}${path}`,
      { localAddress: '127.0.0.1', headers: { 'X-Sitecycle-Slot': slot }, agent: false },
      res => {
        let body = ''
        res.on('data', d => (body += d))
        res.on('end', () => resolve(body.trim()))
      }
    )
    req.on('error', reject)
    req.end()
  })
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

test('a factory entry point with arguments serves, with the environment (a secret too) set before its import; hooks get it', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  const o = await deployVersion(site.config, '1.0.0')
  expect(o.status).toBe('deployed')
  const slot = await liveSlot()
  expect((await httpGet(`${site.url}/factory`)).body).toBe(
    ['first', 'APP_MESSAGE=one', `APP_TOKEN=tok-${SECRET}`, `SITECYCLE_SLOT=${slot}`].join('\n')
  )
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  const rel = join(site.root, 'releases', '1.0.0')
  expect(await readFile(join(hookOut, 'hook-env.txt'), 'utf8')).toBe(
    `APP_MESSAGE=one\nAPP_TOKEN=tok-${SECRET}\n`
  )
  // Beside app.ini, with its owner and mode; the secret nowhere else.
  const [env, ini] = await Promise.all([stat(join(rel, 'env.json')), stat(join(rel, 'app.ini'))])
  expect(env.mode & 0o777).toBe(0o640)
  expect([env.uid, env.gid]).toEqual([ini.uid, ini.gid])
  for (const s of ['blue', 'green'])
    expect(await readFile(join(site.root, 'wsgi', `${s}.wsgi`), 'utf8')).not.toContain(SECRET)
  const journal = await readFile(join(site.root, '.sitecycle', 'journal.jsonl'), 'utf8')
  expect(journal).toContain('env.json (APP_MESSAGE, APP_TOKEN) with secrets in APP_TOKEN')
  expect(journal).not.toContain(SECRET)
  expect(lines.join('\n')).not.toContain(SECRET)
  expect(JSON.stringify(await siteStatus(site.config, site.site, exec))).not.toContain(SECRET)
})

test('a changed app.wsgi and env reach users with the next release at the switch; the slot that was live keeps its script until then', async () => {
  const before = await liveSlot()
  const oldScript = join(site.root, 'wsgi', `${before}.wsgi`)
  const [text, { mtimeMs }] = await Promise.all([readFile(oldScript, 'utf8'), stat(oldScript)])
  const changed = await editedConfig([
    ["create_app('first',", "create_app('second',"],
    ['APP_MESSAGE: one', 'APP_MESSAGE: two']
  ])
  const o = await deployVersion(changed, '2.0.0')
  expect(o).toMatchObject({ status: 'deployed', version: '2.0.0' })
  const now = await liveSlot()
  expect(now).not.toBe(before)
  expect((await httpGet(`${site.url}/factory`)).body).toBe(
    ['second', 'APP_MESSAGE=two', `APP_TOKEN=tok-${SECRET}`, `SITECYCLE_SLOT=${now}`].join('\n')
  )
  // The slot that was live: its script as it was (same text, never rewritten), still serving
  // the old code with the old entry point and environment through the private route.
  expect(await readFile(oldScript, 'utf8')).toBe(text)
  expect((await stat(oldScript)).mtimeMs).toBe(mtimeMs)
  expect(await getSlot(before, '/factory')).toBe(
    ['first', 'APP_MESSAGE=one', `APP_TOKEN=tok-${SECRET}`, `SITECYCLE_SLOT=${before}`].join('\n')
  )
})

test('a redeploy of a release already installed (reused) gets the changed app.wsgi and env too', async () => {
  const live = await liveSlot()
  const liveScript = join(site.root, 'wsgi', `${live}.wsgi`)
  const [text, { mtimeMs }] = await Promise.all([readFile(liveScript, 'utf8'), stat(liveScript)])
  const changed = await editedConfig([
    ["create_app('second',", "create_app('third',"],
    ['APP_MESSAGE: two', 'APP_MESSAGE: three']
  ])
  const o = await deployVersion(changed, '1.0.0')
  expect(o).toMatchObject({ status: 'deployed', version: '1.0.0' })
  expect(o.steps.find(s => s.name === 'create-venv')?.note).toContain('reused')
  expect((await httpGet(`${site.url}/__version__`)).body).toBe('1.0.0')
  const now = await liveSlot()
  expect((await httpGet(`${site.url}/factory`)).body).toBe(
    ['third', 'APP_MESSAGE=three', `APP_TOKEN=tok-${SECRET}`, `SITECYCLE_SLOT=${now}`].join('\n')
  )
  expect(await readFile(liveScript, 'utf8')).toBe(text)
  expect((await stat(liveScript)).mtimeMs).toBe(mtimeMs)
  expect(lines.join('\n')).not.toContain(SECRET)
})

test('a deploy of the live version with a changed env changes nothing and says so plainly', async () => {
  const before = await readFile(join(site.root, 'releases', '1.0.0', 'env.json'), 'utf8')
  const changed = await editedConfig([['APP_MESSAGE: three', 'APP_MESSAGE: four']])
  const o = await deployVersion(changed, '1.0.0')
  expect(o.status).toBe('unchanged')
  expect(o.notes.join('\n')).toContain(
    'the environment (env) of live release 1.0.0 differs from this config: the live slot is not rewritten while it serves; they take effect with the next deploy of another version'
  )
  expect(await readFile(join(site.root, 'releases', '1.0.0', 'env.json'), 'utf8')).toBe(before)
  expect((await httpGet(`${site.url}/factory`)).body).toContain('APP_MESSAGE=three')
  // Back as deployed: nothing to say.
  const same = await editedConfig([['APP_MESSAGE: four', 'APP_MESSAGE: three']])
  expect((await deployVersion(same, '1.0.0')).notes).toEqual([])
})

test("watch counts env.json as sitecycle's own file of the release: no drift", async () => {
  const config = parseConfig(
    await readFile(join(site.dir, 'sitecycle.yml'), 'utf8'),
    join(site.dir, 'sitecycle.yml')
  )
  const report = await watchSite({ config, site: config.sites.v1, exec })
  expect(report.findings).toEqual([])
  expect(report.files).toMatchObject({ status: 'ok', counts: { added: 0 } })
})
