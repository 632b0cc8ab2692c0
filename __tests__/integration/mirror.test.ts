/**
 * Delayed mirrors for real, on a fake clock: a production site with an SQLite database and an
 * uploads folder gets a daily snapshot for 40 days, each day's data distinct (and a note deleted
 * on day 20); mirrors with lags 1d, 7d and 30d each show the data of the right day, are left
 * alone when they show it already, move on a day later, wait while no snapshot is old enough,
 * and recover from a refresh that failed halfway. Then, on a real Apache, a preview and a mirror
 * answer 401 without credentials and 200 with them.
 */
import { execFileSync } from 'node:child_process'
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  utimes,
  writeFile
} from 'node:fs/promises'
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
  mirrorStepNames,
  readMirrorState,
  refreshMirror,
  type MirrorOutcome
} from '../../src/pipelines/mirror.js'
import { Journal } from '../../src/sites/journal.js'
import { mirrorNeedsOf, writeMirrorState } from '../../src/sites/mirror-state.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { freePort, startApache, type TestApache } from '../helpers/apache.js'
import { startPostgres, type PostgresServer } from '../helpers/databases.js'
import { expectExit, runCli } from '../helpers/cli.js'
import { DataKillSites } from '../helpers/data-kill-sites.js'
import { buildSampleRelease } from '../helpers/sample-app.js'

const SQLITE = '/usr/bin/sqlite3'
const DAY = 86_400_000
const t0 = new Date('2024-05-01T02:00:00Z')
const at =
  (days: number, hours = 0) =>
  () =>
    new Date(t0.getTime() + days * DAY + hours * 3_600_000)
const exec = new LocalExecutor()
const WWW_DATA = Number(execFileSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).trim())
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
/** A shared file entry (`kind: file`) of production and its mirrors: a local settings file. */
const iniOf = (name: string) => join(root(name), 'shared', 'local.ini')

/**
 * What a site shows: the day its database, its uploads and its shared file say (null: no such
 * file), and the notes it still has.
 */
async function shown(
  name: string
): Promise<{ db: number; file: string; ini: string | null; notes: number[] }> {
  return {
    db: Number(sql(dbOf(name), 'SELECT day FROM today;')),
    file: (await readFile(join(uploadsOf(name), 'today.txt'), 'utf8')).trim(),
    ini: await readFile(iniOf(name), 'utf8').then(
      t => t.trim(),
      () => null
    ),
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
  await writeFile(iniOf('v1'), `[day]\nday = ${d}\n`)
  await utimes(iniOf('v1'), when, when)
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
    shared: [{ path: local.ini, kind: file }]
    access: { basic_auth: false }`
}

const refresh = (name: string, now: () => Date): Promise<MirrorOutcome> =>
  refreshMirror({ config, site: config.sites[name], exec, reporter: reporter(), now })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-'))
  await chmod(dir, 0o755)
  for (const name of ['v1', 'm1', 'm7', 'm30', 'm60', 'v9', 'mf', 'v5', 'm5']) {
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
    shared: [{ path: local.ini, kind: file, mode: '0640' }]
    snapshots: { keep_last: 60 }
${mirrorYaml('m1', '1d')}${mirrorYaml('m7', '7d')}${mirrorYaml('m30', '30')}${mirrorYaml('m60', '60d')}${mirrorYaml('mf', '7d')}
  v5:
    role: preview
    root: ${root('v5')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('v5')} }
    snapshots: { keep_last: 1, daily: 3, weekly: 0, monthly: 0 }
    access: { basic_auth: false }
  m5:
    role: mirror
    from: v5
    lag: 2d
    root: ${root('m5')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('m5')} }
    access: { basic_auth: false }
  v9:
    role: preview
    root: ${root('v9')}
    url: http://127.0.0.1:9
    database: { engine: sqlite, name: ${dbOf('v9')} }
    data: [shared/uploads]
    access: { basic_auth: false }
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
})

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
      // The shared file of that day too, the mirror's Apache user's with the mirror's mode.
      expect(s.ini).toBe(`[day]\nday = ${day}`)
      const ini = await stat(iniOf(name))
      expect([ini.uid, ini.mode & 0o777]).toEqual([WWW_DATA, 0o660])
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

  test('a refresh that fails after its data was swapped in puts the previous data back and makes no false claim; the next run completes', async () => {
    await liveDay(41)
    await takeSnapshot({
      config,
      site: config.sites.v1,
      exec,
      reporter: reporter(),
      now: at(41),
      progressIntervalMs: 0
    })
    const before = await shown('m1')
    process.env.SITECYCLE_FAULT_FAIL_AT = 'record-shown'
    try {
      const err = await refresh('m1', at(41, 8)).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(MirrorFailed)
      expect((err as MirrorFailed).failedStep).toBe('record-shown')
      expect((err as Error).message).toMatch(/the mirror still shows/)
    } finally {
      delete process.env.SITECYCLE_FAULT_FAIL_AT
    }
    // Database and files back as they were, together; the state names what it shows again.
    expect(await shown('m1')).toEqual(before)
    const still = (await readMirrorState(exec, config.sites.m1))?.snapshot
    expect(still).toMatch(/^\d{8}T\d{6}Z$/)
    expect(still).not.toBe('20240610T020000Z')
    // No half-copied folder is left beside the mirror's uploads.
    expect((await readdir(join(root('m1'), 'shared'))).sort()).toEqual([
      'app.sqlite3',
      'local.ini',
      'uploads'
    ])
    const o = await refresh('m1', at(41, 8))
    expect(o).toMatchObject({ status: 'refreshed', previousSnapshot: still })
    expect(await shown('m1')).toMatchObject({ db: 40, file: 'day 40', ini: '[day]\nday = 40' })
  })

  test("a snapshot's retention keeps what the source's mirrors need, beyond its own policy", async () => {
    // v5 keeps the newest snapshot of each of 3 days; its 2d mirror needs one per 6 hours.
    sql(dbOf('v5'), 'CREATE TABLE today (day INTEGER); INSERT INTO today VALUES (0);')
    const start = Date.UTC(2024, 6, 1)
    const ids: string[] = []
    for (let h = 0; h <= 54; h += 6) {
      sql(dbOf('v5'), `UPDATE today SET day = ${h};`)
      const o = await takeSnapshot({
        config,
        site: config.sites.v5,
        exec,
        reporter: reporter(),
        now: () => new Date(start + h * 3_600_000),
        progressIntervalMs: 0
      })
      ids.push(o.id)
    }
    // Listed snapshots only: a base that kept deltas need is kept hidden under .bases.
    const kept = (await readdir(join(root('v5'), 'snapshots')))
      .filter(n => !n.startsWith('.'))
      .sort()
    // At hour 54 the mirror shows hour 6 (the newest at least 2 days old) and will show each
    // of the later ones; only hour 0 is of no use to it. v5's own policy keeps hours 18, 42, 54.
    expect(kept).toEqual(ids.slice(1))
    const o = await refreshMirror({
      config,
      site: config.sites.m5,
      exec,
      reporter: reporter(),
      now: () => new Date(start + 57 * 3_600_000)
    })
    expect(o).toMatchObject({ status: 'refreshed', snapshot: ids[1] })
    expect(sql(dbOf('m5'), 'SELECT day FROM today;')).toBe('6')
  })

  test('a mirror moved by a promote follows the new production, showing the old one until the new one has history that old', async () => {
    // v9 became production on day 35 at 03:00 (the record a promote writes); its data goes on
    // from v1's, with markers of its own.
    await writeMirrorState(
      exec,
      config.sites.mf,
      {
        from: 'v1',
        snapshot: null,
        takenAt: null,
        refreshedAt: at(35, 1)().toISOString(),
        lag: '7d',
        follows: {
          site: 'v9',
          before: 'v1',
          since: at(35, 1)().toISOString(),
          attempt: 'attempt-x'
        }
      },
      config.app.python
    )
    sql(
      dbOf('v9'),
      'CREATE TABLE notes (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, body TEXT); CREATE TABLE today (day INTEGER); INSERT INTO today VALUES (1036);'
    )
    await writeFile(join(uploadsOf('v9'), 'today.txt'), 'day 1036\n')
    await takeSnapshot({
      config,
      site: config.sites.v9,
      exec,
      reporter: reporter(),
      now: at(36),
      progressIntervalMs: 0
    })
    // Retention of both sites knows the mirror needs them.
    await expect(mirrorNeedsOf(exec, config, config.sites.v9)).resolves.toEqual([
      { name: 'mf', lag: '7d', lagSeconds: 7 * 86_400 }
    ])
    expect((await mirrorNeedsOf(exec, config, config.sites.v1)).map(n => n.name)).toContain('mf')
    // Day 41: 7 days back is day 34, before the promote: v1's snapshot.
    const first = await refresh('mf', at(41, 8))
    expect(first).toMatchObject({ status: 'refreshed', from: 'v9', snapshot: '20240604T020000Z' })
    expect((await shown('mf')).db).toBe(34)
    // Day 43: day 36 is after the promote: v9's snapshot, although v1 has newer ones (days 37-41).
    const second = await refresh('mf', at(43, 8))
    expect(second).toMatchObject({ status: 'refreshed', snapshot: '20240606T020000Z' })
    expect((await shown('mf')).db).toBe(1036)
    expect(await readMirrorState(exec, config.sites.mf)).toMatchObject({
      from: 'v9',
      snapshot: '20240606T020000Z',
      follows: { site: 'v9', before: 'v1' }
    })
  })

  // Every step of a refresh, each followed by a refresh again or another kind of operation.
  test.each([
    ['choose-snapshot', 'snapshot'],
    ['forget-shown', 'maintenance off'],
    ['forget-shown', 'mirror'],
    ['stage-database', 'snapshot'],
    ['stage-files', 'mirror'],
    ['swap-data', 'snapshot'],
    ['swap-data', 'maintenance off'],
    ['read-only-database', 'snapshot'],
    ['read-only-database', 'mirror'],
    ['record-shown', 'snapshot'],
    ['reload-app', 'mirror'],
    ['cleanup', 'snapshot']
  ])(
    'a refresh killed after %s, then %s: the mirror shows one day whole (database and files), no copy left over',
    async (step, next) => {
      // An older day first, so the refresh by the real clock (the newest snapshot) changes it.
      await refresh('m7', at(36, 8))
      const before = await shown('m7')
      const file = join(dir, 'sitecycle.yml')
      const killed = await runCli(['mirror', 'm7', '-c', file], {
        env: { SITECYCLE_FAULT_KILL_AFTER: step }
      })
      expect(killed.signal).toBe('SIGKILL')
      const r = await runCli([...next.split(' '), 'm7', '-c', file])
      expectExit(r, 0)
      expect(r.stderr).toMatch(/did not finish: recovering/)
      // What it did with the killed refresh: nothing to undo, undone, or finished.
      expect(r.stderr).toMatch(
        DataKillSites.recoveryReport('mirror', mirrorStepNames(), step, 'record-shown')
      )
      expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)
      const now = await shown('m7')
      // The database's day and the file's day agree: never a mix.
      expect(now.file).toBe(`day ${now.db}`)
      expect(now.ini).toBe(`[day]\nday = ${now.db}`)
      const finished = next === 'mirror' || ['record-shown', 'reload-app', 'cleanup'].includes(step)
      if (finished) expect(now.db).toBeGreaterThan(before.db)
      else expect(now).toEqual(before)
      expect((await readdir(join(root('m7'), 'shared'))).filter(n => n.includes('.sc-'))).toEqual(
        []
      )
      await expect(stat(join(root('m7'), 'maintenance', 'ON'))).rejects.toThrow(/ENOENT/)
    }
  )

  test('the CLI refreshes a mirror and lists the mirror sites for a workflow matrix', async () => {
    const out: string[] = []
    const file = join(dir, 'sitecycle.yml')
    expect(await main(['mirror', '--list', '--json', '-c', file], s => out.push(s))).toBe(0)
    expect(JSON.parse(out[0])).toEqual(['m1', 'm7', 'm30', 'm60', 'mf', 'm5'])
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

/**
 * GET (or `opts.method`) `url` with optional basic-auth credentials; `opts.from` is the local
 * address to send from (127.0.0.2 is loopback too, but not the host's own probe address).
 */
function get(
  url: string,
  auth?: string,
  opts: { method?: string; from?: string; body?: string } = {}
): Promise<{ status: number; body: string; allow?: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = auth
      ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` }
      : {}
    const req = request(
      url,
      {
        headers,
        agent: false,
        method: opts.method ?? 'GET',
        ...(opts.from && { localAddress: opts.from })
      },
      res => {
        let body = ''
        res.on('data', d => (body += d))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            ...(res.headers.allow && { allow: String(res.headers.allow) })
          })
        )
      }
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

describe('previews and mirrors on a real Apache', () => {
  const PASSWORD = 'mirror-Pa55word-31c9'
  let apache: TestApache
  let siteDir: string
  let releases: string
  let cfg: SitecycleConfig
  let ports0: Record<'v1' | 'v2' | 'm1', number>

  beforeAll(async () => {
    process.env.SAMPLE_SECRET_KEY = 'sample-secret-0123456789'
    process.env.SITECYCLE_TEST_MIRROR_PASSWORD = PASSWORD
    releases = await mkdtemp(join(tmpdir(), 'sitecycle-releases-'))
    await buildSampleRelease({ version: '1.0.0', releasesDir: releases })
    apache = await startApache()
    siteDir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-web-'))
    await chmod(siteDir, 0o755)
  })

  afterAll(async () => {
    delete process.env.SITECYCLE_TEST_MIRROR_PASSWORD
    await apache?.stop()
    if (siteDir) await rm(siteDir, { recursive: true, force: true })
    if (releases) await rm(releases, { recursive: true, force: true })
  })

  test('a new mirror serves its source release by itself; 401 without credentials, 200 with them', async () => {
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
sites:${site('v1', `role: production\n    releases: ${releases}`, true)}${site('v2', 'role: preview\n    from: v1')}${site('m1', 'role: mirror\n    from: v1\n    lag: 1d')}
`
    const file = join(siteDir, 'sitecycle.yml')
    await writeFile(file, yaml)
    cfg = parseConfig(yaml, file)
    ports0 = ports
    for (const name of ['v1', 'v2', 'm1'] as const)
      await initSite({ config: cfg, site: cfg.sites[name], exec, reporter: reporter() })
    for (const name of ['v1', 'v2'] as const) {
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
    // A new mirror: initialized, never deployed to by hand. Its refresh deploys the release its
    // snapshot was taken under, from its source's releases folder.
    const m1 = `http://127.0.0.1:${ports.m1}`
    expect((await get(`${m1}/`, `reader:${PASSWORD}`)).status).toBe(503)
    const taken = new Date(Date.now() - 2 * DAY)
    await takeSnapshot({
      config: cfg,
      site: cfg.sites.v1,
      exec,
      reporter: reporter(),
      now: () => taken
    })
    const o = await refreshMirror({ config: cfg, site: cfg.sites.m1, exec, reporter: reporter() })
    expect(o).toMatchObject({ status: 'refreshed', release: '1.0.0', deployed: '1.0.0' })
    for (const name of ['v2', 'm1'] as const) {
      const url = `http://127.0.0.1:${ports[name]}`
      expect((await get(`${url}/`)).status).toBe(401)
      expect((await get(`${url}/`, `reader:wrong`)).status).toBe(401)
      const ok = await get(`${url}/`, `reader:${PASSWORD}`)
      expect(ok.status).toBe(200)
      expect(ok.body).toContain(`hello from ${name}`)
    }
    // A second refresh finds the release live already.
    const again = await refreshMirror({
      config: cfg,
      site: cfg.sites.m1,
      exec,
      reporter: reporter()
    })
    expect(again).toMatchObject({ status: 'unchanged', release: '1.0.0' })
    expect(again.deployed).toBeUndefined()
    const open = await get(`http://127.0.0.1:${ports.v1}/`)
    expect(open.status).toBe(200)
    expect(lines.join('\n')).not.toContain(PASSWORD)
  })

  test('a mirror refuses writes with 405, credentials or not; GET and HEAD pass', async () => {
    const m1 = `http://127.0.0.1:${ports0.m1}`
    const creds = `reader:${PASSWORD}`
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']) {
      // A path the application does not know: it would answer 404, Apache answers first.
      const r = await get(`${m1}/notes`, creds, { method, body: 'x=1' })
      expect({ method, status: r.status }).toEqual({ method, status: 405 })
      if (method !== 'HEAD') expect(r.body).toContain('<title>405 Method Not Allowed</title>')
      // Apache adds an empty Allow of its own: an empty list element, which HTTP ignores.
      expect(
        r.allow
          ?.split(',')
          .map(m => m.trim())
          .filter(Boolean)
      ).toEqual(['GET', 'HEAD'])
    }
    expect((await get(`${m1}/`, undefined, { method: 'POST' })).status).toBe(405)
    expect((await get(`${m1}/`, creds, { method: 'HEAD' })).status).toBe(200)
    // The preview is no mirror: a POST reaches its application (which knows no /notes).
    const v2 = await get(`http://127.0.0.1:${ports0.v2}/notes`, creds, { method: 'POST' })
    expect(v2).toMatchObject({ status: 404, body: 'not found\n' })
  })

  test('the health path of a protected site tells the version only to the host itself or with credentials', async () => {
    for (const name of ['v2', 'm1'] as const) {
      const url = `http://127.0.0.1:${ports0[name]}/.sitecycle/health`
      // sitecycle's probes: from the host itself, without credentials.
      expect(await get(url)).toMatchObject({ status: 200, body: expect.stringContaining('1.0.0') })
      // Anyone else: 401 and no version, unless they have the credentials.
      const other = await get(url, undefined, { from: '127.0.0.2' })
      expect(other.status).toBe(401)
      expect(other.body).not.toContain('1.0.0')
      const known = await get(url, `reader:${PASSWORD}`, { from: '127.0.0.2' })
      expect(known).toMatchObject({ status: 200, body: expect.stringContaining('1.0.0') })
    }
    // An open site's health path is open to all.
    const v1 = await get(`http://127.0.0.1:${ports0.v1}/.sitecycle/health`, undefined, {
      from: '127.0.0.2'
    })
    expect(v1.status).toBe(200)
  })
})

describe('a PostgreSQL mirror', () => {
  let pg: PostgresServer
  let pgDir: string

  beforeAll(async () => {
    pg = await startPostgres()
    pgDir = await mkdtemp(join(tmpdir(), 'sitecycle-mirror-pg-'))
    await chmod(pgDir, 0o755)
  })

  afterAll(async () => {
    await pg?.stop()
    if (pgDir) await rm(pgDir, { recursive: true, force: true })
  })

  test("is read-only for the application's sessions after each refresh; its source is not", async () => {
    const db = (name: string) =>
      `{ engine: postgres, name: ${name}, host: ${pg.socketDir}, port: ${pg.port}, user: postgres }`
    const yaml = `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  v1:
    root: ${join(pgDir, 'v1')}
    url: http://127.0.0.1:9
    database: ${db('mirror_src')}
  m1:
    role: mirror
    from: v1
    lag: 1d
    root: ${join(pgDir, 'm1')}
    url: http://127.0.0.1:9
    database: ${db('mirror_m1')}
    access: { basic_auth: false }
`
    const file = join(pgDir, 'sitecycle.yml')
    await writeFile(file, yaml)
    const c = parseConfig(yaml, file)
    for (const name of ['v1', 'm1'])
      await mkdir(join(pgDir, name, '.sitecycle'), { recursive: true })
    pg.sql('postgres', 'CREATE DATABASE mirror_src')
    pg.sql(
      'mirror_src',
      "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'one');"
    )
    const day = (n: number) => () => new Date(Date.UTC(2024, 4, 1 + n, 2))
    for (const n of [0, 1]) {
      pg.sql('mirror_src', `INSERT INTO notes VALUES (${n + 2}, 'day ${n}')`)
      await takeSnapshot({
        config: c,
        site: c.sites.v1,
        exec,
        reporter: reporter(),
        now: day(n),
        progressIntervalMs: 0
      })
      const o = await refreshMirror({
        config: c,
        site: c.sites.m1,
        exec,
        reporter: reporter(),
        now: () => new Date(day(n + 1)().getTime() + 3_600_000)
      })
      expect(o.status).toBe('refreshed')
      expect(o.steps.find(s => s.name === 'read-only-database')?.status).toBe('ok')
      // Each refresh restores into a fresh database: the setting must be there again.
      expect(pg.sql('mirror_m1', 'SELECT count(*) FROM notes').trim()).toBe(String(n + 2))
      // The planner's statistics of the fresh database, which the dump did not carry.
      expect(
        pg.sql('mirror_m1', "SELECT count(*) FROM pg_stats WHERE tablename = 'notes'").trim()
      ).toBe('2')
      expect(() => pg.sql('mirror_m1', "INSERT INTO notes VALUES (99, 'write')")).toThrow(
        /read-only transaction/
      )
    }
    pg.sql('mirror_src', "INSERT INTO notes VALUES (100, 'production still writes')")
    expect(pg.sql('mirror_src', 'SHOW default_transaction_read_only').trim()).toBe('off')
  })
})
