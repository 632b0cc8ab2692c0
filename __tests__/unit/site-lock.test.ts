/**
 * Taking a site lock: hopeless errors (read-only, permission, no space) end at once with one
 * sentence naming the path; a lock that cannot be made for no known reason is retried with
 * pauses and given up after a deadline instead of spinning; a holder is told by PID, start time
 * and boot, so a reused PID does not keep a dead run's lock.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { hostname } from 'node:os'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import {
  acquireLock,
  currentHolder,
  DEFAULT_LOCK_WAIT_SECONDS,
  holderState,
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

const ROOT = '/srv/site'
const STATE = `${ROOT}/.sitecycle`

function mkdirFailing(stderr: string): RecordingExecutor {
  return new RecordingExecutor('ssh://deploy@web1:22').respond(argvStartsWith('mkdir'), {
    code: 1,
    stderr
  })
}

async function lockError(exec: RecordingExecutor, waitSeconds: number): Promise<SitecycleError> {
  const e = await acquireLock(exec, ROOT, currentHolder('deploy', 'op1'), {
    waitSeconds,
    siteName: 'v1'
  }).then(
    () => undefined,
    (err: unknown) => err
  )
  if (!(e instanceof SitecycleError)) throw new Error(`expected a SitecycleError, got ${String(e)}`)
  return e
}

describe('acquireLock on a site where the lock cannot be made', () => {
  test.each([
    ['Read-only file system', 'is on a read-only file system'],
    ['Permission denied', 'cannot be written by this user'],
    ['No space left on device', 'is on a file system with no space left']
  ])('mkdir fails with %s: one attempt, one sentence naming the path', async (why, says) => {
    const exec = mkdirFailing(`mkdir: cannot create directory '${STATE}/lock.op1': ${why}\n`)
    // A long --lock-wait: waiting would change nothing, so it is not waited for.
    const e = await lockError(exec, 3600)
    expect(e.kind).toBe('host')
    expect(e.message).toBe(
      `cannot take the lock of site v1 on ssh://deploy@web1:22: ${STATE} ${says} ` +
        `(mkdir: cannot create directory '${STATE}/lock.op1': ${why}); nothing was changed`
    )
    expect(exec.commands().filter(a => a[0] === 'mkdir')).toHaveLength(1)
  })

  test('writing the holder fails with no space left: the attempt is removed, one sentence', async () => {
    const exec = new RecordingExecutor('local')
    exec.writeFile = async () => {
      throw Object.assign(new Error(`ENOSPC: no space left on device, open '${STATE}/x'`), {
        code: 'ENOSPC'
      })
    }
    const e = await lockError(exec, 0)
    expect(e.message).toMatch(
      new RegExp(
        `^cannot take the lock of site v1 on local: ${STATE} is on a file system with no space left \\(ENOSPC`
      )
    )
    expect(exec.commands()).toContainEqual(['rm', '-rf', '--', `${STATE}/lock.op1`])
    expect(exec.commands().filter(a => a[0] === 'mv')).toHaveLength(0)
  })

  test('an unexplained mkdir failure is retried with pauses until the deadline, then named', async () => {
    const exec = mkdirFailing('mkdir: cannot create directory: Input/output error\n')
    // test -d of the lock says there is none: no holder to wait for.
    exec.respond(argvStartsWith('test', '-d'), { code: 1 })
    const e = await lockError(exec, 0)
    expect(e.kind).toBe('host')
    expect(e.message).toBe(
      'cannot take the lock of site v1 on ssh://deploy@web1:22: mkdir: cannot create directory: ' +
        'Input/output error; nothing was changed'
    )
    // Pauses of 50 ms doubling up to 1 s: about a dozen attempts in the deadline, not thousands.
    const attempts = exec.commands().filter(a => a[0] === 'mkdir').length
    expect(attempts).toBeGreaterThan(2)
    expect(attempts).toBeLessThan(UNEXPLAINED_FAILURE_SECONDS * 4)
  }, 20000)

  test('a missing .sitecycle is "not initialized" (exit 2 kind)', async () => {
    const exec = mkdirFailing(
      `mkdir: cannot create directory '${STATE}/lock.op1': No such file or directory\n`
    )
    exec.respond(argvStartsWith('test', '-d'), { code: 1 })
    const e = await lockError(exec, 0)
    expect(e.kind).toBe('site')
    expect(e.message).toMatch(/is not initialized/)
  })
})

describe('a lock held by a live run', () => {
  const HOLDER_FILE = `${STATE}/lock/holder.json`
  /** A site whose lock is held by another live run (this process, another operation) until
   * the holder file is removed: the rename of a new lock fails while it is there. */
  function heldSite(): RecordingExecutor {
    const exec = new RecordingExecutor('local')
    exec.files.set(HOLDER_FILE, JSON.stringify(currentHolder('deploy', 'other-run')))
    exec.respond(argvStartsWith('mv'), () => ({ code: exec.files.has(HOLDER_FILE) ? 1 : 0 }))
    return exec
  }

  test('the default wait is a few seconds: a lock freed meanwhile is taken', async () => {
    expect(DEFAULT_LOCK_WAIT_SECONDS).toBeGreaterThan(0)
    const exec = heldSite()
    setTimeout(() => exec.files.delete(HOLDER_FILE), 300)
    const me = currentHolder('rollback', 'op3')
    await expect(acquireLock(exec, ROOT, me, { siteName: 'v1' })).resolves.toEqual({ holder: me })
  })

  test('still held after the default wait: refused naming the holder and the wait', async () => {
    const e = await acquireLock(heldSite(), ROOT, currentHolder('rollback', 'op4'), {
      siteName: 'v1'
    }).catch((err: unknown) => err)
    expect(e).toBeInstanceOf(SitecycleError)
    expect((e as SitecycleError).kind).toBe('lock')
    expect((e as SitecycleError).message).toMatch(
      new RegExp(
        `^site v1 on local is locked by deploy other-run .* \\(waited ${DEFAULT_LOCK_WAIT_SECONDS} s\\); wait for it \\(--lock-wait SECONDS\\)`
      )
    )
  }, 20000)

  test('--lock-wait 0 refuses at once, even when the lock is freed a moment later', async () => {
    const exec = heldSite()
    setTimeout(() => exec.files.delete(HOLDER_FILE), 300)
    const e = await lockError(exec, 0)
    expect(e.kind).toBe('lock')
    expect(e.message).not.toContain('waited')
    expect(exec.commands().filter(a => a[0] === 'mv')).toHaveLength(1)
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
    const exec = new RecordingExecutor('local')
    const gone = holder({ pid: sleeper.pid!, start: '1', id: 'gone' })
    // The first rename fails (a lock is there), the second succeeds.
    let renames = 0
    exec.respond(argvStartsWith('mv'), () => (renames++ === 0 ? { code: 1 } : { code: 0 }))
    exec.files.set(`${STATE}/lock/holder.json`, JSON.stringify(gone))
    const me = currentHolder('deploy', 'op2')
    const got = await acquireLock(exec, ROOT, me, { waitSeconds: 0 })
    expect(got).toEqual({ holder: me, stale: gone })
    expect(exec.commands()).toContainEqual(['rm', '-rf', '--', `${STATE}/lock`])
  })
})

test('field 22 of /proc/<pid>/stat is counted from the last parenthesis of the name', () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3))
  // A command name with spaces and parentheses in it.
  expect(startTimeFromStat(`42 (a) b (c) ${fields.join(' ')}\n`)).toBe('22')
  expect(startTimeFromStat('garbage')).toBeUndefined()
  expect(processStartTime(process.pid)).toBe(thisProcess().start)
})
