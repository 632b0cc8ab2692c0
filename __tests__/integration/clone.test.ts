/**
 * Clone for real: a production site (SQLite, uploads, the sample app 1.0.0 behind a private
 * Apache) cloned into a new site of the same config with its own root, database file and port.
 * The clone runs the same release file (sha256), its config is rendered with its own paths and
 * name, its data equals the source's, and it answers over HTTP. A release that is not the file
 * the source runs is refused before anything is touched.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { getEngine } from '../../src/databases/registry.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { cloneSite } from '../../src/pipelines/clone.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { httpGet } from '../helpers/site.js'

const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)
let apache: TestApache
let dir: string
let releases: string
let config: SitecycleConfig

const dbFile = (site: string) => join(dir, site, 'shared', 'app.sqlite3')

async function siteYaml(name: string, role: string): Promise<string> {
  const port = await freePort()
  return `
  ${name}:
    role: ${role}
    root: ${join(dir, name)}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    hooks: { after_install: ["python -m sitecycle_sample.manage check"] }
    releases: ${releases}
    database: { engine: sqlite, name: ${dbFile(name)} }
    data: [shared/uploads]
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5
`
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-clone-'))
  await chmod(dir, 0o755)
  releases = join(dir, 'releases')
  apache = await startApache()
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  await writeFile(
    join(dir, 'app.ini.tmpl'),
    '[app]\ngreeting = hello from {{ site.name }}\nroot = {{ site.root }}\n'
  )
  const yaml = `app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }\nsites:${await siteYaml('v1', 'production')}${await siteYaml('v3', 'old')}`
  config = parseConfig(yaml, join(dir, 'sitecycle.yml'))
  await mkdir(join(dir, 'v1', 'shared', 'uploads'), { recursive: true })
  execFileSync('/usr/bin/sqlite3', [dbFile('v1')], {
    input:
      "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'alice'), (2, 'bob');"
  })
  await writeFile(join(dir, 'v1', 'shared', 'uploads', 'a.txt'), 'uploaded to v1\n')
  await initSite({ config, site: config.sites.v1, exec, reporter: reporter() })
  const o = await deploy({
    config,
    site: config.sites.v1,
    exec,
    reporter: reporter(),
    version: '1.0.0'
  })
  expect(o.status).toBe('deployed')
})

afterAll(async () => {
  await apache?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

test('a release other than the file the source runs is refused before the new site is touched', async () => {
  const other = join(dir, 'other-releases')
  await buildSampleRelease({ version: '1.0.0', broken: 'health', releasesDir: other })
  const e = await cloneSite({
    config,
    source: config.sites.v1,
    site: config.sites.v3,
    exec,
    reporter: reporter(),
    release: other
  }).catch(x => x as Error)
  expect(e).toBeInstanceOf(Error)
  expect((e as Error).message).toMatch(/is not the file site v1 runs \(sha256 [0-9a-f]{64}\)/)
  await expect(stat(join(dir, 'v3'))).rejects.toThrow(/ENOENT/)
})

test('clone: same release file, own config values, same data, answers over HTTP', async () => {
  const o = await cloneSite({
    config,
    source: config.sites.v1,
    site: config.sites.v3,
    exec,
    reporter: reporter()
  })
  expect(o).toMatchObject({ status: 'cloned', site: 'v3', source: 'v1', version: '1.0.0' })
  const record = (site: string) =>
    readFile(join(dir, site, 'releases', '1.0.0', 'release.json'), 'utf8').then(
      t => JSON.parse(t) as { sha256: string }
    )
  expect((await record('v3')).sha256).toBe((await record('v1')).sha256)
  // Its config names its own root and name, nothing of the source's.
  const ini = await readFile(join(dir, 'v3', 'releases', '1.0.0', 'app.ini'), 'utf8')
  expect(ini).toContain(`root = ${join(dir, 'v3')}`)
  expect(ini).not.toContain(join(dir, 'v1'))
  // Its data equals the source's, in its own database file and folder.
  const sqlite = getEngine('sqlite')
  const sums = (site: string) => sqlite.checksums(exec, { engine: 'sqlite', name: dbFile(site) })
  expect(await sums('v3')).toEqual(await sums('v1'))
  expect(await readFile(join(dir, 'v3', 'shared', 'uploads', 'a.txt'), 'utf8')).toBe(
    'uploaded to v1\n'
  )
  const r = await httpGet(`${config.sites.v3.url}/`)
  expect(r.status).toBe(200)
  expect(r.body).toContain('hello from v3')
  expect((await httpGet(`${config.sites.v1.url}/`)).body).toContain('hello from v1')
  // The source was only read: its journal shows a snapshot and the data going out, nothing else.
  const ops = (await readFile(join(dir, 'v1', '.sitecycle', 'journal.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map(l => JSON.parse(l) as { op: string; event: string })
    .filter(e => e.event === 'end')
    .map(e => e.op)
  expect(ops).toEqual(['deploy', 'snapshot', 'sync-out'])
})
