/**
 * Taking a site lock: hopeless errors (read-only, permission, no space) end at once with one
 * sentence naming the path; a lock that cannot be made for no known reason is retried with
 * pauses and given up after a deadline instead of spinning; a holder is told by PID, start time
 * and boot, so a reused PID does not keep a dead run's lock. Taking and releasing run the real
 * host programs (host/take-lock.py, host/release-lock.py) against temporary trees; only the
 * failures this machine cannot make (a read-only or full file system) are the program's output
 * faked through the recording executor.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile
} from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { TAKE_LOCK } from '../../src/commands/host-scripts.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import {
  acquireLock,
  currentHolder,
  DEFAULT_LOCK_WAIT_SECONDS,
  holderState,
  readHolder,
  releaseLock,
  UNEXPLAINED_FAILURE_SECONDS,
  type LockHolder
} from '../../src/sites/lock.js'
import { SitecycleError } from '../../src/util/errors.js'
import {
  bootId,
  processRuns,
  processStartTime,
  startTimeFromStat,
  thisProcess
} from '../../src/util/process-identity.js'
import { isScript, scriptOf } from '../helpers/host-script-calls.js'

const PY = '/usr/bin/python3'

const ROOT = '/srv/site'
const STATE = `${ROOT}/.sitecycle`
const local = new LocalExecutor()

/** A host whose host/take-lock.py fails at `step` with this errno and detail line. */
function takeLockFailing(
  step: 'mkdir' | 'write',
  errno: string,
  detail: string
): RecordingExecutor {
  return new RecordingExecutor('ssh://deploy@web1:22').respond(isScript(TAKE_LOCK), {
    stdout: JSON.stringify({ taken: false, step, errno, strerror: 'x', path: 'x', detail })
  })
}

const takeLockRuns = (exec: RecordingExecutor) =>
  exec.commands().filter(a => scriptOf(a)?.program === TAKE_LOCK).length

async function lockError(
  exec: RecordingExecutor | LocalExecutor,
  waitSeconds: number,
  root = ROOT
): Promise<SitecycleError> {
  const e = await acquireLock(exec, root, currentHolder('deploy', 'op1'), {
    waitSeconds,
    siteName: 'v1'
  }).then(
    () => undefined,
    (err: unknown) => err
  )
  if (!(e instanceof SitecycleError)) throw new Error(`expected a SitecycleError, got ${String(e)}`)
  return e
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-site-lock-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

/** A site root with its .sitecycle, on this machine. */
async function siteTree(): Promise<{ root: string; state: string }> {
  const root = join(dir, 'site')
  await mkdir(join(root, '.sitecycle'), { recursive: true })
  return { root, state: join(root, '.sitecycle') }
}

describe('acquireLock on a site where the lock cannot be made', () => {
  test.each([
    ['EROFS', 'Read-only file system', 'is on a read-only file system'],
    ['EACCES', 'Permission denied', 'cannot be written by this user'],
    ['ENOSPC', 'No space left on device', 'is on a file system with no space left']
  ])('mkdir fails with %s: one attempt, one sentence naming the path', async (errno, why, says) => {
    const exec = takeLockFailing(
      'mkdir',
      errno,
      `mkdir: cannot create directory '${STATE}/lock.op1': ${why}`
    )
    // A long --lock-wait: waiting would change nothing, so it is not waited for.
    const e = await lockError(exec, 3600)
    expect(e.kind).toBe('host')
    expect(e.message).toBe(
      `cannot take the lock of site v1 on ssh://deploy@web1:22: ${STATE} ${says} ` +
        `(mkdir: cannot create directory '${STATE}/lock.op1': ${why}); nothing was changed`
    )
    expect(takeLockRuns(exec)).toBe(1)
  })

  test('writing the holder fails with no space left: one sentence, no second attempt', async () => {
    const exec = takeLockFailing(
      'write',
      'ENOSPC',
      `ENOSPC: no space left on device, open '${STATE}/lock.op1/holder.json'`
    )
    const e = await lockError(exec, 0)
    expect(e.message).toBe(
      `cannot take the lock of site v1 on ssh://deploy@web1:22: ${STATE} is on a file system with no space left ` +
        `(ENOSPC: no space left on device, open '${STATE}/lock.op1/holder.json'); nothing was changed`
    )
    expect(takeLockRuns(exec)).toBe(1)
  })

  test('writing the holder fails otherwise: the holder file named', async () => {
    const exec = takeLockFailing('write', 'EFBIG', 'EFBIG: file too large, write')
    const e = await lockError(exec, 0)
    expect([e.kind, e.message]).toEqual([
      'host',
      `cannot write the lock holder ${STATE}/lock.op1/holder.json on ssh://deploy@web1:22: EFBIG: file too large, write`
    ])
  })

  test('an unexplained mkdir failure is retried with pauses until the deadline, then named', async () => {
    const exec = takeLockFailing(
      'mkdir',
      'EIO',
      'mkdir: cannot create directory: Input/output error'
    )
    // test -d of the lock says there is none: no holder to wait for.
    exec.respond(argvStartsWith('test', '-d'), { code: 1 })
    const e = await lockError(exec, 0)
    expect(e.kind).toBe('host')
    expect(e.message).toBe(
      'cannot take the lock of site v1 on ssh://deploy@web1:22: mkdir: cannot create directory: ' +
        'Input/output error; nothing was changed'
    )
    // Pauses of 50 ms doubling up to 1 s: about a dozen attempts in the deadline, not thousands.
    const attempts = takeLockRuns(exec)
    expect(attempts).toBeGreaterThan(2)
    expect(attempts).toBeLessThan(UNEXPLAINED_FAILURE_SECONDS * 4)
  }, 20000)

  test('a missing .sitecycle is "not initialized" (exit 2 kind), and nothing is made', async () => {
    const root = join(dir, 'bare')
    await mkdir(root)
    const e = await lockError(local, 0, root)
    expect(e.kind).toBe('site')
    expect(e.message).toBe(
      `site root ${root} on local is not initialized (no ${root}/.sitecycle): run \`sitecycle init\` first`
    )
    expect(await readdir(root)).toEqual([])
  })
})

describe('a lock taken and released on a real tree', () => {
  test('taken: holder.json in lock, mode 0644, no attempt folder; released by its holder only', async () => {
    const { root, state } = await siteTree()
    const me = currentHolder('deploy', 'op1')
    await expect(acquireLock(local, root, me, { python: PY })).resolves.toEqual({ holder: me })
    expect(await readdir(state)).toEqual(['lock'])
    const file = join(state, 'lock', 'holder.json')
    expect(await readFile(file, 'utf8')).toBe(JSON.stringify(me, null, 2) + '\n')
    expect((await stat(file)).mode & 0o777).toBe(0o644)
    expect(await readHolder(local, root)).toEqual(me)
    // Another operation's release leaves it; its own removes it.
    await releaseLock(local, root, currentHolder('deploy', 'op2'), PY)
    expect(await readdir(state)).toEqual(['lock'])
    await releaseLock(local, root, me, PY)
    expect(await readdir(state)).toEqual([])
  })
})

describe('a lock held by a live run', () => {
  /** A site whose lock is held by another live run (this process, another operation). */
  async function heldSite(): Promise<{ root: string; state: string }> {
    const site = await siteTree()
    await mkdir(join(site.state, 'lock'))
    await writeFile(
      join(site.state, 'lock', 'holder.json'),
      JSON.stringify(currentHolder('deploy', 'other-run'))
    )
    return site
  }

  /** The holder's lock moved away (atomically, as its release would be) in 300 ms; awaited by
   * the test, so nothing outlives it. */
  const freeLater = (state: string) =>
    new Promise(resolve => setTimeout(resolve, 300)).then(() =>
      rename(join(state, 'lock'), join(state, 'released'))
    )

  test('the default wait is a few seconds: a lock freed meanwhile is taken', async () => {
    expect(DEFAULT_LOCK_WAIT_SECONDS).toBeGreaterThan(0)
    const { root, state } = await heldSite()
    const freed = freeLater(state)
    const me = currentHolder('rollback', 'op3')
    await expect(acquireLock(local, root, me, { siteName: 'v1' })).resolves.toEqual({ holder: me })
    await freed
    expect(await readHolder(local, root)).toEqual(me)
  })

  test('still held after the default wait: refused naming the holder and the wait', async () => {
    const { root, state } = await heldSite()
    const e = await acquireLock(local, root, currentHolder('rollback', 'op4'), {
      siteName: 'v1'
    }).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(SitecycleError)
    expect((e as SitecycleError).kind).toBe('lock')
    expect((e as SitecycleError).message).toMatch(
      new RegExp(
        `^site v1 on local is locked by deploy other-run .* \\(waited ${DEFAULT_LOCK_WAIT_SECONDS} s\\); wait for it \\(--lock-wait SECONDS\\)`
      )
    )
    // Each failed attempt removed its own folder: only the holder's lock is there.
    expect(await readdir(state)).toEqual(['lock'])
    expect(await readHolder(local, root)).toMatchObject({ id: 'other-run' })
  }, 20000)

  test('--lock-wait 0 refuses at once, even when the lock is freed a moment later', async () => {
    const { root, state } = await heldSite()
    const freed = freeLater(state)
    const e = await lockError(local, 0, root)
    expect(e.kind).toBe('lock')
    expect(e.message).not.toContain('waited')
    await freed
  })
})

describe("release-lock removes attempts killed mid-way, not a contender's", () => {
  test('lock.<id> folders older than a minute go with the release; newer ones stay', async () => {
    const { root, state } = await siteTree()
    const me = currentHolder('deploy', 'op1')
    await acquireLock(local, root, me)
    for (const [name, ageSeconds] of [
      ['lock.killed', 120],
      ['lock.contender', 5]
    ] as const) {
      await mkdir(join(state, name))
      await writeFile(join(state, name, 'holder.json'), '{}')
      const t = new Date(Date.now() - ageSeconds * 1000)
      await utimes(join(state, name), t, t)
    }
    await writeFile(join(state, 'lock.file'), '')
    await utimes(join(state, 'lock.file'), new Date(0), new Date(0))
    await releaseLock(local, root, me)
    expect((await readdir(state)).sort()).toEqual(['lock.contender', 'lock.file'])
  })

  test('not released by another holder: old attempts stay too', async () => {
    const { root, state } = await siteTree()
    await acquireLock(local, root, currentHolder('deploy', 'op1'))
    await mkdir(join(state, 'lock.killed'))
    await utimes(join(state, 'lock.killed'), new Date(0), new Date(0))
    await releaseLock(local, root, currentHolder('deploy', 'op2'))
    expect((await readdir(state)).sort()).toEqual(['lock', 'lock.killed'])
  })
})

describe('a lock holder is a process, not a PID', () => {
  let sleeper: ChildProcess
  beforeAll(() => {
    sleeper = spawn('sleep', ['300'], { stdio: 'ignore' })
  })
  afterAll(() => {
    sleeper.kill('SIGKILL')
  })

  function holder(fields: Partial<LockHolder>): LockHolder {
    return { ...currentHolder('deploy', 'old'), ...fields }
  }

  test('this process records its PID, start time and boot', () => {
    const h = currentHolder('deploy', 'x')
    expect(h.pid).toBe(process.pid)
    expect(h.start).toMatch(/^\d+$/)
    expect(h.boot).toMatch(/^[0-9a-f-]{36}$/)
    expect(thisProcess()).toEqual({ pid: h.pid, start: h.start, boot: h.boot })
    expect(holderState(h)).toBe('alive')
  })

  test('a live process under the recorded PID but started at another time: the holder is dead', () => {
    const pid = sleeper.pid!
    const start = processStartTime(pid)!
    expect(holderState(holder({ pid, start }))).toBe('alive')
    expect(holderState(holder({ pid, start: String(Number(start) + 1) }))).toBe('dead')
  })

  test('a holder from another boot is dead even when its PID and start time match', () => {
    const pid = sleeper.pid!
    const start = processStartTime(pid)!
    expect(holderState(holder({ pid, start, boot: '00000000-0000-0000-0000-000000000000' }))).toBe(
      'dead'
    )
    expect(holderState(holder({ pid, start, boot: bootId() }))).toBe('alive')
  })

  test('an old holder file (no start time, no boot) is judged by its PID alone', () => {
    const old = { ...holder({ pid: sleeper.pid! }) }
    delete old.start
    delete old.boot
    expect(holderState(old)).toBe('alive')
    expect(processRuns({ pid: 2 ** 22 + 12345 })).toBe(false)
    expect(holderState({ ...old, machine: `not-${hostname()}` })).toBe('unknown')
  })

  test('a dead holder with a reused PID is taken over as stale', async () => {
    const { root, state } = await siteTree()
    const gone = holder({ pid: sleeper.pid!, start: '1', id: 'gone' })
    await mkdir(join(state, 'lock'))
    await writeFile(join(state, 'lock', 'holder.json'), JSON.stringify(gone))
    const me = currentHolder('deploy', 'op2')
    const got = await acquireLock(local, root, me, { waitSeconds: 0 })
    expect(got).toEqual({ holder: me, stale: gone })
    expect(await readHolder(local, root)).toEqual(me)
    expect(await readdir(state)).toEqual(['lock'])
  })
})

test('field 22 of /proc/<pid>/stat is counted from the last parenthesis of the name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3))
  // A command name with spaces and parentheses in it.
  expect(startTimeFromStat(`42 (a) b (c) ${fields.join(' ')}\n`)).toBe('22')
  expect(startTimeFromStat('garbage')).toBeUndefined()
  expect(processStartTime(process.pid)).toBe(thisProcess().start)
})
