/**
 * The host scripts that must be atomic, run for real with Debian's Python: the live.map switch
 * (written aside and renamed, mtime always changed: mod_rewrite re-reads a txt map only when
 * its mtime changes, and reads a half-written or missing map as "use the default group") and
 * the atomic link swap.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile
} from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as scripts from '../../src/commands/host-scripts.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import type { SiteConfig } from '../../src/config/model.js'
import { Journal } from '../../src/sites/journal.js'
import {
  acquireLock,
  currentHolder,
  readHolder,
  releaseLock,
  type LockHolder
} from '../../src/sites/lock.js'
import {
  listReleases,
  pointSlot,
  readSiteState,
  awaitSlotGroup,
  restartSlotGroup,
  signalSlotGroup,
  switchLiveSlot
} from '../../src/sites/site-state.js'
import { tryWarmSwitch } from '../../src/sites/warm-switch.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-scripts-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

// run as the product runs them: isolated, without the site module
const py = (program: string, ...args: string[]) =>
  execFileSync('/usr/bin/python3', ['-I', '-S', '-c', program, ...args], { encoding: 'utf8' })

test('switch: the new map is a new file renamed over the old one, whole, and it prints the slot that was live', async () => {
  const map = join(dir, 'live.map')
  await writeFile(map, 'live blue\n')
  const before = await stat(map)
  expect(py(scripts.SWITCH_MAP, map, 'green').trim()).toBe('blue')
  const after = await stat(map)
  expect(after.ino).not.toBe(before.ino)
  expect(await readFile(map, 'utf8')).toBe('live green\n')
  expect(await readdir(dir)).toEqual(['live.map'])
})

test('switch: when the old map has the same or a later mtime, the new one gets a later mtime', async () => {
  const map = join(dir, 'live.map')
  await writeFile(map, 'live blue\n')
  const future = new Date(Date.now() + 60_000)
  await utimes(map, future, future)
  const old = (await stat(map, { bigint: true })).mtimeNs
  py(scripts.SWITCH_MAP, map, 'green')
  const now = (await stat(map, { bigint: true })).mtimeNs
  expect(now > old).toBe(true)
  // and again back, many times in a row within one clock tick: every switch changes the mtime
  let last = now
  for (let i = 0; i < 5; i++) {
    py(scripts.SWITCH_MAP, map, i % 2 ? 'green' : 'blue')
    const m = (await stat(map, { bigint: true })).mtimeNs
    expect(m > last).toBe(true)
    last = m
  }
})

test('switch of a site with no map yet writes one', async () => {
  const map = join(dir, 'live.map')
  expect(py(scripts.SWITCH_MAP, map, 'blue').trim()).toBe('')
  expect(await readFile(map, 'utf8')).toBe('live blue\n')
})

test('point-link replaces a link in one rename and leaves no temporary link', async () => {
  const link = join(dir, 'blue')
  py(scripts.POINT_LINK, link, '../releases/1.0.0')
  const first = await lstat(link)
  py(scripts.POINT_LINK, link, '../releases/2.0.0')
  expect(await readlink(link)).toBe('../releases/2.0.0')
  expect((await lstat(link)).ino).not.toBe(first.ino)
  expect(await readdir(dir)).toEqual(['blue'])
})

test('read-state reports slots, the live slot and whether the site is initialized', async () => {
  const { mkdir, symlink } = await import('node:fs/promises')
  await mkdir(join(dir, 'slots'))
  await symlink('../releases/1.0.0', join(dir, 'slots', 'blue'))
  await writeFile(join(dir, 'live.map'), 'live blue\n')
  expect(JSON.parse(py(scripts.READ_STATE, dir))).toEqual({
    slots: { blue: '1.0.0', green: null },
    live: 'blue',
    current: null,
    initialized: false,
    releases: { '1.0.0': { complete: false, bad: false } }
  })
})

test('switch with an expected live slot refuses when another slot is live, and leaves the map alone', async () => {
  const map = join(dir, 'live.map')
  await writeFile(map, 'live green\n')
  const before = await stat(map)
  let code = 0
  let stderr = ''
  try {
    execFileSync('/usr/bin/python3', ['-I', '-S', '-c', scripts.SWITCH_MAP, map, 'green', 'blue'], {
      stdio: 'pipe'
    })
  } catch (e) {
    code = (e as { status: number }).status
    stderr = String((e as { stderr: Buffer }).stderr)
  }
  expect(code).toBe(4)
  expect(stderr).toMatch(/the live slot is green, not blue/)
  expect((await stat(map)).ino).toBe(before.ino)
  expect(py(scripts.SWITCH_MAP, map, 'blue', 'green').trim()).toBe('green')
  expect(await readFile(map, 'utf8')).toBe('live blue\n')
})

/** The host programs run through the local executor, as every executor runs them. */
const exec = new LocalExecutor()

describe('warm-switch, as the host program WARM_SWITCH: the rollback up to the switch', () => {
  const holder = (id: string): LockHolder => ({
    op: 'rollback',
    id,
    pid: process.pid,
    machine: hostname(),
    actor: 'tester',
    since: 'now'
  })
  const holderText = (id: string) => JSON.stringify(holder(id), null, 2) + '\n'
  const siteAt = (root: string) =>
    ({ name: 'v1', root, apache: { mode: 'blue-green' } }) as unknown as SiteConfig

  /** blue -> 2.0.0 (live), green -> 1.0.0 (warm), both complete. */
  async function site(): Promise<string> {
    const root = join(dir, 'root')
    for (const v of ['1.0.0', '2.0.0']) {
      await mkdir(join(root, 'releases', v), { recursive: true })
      await writeFile(join(root, 'releases', v, 'release.json'), JSON.stringify({ version: v }))
    }
    await mkdir(join(root, 'slots'))
    await mkdir(join(root, '.sitecycle'))
    await writeFile(join(root, '.sitecycle', 'site.json'), '{}\n')
    await symlink('../releases/2.0.0', join(root, 'slots', 'blue'))
    await symlink('../releases/1.0.0', join(root, 'slots', 'green'))
    await writeFile(join(root, 'live.map'), 'live blue\n')
    return root
  }
  const warm = (root: string, id: string, accept: string[] = []) =>
    tryWarmSwitch(exec, siteAt(root), '/usr/bin/python3', {
      opId: id,
      holder: holder(id),
      start: { id, op: 'rollback', event: 'start', site: 'v1', actor: 'tester', to: null },
      accept
    })
  const journalOf = async (root: string) =>
    (await readFile(join(root, '.sitecycle', 'journal.jsonl'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l))

  test('takes the lock as acquireLock does, journals the start, switches, journals the switch', async () => {
    const root = await site()
    const before = await stat(join(root, 'live.map'), { bigint: true })
    const out = await warm(root, 'op1')
    expect(out).toMatchObject({
      result: 'switched',
      target: '1.0.0',
      liveSlot: 'blue',
      idleSlot: 'green',
      state: { live: '2.0.0', idle: '1.0.0', liveSlot: 'blue' }
    })
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live green\n')
    const after = await stat(join(root, 'live.map'), { bigint: true })
    expect(after.ino).not.toBe(before.ino)
    expect(after.mtimeNs > before.mtimeNs).toBe(true)
    expect((await stat(join(root, 'live.map'))).mode & 0o777).toBe(0o644)
    // The lock: holder.json as given, in `lock`, no attempt folder left; lock.ts reads it.
    expect(await readFile(join(root, '.sitecycle', 'lock', 'holder.json'), 'utf8')).toBe(
      holderText('op1')
    )
    expect((await readdir(join(root, '.sitecycle'))).sort()).toEqual([
      'journal.jsonl',
      'lock',
      'site.json'
    ])
    expect(await readdir(root)).not.toContain(expect.stringMatching(/tmp/))
    const local = new LocalExecutor()
    expect(await readHolder(local, root)).toMatchObject({ id: 'op1', pid: process.pid })
    // Another run is refused while this one's process is alive.
    await expect(
      acquireLock(local, root, currentHolder('deploy', 'op2'), { siteName: 'v1' })
    ).rejects.toThrow(/site v1 on local is locked by rollback op1 by tester/)
    const journal = await journalOf(root)
    expect(journal).toEqual([
      {
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        id: 'op1',
        op: 'rollback',
        event: 'start',
        site: 'v1',
        actor: 'tester',
        to: null,
        target: '1.0.0',
        liveSlot: 'blue',
        live: '2.0.0',
        idle: '1.0.0'
      },
      {
        at: expect.any(String),
        id: 'op1',
        op: 'rollback',
        event: 'step',
        step: 'switch',
        phase: 'run',
        status: 'ok',
        ms: expect.any(Number),
        note: '2.0.0 -> 1.0.0'
      }
    ])
    // The Journal reads it as one unfinished operation (its end is written by the caller).
    const ops = await new Journal(local, join(root, '.sitecycle', 'journal.jsonl')).operations()
    expect(ops.map(o => [o.id, o.steps.length, o.end])).toEqual([['op1', 1, undefined]])
    await releaseLock(local, root, holder('op1'))
    expect(await readdir(join(root, '.sitecycle'))).not.toContain('lock')
  })

  test('a held lock: nothing changes, no attempt folder is left', async () => {
    const root = await site()
    await mkdir(join(root, '.sitecycle', 'lock'))
    await writeFile(join(root, '.sitecycle', 'lock', 'holder.json'), holderText('other'))
    expect(await warm(root, 'op1')).toEqual({ result: 'busy', reason: 'the lock is held' })
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live blue\n')
    expect((await readdir(join(root, '.sitecycle'))).sort()).toEqual(['lock', 'site.json'])
    expect(await readFile(join(root, '.sitecycle', 'lock', 'holder.json'), 'utf8')).toBe(
      holderText('other')
    )
  })

  test('no .sitecycle: busy (the full path says the site is not initialized)', async () => {
    const root = join(dir, 'nothing')
    await mkdir(root)
    expect(await warm(root, 'op1')).toMatchObject({ result: 'busy' })
    expect(await readdir(root)).toEqual([])
  })

  // Mounting a small tmpfs needs root (as the CI container runs the tests).
  const asRoot = process.getuid?.() === 0 ? test : test.skip
  asRoot(
    'a full .sitecycle: busy, saying the holder cannot be written, no attempt folder left',
    async () => {
      const root = await site()
      const state = join(root, '.sitecycle')
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', state])
      try {
        await writeFile(join(state, 'site.json'), '{}\n')
        try {
          execFileSync('dd', ['if=/dev/zero', `of=${join(state, 'fill')}`, 'bs=4k'], {
            stdio: 'ignore'
          })
        } catch {
          // dd ends with "No space left on device"
        }
        const before = (await readdir(state)).sort()
        expect(await warm(root, 'op1')).toEqual({
          result: 'busy',
          reason: `cannot write ${join(state, 'lock.op1', 'holder.json')}: No space left on device`
        })
        expect((await readdir(state)).sort()).toEqual(before)
        expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live blue\n')
      } finally {
        execFileSync('umount', [state])
      }
    }
  )

  test('an unfinished run in the journal: the lock is kept for the caller, nothing else changes', async () => {
    const root = await site()
    const journal = join(root, '.sitecycle', 'journal.jsonl')
    const text =
      [
        { id: 'a', op: 'deploy', event: 'start' },
        { id: 'a', op: 'deploy', event: 'end', status: 'deployed' },
        { id: 'b', op: 'deploy', event: 'start' },
        { id: 'b', op: 'deploy', event: 'step', step: 'install' },
        { id: 'c', op: 'deploy', event: 'start' },
        { id: 'c', op: 'deploy', event: 'recovered', by: 'a' },
        [1]
      ]
        .map(e => JSON.stringify(e))
        .join('\n') + '\n{"id": "d", "op": "dep' // a torn last line is skipped
    await writeFile(journal, text)
    expect(await warm(root, 'op1')).toMatchObject({
      result: 'fallback',
      reason: 'the journal has an unfinished operation (b)',
      state: { liveSlot: 'blue', slots: { blue: '2.0.0', green: '1.0.0' } }
    })
    expect(await readFile(journal, 'utf8')).toBe(text)
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live blue\n')
    expect(await readFile(join(root, '.sitecycle', 'lock', 'holder.json'), 'utf8')).toBe(
      holderText('op1')
    )
  })

  test('a warm release marked bad, or not the version asked for: fallback, nothing switched', async () => {
    const root = await site()
    expect(await warm(root, 'op1', ['3.0.0'])).toMatchObject({
      result: 'fallback',
      reason: 'the requested version is not the one warm in the idle slot'
    })
    await rm(join(root, '.sitecycle', 'lock'), { recursive: true })
    await writeFile(join(root, 'releases', '1.0.0', 'BAD'), '{}')
    expect(await warm(root, 'op2')).toMatchObject({
      result: 'fallback',
      reason: 'no good release is warm in the idle slot'
    })
    await rm(join(root, '.sitecycle', 'lock'), { recursive: true })
    await rm(join(root, 'releases', '1.0.0', 'BAD'))
    await rm(join(root, '.sitecycle', 'site.json'))
    expect(await warm(root, 'op3')).toMatchObject({
      result: 'fallback',
      reason: 'the site is not initialized'
    })
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live blue\n')
    expect(await journalOf(root)).toEqual([])
    // the version asked for by name, when it is the warm one, switches
    await rm(join(root, '.sitecycle', 'lock'), { recursive: true })
    await writeFile(join(root, '.sitecycle', 'site.json'), '{}\n')
    expect(await warm(root, 'op4', ['1.0.0'])).toMatchObject({
      result: 'switched',
      target: '1.0.0'
    })
  })

  test('a live.map whose mtime is later than now: the new one still gets a later mtime', async () => {
    const root = await site()
    const future = new Date(Date.now() + 60_000)
    await utimes(join(root, 'live.map'), future, future)
    const old = (await stat(join(root, 'live.map'), { bigint: true })).mtimeNs
    expect(await warm(root, 'op1')).toMatchObject({ result: 'switched' })
    expect((await stat(join(root, 'live.map'), { bigint: true })).mtimeNs > old).toBe(true)
  })
})

describe('the host programs of the site state, run through the executor', () => {
  const siteAt = (root: string) =>
    ({ name: 'v1', root, apache: { mode: 'blue-green' } }) as unknown as SiteConfig
  const PY3 = '/usr/bin/python3'

  async function site(): Promise<string> {
    const root = join(dir, 'root')
    for (const v of ['1.0.0', '2.0.0', '3.0.0'])
      await mkdir(join(root, 'releases', v), { recursive: true })
    await writeFile(
      join(root, 'releases', '1.0.0', 'release.json'),
      JSON.stringify({ version: '1.0.0' })
    )
    await writeFile(
      join(root, 'releases', '2.0.0', 'release.json'),
      JSON.stringify({ version: '2.0.0' })
    )
    await writeFile(join(root, 'releases', '2.0.0', 'BAD'), '{}')
    await writeFile(join(root, 'releases', '3.0.0', 'release.json'), '{ torn')
    await writeFile(join(root, 'releases', 'stray-file'), '')
    await symlink('1.0.0', join(root, 'releases', 'a-link'))
    await mkdir(join(root, 'slots'))
    await mkdir(join(root, '.sitecycle'))
    await writeFile(join(root, '.sitecycle', 'site.json'), '{}\n')
    await symlink('../releases/1.0.0', join(root, 'slots', 'green'))
    await symlink('../releases/2.0.0', join(root, 'slots', 'blue'))
    await writeFile(join(root, 'live.map'), '# comment\nlive green\n')
    return root
  }

  test('state and releases read', async () => {
    const root = await site()
    const a = await readSiteState(exec, siteAt(root), PY3)
    expect(a).toEqual({
      initialized: true,
      slots: { blue: '2.0.0', green: '1.0.0' },
      liveSlot: 'green',
      idleSlot: 'blue',
      live: '1.0.0',
      idle: '2.0.0',
      slotReleases: {
        '1.0.0': { complete: true, bad: false },
        '2.0.0': { complete: true, bad: true }
      }
    })
    const la = await listReleases(exec, siteAt(root), PY3)
    expect(la.map(r => [r.dir, r.complete, r.bad])).toEqual([
      ['1.0.0', true, false],
      ['2.0.0', true, true],
      ['3.0.0', false, false]
    ])
    await rm(join(root, 'releases'), { recursive: true })
    expect(await listReleases(exec, siteAt(root), PY3)).toEqual([])
  })

  test('point a slot and switch with compare and swap', async () => {
    const root = await site()
    await pointSlot(exec, siteAt(root), PY3, 'blue', '3.0.0')
    expect(await readlink(join(root, 'slots', 'blue'))).toBe('../releases/3.0.0')
    expect(await readdir(join(root, 'slots'))).toEqual(['blue', 'green'])
    await expect(switchLiveSlot(exec, siteAt(root), PY3, 'green', 'blue')).rejects.toThrow(
      'site v1: the live slot is green, not blue: another operation changed the site'
    )
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('# comment\nlive green\n')
    expect(await switchLiveSlot(exec, siteAt(root), PY3, 'blue', 'green')).toBe('green')
    expect(await readFile(join(root, 'live.map'), 'utf8')).toBe('live blue\n')
    expect((await readdir(root)).filter(n => n.startsWith('live.map'))).toEqual(['live.map'])
  })

  /** Stand-ins for a group's daemons: processes whose working directory is its run dir (as
   * mod_wsgi's), which SIGINT ends. */
  function daemons(runDir: string, n: number): ChildProcess[] {
    return Array.from({ length: n }, () => spawn('sleep', ['60'], { cwd: runDir, stdio: 'ignore' }))
  }
  /** `get()`'s value once it is defined. */
  async function until<T>(get: () => T | undefined): Promise<T> {
    for (;;) {
      const v = get()
      if (v !== undefined) return v
      await new Promise(r => setTimeout(r, 20))
    }
  }
  const exited = (p: ChildProcess) =>
    new Promise<string | null>(r =>
      p.exitCode !== null || p.signalCode !== null
        ? r(p.signalCode)
        : p.once('exit', (_, s) => r(s))
    )

  test('restart-idle in two halves: signal points the slot and SIGINTs the group at once; await waits for new daemons', async () => {
    const root = await site()
    const runDir = join(root, 'run', 'blue')
    await mkdir(runDir, { recursive: true })
    const s = {
      ...siteAt(root),
      apache: { mode: 'blue-green', processes: 2, shutdownTimeout: 1 }
    } as unknown as SiteConfig
    // No daemon: an error that says so, and the slot is left alone.
    await expect(signalSlotGroup(exec, s, PY3, 'blue', '3.0.0')).rejects.toThrow(
      'no Apache daemon process of site v1 slot blue runs on'
    )
    expect(await readlink(join(root, 'slots', 'blue'))).toBe('../releases/2.0.0')

    const first = daemons(runDir, 2)
    const others = daemons(dir, 1) // not of this group
    try {
      await new Promise(r => setTimeout(r, 100))
      const signalled = await signalSlotGroup(exec, s, PY3, 'blue', '3.0.0')
      expect(signalled.split(' ').map(Number).sort()).toEqual(first.map(p => p.pid).sort())
      expect(await readlink(join(root, 'slots', 'blue'))).toBe('../releases/3.0.0')
      expect(await Promise.all(first.map(exited))).toEqual(['SIGINT', 'SIGINT'])
      expect(others[0].exitCode).toBeNull()
      // Apache's parent respawns them later: await returns only once both new ones run.
      let respawned: ChildProcess[] = []
      const waiting = awaitSlotGroup(exec, s, PY3, 'blue', signalled)
      const t = setTimeout(() => (respawned = daemons(runDir, 2)), 400)
      try {
        const fresh = await waiting
        expect(fresh.split(' ').map(Number).sort()).toEqual(respawned.map(p => p.pid).sort())
      } finally {
        clearTimeout(t)
        for (const p of respawned) p.kill()
      }
    } finally {
      for (const p of [...first, ...others]) p.kill()
    }
  })

  test('a restart while Apache is still respawning the group: it waits for the daemons instead of failing', async () => {
    const root = await site()
    const runDir = join(root, 'run', 'blue')
    await mkdir(runDir, { recursive: true })
    const s = {
      ...siteAt(root),
      apache: { mode: 'blue-green', processes: 1, shutdownTimeout: 1 }
    } as unknown as SiteConfig
    // The group's daemons were just stopped (a restart-idle before a failed step): none runs
    // when the undo restarts it; Apache's parent respawns one a moment later.
    let respawned: ChildProcess[] = []
    let fresh: ChildProcess[] = []
    const t = setTimeout(() => (respawned = daemons(runDir, 1)), 300)
    const restarting = restartSlotGroup(exec, s, PY3, 'blue')
    try {
      // The respawned daemon is signalled (it may run the release the undo moves away from),
      // then Apache's parent starts another.
      expect(await exited(await until(() => respawned[0]))).toBe('SIGINT')
      fresh = daemons(runDir, 1)
      expect(await restarting).toBe(String(fresh[0].pid))
    } finally {
      clearTimeout(t)
      for (const p of [...respawned, ...fresh]) p.kill()
    }
  })
})
