/**
 * The host scripts that must be atomic, run for real with Debian's Python: the live.map switch
 * (written aside and renamed, mtime always changed: mod_rewrite re-reads a txt map only when
 * its mtime changes, and reads a half-written or missing map as "use the default group") and
 * the atomic link swap.
 */
import { execFileSync } from 'node:child_process'
import {
  lstat,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  utimes,
  writeFile
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as scripts from '../../src/commands/host-scripts.js'

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
