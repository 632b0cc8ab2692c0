/**
 * Children that end with sitecycle, however it ends (die-with-parent.ts), and the temporary
 * folders a killed run leaves, removed by the next (run-temp-dir.ts). Real processes.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runProcess } from '../../src/hosts/local-executor.js'
import { canTieChildren, tiedToThisProcess } from '../../src/util/die-with-parent.js'
import { isZombie, processRuns, processStartTime } from '../../src/util/process-identity.js'
import { makeRunTempDir, OWNER_FILE, removeDeadRunTempDirs } from '../../src/util/run-temp-dir.js'

/** Poll until `pid` is gone (true) or 100 polls of 50 ms have passed (false). */
async function ends(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!processRuns({ pid })) return true
    await new Promise(r => setTimeout(r, 50))
  }
  return false
}

/** The command name of a running process ('' when it is gone). */
async function comm(pid: number): Promise<string> {
  return fs.readFile(`/proc/${pid}/comm`, 'utf8').then(
    t => t.trim(),
    () => ''
  )
}

test('runProcess starts every program with SIGTERM as its parent-death signal', async () => {
  expect(canTieChildren()).toBe(true)
  // prctl(PR_GET_PDEATHSIG = 2) from inside the started program.
  const r = await runProcess('/usr/bin/python3', [
    '-c',
    'import ctypes; s = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(s)); print(s.value)'
  ])
  expect(r.stdout.toString()).toBe('15\n')
})

test('a program that cannot be started is still a spawn error with its code', async () => {
  await expect(runProcess('/no/such/program', [])).rejects.toMatchObject({ code: 'ENOENT' })
})

test('a tied child dies when its parent is killed with SIGKILL; an untied one does not', async () => {
  const tied = tiedToThisProcess('sleep', ['300'])
  // A parent shell that starts both sleeps, prints their pids and waits.
  const script = `"$@" & a=$!; sleep 301 & b=$!; echo $a $b; wait`
  const parent = spawn('sh', ['-c', script, 'sh', tied.file, ...tied.args], {
    stdio: ['ignore', 'pipe', 'ignore']
  })
  const line = await new Promise<string>(resolve =>
    parent.stdout!.once('data', (b: Buffer) => resolve(b.toString()))
  )
  const [tiedPid, untiedPid] = line.trim().split(' ').map(Number)
  try {
    expect(processRuns({ pid: tiedPid! })).toBe(true)
    // setpriv sets the signal, then execs sleep: kill the parent only once that has happened
    // (before it, the parent's death would come before the signal was asked for).
    for (let i = 0; i < 200 && (await comm(tiedPid!)) !== 'sleep'; i++)
      await new Promise(r => setTimeout(r, 10))
    expect(await comm(tiedPid!)).toBe('sleep')
    parent.kill('SIGKILL')
    expect(await ends(tiedPid!)).toBe(true)
    expect(processRuns({ pid: untiedPid! })).toBe(true)
  } finally {
    for (const pid of [tiedPid!, untiedPid!]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    }
  }
})

test('an ended child nobody has reaped (a zombie) does not run', async () => {
  // The parent forks a child that exits at once, prints its pid and never waits for it.
  const parent = spawn(
    '/usr/bin/python3',
    [
      '-c',
      'import os, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)'
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] }
  )
  try {
    const line = await new Promise<string>(resolve =>
      parent.stdout!.once('data', (b: Buffer) => resolve(b.toString()))
    )
    const child = Number(line.trim())
    for (let i = 0; i < 100 && !isZombie(child); i++) await new Promise(r => setTimeout(r, 20))
    expect(isZombie(child)).toBe(true)
    expect(processRuns({ pid: child })).toBe(false)
    expect(processRuns({ pid: parent.pid! })).toBe(true)
    expect(isZombie(parent.pid!)).toBe(false)
  } finally {
    parent.kill('SIGKILL')
  }
})

describe('run folders', () => {
  let base: string
  beforeEach(async () => {
    base = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-run-dirs-'))
  })
  afterEach(async () => {
    await fs.rm(base, { recursive: true, force: true })
  })

  test('a folder of a run that is gone is removed; live, foreign and unmarked ones stay', async () => {
    const mine = await makeRunTempDir(base, 'sitecycle-ssh-')
    expect((await fs.stat(mine)).mode & 0o777).toBe(0o700)
    const owner = JSON.parse(await fs.readFile(path.join(mine, OWNER_FILE), 'utf8'))
    expect(owner).toEqual({
      pid: process.pid,
      start: processStartTime(process.pid),
      boot: expect.any(String)
    })

    // A run that was killed: a process that has ended.
    const child = spawn('sleep', ['300'], { stdio: 'ignore' })
    const start = processStartTime(child.pid!)
    child.kill('SIGKILL')
    await new Promise(r => child.once('exit', r))
    const dead = path.join(base, 'sitecycle-ssh-dead')
    await fs.mkdir(dead)
    await fs.writeFile(
      path.join(dead, OWNER_FILE),
      JSON.stringify({ ...owner, pid: child.pid, start })
    )
    await fs.writeFile(path.join(dead, 'id'), 'a key')
    // The same PID as this process, but another start time: a reused PID.
    const reused = path.join(base, 'sitecycle-ssh-reused')
    await fs.mkdir(reused)
    await fs.writeFile(path.join(reused, OWNER_FILE), JSON.stringify({ ...owner, start: '1' }))
    // No owner file: being made right now, or by an older version.
    const unmarked = path.join(base, 'sitecycle-ssh-unmarked')
    await fs.mkdir(unmarked)
    // Another kind of folder with a dead owner.
    const other = path.join(base, 'sitecycle-fetch-dead')
    await fs.cp(dead, other, { recursive: true })

    expect((await removeDeadRunTempDirs(base, 'sitecycle-ssh-')).sort()).toEqual(
      [dead, reused].sort()
    )
    expect((await fs.readdir(base)).sort()).toEqual(
      ['sitecycle-fetch-dead', 'sitecycle-ssh-unmarked', path.basename(mine)].sort()
    )
    // Making a new folder sweeps its kind first.
    const next = await makeRunTempDir(base, 'sitecycle-fetch-')
    expect((await fs.readdir(base)).sort()).toEqual(
      ['sitecycle-ssh-unmarked', path.basename(mine), path.basename(next)].sort()
    )
  })
})
