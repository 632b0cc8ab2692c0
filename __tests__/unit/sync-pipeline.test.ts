/**
 * Restore and sync through the recording executor and a fake database engine: the step order,
 * which data folder goes where, and what the undos do when a step fails (everything is staged
 * beside the site first, so a failure before the swap touches nothing of it; a failure after the
 * swap swaps the previous database and folders back and unfreezes; anonymising runs on the
 * scratch copy, before the swap).
 */
import { join } from 'node:path'
import { maintenanceFlagPath, maintenanceHoldPath } from '../../src/commands/apache.js'
import type { Command } from '../../src/commands/command.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { DatabaseEngine, TableChecksum } from '../../src/databases/engine.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { PATH_IDENTITIES } from '../../src/commands/files.js'
import { folderSiblings, SWAP_FOLDER } from '../../src/pipelines/data-swap.js'
import {
  DataOperationFailed,
  newApplyContext,
  planFolders,
  restoreSteps,
  runApply,
  type ApplyContext
} from '../../src/pipelines/restore.js'
import { syncSteps } from '../../src/pipelines/sync.js'
import { Journal } from '../../src/sites/journal.js'
import type { SiteState } from '../../src/sites/site-state.js'
import { SUMMARIZE_TREE } from '../../src/snapshots/files.js'
import type { SnapshotManifest } from '../../src/snapshots/manifest.js'
import { StreamReporter } from '../../src/util/reporter.js'

const ROOT = '/srv/app/v2'
const SNAP = '/srv/app/v1/snapshots/20240330T030000Z'
const TABLES: TableChecksum[] = [{ table: 'users', rows: 2, checksum: 'abc' }]

const config = parseConfig(
  `
app: { package: sitecycle-sample, wsgi: "sitecycle_sample.wsgi:application" }
sites:
  v1:
    root: /srv/app/v1
    url: http://127.0.0.1:8080
    database: { engine: sqlite, name: /srv/app/v1/shared/app.sqlite3 }
    data: [shared/uploads, /var/media/v1]
  v2:
    role: preview
    from: v1
    root: ${ROOT}
    url: http://127.0.0.1:8081
    access: { basic_auth: false }
    hooks: { after_install: ["python -m app.migrate"] }
    database: { engine: sqlite, name: ${ROOT}/shared/app.sqlite3 }
    data: [shared/uploads, /var/media/v2]
`,
  '/nowhere/sitecycle.yml'
)

function manifest(): SnapshotManifest {
  return {
    format: 1,
    id: '20240330T030000Z',
    site: 'v1',
    host: 'local',
    root: '/srv/app/v1',
    createdAt: '2024-03-30T03:00:00.000Z',
    finishedAt: '2024-03-30T03:00:01.000Z',
    live: '1.0.0',
    sitecycleVersion: '0.1.0',
    previous: null,
    database: {
      engine: 'sqlite',
      name: '/srv/app/v1/shared/app.sqlite3',
      dump: 'database.dump',
      format: 'sqlite',
      size: 10,
      sha256: 'a'.repeat(64),
      databaseSize: 10,
      tables: TABLES,
      checksumsFrom: 'live'
    },
    files: {
      count: 2,
      bytes: 20,
      folders: [
        {
          source: '/srv/app/v1/shared/uploads',
          name: 'shared/uploads',
          missing: false,
          count: 1,
          bytes: 10,
          listSha256: 'x'
        },
        {
          source: '/var/media/v1',
          name: '_absolute/var/media/v1',
          missing: false,
          count: 1,
          bytes: 10,
          listSha256: 'y'
        }
      ]
    }
  }
}

/** A fake engine that records what it is asked, in order, and knows which database was swapped. */
function fakeEngine(log: string[], opts: { exists?: boolean } = {}): DatabaseEngine {
  // Scratch and kept copies that exist now (the site's own database exists unless told).
  const present = new Set<string>()
  return {
    name: 'sqlite',
    nameBytes: 4096,
    quoteIdent: n => `"${n}"`,
    async dump(_e, db, path) {
      log.push(`dump ${db.name} -> ${path}`)
      return { path, size: 1, format: 'sqlite' }
    },
    async restore(_e, db, dumpPath) {
      log.push(`restore ${dumpPath} -> ${db.name}`)
      present.add(db.name)
    },
    async size() {
      return 1
    },
    async checksums() {
      return TABLES
    },
    async runSqlFile(_e, db, sqlPath) {
      log.push(`sql ${sqlPath} on ${db.name}`)
    },
    async query(_e, db, sql) {
      log.push(`query on ${db.name}: ${sql.trim()}`)
      return '0\n'
    },
    async exists(_e, db) {
      return db.name.includes('.sc-') ? present.has(db.name) : (opts.exists ?? true)
    },
    async drop(_e, db) {
      log.push(`drop ${db.name}`)
      present.delete(db.name)
    },
    async swapIn(_e, db, scratch, keep) {
      log.push(`swap ${scratch} -> ${db.name} (previous: ${keep})`)
      present.delete(scratch)
      if (opts.exists ?? true) present.add(keep)
      return opts.exists ?? true
    },
    async swapDone(_e, _db, _scratch, keep) {
      return present.has(keep)
    }
  }
}

const program = (c: Command) => {
  const i = c.argv.indexOf('-c')
  return i > 0 ? c.argv[i + 1] : undefined
}

/** A pretend host: renames and removals act on the in-memory files, as on a real one. */
function host(opts: { sha256?: string; failRsync?: boolean; failHook?: boolean } = {}) {
  const exec = new RecordingExecutor('recording')
  // Folders by identity: a target exists as 'old'; a staged folder once rsync made it.
  const ids = new Map<string, string>()
  const gone = new Set<string>()
  const idOf = (p: string): string | null =>
    ids.get(p) ??
    (gone.has(p)
      ? null
      : p.includes('.sc-new-')
        ? `staged:${p}`
        : p.includes('.sc-')
          ? null
          : `old:${p}`)
  exec
    .respond(
      c => c.argv[0] === 'mv' && c.argv[1] === '-T',
      c => {
        const v = exec.files.get(c.argv[2])
        if (v !== undefined) {
          exec.files.delete(c.argv[2])
          exec.files.set(c.argv[3], v)
        }
        return {}
      }
    )
    .respond(
      c => c.argv[0] === 'rm' && c.argv[1] === '-f',
      c => {
        exec.files.delete(c.argv[3])
        return {}
      }
    )
    .respond(c => program(c) === SUMMARIZE_TREE, {
      stdout: JSON.stringify({
        exists: true,
        count: 1,
        bytes: 10,
        sha256: opts.sha256 ?? 'a'.repeat(64)
      })
    })
    .respond(
      c => program(c) === SWAP_FOLDER,
      c => {
        // What was at `from` takes the target's place; the target's content goes to `to`.
        const [from, target, to] = c.argv.slice(-3)
        const moving = idOf(from)
        const previous = idOf(target)
        gone.add(from)
        ids.delete(from)
        ids.set(target, moving!)
        if (previous) ids.set(to, previous)
        return { stdout: 'exchanged\n' }
      }
    )
    .respond(
      c => program(c) === PATH_IDENTITIES,
      c => ({ stdout: JSON.stringify(c.argv.slice(c.argv.indexOf(PATH_IDENTITIES) + 1).map(idOf)) })
    )
    .respond(
      c => c.argv[0] === 'rm' && c.argv[1] === '-rf',
      c => {
        for (const p of c.argv.slice(3)) {
          ids.delete(p)
          gone.add(p)
        }
        return {}
      }
    )
    .respond(
      c => c.argv[0] === 'rsync',
      c => {
        if (opts.failRsync) return { code: 23, stderr: 'rsync: disk full' }
        gone.delete(c.argv[c.argv.length - 1].replace(/\/$/, ''))
        return {}
      }
    )
    .respond(
      c => c.argv.includes('app.migrate'),
      opts.failHook ? { code: 1, stderr: 'migration failed' } : {}
    )
  return exec
}

function context(
  op: 'restore' | 'sync',
  exec: RecordingExecutor,
  log: string[],
  opts: { live?: string | null; frozenBefore?: boolean; exists?: boolean } = {}
): ApplyContext {
  const site = config.sites.v2
  const engine = fakeEngine(log, { exists: opts.exists })
  const state: SiteState = {
    initialized: true,
    slots: { blue: opts.live ?? null, green: null },
    liveSlot: 'blue',
    idleSlot: 'green',
    live: opts.live ?? null,
    idle: null,
    slotReleases: {}
  }
  const c = newApplyContext(
    op,
    {
      config,
      site,
      exec,
      reporter: new StreamReporter(() => undefined),
      journal: new Journal(exec, `${ROOT}/.sitecycle/journal.jsonl`),
      opId: 'op1',
      python: '/usr/bin/python3',
      holder: { op, id: 'op1', pid: 1, machine: 'm', actor: 'a', since: 'now' },
      op
    },
    state,
    opts.frozenBefore ?? false,
    [],
    () => engine
  )
  c.source = { site: config.sites.v1, exec, id: '20240330T030000Z' }
  c.manifest = manifest()
  c.snapshotDir = SNAP
  return c
}

const flag = maintenanceFlagPath({ root: ROOT })

/** The DataOperationFailed a run ends with (the test fails if it succeeds). */
async function failure(run: Promise<unknown>): Promise<DataOperationFailed> {
  const e = await run.then(
    () => undefined,
    (x: unknown) => x
  )
  if (!(e instanceof DataOperationFailed))
    throw new Error(`expected DataOperationFailed, got ${String(e)}`)
  return e
}

describe('a snapshot of another engine', () => {
  test('is refused before anything is touched, naming both engines', async () => {
    const exec = host()
    const log: string[] = []
    const c = context('restore', exec, log)
    c.manifest = { ...manifest(), database: { ...manifest().database!, engine: 'postgres' } }
    const e = await failure(runApply(c, restoreSteps()))
    expect(e).toMatchObject({ failedStep: 'check-snapshot', leftFrozen: false })
    expect(e.message).toMatch(
      /holds a postgres database, but site v2 uses sqlite: a dump restores into the same engine only/
    )
    expect(log).toEqual([])
  })
})

describe('step order', () => {
  test('restore: everything staged before the freeze, swapped in at one step', () => {
    expect(restoreSteps().map(s => s.name)).toEqual([
      'check-snapshot',
      'stage-database',
      'stage-files',
      'freeze',
      'swap-data',
      'hooks',
      'restart-live',
      'verify',
      'unfreeze',
      'cleanup'
    ])
  })

  test('sync: anonymised in the scratch copy before anything of the preview changes', () => {
    expect(syncSteps().map(s => s.name)).toEqual([
      'snapshot-source',
      'fetch-snapshot',
      'check-snapshot',
      'stage-database',
      'anonymize',
      'stage-files',
      'freeze',
      'swap-data',
      'hooks',
      'restart-live',
      'verify',
      'unfreeze',
      'cleanup'
    ])
  })
})

describe('planFolders', () => {
  test('by name under the root, else by position in data:', () => {
    expect(planFolders(manifest(), SNAP, config.sites.v2)).toEqual([
      {
        name: 'shared/uploads',
        file: false,
        from: `${SNAP}/files/shared/uploads`,
        target: `${ROOT}/shared/uploads`
      },
      {
        name: '_absolute/var/media/v1',
        file: false,
        from: `${SNAP}/files/_absolute/var/media/v1`,
        target: '/var/media/v2'
      }
    ])
  })

  test('a shared file goes to the shared file entry of the same path, never to a folder', () => {
    const m = manifest()
    m.files.folders = [
      {
        source: '/srv/app/v1/shared/local.ini',
        name: 'shared/local.ini',
        kind: 'file',
        missing: false,
        count: 1,
        bytes: 5,
        listSha256: 'z'
      }
    ]
    const withFile = parseConfig(
      `app: { package: p, wsgi: "p.wsgi:application", shared: [{ path: local.ini, kind: file }] }\n` +
        `sites:\n  v2: { root: ${ROOT}, url: "http://127.0.0.1:8081" }\n`,
      '/nowhere/sitecycle.yml'
    ).sites.v2
    expect(planFolders(m, SNAP, withFile)).toEqual([
      {
        name: 'shared/local.ini',
        file: true,
        from: `${SNAP}/files/shared/local.ini`,
        target: `${ROOT}/shared/local.ini`
      }
    ])
    // The same path as a folder (data:) is no place for it, nor a folder at its position.
    const asFolder = { ...config.sites.v2, data: [`${ROOT}/shared/local.ini`] }
    expect(() => planFolders(m, SNAP, asFolder)).toThrow(
      /holds the shared file shared\/local.ini .*has no shared file entry for it: add \{ path: local.ini, kind: file \}/
    )
    const byPosition = { ...config.sites.v2, data: [`${ROOT}/shared/other`] }
    expect(() => planFolders(m, SNAP, byPosition)).toThrow(/has no shared file entry/)
  })

  test('a snapshot folder with no place in the target is an error naming it', () => {
    const site = { ...config.sites.v2, data: [`${ROOT}/shared/uploads`] }
    expect(() => planFolders(manifest(), SNAP, site)).toThrow(
      /holds the data folder _absolute\/var\/media\/v1 \(\/var\/media\/v1\), but site v2 has no data folder for it/
    )
  })

  test('the hidden siblings sit next to the folder', () => {
    expect(folderSiblings('/srv/app/v2/shared/uploads', 'op1')).toEqual({
      staged: '/srv/app/v2/shared/.uploads.sc-new-op1',
      aside: '/srv/app/v2/shared/.uploads.sc-old-op1'
    })
  })
})

const DB = `${ROOT}/shared/app.sqlite3`
const SCRATCH = `${ROOT}/shared/.app.sqlite3.sc-new-op1`
const KEEP = `${ROOT}/shared/.app.sqlite3.sc-keep-op1`

describe('undo paths', () => {
  test('a restore failing while staging the folders never touched the site: no freeze, no swap', async () => {
    const exec = host({ failRsync: true })
    const log: string[] = []
    const c = context('restore', exec, log)
    const e = await failure(runApply(c, restoreSteps()))
    expect(e).toMatchObject({ failedStep: 'stage-files', undoComplete: true, leftFrozen: false })
    expect(e.message).toMatch(/site v2 holds its data from before, unchanged/)
    // The dump went into the scratch copy only, which the undo dropped.
    expect(log).toEqual([`restore ${SNAP}/database.dump -> ${SCRATCH}`, `drop ${SCRATCH}`])
    expect(exec.calls.some(k => k.type === 'writeFile' && k.path === `${flag}.tmp`)).toBe(false)
    expect(exec.commands().some(a => a.includes(SWAP_FOLDER))).toBe(false)
  })

  test('a sync failing after the swap (a hook) swaps the previous data back and unfreezes', async () => {
    const exec = host({ failHook: true })
    const log: string[] = []
    const c = context('sync', exec, log, { live: '2.0.0' })
    const e = await failure(runApply(c, syncSteps().slice(2)))
    expect(e).toMatchObject({ failedStep: 'hooks', undoComplete: true, leftFrozen: false })
    expect(e.message).toMatch(/site v2 holds its data from before, unchanged/)
    expect(exec.files.has(flag)).toBe(false)
    expect(log).toEqual([
      `restore ${SNAP}/database.dump -> ${SCRATCH}`,
      `swap ${SCRATCH} -> ${DB} (previous: ${KEEP})`,
      `swap ${KEEP} -> ${DB} (previous: ${SCRATCH})`,
      `drop ${SCRATCH}`
    ])
    const swaps = exec
      .commands()
      .filter(a => a.includes(SWAP_FOLDER))
      .map(a => a.slice(-3))
    expect(swaps).toEqual([
      [
        `${ROOT}/shared/.uploads.sc-new-op1`,
        `${ROOT}/shared/uploads`,
        `${ROOT}/shared/.uploads.sc-old-op1`
      ],
      ['/var/media/.v2.sc-new-op1', '/var/media/v2', '/var/media/.v2.sc-old-op1'],
      ['/var/media/.v2.sc-old-op1', '/var/media/v2', '/var/media/.v2.sc-old-op1-undo'],
      [
        `${ROOT}/shared/.uploads.sc-old-op1`,
        `${ROOT}/shared/uploads`,
        `${ROOT}/shared/.uploads.sc-old-op1-undo`
      ]
    ])
    // Every request was held (the health path's too) around the swap and the swap back.
    const holds = exec.calls
      .map((k, i) => ({ k, i }))
      .filter(
        ({ k }) => k.type === 'writeFile' && k.path === `${maintenanceHoldPath({ root: ROOT })}.tmp`
      )
    expect(holds).toHaveLength(2)
    expect(holds[0].i).toBeLessThan(exec.calls.findIndex(k => k.argv?.includes(SWAP_FOLDER)))
    expect(exec.files.has(maintenanceHoldPath({ root: ROOT }))).toBe(false)
    // The intent was journaled before the first swap, synced to disk (dd conv=fsync).
    const journal = exec.calls.findIndex(
      k =>
        k.argv?.[0] === 'dd' &&
        k.argv.includes('conv=notrunc,fsync') &&
        String(k.command?.input ?? '').includes('"event":"intent"')
    )
    const firstSwap = exec.calls.findIndex(k => k.argv?.includes(SWAP_FOLDER))
    expect(journal).toBeGreaterThanOrEqual(0)
    expect(journal).toBeLessThan(firstSwap)
    // The hook ran in the live release's virtualenv.
    const hook = exec.calls.find(k => k.argv?.includes('app.migrate'))!
    expect(hook.argv![0]).toBe(`${ROOT}/releases/2.0.0/bin/python`)
    expect(hook.command!.env).toMatchObject({ SITECYCLE_VERSION: '2.0.0', SITECYCLE_SITE: 'v2' })
  })

  test('a sync whose dump does not match its manifest stops before the freeze: nothing touched', async () => {
    const exec = host({ sha256: 'b'.repeat(64) })
    const log: string[] = []
    const c = context('sync', exec, log, { live: '2.0.0' })
    const e = await failure(runApply(c, syncSteps().slice(2)))
    expect(e).toMatchObject({ failedStep: 'check-snapshot', leftFrozen: false })
    expect(e.message).toMatch(/is corrupt: sha256 b{64}, the manifest says a{64}/)
    expect(log).toEqual([])
    expect(
      exec.calls.some(k => k.type === 'writeFile' && k.path?.startsWith(`${ROOT}/maintenance`))
    ).toBe(false)
  })

  test('a site frozen before the run stays frozen after a successful sync; anonymize runs on the scratch copy before the swap', async () => {
    const exec = host()
    const log: string[] = []
    const site = {
      ...config.sites.v2,
      hooks: { afterInstall: [] },
      anonymize: join(process.cwd(), 'package.json')
    }
    const c = { ...context('sync', exec, log, { frozenBefore: true }), site }
    exec.files.set(flag, 'frozen since 2024-01-01T00:00:00.000Z\nretry_after 300\n')
    const steps = await runApply(c, syncSteps().slice(2))
    expect(steps.find(s => s.name === 'unfreeze')!.status).toBe('skipped')
    expect(exec.files.has(flag)).toBe(true)
    expect(log).toEqual([
      `restore ${SNAP}/database.dump -> ${SCRATCH}`,
      `sql ${ROOT}/.sitecycle/incoming/op1/anonymize.sql on ${SCRATCH}`,
      `swap ${SCRATCH} -> ${DB} (previous: ${KEEP})`,
      `drop ${KEEP}`
    ])
    expect(exec.modes.get(`${ROOT}/.sitecycle/incoming/op1/anonymize.sql`)).toBe(0o600)
  })
})
