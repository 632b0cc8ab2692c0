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
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { getEngine } from '../../src/databases/registry.js'
import { restoreSteps } from '../../src/pipelines/restore.js'
import { takeSnapshot } from '../../src/snapshots/snapshot.js'
import { expectedTables } from '../../src/snapshots/verify.js'
import { expectExit } from '../helpers/cli.js'
import {
  dataKillSites,
  exec,
  killWhileLoading,
  PAIRS,
  reporter
} from '../helpers/data-kill-sites.js'

// Production sites only: a restore needs no preview.
const s = dataKillSites({ previews: false })

describe.each(PAIRS)('$engine: a production restore killed after each step', p => {
  // Production has no hooks (and the snapshot was taken under the live release): no hooks step.
  const STEPS = restoreSteps()
    .map(st => st.name)
    .filter(st => st !== 'hooks')
  const VERIFIED = STEPS.indexOf('verify')

  test.each(STEPS.map((st, i) => [st, i]))(
    'killed after %s, then another operation: database, folders and shared file all as before, or all restored',
    async (step, i) => {
      await writeFile(s.iniOf(p.prod), `in snapshot ${i}\n`)
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
        `INSERT INTO posts (id, user_id, body) VALUES (${500 + i}, 2, 'after the snapshot');`
      )
      await writeFile(join(s.dir, p.prod, 'shared', 'uploads', `later-${i}.txt`), 'later\n')
      await writeFile(s.iniOf(p.prod), `after snapshot ${i}\n`)
      const before = await s.checksums(p.prod)
      const beforeFiles = await s.uploadsOf(p.prod)

      const killed = await s.cli(['restore', p.prod, '--snapshot', snap.id], {
        SITECYCLE_FAULT_KILL_AFTER: step
      })
      expect(killed.signal).toBe('SIGKILL')

      const next = s.followUp(i, p.prod, ['restore', p.prod, '--snapshot', snap.id])
      const r = await s.cli(next)
      expectExit(r, 0)
      expect(r.stderr).toMatch(/did not finish: recovering/)

      const restored = i >= VERIFIED || next[0] === 'restore'
      expect(await s.checksums(p.prod)).toEqual(restored ? snapTables : before)
      expect(await s.uploadsOf(p.prod)).toEqual(restored ? snapFiles : beforeFiles)
      // The shared file with them: the snapshot's or the one before, never missing or mixed.
      expect(await s.readIni(p.prod)).toBe(
        restored ? `in snapshot ${i}\n` : `after snapshot ${i}\n`
      )
      expect(await s.frozen(p.prod)).toBe(false)
      expect(await s.leftovers(p.prod)).toEqual([])
    }
  )
})

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
