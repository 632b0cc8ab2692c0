/**
 * A preview sync killed half-way, for real (SQLite and PostgreSQL, a private Apache, the bundled
 * CLI): a sync with an anonymising script SIGKILLed after every one of its steps
 * (SITECYCLE_FAULT_KILL_AFTER) and followed by another kind of operation (deploy, snapshot,
 * maintenance off, the same operation again; rotating, so every step and every kind is covered).
 * Checked by query and on disk afterwards:
 *
 * - no production e-mail address is ever in the preview, right after the kill or later;
 * - the site holds its previous data or the complete new data, the database, the data
 *   folders and the shared file together; a run that had verified its data is finished, an earlier one undone;
 * - the next operation reports the recovery, the site is open again, no staged or kept copy is
 *   left (hidden folders, scratch databases), and production is never touched by a sync.
 *
 * Also: an anonymising script failing half-way, and one that leaves source values, never reach
 * the preview, and the error names the script without any program text; a sync killed while
 * pg_restore loads; a sync whose way back is gone. The restore killed the same way:
 * data-interrupted-restore.test.ts (a file of its own, so the two run side by side).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { syncSteps } from '../../src/pipelines/sync.js'
import { expectExit, runCli } from '../helpers/cli.js'
import {
  anonymizedEmail,
  dataKillSites,
  DataKillSites,
  inDoubtCases,
  killWhileLoading,
  MARIA_HOOK_USER,
  PAIRS,
  without,
  type Pair
} from '../helpers/data-kill-sites.js'
import { httpGet } from '../helpers/site.js'

const s = dataKillSites({ previews: true })

const STEPS = syncSteps().map(st => st.name)
const VERIFIED = STEPS.indexOf('verify')

/**
 * Kill a sync of `p.preview` after `step` (`n`: a number no other kill of the file uses), run
 * `next`, and check the preview, production and the journal.
 */
async function killThen(p: Pair, step: string, n: number, next: string[]): Promise<void> {
  s.sql(p.prod, `INSERT INTO posts (id, user_id, body) VALUES (${100 + n}, 1, 'before ${step}');`)
  await writeFile(s.iniOf(p.prod), `production before ${step} (${n})\n`)
  const prodBefore = await s.checksums(p.prod)
  const prodFiles = await s.uploadsOf(p.prod)
  const previewBefore = await s.checksums(p.preview)
  const previewFiles = await s.uploadsOf(p.preview)
  const previewIni = await s.readIni(p.preview)
  const recoveredBefore = (await s.journalOf(p.preview)).filter(
    e => e.event === 'recovered' && e.op === 'sync'
  ).length

  const killed = await s.cli(['sync', p.preview], { SITECYCLE_FAULT_KILL_AFTER: step })
  if (killed.signal !== 'SIGKILL')
    throw new Error(`sync was not killed after ${step}: exit ${killed.code}\n${killed.stderr}`)
  expect(s.productionEmails(p.preview)).toBe(0)
  expect(await s.checksums(p.prod)).toEqual(prodBefore)

  const r = await s.cli(next)
  expectExit(r, 0)
  expect(r.stderr).toMatch(/did not finish: recovering/)
  // What it did with the killed run: nothing to undo, undone, or finished.
  expect(r.stderr).toMatch(DataKillSites.recoveryReport('sync', STEPS, step))
  // No stack trace, no host program text (each begins "# host/<name>.py").
  expect(r.stderr).not.toMatch(/^\s+at |Traceback|# host\//m)
  // The killed run is recorded as recovered by the operation that came next: no run is open.
  const journal = await s.journalOf(p.preview)
  const open = journal
    .filter(e => e.event === 'start')
    .filter(st => !journal.some(e => e.id === st.id && /^(end|recovered)$/.test(e.event)))
  expect(open).toEqual([])
  expect(journal.filter(e => e.event === 'recovered' && e.op === 'sync').length).toBe(
    recoveredBefore + 1
  )

  expect(s.productionEmails(p.preview)).toBe(0)
  const now = await s.checksums(p.preview)
  const complete = STEPS.indexOf(step) >= VERIFIED || next[0] === 'sync'
  if (complete) {
    // The copy, whole: production's tables (users anonymised), production's files.
    expect(without(now, 'users', 'migrated')).toEqual(without(prodBefore, 'users'))
    expect(await s.uploadsOf(p.preview)).toEqual(prodFiles)
    expect(await s.readIni(p.preview)).toBe(`production before ${step} (${n})\n`)
    expect(s.sql(p.preview, 'SELECT DISTINCT name FROM users;').trim()).toBe('anonymous')
  } else {
    expect(now).toEqual(previewBefore)
    expect(await s.uploadsOf(p.preview)).toEqual(previewFiles)
    expect(await s.readIni(p.preview)).toBe(previewIni)
  }
  expect(await s.frozen(p.preview)).toBe(false)
  expect(await s.leftovers(p.preview)).toEqual([])
  expect((await httpGet(`${s.config.sites[p.preview].url}/`)).status).toBe(200)
  expect(await s.checksums(p.prod)).toEqual(prodBefore)
  expect(await s.uploadsOf(p.prod)).toEqual(prodFiles)
}

describe.each(PAIRS)('$engine: a preview sync killed after each step', p => {
  test.each(STEPS.map((st, i) => [st, i]))(
    'killed after %s, then another operation: never production data, previous or complete copy',
    async (step, i) => {
      await killThen(p, step, i, s.followUp(i, p.preview, ['sync', p.preview]))
    }
  )
})

describe.each(PAIRS)(
  '$engine: a sync killed with its data in doubt (swapped in, not verified), then each kind of operation',
  p => {
    // The rotation above gives each step one kind of operation; here every kind follows each of
    // these steps (the case of the issue: killed after the swap, then a deploy or maintenance
    // off, which must never open the preview over production's data).
    test.each(inDoubtCases(STEPS, 'sync').map(c => [c.step, c.label, c]))(
      'killed after %s, then %s',
      async (...args) => {
        const c = args[2] as ReturnType<typeof inDoubtCases>[number]
        await killThen(p, c.step, c.n, s.followUp(c.kind, p.preview, ['sync', p.preview]))
      }
    )
  }
)

describe.each(PAIRS)('$engine: anonymising that fails or falls short', p => {
  test.each([
    {
      title:
        'a script failing at its second statement: the preview keeps its data, the error names the script',
      name: 'broken',
      sql: `${anonymizedEmail(p.engine)};\nUPDATE no_such_table SET x = 1;\n`,
      says: /anonymize-broken\.sql/
    },
    {
      title: 'a script that leaves some addresses as they were is refused before the swap',
      name: 'partial',
      sql: `${anonymizedEmail(p.engine, 'id > 1')};\n`,
      says: /left 1 row\(s\) of users whose email is still as in the source/
    }
  ])('$title', async ({ name, sql, says }) => {
    const previewBefore = await s.checksums(p.preview)
    const script = join(s.dir, `anonymize-${name}.sql`)
    await writeFile(script, sql)
    const yaml = (await readFile(s.configFile, 'utf8'))
      .replaceAll(join(s.dir, 'anonymize.sql'), script)
      .replaceAll(join(s.dir, 'anonymize-mysql.sql'), script)
    const file = join(s.dir, `sitecycle-${name}.yml`)
    await writeFile(file, yaml)
    const r = await runCli(['sync', p.preview, '-c', file])
    // 1: failed and undone, the preview as it was.
    expectExit(r, 1)
    expect(r.stderr).toMatch(says)
    // The error never carries program text.
    expect(r.stderr).not.toMatch(/import |sys\.argv/)
    expect(await s.checksums(p.preview)).toEqual(previewBefore)
    expect(s.productionEmails(p.preview)).toBe(0)
    expect(await s.frozen(p.preview)).toBe(false)
    expect(await s.leftovers(p.preview)).toEqual([])
  })
})

describe('postgres: a sync killed while pg_restore loads the staged copy (not at a step boundary)', () => {
  const p = PAIRS.find(x => x.engine === 'postgres')!

  test('the preview keeps its data, and the next operation drops the one scratch database left', async () => {
    const previewBefore = await s.checksums(p.preview)
    await killWhileLoading(s, ['sync', p.preview])
    // Loaded straight into the database named by the operation: nothing nested inside it.
    const left = await s.leftovers(p.preview)
    expect(left).toHaveLength(1)
    expect(left[0]).toMatch(/__sc_new_/)
    expect(s.productionEmails(p.preview)).toBe(0)
    expect(await s.checksums(p.preview)).toEqual(previewBefore)

    const r = await s.cli(['snapshot', p.preview])
    expectExit(r, 0)
    expect(r.stderr).toMatch(/did not finish: recovering/)
    expect(await s.leftovers(p.preview)).toEqual([])
    expect(await s.checksums(p.preview)).toEqual(previewBefore)
  })
})

describe.each(PAIRS)('$engine: a sync whose way back is gone', p => {
  /** A hook that deletes the previous database the sync kept aside (as a disk or a hand might). */
  async function configLosingKeep(): Promise<string> {
    const script = join(s.dir, 'lose-keep.py')
    await writeFile(
      script,
      `import glob, os, subprocess, sys
site, engine = sys.argv[1], sys.argv[2]
if engine == 'sqlite':
    for path in glob.glob(os.path.join(${JSON.stringify(s.dir)}, site, 'shared', '.app.sqlite3.sc-keep-*')):
        os.remove(path)
elif engine == 'mysql':
    my = ['mariadb', '--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', '${s.maria.port}', '-u', '${MARIA_HOOK_USER}', '-N', '-B', '-e']
    names = subprocess.run(my + ["SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '%s__sc_keep_%%'" % (site + '_db')], capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        subprocess.run(my + ['DROP DATABASE \`%s\`' % name], check=True)
else:
    psql = ['psql', '-XAtq', '-h', ${JSON.stringify(s.pg.socketDir)}, '-p', '${s.pg.port}', '-U', 'postgres', '-d', 'postgres', '-c']
    names = subprocess.run(psql + ["SELECT datname FROM pg_database WHERE datname LIKE '%s__sc_keep_%%'" % (site + '_db')], capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        subprocess.run(psql + ['DROP DATABASE "%s"' % name], check=True)
`
    )
    const yaml = (await readFile(s.configFile, 'utf8')).replace(
      JSON.stringify([s.hookFor(p.preview)]),
      JSON.stringify([`python ${script} ${p.preview} ${p.engine}`])
    )
    const file = join(s.dir, `sitecycle-lose-keep-${p.engine}.yml`)
    await writeFile(file, yaml)
    return file
  }

  const openSyncs = async () => {
    const journal = await s.journalOf(p.preview)
    return journal
      .filter(e => e.event === 'start')
      .filter(st => !journal.some(e => e.id === st.id && /^(end|recovered)$/.test(e.event)))
      .map(e => e.id)
  }

  test('the site stays in maintenance with its data in doubt until a sync replaces it whole', async () => {
    const prodBefore = await s.checksums(p.prod)
    const prodFiles = await s.uploadsOf(p.prod)
    const failed = await runCli(['sync', p.preview, '-c', await configLosingKeep()], {
      env: { SITECYCLE_FAULT_FAIL_AT: 'verify' }
    })
    // 4: the undo failed, the site needs attention (1 would say it was undone).
    expectExit(failed, 4)
    expect(failed.stderr).toMatch(/is gone/)
    // Never guessed: the site is closed, the run open, and no production address anywhere.
    expect(await s.frozen(p.preview)).toBe(true)
    expect((await httpGet(`${s.config.sites[p.preview].url}/`)).status).toBe(503)
    const open = await openSyncs()
    expect(open).toHaveLength(1)
    expect(s.productionEmails(p.preview)).toBe(0)

    // Any other operation finds it, says so and what to run, and leaves it closed.
    const off = await s.cli(['maintenance', 'off', p.preview])
    expect(off.code).not.toBe(0)
    expect(off.stderr).toContain(`the interrupted sync ${open[0]} could not be put back`)
    expect(off.stderr).toContain(`sitecycle sync ${p.preview}`)
    expect(off.stderr).not.toMatch(/^\s+at /m)
    expect(await s.frozen(p.preview)).toBe(true)
    expect(await openSyncs()).toEqual(open)

    // A sync replaces the data whole: it goes on, closes the run, and the site opens again.
    const sync = await s.cli(['sync', p.preview])
    expectExit(sync, 0)
    expect(sync.stderr).toMatch(/replaces the database and data folders .* whole: it goes on/)
    expect(await openSyncs()).toEqual([])
    const journal = await s.journalOf(p.preview)
    const closing = journal.find(e => e.id === open[0] && e.event === 'recovered') as
      { by: string } | undefined
    expect(closing?.by).toBe(journal[journal.length - 1].id)
    expect(await s.frozen(p.preview)).toBe(false)
    expect(without(await s.checksums(p.preview), 'users', 'migrated')).toEqual(
      without(prodBefore, 'users')
    )
    expect(await s.uploadsOf(p.preview)).toEqual(prodFiles)
    expect(s.productionEmails(p.preview)).toBe(0)
    expect(await s.leftovers(p.preview)).toEqual([])
  })
})
