/** `sitecycle sites`: role, live release, last snapshot per site; an unreachable host is one row's error. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import { formatSites, listSites } from '../../src/pipelines/sites.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'
import { makeTestSite, type TestSite } from '../helpers/site.js'

let apache: TestApache
let site: TestSite
let releases: string
const exec = new LocalExecutor()
const reporter = () => new StreamReporter(() => undefined)

beforeAll(async () => {
  process.env.SAMPLE_SECRET_KEY = 'sites-list-secret'
  releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
  await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
  apache = await startApache()
  site = await makeTestSite({ apache, siteYaml: 'data: [shared/uploads]' })
})

afterAll(async () => {
  await apache?.stop()
  await site?.cleanup()
  await rm(releases, { recursive: true, force: true })
})

test('lists each site with its role, live release and newest snapshot; an unreachable host is reported on its row', async () => {
  await initSite({ config: site.config, site: site.site, exec, reporter: reporter() })
  await deploy({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter(),
    release: releases,
    version: '1.0.0'
  })
  await mkdir(join(site.root, 'shared', 'uploads'), { recursive: true })
  await writeFile(join(site.root, 'shared', 'uploads', 'a.txt'), 'a')
  const snap = await takeSnapshot({
    config: site.config,
    site: site.site,
    exec,
    reporter: reporter()
  })

  // the same config plus a site never initialized and one on a host that does not answer
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
ssh: { known_hosts: ${join(site.dir, 'known_hosts')} }
sites:
  v1: { root: ${site.root}, url: ${site.url}, data: [shared/uploads] }
  v2: { role: preview, root: ${join(site.dir, 'v2')}, url: "http://127.0.0.1:1", access: { basic_auth: false } }
  v3: { role: old, host: "ssh://root@127.0.0.1:1", root: /srv/nowhere, url: "http://127.0.0.1:2" }
`
  await writeFile(join(site.dir, 'known_hosts'), '')
  const config = parseConfig(yaml, join(site.dir, 'sites.yml'))
  const opened: { close(): Promise<void> }[] = []
  const rows = await listSites(config, s => {
    const e = createExecutor(s.host, config.ssh)
    opened.push(e)
    return e
  })
  for (const e of opened) await e.close()
  expect(rows.map(r => [r.site, r.role, r.initialized, r.live])).toEqual([
    ['v1', 'production', true, '1.0.0'],
    ['v2', 'preview', false, null],
    ['v3', 'old', false, null]
  ])
  expect(rows[0].lastSnapshot?.id).toBe(snap.id)
  expect(rows[1].error).toBeUndefined()
  expect(rows[2].error).toMatch(/127\.0\.0\.1/)
  const table = formatSites(rows)
  expect(table.split('\n')[0]).toMatch(/^site\s+role\s+live\s+last sync\s+last snapshot\s+host$/)
  expect(table).toContain('not initialized')
})
