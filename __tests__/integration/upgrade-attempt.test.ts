/**
 * Upgrade attempts end to end on real parts: a private Apache with two pairs of sites (production
 * and its preview), PostgreSQL, the sample app at 1.0.0 and 2.0.0. Promote: the preview, with the
 * data written on it during the window, answers at production's address with the new release, the
 * old production is frozen at the preview's former address; a promote failing after the vhost swap
 * is put back whole. Cancel: production is open again with its data unchanged, the preview left as
 * it was; a start interrupted half way resumes. Both journals record every phase.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import {
  AttemptFailed,
  attemptStatus,
  cancelAttempt,
  promoteAttempt,
  startAttempt,
  type AttemptRequest
} from '../../src/pipelines/attempt.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { removeOldSite } from '../../src/pipelines/remove-old.js'
import { listSites } from '../../src/pipelines/sites.js'
import { syncSite } from '../../src/pipelines/sync.js'
import { readMirrorState } from '../../src/sites/mirror-state.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { expectExit, runCli } from '../helpers/cli.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet, servedVersion } from '../helpers/site.js'

/** sitecycle's health path of `url`, asked from `from` (127.0.0.2: loopback, not the host's own address). */
function healthFrom(
  url: string,
  from: string,
  headers: Record<string, string> = {}
): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/.sitecycle/health`,
      { headers, localAddress: from, agent: false },
      res => {
        res.resume()
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }))
      }
    )
    req.on('error', reject)
    req.end()
  })
}

const PASSWORD_ENV = 'SITECYCLE_TEST_ATTEMPT_PASSWORD'
const PASSWORD = 'attempt-preview-Pa55-91d2'
const auth = { Authorization: `Basic ${Buffer.from(`sitecycle:${PASSWORD}`).toString('base64')}` }
const exec = new LocalExecutor()
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))

let apache: TestApache
let pg: PostgresServer
let dir: string
let releases: string
let configFile: string
let config: SitecycleConfig
const urls: Record<string, string> = {}

const dbName = (site: string) => `${site}_db`
const sql = (site: string, text: string) => pg.sql(dbName(site), text)

function hookFor(site: string): string {
  return `psql -X -q -v ON_ERROR_STOP=1 -h ${pg.socketDir} -p ${pg.port} -U postgres -d ${dbName(site)} -c "CREATE TABLE IF NOT EXISTS migrated (by text); INSERT INTO migrated VALUES ('${site}')"`
}

async function siteYaml(name: string, role: string, from?: string, extra = ''): Promise<string> {
  const port = await freePort()
  urls[name] = `http://127.0.0.1:${port}`
  return `
  ${name}:
    role: ${role}
${from ? `    from: ${from}\n` : ''}    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ${JSON.stringify(role === 'preview' ? [hookFor(name)] : [])} }
    database: { engine: postgres, name: ${dbName(name)}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }
    preflight: { min_free_mb: 10 }
${extra}${role === 'preview' ? `    access: { basic_auth: { password_env: ${PASSWORD_ENV} } }\n` : ''}    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

const site = (name: string): SiteConfig => config.sites[name]
const request = (preview: string): AttemptRequest => ({
  config,
  preview: site(preview),
  previewExec: exec,
  productionExec: exec,
  reporter: reporter()
})

/** `op phase` of every attempt event in a site's journal, oldest first. */
async function attemptPhases(name: string): Promise<string[]> {
  const text = await readFile(join(dir, name, '.sitecycle', 'journal.jsonl'), 'utf8')
  return text
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string; phase?: string })
    .filter(e => e.op === 'attempt' && e.event === 'start')
    .map(e => e.phase!)
}

const frozen = (name: string) =>
  stat(join(dir, name, 'maintenance', 'ON')).then(
    () => true,
    () => false
  )

const NOTES_SQL = `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO notes VALUES (1, 'first'), (2, 'second');`

beforeAll(async () => {
  process.env[PASSWORD_ENV] = PASSWORD
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-attempt-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  ;[apache, pg] = await Promise.all([startApache(), startPostgres()])
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await buildSampleRelease({ version: '2.0.0', releasesDir: releases })
  await writeFile(join(dir, 'app.ini.tmpl'), '[app]\ngreeting = hello from {{ site.name }}\n')
  const sites =
    // v1 keeps a year of monthly snapshots; v2 the defaults (about 140 days).
    (await siteYaml('v1', 'production', undefined, '    snapshots: { monthly: 12 }\n')) +
    (await siteYaml('v2', 'preview', 'v1')) +
    (await siteYaml('c1', 'production')) +
    (await siteYaml('c2', 'preview', 'c1')) +
    // A mirror of v1 (only its state matters here: a promote moves it to the new production).
    `\n  mv: { role: mirror, from: v1, lag: 1d, root: ${join(dir, 'mv')}, url: "http://127.0.0.1:9", access: { basic_auth: false } }\n` +
    `  my: { role: mirror, from: v1, lag: 200d, root: ${join(dir, 'my')}, url: "http://127.0.0.1:9", access: { basic_auth: false } }\n`
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:${sites}`
  configFile = join(dir, 'sitecycle.yml')
  await writeFile(configFile, yaml)
  config = parseConfig(yaml, configFile)
  for (const name of ['v1', 'v2', 'c1', 'c2']) {
    pg.sql('postgres', `CREATE DATABASE ${dbName(name)};`)
    await mkdir(join(dir, name), { recursive: true })
    await initSite({ config, site: site(name), exec, reporter: reporter() })
    const o = await deploy({
      config,
      site: site(name),
      exec,
      reporter: reporter(),
      release: releases,
      version: '1.0.0'
    })
    expect(o.status).toBe('deployed')
  }
  sql('v1', NOTES_SQL)
  sql('c1', NOTES_SQL)
})

afterAll(async () => {
  delete process.env[PASSWORD_ENV]
  await apache?.stop()
  await pg?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test('promote: the preview, with what users wrote during the window, becomes production at its address; the old production is kept frozen', async () => {
  // Written after nothing was synced yet: the attempt must carry it over.
  sql('v1', "INSERT INTO notes VALUES (3, 'written just before the attempt');")
  const started = await startAttempt({ ...request('v2'), release: releases, version: '2.0.0' })
  expect(started).toMatchObject({ phase: 'open', version: '2.0.0', previousVersion: '1.0.0' })
  expect(started.steps.map(s => `${s.name} ${s.status}`)).toEqual([
    'sync-preview ok',
    'deploy-preview ok',
    'open-preview ok',
    'freeze-production ok',
    'catch-up ok'
  ])

  // The window: the preview serves 2.0.0 on production's data; production is frozen and says where to go.
  expect(await servedVersion(urls.v2)).toBe('2.0.0')
  expect((await httpGet(`${urls.v2}/`, auth)).body).toContain('hello from v2')
  // ... and the users production sends there get in without the preview's password.
  const walkIn = await httpGet(`${urls.v2}/`)
  expect(walkIn.status).toBe(200)
  expect(walkIn.body).toContain('hello from v2')
  expect((await healthFrom(urls.v2, '127.0.0.2')).status).toBe(200)
  expect(sql('v2', 'SELECT count(*) FROM notes;').trim()).toBe('3')
  const page = await fetch(`${urls.v1}/`)
  expect(page.status).toBe(503)
  expect(page.headers.get('retry-after')).toBeTruthy()
  expect(await page.text()).toContain(`href="${urls.v2}"`)
  expect(await servedVersion(urls.v1)).toBe('1.0.0')
  sql('v2', "INSERT INTO notes VALUES (4, 'written on the preview during the window');")
  // A scheduled preview sync during the window would overwrite what users did there: refused.
  await expect(syncSite({ config, site: site('v2'), exec, reporter: reporter() })).rejects.toThrow(
    /site v2 is the preview of upgrade attempt .* \(open\)/
  )
  const v1Before = sql('v1', 'SELECT id, body FROM notes ORDER BY id;')

  // A promote that fails after the vhosts were swapped and Apache reloaded is put back whole.
  process.env.SITECYCLE_FAULT_FAIL_AT = 'verify-production'
  let failed: unknown
  try {
    await promoteAttempt(request('v2'))
  } catch (e) {
    failed = e
  } finally {
    delete process.env.SITECYCLE_FAULT_FAIL_AT
  }
  expect(failed).toBeInstanceOf(AttemptFailed)
  expect((failed as AttemptFailed).failedStep).toBe('verify-production')
  expect((await attemptStatus(request('v2')))?.phase).toBe('open')
  expect(await servedVersion(urls.v1)).toBe('1.0.0')
  expect((await fetch(`${urls.v1}/`)).status).toBe(503)
  expect((await httpGet(`${urls.v2}/`, auth)).body).toContain('hello from v2')
  expect(await frozen('v2')).toBe(false)

  const promoted = await promoteAttempt({ ...request('v2'), keepOldSeconds: 3600 })
  expect(promoted.phase).toBe('promoted')
  // Production's address now serves 2.0.0 from site v2, open to everyone (production's access).
  expect(await servedVersion(urls.v1)).toBe('2.0.0')
  const home = await httpGet(`${urls.v1}/`)
  expect(home.status).toBe(200)
  expect(home.body).toContain('hello from v2')
  // ... with the data written on the preview during the window, migrated by the new release's hook.
  expect(sql('v2', 'SELECT id, body FROM notes ORDER BY id;')).toContain(
    'written on the preview during the window'
  )
  expect(sql('v2', 'SELECT DISTINCT by FROM migrated;').trim()).toBe('v2')
  // The old production: untouched data, frozen at the preview's former address, pointing to production.
  expect(sql('v1', 'SELECT id, body FROM notes ORDER BY id;')).toBe(v1Before)
  expect(await servedVersion(urls.v2)).toBe('1.0.0')
  const oldPage = await fetch(`${urls.v2}/`, { headers: auth })
  expect(oldPage.status).toBe(503)
  expect(await oldPage.text()).toContain(`href="${urls.v1}"`)
  // The window's open access went with the window: the preview's old address asks for the
  // preview's password again (the old site took the preview's access with its address). Its
  // pages are all the maintenance answer while it is frozen (before any credentials are asked);
  // sitecycle's health path is not, and answers 401 to anyone but the host itself.
  expect((await healthFrom(urls.v2, '127.0.0.2')).status).toBe(401)
  expect((await healthFrom(urls.v2, '127.0.0.2', auth)).status).toBe(200)

  // Both journals have every phase; the hosts know the new roles.
  const phases = [
    'syncing',
    'deploying',
    'freezing',
    'catching-up',
    'open',
    'promoting',
    'open',
    'promoting',
    'promoted'
  ]
  expect(await attemptPhases('v1')).toEqual(phases)
  expect(await attemptPhases('v2')).toEqual(phases)
  const rows = await listSites(config, () => exec)
  expect(rows.find(r => r.site === 'v2')).toMatchObject({
    role: 'production',
    url: urls.v1,
    configSays: { role: 'preview', url: urls.v2 }
  })
  expect(rows.find(r => r.site === 'v1')).toMatchObject({ role: 'old', url: urls.v2 })
  // The mirror of the old production follows the new one from now on.
  expect(promoted.steps.find(s => s.name === 'move-mirrors')).toMatchObject({ status: 'ok' })
  // The year-long mirror now follows a site whose retention is shorter: the promote says so.
  expect(promoted.notes.join('\n')).toMatch(
    /mirror my \(lag 200d\) now follows v2, whose retention \(sites\.v2\.snapshots\) keeps none surely older than 140d/
  )
  expect(promoted.notes.join('\n')).not.toMatch(/mirror mv/)
  expect(await readMirrorState(exec, site('mv'))).toMatchObject({
    follows: { site: 'v2', before: 'v1', attempt: promoted.attempt }
  })
  // The window's flag is gone with the window.
  await expect(stat(join(dir, 'v2', 'shared', '.access-open'))).rejects.toThrow()

  // The scheduled preview sync must not copy the old site over the new production.
  await expect(syncSite({ config, site: site('v2'), exec, reporter: reporter() })).rejects.toThrow(
    /site v2 was promoted to production/
  )
  // The CLI sees the host's roles: status of v2 names production's URL.
  const status = await runCli(['status', 'v2', '--json', '-c', configFile])
  expectExit(status, 0)
  expect(JSON.parse(status.stdout).url).toBe(urls.v1)

  // The old site is kept for the time asked, then removed (snapshots, journal and database kept).
  await expect(
    removeOldSite({ config, site: site('v1'), exec, reporter: reporter() })
  ).rejects.toThrow(/kept until/)
  await expect(
    removeOldSite({ config, site: site('v2'), exec, reporter: reporter(), now: true })
  ).rejects.toThrow(/not old/)
  const removed = await runCli(['remove', 'v1', '--now', '--reload', '-c', configFile])
  expectExit(removed, 0)
  expect(removed.stdout).toContain(`database ${dbName('v1')} left in place`)
  await expect(stat(join(dir, 'v1', 'releases'))).rejects.toThrow()
  await expect(stat(join(dir, 'v1', '.sitecycle', 'journal.jsonl'))).resolves.toBeTruthy()
  expect(await servedVersion(urls.v1)).toBe('2.0.0')
})

test('cancel: production opens again with its data unchanged; the preview is left as it was; an interrupted start resumes', async () => {
  const before = sql('c1', 'SELECT id, body FROM notes ORDER BY id;')
  process.env.SITECYCLE_FAULT_FAIL_AT = 'catch-up'
  await expect(
    startAttempt({ ...request('c2'), release: releases, version: '2.0.0' })
  ).rejects.toThrow(/stays catching-up: run attempt start again to resume/)
  delete process.env.SITECYCLE_FAULT_FAIL_AT
  expect(await frozen('c1')).toBe(true)
  // Another release cannot start while this attempt is in progress.
  await expect(
    startAttempt({ ...request('c2'), release: releases, version: '1.0.0' })
  ).rejects.toThrow(/promote or cancel it before starting another/)

  const resumed = await runCli([
    'attempt',
    'start',
    'c2',
    '--release',
    releases,
    '--version',
    '2.0.0',
    '--json',
    '-c',
    configFile
  ])
  expectExit(resumed, 0)
  expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'open', version: '2.0.0' })
  expect(
    JSON.parse(resumed.stdout).steps.map(
      (s: { name: string; status: string }) => `${s.name} ${s.status}`
    )
  ).toEqual([
    'sync-preview skipped',
    'deploy-preview skipped',
    'open-preview skipped',
    'freeze-production skipped',
    'catch-up ok'
  ])
  expect((await httpGet(`${urls.c2}/`)).status).toBe(200)
  const during = await runCli(['status', 'c1', '-c', configFile])
  expectExit(during, 0)
  expect(during.stdout).toMatch(/production, FROZEN/)
  expect(during.stdout).toMatch(/attempt: +attempt-\S+ open \(2\.0\.0 on c2, production c1\)/)
  sql('c2', "INSERT INTO notes VALUES (9, 'tried on the preview');")

  const cancelled = await cancelAttempt(request('c2'))
  expect(cancelled.phase).toBe('cancelled')
  expect(await frozen('c1')).toBe(false)
  expect(await servedVersion(urls.c1)).toBe('1.0.0')
  expect((await httpGet(`${urls.c1}/`)).body).toContain('hello from c1')
  expect(sql('c1', 'SELECT id, body FROM notes ORDER BY id;')).toBe(before)
  // The preview is left as it was, for inspection, behind its password again.
  expect(await servedVersion(urls.c2)).toBe('2.0.0')
  expect((await httpGet(`${urls.c2}/`)).status).toBe(401)
  expect(cancelled.steps.map(s => `${s.name} ${s.status}`)).toEqual([
    'put-back skipped',
    'unfreeze-production ok',
    'close-window ok'
  ])
  expect(sql('c2', 'SELECT body FROM notes WHERE id = 9;').trim()).toBe('tried on the preview')
  const phases = ['syncing', 'deploying', 'freezing', 'catching-up', 'open', 'cancelled']
  expect(await attemptPhases('c1')).toEqual(phases)
  expect(await attemptPhases('c2')).toEqual(phases)
  // Nothing left to promote or cancel.
  const again = await runCli(['attempt', 'promote', 'c2', '-c', configFile])
  expectExit(again, 2)
  expect(again.stderr).toMatch(/is cancelled: only an open attempt/)
})

test.each(['swap-vhosts', 'reload'])(
  'a promote killed after %s is put back by cancel: each site at its own address again, production open',
  async step => {
    const start = await runCli(
      ['attempt', 'start', 'c2', '--release', releases, '--version', '2.0.0', '-c', configFile],
      { env: { [PASSWORD_ENV]: PASSWORD } }
    )
    expectExit(start, 0)
    const killed = await runCli(['attempt', 'promote', 'c2', '-c', configFile], {
      env: { [PASSWORD_ENV]: PASSWORD, SITECYCLE_FAULT_KILL_AFTER: step }
    })
    expect(killed.signal).toBe('SIGKILL')
    expect((await attemptStatus(request('c2')))?.phase).toBe('promoting')

    // The next command finds both locks held by a dead run and the promote half done: cancel puts it back.
    const cancel = await runCli(['attempt', 'cancel', 'c2', '--json', '-c', configFile], {
      env: { [PASSWORD_ENV]: PASSWORD }
    })
    expectExit(cancel, 0)
    expect(
      JSON.parse(cancel.stdout).steps.map(
        (s: { name: string; status: string }) => `${s.name} ${s.status}`
      )
    ).toEqual(['put-back ok', 'unfreeze-production ok', 'close-window ok'])
    expect(await frozen('c1')).toBe(false)
    expect(await frozen('c2')).toBe(false)
    expect(await servedVersion(urls.c1)).toBe('1.0.0')
    expect((await httpGet(`${urls.c1}/`)).body).toContain('hello from c1')
    expect(await servedVersion(urls.c2)).toBe('2.0.0')
    expect((await httpGet(`${urls.c2}/`)).status).toBe(401)
    expect((await httpGet(`${urls.c2}/`, auth)).body).toContain('hello from c2')
    const rows = await listSites(config, () => exec)
    expect(rows.filter(r => r.site.startsWith('c')).map(r => [r.site, r.role, r.url])).toEqual([
      ['c1', 'production', urls.c1],
      ['c2', 'preview', urls.c2]
    ])
    const journal = await readFile(join(dir, 'c1', '.sitecycle', 'journal.jsonl'), 'utf8')
    expect(journal).toMatch(/"op":"promote","event":"recovered"/)
  },
  240_000
)

test('a promote killed after the reload finishes when run again', async () => {
  expectExit(
    await runCli(
      ['attempt', 'start', 'c2', '--release', releases, '--version', '2.0.0', '-c', configFile],
      {
        env: { [PASSWORD_ENV]: PASSWORD }
      }
    ),
    0
  )
  const killed = await runCli(['attempt', 'promote', 'c2', '-c', configFile], {
    env: { [PASSWORD_ENV]: PASSWORD, SITECYCLE_FAULT_KILL_AFTER: 'reload' }
  })
  expect(killed.signal).toBe('SIGKILL')
  const promoting = Date.now()
  const again = await runCli(
    ['attempt', 'promote', 'c2', '--keep-old', '2d', '--json', '-c', configFile],
    {
      env: { [PASSWORD_ENV]: PASSWORD }
    }
  )
  expectExit(again, 0)
  const o = JSON.parse(again.stdout)
  expect(o).toMatchObject({ status: 'promoted', version: '2.0.0', productionUrl: urls.c1 })
  // Two days after the promote that finished: between its start and its end, plus 2 days.
  const promoted = Date.now()
  expect(Date.parse(o.removeAfter)).toBeGreaterThanOrEqual(promoting + 48 * 3600_000)
  expect(Date.parse(o.removeAfter)).toBeLessThanOrEqual(promoted + 48 * 3600_000)
  expect(await servedVersion(urls.c1)).toBe('2.0.0')
  expect((await httpGet(`${urls.c1}/`)).body).toContain('hello from c2')
  expect(await frozen('c2')).toBe(false)
  expect(await frozen('c1')).toBe(true)
  const sites = await runCli(['sites', '-c', configFile])
  expectExit(sites, 0)
  expect(sites.stdout).toMatch(/c2\s+production \(sitecycle\.yml: preview\)/)
  expect(sites.stdout).toMatch(/c1\s+old \(sitecycle\.yml: production\)/)
  expect(sites.stdout).toContain('update sitecycle.yml to match')
})
