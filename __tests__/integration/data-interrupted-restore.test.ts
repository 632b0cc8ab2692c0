/**
 * A production restore killed half-way, for real (SQLite and PostgreSQL, a private Apache, the
 * bundled CLI): a restore SIGKILLed after every one of its steps (SITECYCLE_FAULT_KILL_AFTER) and
 * followed by another kind of operation (deploy, snapshot, maintenance off, the same operation
 * again; rotating, so every step and every kind is covered), and one killed while pg_restore
 * loads. Checked by query and on disk afterwards: the database, the data folders and the shared
 * file all as before, or all restored (a run that had verified its data is finished, an earlier
 * one undone); the next operation reports the recovery, the site is open again, and no staged or
 * kept copy is left. The sync killed the same way: data-interrupted-sync.test.ts.
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getEngine } from '../../src/databases/registry.js'
import { restoreSteps } from '../../src/pipelines/restore.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { expectedTables } from '../../src/snapshots/verify.js'
import { expectExit } from '../helpers/cli.js'
import {
  dataKillSites,
  DataKillSites,
  exec,
  killWhileLoading,
  PAIRS,
  reporter,
  type Pair
} from '../helpers/data-kill-sites.js'

// Production sites only: a restore needs no preview.
const s = dataKillSites({ previews: false })

// Production has no hooks (and the snapshot was taken under the live release): no hooks step.
const STEPS = restoreSteps()
  .map(st => st.name)
  .filter(st => st !== 'hooks')
const VERIFIED = STEPS.indexOf('verify')
/** The steps after which production's data is in doubt: swapped in, not yet verified. */
const IN_DOUBT = STEPS.slice(STEPS.indexOf('swap-data'), VERIFIED)

/**
 * Take a snapshot of `p.prod`, change its data, kill a restore of that snapshot after `step`
 * (`n`: a number no other kill of the file uses), run `next` (built from the snapshot's id), and
 * check production: all as before or all restored, and the snapshots kept.
 */
async function killThen(
  p: Pair,
  step: string,
  n: number,
  nextOf: (snapshot: string) => string[]
): Promise<void> {
  await writeFile(s.iniOf(p.prod), `in snapshot ${n}\n`)
  const snap = await takeSnapshot({
    config: s.config,
    site: s.config.sites[p.prod],
    exec,
    reporter: reporter(),
    progressIntervalMs: 0
  })
  // sqlite: the manifest lists the tables; their checksums are the dump's own.
  const snapTables = await expectedTables(
    exec,
    getEngine(s.dbOf(p.prod).engine),
    s.dbOf(p.prod),
    snap.manifest.database!,
    join(snap.dir, snap.manifest.database!.dump)
  )
  const snapFiles = await s.uploadsOf(p.prod)
  s.sql(
    p.prod,
    `INSERT INTO posts (id, user_id, body) VALUES (${500 + n}, 2, 'after the snapshot');`
  )
  await writeFile(join(s.dir, p.prod, 'shared', 'uploads', `later-${n}.txt`), 'later\n')
  await writeFile(s.iniOf(p.prod), `after snapshot ${n}\n`)
  const before = await s.checksums(p.prod)
  const beforeFiles = await s.uploadsOf(p.prod)

  const killed = await s.cli(['restore', p.prod, '--snapshot', snap.id], {
    SITECYCLE_FAULT_KILL_AFTER: step
  })
  expect(killed.signal).toBe('SIGKILL')

  const next = nextOf(snap.id)
  const r = await s.cli(next)
  expectExit(r, 0)
  expect(r.stderr).toMatch(/did not finish: recovering/)
  // What it did with the killed run: nothing to undo, undone, or finished.
  expect(r.stderr).toMatch(DataKillSites.recoveryReport('restore', STEPS, step))
  // No stack trace, no host program text (each begins "# host/<name>.py").
  expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)

  const restored = STEPS.indexOf(step) >= VERIFIED || next[0] === 'restore'
  expect(await s.checksums(p.prod)).toEqual(restored ? snapTables : before)
  expect(await s.uploadsOf(p.prod)).toEqual(restored ? snapFiles : beforeFiles)
  // The shared file with them: the snapshot's or the one before, never missing or mixed.
  expect(await s.readIni(p.prod)).toBe(restored ? `in snapshot ${n}\n` : `after snapshot ${n}\n`)
  expect(await s.frozen(p.prod)).toBe(false)
  expect(await s.leftovers(p.prod)).toEqual([])
  // The snapshot restored from is kept whole (a snapshot of a mixed state made no room for
  // itself by removing it): every file as its SHA256SUMS says.
  const sums = await readFile(join(snap.dir, 'SHA256SUMS'), 'utf8')
  for (const line of sums.trim().split('\n')) {
    const [sum, file] = [line.slice(0, 64), line.slice(66)]
    const data = await readFile(join(snap.dir, file))
    expect(`${file} ${createHash('sha256').update(data).digest('hex')}`).toBe(`${file} ${sum}`)
  }
}

describe.each(PAIRS)('$engine: a production restore killed after each step', p => {
  test.each(STEPS.map((st, i) => [st, i]))(
    'killed after %s, then another operation: database, folders and shared file all as before, or all restored',
    async (step, i) => {
      await killThen(p, step, i, id => s.followUp(i, p.prod, ['restore', p.prod, '--snapshot', id]))
    }
  )
})

describe.each(PAIRS)(
  '$engine: a restore killed with its data in doubt (swapped in, not verified), then each kind of operation',
  p => {
    // The rotation above gives each step one kind of operation; here every kind follows each of
    // these steps (the case of the issue: killed after the database swap, then a snapshot or
    // maintenance off, which must never snapshot or open a mixed production).
    const KINDS = ['deploy', 'snapshot', 'maintenance off', 'restore']
    const cases = IN_DOUBT.flatMap((step, k) =>
      KINDS.map((kind, j) => ({ step, kind, j, n: 200 + k * 10 + j })).filter(
        c => c.j !== STEPS.indexOf(step) % KINDS.length
      )
    )
    test.each(cases.map(c => [c.step, c.kind, c]))('killed after %s, then %s', async (...args) => {
      const c = args[2] as (typeof cases)[number]
      await killThen(p, c.step, c.n, id =>
        s.followUp(c.j, p.prod, ['restore', p.prod, '--snapshot', id])
      )
    })
  }
)

describe('postgres: a restore killed while pg_restore loads the staged copy (not at a step boundary)', () => {
  const p = PAIRS.find(x => x.engine === 'postgres')!

  test('production as before, and the next operation drops the scratch database', async () => {
    const snap = await takeSnapshot({
      config: s.config,
      site: s.config.sites[p.prod],
      exec,
      reporter: reporter(),
      progressIntervalMs: 0
    })
    s.sql(p.prod, "INSERT INTO posts (id, user_id, body) VALUES (900, 2, 'after the snapshot');")
    const before = await s.checksums(p.prod)
    await killWhileLoading(s, ['restore', p.prod, '--snapshot', snap.id])
    expect(await s.checksums(p.prod)).toEqual(before)

    const r = await s.cli(['maintenance', 'off', p.prod])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(await s.leftovers(p.prod)).toEqual([])
    expect(await s.checksums(p.prod)).toEqual(before)
    expect(await s.frozen(p.prod)).toBe(false)
  })
})
