/**
 * The host programs (src/host/*.py), run for real with Debian's Python against temporary trees,
 * as the product runs them (`python3 -I -S -c <text> args...`): their outputs checked against
 * what Node computes itself, and a failure reported with its message and the program's name,
 * never its text.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  symlink,
  writeFile
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cmd, describeCommand, hostProgramName, type Command } from '../../src/commands/command.js'
import { pythonProgram, redirectOutput } from '../../src/commands/databases/python-programs.js'
import { SQLITE_CHECKSUMS_PROGRAM } from '../../src/commands/databases/sqlite.js'
import { commitFile, pathIdentities } from '../../src/commands/files.js'
import { SITE_FACTS_PROGRAM } from '../../src/compare/host-program.js'
import * as scripts from '../../src/commands/host-scripts.js'
import { hostScript } from '../../src/commands/python.js'
import { CommandError } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { materializeDumpCommand, storeDump } from '../../src/snapshots/dump-store.js'
import {
  listSeveralSnapshotDirs,
  makeSnapshotDir,
  summarizeTree
} from '../../src/snapshots/files.js'
import { parseWrittenSums, writeSnapshotSums } from '../../src/snapshots/sums.js'
import { noneLeft } from '../helpers/marked-processes.js'

const PY = '/usr/bin/python3'
const HOST_DIR = join(process.cwd(), 'src', 'host')
const exec = new LocalExecutor()
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-host-programs-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

/** A small tree: two files (one in a sub folder) and a symbolic link. */
async function makeTree(top: string): Promise<void> {
  await mkdir(join(top, 'sub'), { recursive: true })
  await writeFile(join(top, 'a.txt'), 'alpha\n')
  await writeFile(join(top, 'sub', 'b.bin'), Buffer.from([0, 1, 2, 255]))
  await symlink('a.txt', join(top, 'link'))
}

describe('each program file', () => {
  test('opens with its own name (what an error shows instead of its text)', async () => {
    const files = (await readdir(HOST_DIR)).filter(f => f.endsWith('.py'))
    expect(files.length).toBeGreaterThan(20)
    for (const f of files) {
      const text = await readFile(join(HOST_DIR, f), 'utf8')
      expect([f, hostProgramName(text)]).toEqual([f, `host/${f}`])
    }
  })

  test('is imported as one self-contained text: its `# inlined` imports replaced', () => {
    expect(hostProgramName(scripts.SWITCH_MAP)).toBe('host/switch-map.py')
    expect(scripts.SWITCH_MAP).not.toMatch(/^from _/m)
    expect(scripts.SWITCH_MAP).toContain('def switch_map(path, slot, expect=None):')
    expect(scripts.WARM_SWITCH).toContain('def read_state(root):')
  })
})

describe('a failed host program is named, not printed', () => {
  test('describeCommand shows the program file', () => {
    expect(describeCommand(hostScript(PY, scripts.LIST_RELEASES, ['/srv/x/releases']))).toBe(
      '/usr/bin/python3 -I -S -c <host/list-releases.py> /srv/x/releases'
    )
    // A program that is not one of the files keeps the generic name.
    expect(describeCommand({ argv: [PY, '-c', 'import sys\nsys.exit(1)\n'] })).toBe(
      '/usr/bin/python3 -c <program>'
    )
  })

  test("switch-map's compare-and-swap failure: its message and exit code 4, no Python source", async () => {
    const map = join(dir, 'live.map')
    await writeFile(map, 'live green\n')
    const e = await exec.run(hostScript(PY, scripts.SWITCH_MAP, [map, 'blue', 'blue'])).then(
      () => undefined,
      (err: unknown) => err
    )
    expect(e).toBeInstanceOf(CommandError)
    expect((e as CommandError).code).toBe(4)
    expect((e as Error).message).toBe(
      `/usr/bin/python3 -I -S -c <host/switch-map.py> ${map} blue blue failed on local with exit code 4:\n` +
        'the live slot is green, not blue: another operation changed the site'
    )
    expect((e as Error).message).not.toContain('def ')
    expect(await readFile(map, 'utf8')).toBe('live green\n')
  })

  test('sqlite-checksums on a missing file: exit 2, the file named', async () => {
    const missing = join(dir, 'none.sqlite3')
    const r = await exec.tryRun(pythonProgram(PY, SQLITE_CHECKSUMS_PROGRAM, [missing]))
    expect([r.code, r.stderr]).toEqual([2, `${missing}: no such database file\n`])
  })
})

describe('the programs against real trees', () => {
  test('summarize-tree (content): count, bytes and the sha256 Node computes over the same walk', async () => {
    const top = join(dir, 'tree')
    await makeTree(top)
    const r = await exec.run(summarizeTree(PY, 'content', top))
    const h = createHash('sha256')
    // Entries sorted by relative path: a.txt, link, sub/b.bin.
    h.update('a.txt\u00006\n').update('alpha\n')
    h.update('link\u0000link\u0000a.txt\n')
    h.update('sub/b.bin\u00004\n').update(Buffer.from([0, 1, 2, 255]))
    expect(JSON.parse(r.stdout)).toEqual({
      exists: true,
      count: 3,
      bytes: 10,
      sha256: h.digest('hex')
    })
    const none = await exec.run(summarizeTree(PY, 'list', join(dir, 'absent')))
    expect(JSON.parse(none.stdout)).toEqual({
      exists: false,
      count: 0,
      bytes: 0,
      sha256: sha256('')
    })
  })

  test('snapshot-sums write: SHA256SUMS and the rows equal Node sha256 of each file', async () => {
    const top = join(dir, 'snap')
    await makeTree(top)
    await writeFile(join(top, 'manifest.json'), '{}')
    const written = parseWrittenSums((await exec.run(writeSnapshotSums(PY, top))).stdout)
    const a = sha256('alpha\n')
    const b = sha256(Buffer.from([0, 1, 2, 255]))
    const sums = await readFile(join(top, 'SHA256SUMS'), 'utf8')
    expect(sums).toBe(`${a}  a.txt\n${b}  sub/b.bin\n`)
    expect(written).toMatchObject({ sha256: sha256(sums), count: 2, bytes: 10, reused: 0 })
    expect(written.files.map(f => [f.path, f.size, f.sha256])).toEqual([
      ['a.txt', 6, a],
      ['sub/b.bin', 4, b]
    ])
  })

  test('path-identities: device:inode as lstat gives it, null for nothing there', async () => {
    await makeTree(dir)
    const st = await lstat(join(dir, 'link'), { bigint: true })
    const r = await exec.run(pathIdentities(PY, [join(dir, 'link'), join(dir, 'absent')]))
    expect(JSON.parse(r.stdout)).toEqual([`${st.dev}:${st.ino}`, null])
  })

  test('list-snapshot-dirs: complete when a manifest is there; one list per dir', async () => {
    await mkdir(join(dir, 's', '20260101-1'), { recursive: true })
    await mkdir(join(dir, 's', '20260102-1'), { recursive: true })
    await writeFile(join(dir, 's', '20260101-1', 'manifest.json'), '{}')
    await writeFile(join(dir, 's', 'stray-file'), '')
    const r = await exec.run(listSeveralSnapshotDirs(PY, [join(dir, 's'), join(dir, 'absent')]))
    expect(JSON.parse(r.stdout)).toEqual([
      [
        { name: '20260101-1', complete: true },
        { name: '20260102-1', complete: false }
      ],
      []
    ])
  })

  test('list-releases and read-state on a site tree', async () => {
    const root = join(dir, 'site')
    for (const d of ['releases/1.0.0', 'releases/2.0.0', 'slots', '.sitecycle'])
      await mkdir(join(root, d), { recursive: true })
    await writeFile(join(root, 'releases/1.0.0/release.json'), '{"version": "1.0.0"}')
    await writeFile(join(root, 'releases/2.0.0/BAD'), '')
    await writeFile(join(root, '.sitecycle/site.json'), '{}')
    await symlink('../releases/1.0.0', join(root, 'slots/blue'))
    await writeFile(join(root, 'live.map'), 'live blue\n')
    const releases = await exec.run(hostScript(PY, scripts.LIST_RELEASES, [join(root, 'releases')]))
    expect(JSON.parse(releases.stdout)).toEqual({
      '1.0.0': { complete: true, info: { version: '1.0.0' }, bad: false },
      '2.0.0': { complete: false, info: null, bad: true }
    })
    const state = await exec.run(hostScript(PY, scripts.READ_STATE, [root]))
    expect(JSON.parse(state.stdout)).toEqual({
      slots: { blue: '1.0.0', green: null },
      live: 'blue',
      current: null,
      releases: { '1.0.0': { complete: true, bad: false } },
      initialized: true
    })
  })

  test('read-state for a user who may not look into the site: not initialized, and why', async () => {
    const root = join(dir, 'closed')
    await mkdir(join(root, '.sitecycle'), { recursive: true })
    await writeFile(join(root, '.sitecycle/site.json'), '{}')
    await chmod(dir, 0o755)
    const asNobody = async () => {
      const { argv } = hostScript(PY, scripts.READ_STATE, [root])
      const setpriv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
      return JSON.parse((await exec.run({ argv: [...setpriv, ...argv] })).stdout) as {
        initialized: boolean
        unreadable?: string
      }
    }
    await chmod(root, 0o755)
    expect(await asNobody()).toMatchObject({ initialized: true })
    expect((await asNobody()).unreadable).toBeUndefined()
    await chmod(root, 0o700)
    expect(await asNobody()).toMatchObject({
      initialized: false,
      unreadable: expect.stringMatching(/Permission denied: .*site\.json/)
    })
  })

  test("compare's site-facts: the live release, its packages, files hashed as Node hashes them", async () => {
    const root = join(dir, 'site')
    const venv = join(root, 'releases', '1.0.0')
    const sp = join(venv, 'lib', 'python3.11', 'site-packages')
    await mkdir(join(sp, 'pkg-1.0.dist-info'), { recursive: true })
    await mkdir(join(sp, 'pkg'), { recursive: true })
    await mkdir(join(venv, 'bin'), { recursive: true })
    await mkdir(join(root, 'slots'), { recursive: true })
    await mkdir(join(root, 'data'), { recursive: true })
    await writeFile(
      join(sp, 'pkg-1.0.dist-info', 'METADATA'),
      'Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n'
    )
    await writeFile(join(sp, 'pkg-1.0.dist-info', 'RECORD'), '')
    await writeFile(join(sp, 'pkg', '__init__.py'), 'x = 1\n')
    await writeFile(join(venv, 'bin', 'tool'), `#!${venv}/bin/python\n`)
    await writeFile(join(venv, 'pyvenv.cfg'), 'home = /usr/bin\n')
    await writeFile(join(venv, 'app.ini'), '[app]\n')
    await writeFile(join(root, 'data', 'upload.txt'), 'u')
    await symlink('../releases/1.0.0', join(root, 'slots', 'green'))
    await writeFile(join(root, 'live.map'), 'live green\n')
    const r = await exec.run(
      hostScript(PY, SITE_FACTS_PROGRAM, [root, 'blue-green', JSON.stringify([join(root, 'data')])])
    )
    expect(JSON.parse(r.stdout)).toEqual({
      liveSlot: 'green',
      release: '1.0.0',
      venv,
      record: null,
      packages: [{ name: 'pkg', version: '1.0' }],
      files: {
        'bin/tool': sha256('#!<venv>/bin/python\n'),
        'lib/python3.11/site-packages/pkg-1.0.dist-info/METADATA': sha256(
          'Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n'
        ),
        'lib/python3.11/site-packages/pkg/__init__.py': sha256('x = 1\n')
      },
      config: '[app]\n',
      data: [{ path: join(root, 'data'), exists: true, files: { 'upload.txt': sha256('u') } }]
    })
  })

  test('store-dump then materialize-dump (zstd, a delta against a base): the same bytes back', async () => {
    const table = (n: number) =>
      Buffer.from(Array.from({ length: 50000 }, (_, i) => `row ${i} ${n}\n`).join(''))
    await mkdir(join(dir, 'raw1'))
    await writeFile(join(dir, 'raw1', '1.dat'), table(1))
    await writeFile(join(dir, 'raw1', 'toc.dat'), 'toc')
    const first = await exec.run(storeDump(PY, join(dir, 'raw1'), join(dir, 'stored1'), null))
    expect(JSON.parse(first.stdout)).toMatchObject({ deltas: [], full: 1 })
    await mkdir(join(dir, 'raw2'))
    await writeFile(join(dir, 'raw2', '1.dat'), table(2))
    await writeFile(join(dir, 'raw2', 'toc.dat'), 'toc2')
    const second = await exec.run(
      storeDump(PY, join(dir, 'raw2'), join(dir, 'stored2'), join(dir, 'stored1'))
    )
    expect(JSON.parse(second.stdout)).toMatchObject({ deltas: ['1.dat.zst'], full: 0 })
    expect(await readdir(join(dir, 'stored2'))).toEqual(['1.dat.zst', 'toc.dat'])
    const back = await exec.run(
      materializeDumpCommand(
        PY,
        join(dir, 'stored2'),
        join(dir, 'stored1'),
        ['1.dat.zst'],
        join(dir, 'out')
      )
    )
    expect(await readFile(join(dir, 'out', '1.dat'))).toEqual(table(2))
    expect(await readFile(join(dir, 'out', 'toc.dat'), 'utf8')).toBe('toc2')
    expect(JSON.parse(back.stdout)).toEqual({ bytes: table(2).length + 4 })
  })

  test("materialize-dump takes each delta's base file from the mapping, and refuses one that is not a table file's name", async () => {
    const table = (n: number) =>
      Buffer.from(Array.from({ length: 50000 }, (_, i) => `row ${i} ${n}\n`).join(''))
    await mkdir(join(dir, 'rawa'))
    await writeFile(join(dir, 'rawa', '7.dat'), table(1))
    await writeFile(join(dir, 'rawa', '8.dat'), table(9))
    await writeFile(join(dir, 'rawa', 'toc.dat'), 'toc')
    await exec.run(storeDump(PY, join(dir, 'rawa'), join(dir, 'storeda'), null))
    // 9.dat is the table that was 7.dat in the base: a delta made against the base's 7.dat
    await mkdir(join(dir, 'rawb'))
    await writeFile(join(dir, 'rawb', '9.dat'), table(2))
    await writeFile(join(dir, 'rawb', 'was-7.dat'), table(1))
    await exec.run(
      cmd([
        'zstd',
        '-q',
        '--long=31',
        '-1',
        `--patch-from=${join(dir, 'rawb', 'was-7.dat')}`,
        join(dir, 'rawb', '9.dat'),
        '-o',
        join(dir, 'rawb', '9.dat.zst')
      ])
    )
    await mkdir(join(dir, 'storedb'))
    await rename(join(dir, 'rawb', '9.dat.zst'), join(dir, 'storedb', '9.dat.zst'))
    await writeFile(join(dir, 'storedb', 'toc.dat'), 'tocb')
    await exec.run(
      materializeDumpCommand(
        PY,
        join(dir, 'storedb'),
        join(dir, 'storeda'),
        ['9.dat.zst'],
        join(dir, 'outb'),
        {
          '9.dat.zst': '7.dat.zst'
        }
      )
    )
    expect(await readFile(join(dir, 'outb', '9.dat'))).toEqual(table(2))
    for (const bad of ['../7.dat.zst', '7.dat', 'toc.dat']) {
      const r = await exec.tryRun(
        materializeDumpCommand(
          PY,
          join(dir, 'storedb'),
          join(dir, 'storeda'),
          ['9.dat.zst'],
          join(dir, `outc${bad.length}`),
          {
            '9.dat.zst': bad
          }
        )
      )
      expect(r.code).toBe(5)
      expect(r.stderr).toContain('is not the name of a table file of the base')
    }
  })

  test('store-dump compresses at a lower CPU priority (nice 10, zstd with it); materialize-dump, on a restore, does not', async () => {
    // A zstd first on PATH that writes its niceness (`nice` with no command) and runs the real one.
    const bin = join(dir, 'bin')
    const log = join(dir, 'nice.log')
    await mkdir(bin)
    await writeFile(join(bin, 'zstd'), `#!/bin/sh\nnice >> '${log}'\nexec /usr/bin/zstd "$@"\n`)
    await chmod(join(bin, 'zstd'), 0o755)
    const withFake = (c: ReturnType<typeof storeDump>) => ({
      ...c,
      env: { ...c.env, PATH: `${bin}:${process.env.PATH}` }
    })
    const own = Number(execFileSync('nice', [], { encoding: 'utf8' }).trim())
    await mkdir(join(dir, 'raw'))
    await writeFile(join(dir, 'raw', '1.dat'), 'rows\n'.repeat(1000))
    await exec.run(withFake(storeDump(PY, join(dir, 'raw'), join(dir, 'stored'), null)))
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([String(own + 10)])
    await rm(log)
    await exec.run(
      withFake(materializeDumpCommand(PY, join(dir, 'stored'), null, [], join(dir, 'out')))
    )
    expect((await readFile(log, 'utf8')).trim().split('\n')).toEqual([String(own)])
  })
})

describe('durable writes: what reaches the disk before a snapshot counts as complete', () => {
  /**
   * The command with a prelude before its program that logs, in order, each fsync (with the path
   * of its descriptor), rename and syncfs the program makes, to `log` (one per line).
   */
  const traced = (c: Command, log: string): Command => {
    const i = c.argv.indexOf('-c')
    const prelude = `import ctypes as _ct, os as _os
def _log(line):
    with open(${JSON.stringify(log)}, 'a') as _f:
        _f.write(line + chr(10))
_fsync, _replace, _CDLL = _os.fsync, _os.replace, _ct.CDLL
def _traced_fsync(fd):
    _log('fsync ' + _os.readlink('/proc/self/fd/%d' % fd))
    return _fsync(fd)
def _traced_replace(a, b):
    _log('rename %s %s' % (a, b))
    return _replace(a, b)
class _Libc:
    def __init__(self, *a, **k):
        self._lib = _CDLL(*a, **k)
    def __getattr__(self, name):
        f = getattr(self._lib, name)
        if name != 'syncfs':
            return f
        def traced(fd):
            _log('syncfs ' + _os.readlink('/proc/self/fd/%d' % fd))
            return f(fd)
        return traced
_os.fsync, _os.replace, _ct.CDLL = _traced_fsync, _traced_replace, _Libc
`
    return {
      ...c,
      argv: [...c.argv.slice(0, i + 1), prelude + c.argv[i + 1], ...c.argv.slice(i + 2)]
    }
  }
  const events = async (log: string) =>
    (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean)

  test('commit-file: the content under its mode, written aside and fsynced, renamed, then its folder fsynced', async () => {
    const target = join(dir, 'manifest.json')
    await writeFile(target, 'old')
    const log = join(dir, 'events.log')
    await exec.run(traced(commitFile(PY, target, '{"id": "s1"}\n', 0o640), log))
    expect(await readFile(target, 'utf8')).toBe('{"id": "s1"}\n')
    expect((await lstat(target)).mode & 0o777).toBe(0o640)
    expect(await readdir(dir)).toEqual(['events.log', 'manifest.json'])
    expect(await events(log)).toEqual([
      `fsync ${target}.tmp`,
      `rename ${target}.tmp ${target}`,
      `fsync ${dir}`
    ])
  })

  test('commit-file into folders that do not exist yet: each is made and synced into its parent, as writeFile would make them', async () => {
    const target = join(dir, 'site', '.sitecycle', 'mirror.json')
    const log = join(dir, 'events.log')
    await exec.run(traced(commitFile(PY, target, '{}\n', 0o640), log))
    expect(await readFile(target, 'utf8')).toBe('{}\n')
    expect(await events(log)).toEqual([
      `fsync ${dir}`,
      `fsync ${dir}/site`,
      `fsync ${target}.tmp`,
      `rename ${target}.tmp ${target}`,
      `fsync ${dir}/site/.sitecycle`
    ])
  })

  test("commit-file with a group: the file is that group's before it is renamed in; an unknown group is refused before anything is written", async () => {
    const target = join(dir, '.htpasswd')
    await writeFile(target, 'old\n')
    const daemonGid = Number(
      (await readFile('/etc/group', 'utf8'))
        .split('\n')
        .find(l => l.startsWith('daemon:'))!
        .split(':')[2]
    )
    const log = join(dir, 'events.log')
    await exec.run(traced(commitFile(PY, target, 'u:hash\n', 0o640, 'daemon'), log))
    expect(await readFile(target, 'utf8')).toBe('u:hash\n')
    expect((await lstat(target)).gid).toBe(daemonGid)
    expect((await lstat(target)).mode & 0o777).toBe(0o640)
    expect(await events(log)).toEqual([
      `fsync ${target}.tmp`,
      `rename ${target}.tmp ${target}`,
      `fsync ${dir}`
    ])
    const r = await exec.tryRun(commitFile(PY, target, 'new\n', 0o640, 'no-such-group-x'))
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`${target}: no group no-such-group-x on this host\n`)
    expect(await readFile(target, 'utf8')).toBe('u:hash\n')
    expect(await readdir(dir)).toEqual(['.htpasswd', 'events.log'])
  })

  test('snapshot-sums write: the files it had to read are fsynced with their folders (past 256, one syncfs) before SHA256SUMS is written (fsynced, renamed, folder fsynced); files already on disk (hard links of the previous one) are not', async () => {
    const top = join(dir, 'snap')
    await mkdir(join(top, 'files'), { recursive: true })
    await writeFile(join(top, 'files', 'a.txt'), 'a')
    const log = join(dir, 'events.log')
    await exec.run(traced(writeSnapshotSums(PY, top), log))
    expect(await events(log)).toEqual([
      `fsync ${top}/files/a.txt`,
      `fsync ${top}/files`,
      `fsync ${top}/SHA256SUMS.tmp`,
      `rename ${top}/SHA256SUMS.tmp ${top}/SHA256SUMS`,
      `fsync ${top}`
    ])
    // The next snapshot hard-links the unchanged file: nothing to read, nothing to sync first.
    const next = join(dir, 'snap2')
    await mkdir(join(next, 'files'), { recursive: true })
    await link(join(top, 'files', 'a.txt'), join(next, 'files', 'a.txt'))
    const sumsSha256 = createHash('sha256')
      .update(await readFile(join(top, 'SHA256SUMS')))
      .digest('hex')
    await rm(log)
    await exec.run(traced(writeSnapshotSums(PY, next, { dir: top, sumsSha256 }), log))
    expect(await events(log)).toEqual([
      `fsync ${next}/SHA256SUMS.tmp`,
      `rename ${next}/SHA256SUMS.tmp ${next}/SHA256SUMS`,
      `fsync ${next}`
    ])
    // Past 256 files read, one syncfs of the file system instead of a flush a file.
    const many = join(dir, 'snap3')
    await mkdir(join(many, 'files'), { recursive: true })
    for (let i = 0; i < 257; i++) await writeFile(join(many, 'files', `f${i}`), String(i))
    await rm(log)
    await exec.run(traced(writeSnapshotSums(PY, many), log))
    expect(await events(log)).toEqual([
      `syncfs ${many}`,
      `fsync ${many}/SHA256SUMS.tmp`,
      `rename ${many}/SHA256SUMS.tmp ${many}/SHA256SUMS`,
      `fsync ${many}`
    ])
  })
})

describe('a killed host program ends what it started', () => {
  test('redirect-stdio (a dump written to a file) killed with SIGTERM while its command runs: the command ends with it', async () => {
    const c = redirectOutput(PY, ['sleep', '60'], join(dir, 'out.gz'), true)
    const child = spawn(c.argv[0], c.argv.slice(1), { stdio: 'ignore' })
    const pid = child.pid!
    const children = async () =>
      (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => ''))
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
    let started: number[] = []
    for (let i = 0; i < 100 && !started.length; i++) {
      await new Promise(r => setTimeout(r, 50))
      started = await children()
    }
    expect(started).toHaveLength(1)
    const running = async (p: number) =>
      !/^\d+ \(.*\) Z /.test(await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '0 (x) Z '))
    const ended = new Promise(r => child.once('exit', (code, signal) => r(code ?? signal)))
    child.kill('SIGTERM')
    expect(await ended).toBe(143)
    for (let i = 0; i < 50 && (await running(started[0])); i++)
      await new Promise(r => setTimeout(r, 100))
    expect(await running(started[0])).toBe(false)
  })

  test('a SIGTERM while a child is being started (forked, not yet listed) ends the child too', async () => {
    // Popen made to take the signal at the worst moment: its child exists, start() has not yet
    // listed it. The program must still end it (held until listed), not leave it running.
    const mark = `SITECYCLE_CHILD_RACE=${process.pid}-${Date.now()}`
    const prelude = `import os, signal, subprocess
_popen = subprocess.Popen
class Popen(_popen):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        with open(${JSON.stringify(join(dir, 'child.pid'))}, 'w') as f:
            f.write(str(self.pid))
        os.kill(os.getpid(), signal.SIGTERM)
subprocess.Popen = Popen
`
    const children = await readFile(join(HOST_DIR, '_children.py'), 'utf8')
    const program = `${prelude}${children}
import time
start(['sleep', '30'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(30)
`
    // The child holds none of the program's pipes: the run ends when the program does.
    const r = spawnSync(PY, ['-I', '-S', '-c', program], {
      env: { ...process.env, [mark.split('=')[0]]: mark.split('=')[1] },
      encoding: 'utf8',
      timeout: 10_000
    })
    expect(r.error).toBeUndefined()
    expect(r.stderr).toBe('')
    expect(r.status).toBe(143)
    expect(Number(await readFile(join(dir, 'child.pid'), 'utf8'))).toBeGreaterThan(1)
    expect(await noneLeft(mark)).toEqual([])
  })
})

describe('take-lock and release-lock against a temporary .sitecycle', () => {
  const HOLDER = '{\n  "op": "deploy",\n  "id": "op1"\n}\n'
  const state = () => join(dir, '.sitecycle')
  const take = async (id: string, prefix: string[] = []) => {
    const { argv } = hostScript(PY, scripts.TAKE_LOCK, [state(), id, HOLDER.replace('op1', id)])
    return JSON.parse((await exec.run({ argv: [...prefix, ...argv] })).stdout) as Record<
      string,
      unknown
    >
  }
  const release = async (id: string) =>
    JSON.parse((await exec.run(hostScript(PY, scripts.RELEASE_LOCK, [state(), id]))).stdout)

  test('taken: lock/holder.json with the text given, mode 0644, no attempt folder', async () => {
    await mkdir(state())
    expect(await take('op1')).toEqual({ taken: true })
    expect(await readdir(state())).toEqual(['lock'])
    expect(await readFile(join(state(), 'lock', 'holder.json'), 'utf8')).toBe(HOLDER)
    expect((await lstat(join(state(), 'lock', 'holder.json'))).mode & 0o777).toBe(0o644)
  })

  test('held by another: the rename fails as mv says, the attempt is removed, the holder kept', async () => {
    await mkdir(state())
    await take('other')
    const lock = join(state(), 'lock')
    expect(await take('op1')).toEqual({
      taken: false,
      step: 'rename',
      errno: 'ENOTEMPTY',
      strerror: 'Directory not empty',
      path: lock,
      detail: `mv: cannot move '${join(state(), 'lock.op1')}' to '${lock}': Directory not empty`
    })
    expect(await readdir(state())).toEqual(['lock'])
    expect(await readFile(join(lock, 'holder.json'), 'utf8')).toBe(HOLDER.replace('op1', 'other'))
    // Its release by another id changes nothing; by its own id, the lock goes.
    expect(await release('op1')).toEqual({ released: false })
    expect(await readdir(state())).toEqual(['lock'])
    expect(await release('other')).toEqual({ released: true })
    expect(await readdir(state())).toEqual([])
  })

  test('a non-empty lock folder without a holder file is held too (by "unknown")', async () => {
    await mkdir(join(state(), 'lock', 'stray'), { recursive: true })
    expect(await take('op1')).toMatchObject({ taken: false, step: 'rename' })
    expect(await release('op1')).toEqual({ released: false })
    expect(await release('unknown')).toEqual({ released: true })
    // An empty lock folder (a holder file removed by hand) is replaced by the rename.
    await mkdir(join(state(), 'lock'))
    expect(await take('op1')).toEqual({ taken: true })
  })

  test('no .sitecycle: mkdir fails with ENOENT, as mkdir(1) words it; nothing is made', async () => {
    const tmp = join(state(), 'lock.op1')
    expect(await take('op1')).toEqual({
      taken: false,
      step: 'mkdir',
      errno: 'ENOENT',
      strerror: 'No such file or directory',
      path: tmp,
      detail: `mkdir: cannot create directory '${tmp}': No such file or directory`
    })
    expect(await readdir(dir)).toEqual([])
    expect(await release('op1')).toEqual({ released: false })
  })

  test('a user who may not write .sitecycle (nobody): EACCES, as mkdir(1) words it', async () => {
    await mkdir(state())
    await chmod(dir, 0o755)
    await chmod(state(), 0o755)
    const tmp = join(state(), 'lock.op1')
    const setpriv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
    expect(await take('op1', setpriv)).toMatchObject({
      taken: false,
      step: 'mkdir',
      errno: 'EACCES',
      detail: `mkdir: cannot create directory '${tmp}': Permission denied`
    })
    expect(await readdir(state())).toEqual([])
  })

  test("the holder's write fails (a file size limit of 0): the attempt folder is removed", async () => {
    await mkdir(state())
    const file = join(state(), 'lock.op1', 'holder.json')
    expect(await take('op1', ['prlimit', '--fsize=0'])).toEqual({
      taken: false,
      step: 'write',
      errno: 'EFBIG',
      strerror: 'File too large',
      path: file,
      detail: 'EFBIG: file too large, write'
    })
    expect(await readdir(state())).toEqual([])
  })

  test('release-lock: a holder file that cannot be read is named with its errno', async () => {
    // `lock` a file: its holder.json path is not a folder's.
    await mkdir(state())
    await writeFile(join(state(), 'lock'), '')
    const file = join(state(), 'lock', 'holder.json')
    expect(await release('op1')).toEqual({
      released: false,
      step: 'read',
      path: file,
      detail: `ENOTDIR: not a directory, open '${file}'`
    })
  })
})

describe('make-snapshot-dir against a temporary site root, as mkdir -p -m 750 and mkdir would', () => {
  const top = () => join(dir, 'site', 'snapshots')
  const make = (names: string[], prefix: string[] = []) =>
    exec.tryRun({ argv: [...prefix, ...makeSnapshotDir(PY, top(), names).argv] })
  const modeOf = async (path: string) => (await lstat(path)).mode & 0o777

  test('a site without snapshots/: made 0750 with its parents, then the first name', async () => {
    const r = await make(['20260101T000000Z', '20260101T000000Z-1'])
    expect(r).toMatchObject({ code: 0, stdout: '20260101T000000Z\n', stderr: '' })
    expect(await readdir(top())).toEqual(['20260101T000000Z'])
    expect(await modeOf(top())).toBe(0o750)
    // The same as mkdir(1) gives the new snapshot (the umask's mode) and `mkdir -p` the parents.
    execFileSync('mkdir', ['-p', join(dir, 'other', 'x')])
    expect(await modeOf(join(top(), '20260101T000000Z'))).toBe(
      await modeOf(join(dir, 'other', 'x'))
    )
    expect(await modeOf(join(dir, 'site'))).toBe(await modeOf(join(dir, 'other')))
  })

  test('snapshots/ there: not made again nor its mode changed; a taken name skipped', async () => {
    await mkdir(join(top(), 'a'), { recursive: true })
    await chmod(top(), 0o711)
    const r = await make(['a', 'b', 'c'])
    expect(r).toMatchObject({ code: 0, stdout: 'b\n' })
    expect((await readdir(top())).sort()).toEqual(['a', 'b'])
    expect(await modeOf(top())).toBe(0o711)
  })

  test('a snapshots/ gone since the listing: made again, 0750', async () => {
    const r = await make(['a'])
    expect(r).toMatchObject({ code: 0, stdout: 'a\n' })
    expect(await modeOf(top())).toBe(0o750)
  })

  test('every name taken: mkdir\'s "File exists" for the last one, exit 1, nothing made', async () => {
    await mkdir(join(top(), 'a'), { recursive: true })
    await mkdir(join(top(), 'b'))
    const r = await make(['a', 'b'])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`mkdir: cannot create directory '${join(top(), 'b')}': File exists\n`)
    expect((await readdir(top())).sort()).toEqual(['a', 'b'])
  })

  test('a user who may not write the site root (nobody): EACCES as mkdir words it', async () => {
    await mkdir(join(dir, 'site'))
    await chmod(dir, 0o755)
    await chmod(join(dir, 'site'), 0o755)
    const setpriv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
    const r = await make(['a'], setpriv)
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`mkdir: cannot create directory '${top()}': Permission denied\n`)
    // mkdir(1) as the same user says the same.
    const own = await exec.tryRun({ argv: [...setpriv, 'mkdir', '-p', '-m', '750', top()] })
    expect(r.stderr).toBe(
      own.stderr.replace(
        /^mkdir: cannot create directory ‘(.*)’/,
        "mkdir: cannot create directory '$1'"
      )
    )
    expect(await readdir(join(dir, 'site'))).toEqual([])
  })
})
