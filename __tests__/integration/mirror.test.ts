/**
 * Delayed mirrors for real, on a fake clock: a production site with an SQLite database and an
 * uploads folder gets a daily snapshot for 40 days, each day's data distinct (and a note deleted
 * on day 20); mirrors with lags 1d, 7d and 30d each show the data of the right day, are left
 * alone when they show it already, move on a day later, wait while no snapshot is old enough,
 * and recover from a refresh that failed halfway. Then, on a real Apache, a preview and a mirror
 * answer 401 without credentials and 200 with them.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig } from '../../src/config/model.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { deploy } from '../../src/pipelines/deploy.js'
import { initSite } from '../../src/pipelines/init.js'
import {
  MirrorFailed,
  readMirrorState,
  refreshMirror,
  type MirrorOutcome
} from '../../src/pipelines/mirror.js'
import { Journal } from '../../src/sites/journal.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { buildSampleRelease } from '../helpers/sample-app.js'

const SQLITE = '/usr/bin/sqlite3'
const DAY = 86_400_000
const t0 = new Date('2024-05-01T02:00:00Z')
const at =
  (days: number, hours = 0) =>
  () =>
    new Date(t0.getTime() + days * DAY + hours * 3_600_000)
const exec = new LocalExecutor()
const lines: string[] = []
const reporter = () => new StreamReporter(l => lines.push(l))

function sql(db: string, text: string): string {
  return execFileSync(SQLITE, [db], { input: text, encoding: 'utf8' }).trim()
}

let dir: string
let config: SitecycleConfig
const root = (name: string) => join(dir, name)
const dbOf = (name: string) => join(root(name), 'shared', 'app.sqlite3')
const uploadsOf = (name: string) => join(root(name), 'shared', 'uploads')

/** What a site shows: the day its database and its uploads say, and the notes it still has. */
async function shown(name: string): Promise<{ db: number; file: string; notes: number[] }> {
  return {
    db: Number(sql(dbOf(name), 'SELECT day FROM today;')),
    file: (await readFile(join(uploadsOf(name), 'today.txt'), 'utf8')).trim(),
    notes: sql(dbOf(name), 'SELECT day FROM notes ORDER BY day;').split('\n').map(Number)
  }
}

/** Day `d` on production: a new note, today's marker in the database and in a file. */
async function liveDay(d: number): Promise<void> {
  sql(
    dbOf('v1'),
    `INSERT INTO notes (day, body) VALUES (${d}, 'note of day ${d}'); UPDATE today SET day = ${d};` +
      (d === 20 ? ' DELETE FROM notes WHERE day = 5;' : '')
  )
  // Files written on the fake day get that day's mtime, as they would have: rsync's quick check
  // (size and mtime to the second) is what decides a file changed since the previous snapshot.
  const when = new Date(t0.getTime() + d * DAY - 3_600_000)
  for (const [name, text] of [
    ['today.txt', `day ${d}\n`],
    [`note-${d}.txt`, `note of day ${d}\n`]
  ]) {
    await writeFile(join(uploadsOf('v1'), name), text)
    await utimes(join(uploadsOf('v1'), name), when, when)
  }
  if (d === 20) await rm(join(uploadsOf('v1'), 'note-5.txt'))
}

function mirrorYaml(name: string, lag: string): string {
  return `
  ${name}:
    role: mirror
    from: v1
    lag: ${lag}
    root: ${root(name)}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf(name)} }
    data: [shared/uploads]
    access: { basic_auth: false }`
}

const refresh = (name: string, now: () => Date): Promise<MirrorOutcome> =>
  refreshMirror({ config, site: config.sites[name], exec, reporter: reporter(), now })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-'))
  await chmod(dir, 0o755)
  for (const name of ['v1', 'm1', 'm7', 'm30', 'm60']) {
    await mkdir(join(root(name), '.sitecycle'), { recursive: true })
    await mkdir(uploadsOf(name), { recursive: true })
  }
  sql(
    dbOf('v1'),
    `CREATE TABLE notes (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, body TEXT);
     CREATE TABLE today (day INTEGER); INSERT INTO today VALUES (-1);`
  )
  // What the mirrors held before their first refresh: it must all be replaced.
  for (const m of ['m1', 'm7', 'm30']) {
    sql(dbOf(m), 'CREATE TABLE stale (x); INSERT INTO stale VALUES (1);')
    await writeFile(join(uploadsOf(m), 'stale.txt'), 'stale\n')
  }
  const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  v1:
    root: ${root('v1')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('v1')} }
    data: [shared/uploads]
    snapshots: { keep_last: 60 }
${mirrorYaml('m1', '1d')}${mirrorYaml('m7', '7d')}${mirrorYaml('m30', '30')}${mirrorYaml('m60', '60d')}
`
  const file = join(dir, 'sitecycle.yml')
  await writeFile(file, yaml)
  config = parseConfig(yaml, file)
  // 40 days of production, a snapshot at 02:00 each day, after the day's changes.
  for (let d = 0; d < 40; d++) {
    await liveDay(d)
    await takeSnapshot({
      config,
      site: config.sites.v1,
      exec,
      reporter: reporter(),
      now: at(d),
      progressIntervalMs: 0
    })
  }
  expect((await readdir(join(root('v1'), 'snapshots'))).length).toBe(40)
}, 120_000)

afterAll(async () => {
  delete process.env.SITECYCLE_FAULT_FAIL_AT
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('mirrors with lags 1d, 7d and 30d over 40 daily snapshots', () => {
  // Day 39, 10:00: the newest snapshots at least 1, 7 and 30 days old are days 38, 32 and 9.
  const now = at(39, 8)

  test('each mirror shows the database and the files of the right day', async () => {
    const expected: Record<string, number> = { m1: 38, m7: 32, m30: 9 }
    for (const [name, day] of Object.entries(expected)) {
      const o = await refresh(name, now)
      expect(o).toMatchObject({
        status: 'refreshed',
        site: name,
        from: 'v1',
        snapshot: new Date(t0.getTime() + day * DAY).toISOString().replace(/[-:]|\.\d+/g, ''),
        previousSnapshot: null,
        ageSeconds: (39 - day) * 86_400 + 8 * 3600
      })
      const s = await shown(name)
      expect({ db: s.db, file: s.file }).toEqual({ db: day, file: `day ${day}` })
      // The whole database and folder are the snapshot's: the mirror's own leftovers are gone.
      expect(sql(dbOf(name), "SELECT name FROM sqlite_master WHERE name = 'stale';")).toBe('')
      const files = await readdir(uploadsOf(name))
      expect(files).not.toContain('stale.txt')
      expect(files.filter(f => f.startsWith('note-')).length).toBe(day + 1 - (day >= 20 ? 1 : 0))
    }
    // m30 is how a user gets back what was deleted on day 20.
    expect((await shown('m30')).notes).toContain(5)
    expect((await shown('m1')).notes).not.toContain(5)
    await expect(readFile(join(uploadsOf('m30'), 'note-5.txt'), 'utf8')).resolves.toBe(
      'note of day 5\n'
    )
    // The production site was only read.
    expect((await shown('v1')).db).toBe(39)
  })

  test('the mirror records the snapshot it shows, and a second run leaves it alone', async () => {
    const state = await readMirrorState(exec, config.sites.m7)
    expect(state).toMatchObject({ from: 'v1', snapshot: '20240602T020000Z', lag: '7d' })
    sql(dbOf('m7'), 'UPDATE today SET day = 999;') // a change the next refresh must not undo
    const o = await refresh('m7', now)
    expect(o).toMatchObject({ status: 'unchanged', snapshot: '20240602T020000Z' })
    expect(o.steps.filter(s => s.status === 'ok').map(s => s.name)).toEqual(['choose-snapshot'])
    expect((await shown('m7')).db).toBe(999)
    const ends = (await new Journal(exec, join(root('m7'), '.sitecycle/journal.jsonl')).events())
      .filter(e => e.event === 'end')
      .map(e => [e.status, e.snapshot])
    expect(ends).toEqual([
      ['refreshed', '20240602T020000Z'],
      ['unchanged', '20240602T020000Z']
    ])
  })

  test('a day later each mirror moves on by one day', async () => {
    await liveDay(40)
    await takeSnapshot({
      config,
      site: config.sites.v1,
      exec,
      reporter: reporter(),
      now: at(40),
      progressIntervalMs: 0
    })
    for (const [name, day] of Object.entries({ m1: 39, m7: 33, m30: 10 })) {
      const o = await refresh(name, at(40, 8))
      expect(o.status).toBe('refreshed')
      expect(o.previousSnapshot).toBe(
        new Date(t0.getTime() + (day - 1) * DAY).toISOString().replace(/[-:]|\.\d+/g, '')
      )
      expect((await shown(name)).db).toBe(day)
    }
  })

  test('a mirror whose lag is longer than the history waits, and the CLI says so', async () => {
    const o = await refresh('m60', at(40, 8))
    expect(o).toMatchObject({ status: 'waiting', snapshot: null })
    expect(o.notes.join('\n')).toMatch(
      /no snapshot of site v1 is 60d old yet: its oldest snapshot, 20240501T020000Z, is 40d 8h old/
    )
    await expect(readMirrorState(exec, config.sites.m60)).resolves.toBeUndefined()
  })

  test('a refresh that fails after the database was replaced leaves no false claim; the next run completes', async () => {
    await liveDay(41)
    await takeSnapshot({
      config,
      site: config.sites.v1,
      exec,
      reporter: reporter(),
      now: at(41),
      progressIntervalMs: 0
    })
    process.env.SITECYCLE_FAULT_FAIL_AT = 'restore-files'
    try {
      const err = await refresh('m1', at(41, 8)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MirrorFailed)
      expect((err as MirrorFailed).failedStep).toBe('restore-files')
      expect((err as Error).message).toMatch(/shows no known snapshot now/)
    } finally {
      delete process.env.SITECYCLE_FAULT_FAIL_AT
    }
    expect(await readMirrorState(exec, config.sites.m1)).toMatchObject({
      snapshot: null,
      refreshing: '20240610T020000Z'
    })
    // No half-copied folder is left beside the mirror's uploads.
    expect((await readdir(join(root('m1'), 'shared'))).sort()).toEqual(['app.sqlite3', 'uploads'])
    const o = await refresh('m1', at(41, 8))
    expect(o).toMatchObject({ status: 'refreshed', previousSnapshot: null })
    expect(await shown('m1')).toMatchObject({ db: 40, file: 'day 40' })
  })

  test('the CLI refreshes a mirror and lists the mirror sites for a workflow matrix', async () => {
    const out: string[] = []
    const file = join(dir, 'sitecycle.yml')
    expect(await main(['mirror', '--list', '--json', '-c', file], s => out.push(s))).toBe(0)
    expect(JSON.parse(out[0])).toEqual(['m1', 'm7', 'm30', 'm60'])
    out.length = 0
    // The real clock: every snapshot is older than 30 days by now, so m30 shows day 41 (the newest).
    expect(await main(['mirror', 'm30', '-c', file, '-q'], s => out.push(s))).toBe(0)
    expect(out[0]).toMatch(
      /^mirror m30 shows snapshot 20240611T020000Z of site v1 now \(lag 30d; it showed 20240511T020000Z\)$/
    )
    expect((await shown('m30')).db).toBe(41)
    // Not a mirror: a usage error naming the role, nothing touched.
    expect(await main(['mirror', 'v1', '-c', file], s => out.push(s))).toBe(2)
  })
})

/** GET `url` with optional basic-auth credentials. */
function get(url: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = auth
      ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` }
      : {}
    const req = request(url, { headers, agent: false }, res => {
      let body = ''
      res.on('data', d => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('previews and mirrors on a real Apache', () => {
  const PASSWORD = 'mirror-Pa55word-31c9'
  let apache: TestApache
  let siteDir: string
  let releases: string

  beforeAll(async () => {
    process.env.SAMPLE_SECRET_KEY = 'sample-secret-0123456789'
    process.env.SITECYCLE_TEST_MIRROR_PASSWORD = PASSWORD
    releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
    await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
    apache = await startApache()
    siteDir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-web-'))
    await chmod(siteDir, 0o755)
  }, 120_000)

  afterAll(async () => {
    delete process.env.SITECYCLE_TEST_MIRROR_PASSWORD
    await apache?.stop()
    if (siteDir) await rm(siteDir, { recursive: true, force: true })
    if (releases) await rm(releases, { recursive: true, force: true })
  })

  test('answer 401 without credentials and 200 with them; the health path stays open', async () => {
    await writeFile(
      join(siteDir, 'app.ini.tmpl'),
      '[app]\ngreeting = hello from {{ site.name }}\nsecret_key = {{ secret.SAMPLE_SECRET_KEY }}\n'
    )
    const ports = { v1: await freePort(), v2: await freePort(), m1: await freePort() }
    const site = (name: keyof typeof ports, role: string, open = false) => `
  ${name}:
    ${role}
    root: ${join(siteDir, name)}
    url: http://127.0.0.1:${ports[name]}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: app.ini.tmpl }
    preflight: { min_free_mb: 10 }
    access: { basic_auth: ${open ? 'false' : '{ user: reader, password_env: SITECYCLE_TEST_MIRROR_PASSWORD }'} }
    apache:
      listen: 127.0.0.1:${ports[name]}
      conf_dir: ${apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(apache.ctl)}
      shutdown_timeout: 5`
    const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:${site('v1', 'role: production', true)}${site('v2', 'role: preview\n    from: v1')}${site('m1', 'role: mirror\n    from: v1\n    lag: 1d')}
`
    const file = join(siteDir, 'sitecycle.yml')
    await writeFile(file, yaml)
    const cfg = parseConfig(yaml, file)
    for (const name of ['v1', 'v2', 'm1'] as const) {
      await initSite({ config: cfg, site: cfg.sites[name], exec, reporter: reporter() })
      const o = await deploy({
        config: cfg,
        site: cfg.sites[name],
        exec,
        reporter: reporter(),
        release: releases,
        version: '1.0.0'
      })
      expect(o.status).toBe('deployed')
    }
    for (const name of ['v2', 'm1'] as const) {
      const url = `http://127.0.0.1:${ports[name]}`
      expect((await get(`${url}/`)).status).toBe(401)
      expect((await get(`${url}/`, `reader:wrong`)).status).toBe(401)
      const ok = await get(`${url}/`, `reader:${PASSWORD}`)
      expect(ok.status).toBe(200)
      expect(ok.body).toContain(`hello from ${name}`)
      expect((await get(`${url}/__version__`)).status).toBe(200)
    }
    const open = await get(`http://127.0.0.1:${ports.v1}/`)
    expect(open.status).toBe(200)
    expect(lines.join('\n')).not.toContain(PASSWORD)
  }, 180_000)
})
