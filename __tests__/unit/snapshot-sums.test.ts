/**
 * A snapshot's sums: the host program that writes SHA256SUMS (run for real with Debian's Python
 * against temporary trees, and checked with the real `sha256sum -c`), the reuse of the previous
 * snapshot's sums for hard-linked files, its parsing of SHA256SUMS, and the pure comparison and
 * manifest rules.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { link, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Executor, RunResult } from '../../src/hosts/executor.js'
import { parseManifest } from '../../src/snapshots/manifest.js'
import { StreamReporter } from '../../src/util/reporter.js'
import {
  compareSums,
  describeMismatch,
  describeProgress,
  digestOfDumpFiles,
  hashSnapshotFiles,
  parseHashedDirs,
  parseWrittenSums,
  runWithProgress,
  sumsLine,
  writeSnapshotSums
} from '../../src/snapshots/sums.js'

const PY = '/usr/bin/python3'
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex')

function run(argv: string[]): string {
  return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' })
}

/** Odd but legal names: a space first, a backslash, a newline, a carriage return, non-UTF-8. */
const ODD = [' lead space', 'back\\slash', 'new\nline', 'cr\rx']

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-sums-'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

async function snapshotDir(name: string): Promise<string> {
  const d = join(dir, name)
  await mkdir(join(d, 'files', 'shared', 'uploads', 'sub'), { recursive: true })
  await writeFile(join(d, 'database.dump'), 'dump bytes\n')
  await writeFile(join(d, 'manifest.json'), '{}')
  return d
}

describe('SNAPSHOT_SUMS write', () => {
  test('writes a SHA256SUMS that sha256sum -c accepts, odd names included; symlinks and the manifest left out', async () => {
    const d = await snapshotDir('a')
    const up = join(d, 'files', 'shared', 'uploads')
    for (const n of ODD) await writeFile(join(up, n), `content of ${n}`)
    await writeFile(Buffer.from(`${up}/bad\xffname`, 'latin1'), 'not utf-8 name')
    await writeFile(join(up, 'sub', 'big.bin'), Buffer.alloc(3 << 20, 7))
    execFileSync('ln', ['-s', '/etc/passwd', join(up, 'link')])
    const out = parseWrittenSums(run(writeSnapshotSums(PY, d).argv))
    const text = await readFile(join(d, 'SHA256SUMS'))
    expect(out.sha256).toBe(sha(text))
    expect(out.count).toBe(7)
    expect(out.hashed).toBe(7)
    expect(out.reused).toBe(0)
    expect(out.files.map(f => f.path)).not.toContain('manifest.json')
    expect(out.files.map(f => f.path)).not.toContain('files/shared/uploads/link')
    expect(out.files.find(f => f.path === 'files/shared/uploads/sub/big.bin')).toEqual({
      path: 'files/shared/uploads/sub/big.bin',
      size: 3 << 20,
      sha256: sha(Buffer.alloc(3 << 20, 7))
    })
    // The real coreutils accepts every line, run from the snapshot directory.
    const checked = execFileSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], {
      cwd: d,
      encoding: 'latin1'
    })
    expect(checked.trim().split('\n')).toHaveLength(7)
    expect(checked).not.toMatch(/FAILED/)
    // Each line is what sha256sum itself prints for that file (escaping included).
    for (const n of ODD) {
      const own = execFileSync('sha256sum', [`files/shared/uploads/${n}`], { cwd: d })
      expect(text.includes(own)).toBe(true)
      expect(own.toString()).toBe(sumsLine(sha(`content of ${n}`), `files/shared/uploads/${n}`))
    }
    // One flipped byte, same size: sha256sum -c fails on exactly that file.
    await writeFile(join(up, 'sub', 'big.bin'), Buffer.alloc(3 << 20, 7).fill(8, 100, 101))
    let failed = ''
    try {
      execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: d, encoding: 'utf8' })
    } catch (e) {
      failed = (e as { stdout: string }).stdout
    }
    expect(failed.trim()).toBe('files/shared/uploads/sub/big.bin: FAILED')
  })

  test("a file that is the previous snapshot's inode keeps its sum; a copy, a changed file or a replaced previous SHA256SUMS is read again", async () => {
    const a = await snapshotDir('a')
    const b = await snapshotDir('b')
    const upA = join(a, 'files', 'shared', 'uploads')
    const upB = join(b, 'files', 'shared', 'uploads')
    await writeFile(join(upA, 'same.bin'), 'same')
    await writeFile(join(upA, 'copied.bin'), 'copied')
    await writeFile(join(upA, 'changed.bin'), 'old')
    const first = parseWrittenSums(run(writeSnapshotSums(PY, a).argv))
    await link(join(upA, 'same.bin'), join(upB, 'same.bin'))
    await writeFile(join(upB, 'copied.bin'), 'copied')
    await writeFile(join(upB, 'changed.bin'), 'new')
    const second = parseWrittenSums(
      run(writeSnapshotSums(PY, b, { dir: a, sumsSha256: first.sha256 }).argv)
    )
    expect([second.reused, second.hashed]).toEqual([1, 3])
    expect(second.reusedBytes).toBe(4)
    expect(second.files.find(f => f.path.endsWith('changed.bin'))!.sha256).toBe(sha('new'))
    expect(execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: b }).length).toBe(0)

    // The kept sum is the original one: bytes damaged in the shared inode since show up.
    await writeFile(join(upA, 'same.bin'), 'samE') // same inode, same size
    const third = parseWrittenSums(
      run(writeSnapshotSums(PY, b, { dir: a, sumsSha256: first.sha256 }).argv)
    )
    expect(third.files.find(f => f.path.endsWith('same.bin'))!.sha256).toBe(sha('same'))

    // A previous SHA256SUMS that is not the one its manifest records is not trusted.
    const untrusted = parseWrittenSums(
      run(writeSnapshotSums(PY, b, { dir: a, sumsSha256: 'f'.repeat(64) }).argv)
    )
    expect([untrusted.reused, untrusted.hashed]).toEqual([0, 4])
    expect(untrusted.files.find(f => f.path.endsWith('same.bin'))!.sha256).toBe(sha('samE'))
  })

  test('a known sum (taken by the program that wrote the file) is used while the file keeps its identity; any change and the file is read', async () => {
    const d = await snapshotDir('a')
    const dump = join(d, 'database.dump')
    const identity = async (): Promise<string> => {
      const st = await lstat(dump, { bigint: true })
      return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':')
    }
    // A sum that is not the file's: taken as given while the identity holds (nothing reads it).
    const given = 'a'.repeat(64)
    const known = [{ path: 'database.dump', sha256: given, identity: await identity() }]
    const taken = parseWrittenSums(run(writeSnapshotSums(PY, d, undefined, undefined, known).argv))
    expect(taken.files.find(f => f.path === 'database.dump')!.sha256).toBe(given)
    expect([taken.hashed, taken.reused, taken.count]).toEqual([1, 0, 1])
    // Written again (same size): another mtime and ctime, so the file is read.
    await new Promise(r => setTimeout(r, 20))
    await writeFile(dump, 'dump bytez\n')
    const read = parseWrittenSums(run(writeSnapshotSums(PY, d, undefined, undefined, known).argv))
    expect(read.files.find(f => f.path === 'database.dump')!.sha256).toBe(sha('dump bytez\n'))
    expect(execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: d }).length).toBe(0)
  })
})

describe('SNAPSHOT_SUMS hash', () => {
  test('reads each inode once across snapshots, parses SHA256SUMS back (odd names too), and names what is missing', async () => {
    const a = await snapshotDir('a')
    const b = await snapshotDir('b')
    const upA = join(a, 'files', 'shared', 'uploads')
    for (const n of ODD) await writeFile(join(upA, n), n)
    await writeFile(join(upA, 'shared.bin'), Buffer.alloc(1000, 1))
    await link(join(upA, 'shared.bin'), join(b, 'files', 'shared', 'uploads', 'shared.bin'))
    const written = parseWrittenSums(run(writeSnapshotSums(PY, a).argv))
    const out = parseHashedDirs(
      run(
        hashSnapshotFiles(PY, [
          { dir: a, sums: true },
          { dir: b, only: ['database.dump', 'nothing.here'] },
          { dir: b, only: ['files'] }
        ]).argv
      )
    )
    expect(out.dirs[0].files).toEqual(written.files)
    expect(out.dirs[0].sums).toEqual({
      exists: true,
      sha256: written.sha256,
      entries: written.files.map(f => ({ path: f.path, sha256: f.sha256 })),
      badLines: []
    })
    expect(out.dirs[1]).toMatchObject({ missing: ['nothing.here'], sums: null })
    expect(out.dirs[1].files.map(f => f.path)).toEqual(['database.dump'])
    expect(out.dirs[2].files.map(f => f.path)).toEqual(['files/shared/uploads/shared.bin'])
    // a's files + b's dump; b's shared.bin is a's inode, read once.
    expect(out.bytesRead).toBe(written.bytes + 'dump bytes\n'.length)
  })

  test('reports lines of SHA256SUMS that are not sums, and a missing SHA256SUMS', async () => {
    const a = await snapshotDir('a')
    await writeFile(
      join(a, 'SHA256SUMS'),
      `${sha('x')}  database.dump\nnot a line\n\\${sha('y')}  bad\\qescape\n`
    )
    const b = await snapshotDir('b')
    const out = parseHashedDirs(
      run(
        hashSnapshotFiles(PY, [
          { dir: a, sums: true },
          { dir: b, sums: true }
        ]).argv
      )
    )
    expect(out.dirs[0].sums).toMatchObject({
      exists: true,
      entries: [{ path: 'database.dump', sha256: sha('x') }],
      badLines: [2, 3]
    })
    expect(out.dirs[1].sums).toMatchObject({ exists: false, entries: [] })
  })
})

describe('pure parts', () => {
  const f = (path: string, s: string) => ({ path, size: 1, sha256: s.repeat(64) })

  test('sumsLine escapes as GNU sha256sum does', () => {
    expect(sumsLine('a'.repeat(64), 'files/x y')).toBe(`${'a'.repeat(64)}  files/x y\n`)
    expect(sumsLine('a'.repeat(64), 'a\\b\nc\rd')).toBe(`\\${'a'.repeat(64)}  a\\\\b\\nc\\rd\n`)
  })

  test('compareSums names each changed, missing, unlisted file and each disagreement once', () => {
    const expected = [f('database.dump', 'a'), f('files/x', 'b'), f('files/gone', 'c')]
    const actual = [f('database.dump', 'a'), f('files/x', 'e'), f('files/new', 'd')]
    expect(compareSums(expected, actual)).toEqual([
      { path: 'files/gone', problem: 'missing', expected: 'c'.repeat(64) },
      { path: 'files/new', problem: 'unlisted', actual: 'd'.repeat(64) },
      { path: 'files/x', problem: 'changed', expected: 'b'.repeat(64), actual: 'e'.repeat(64) }
    ])
    expect(compareSums(expected, expected)).toEqual([])
    const listed = expected.map(x => ({ path: x.path, sha256: x.sha256 }))
    listed[0] = { path: 'database.dump', sha256: '9'.repeat(64) }
    expect(compareSums(expected, expected, listed)).toEqual([
      {
        path: 'database.dump',
        problem: 'sums-disagree',
        expected: 'a'.repeat(64),
        actual: '9'.repeat(64)
      }
    ])
    expect(describeMismatch('20240330T030000Z', compareSums(expected, actual)[2], 'file')).toBe(
      `file files/x in snapshot 20240330T030000Z is corrupt: sha256 ${'e'.repeat(64)}, the manifest and SHA256SUMS say ${'b'.repeat(64)}`
    )
  })

  test('a directory dump digest is the sha256 of its SHA256SUMS lines', () => {
    const files = [f('database.dump/toc.dat', 'a'), f('database.dump/3001.dat.gz', 'b')]
    expect(digestOfDumpFiles(files)).toBe(
      sha(
        `${'a'.repeat(64)}  database.dump/toc.dat\n${'b'.repeat(64)}  database.dump/3001.dat.gz\n`
      )
    )
  })

  test('progress reads as bytes, percent and files', () => {
    expect(
      describeProgress({ doneBytes: 3 << 20, totalBytes: 12 << 20, doneFiles: 3, totalFiles: 9 })
    ).toBe('3.0 MB of 12.0 MB (25%), 3 of 9 files')
  })
})

describe('runWithProgress', () => {
  /** A host whose command finishes only when told to; it records what is read and removed. */
  function slowHost(fails = false) {
    let finish!: (r: RunResult) => void
    let fail!: (e: Error) => void
    const reads: string[] = []
    const removed: string[][] = []
    const exec = {
      name: 'fake',
      run: (c: { argv: string[] }) =>
        c.argv[0] === 'rm'
          ? Promise.resolve({ code: 0, stdout: '', stderr: '' })
          : new Promise<RunResult>((ok, ko) => {
              finish = ok
              fail = ko
            }),
      tryRun: async (c: { argv: string[] }) => {
        removed.push(c.argv)
        return { code: 0, stdout: '', stderr: '' }
      },
      readFile: async (p: string) => {
        reads.push(p)
        // The command finishes once its progress has been read twice.
        if (reads.length === 2)
          setImmediate(() =>
            fails
              ? fail(new Error('OSError: [Errno 5] Input/output error'))
              : finish({ code: 0, stdout: 'out', stderr: '' })
          )
        return JSON.stringify({
          doneBytes: 1 << 20,
          totalBytes: 4 << 20,
          doneFiles: 1,
          totalFiles: 2
        })
      }
    } as unknown as Executor
    return { exec, reads, removed }
  }

  test('reports what the progress file says while the command runs; the program that ended well removed the file itself', async () => {
    const h = slowHost()
    const lines: string[] = []
    const r = await runWithProgress(
      h.exec,
      { argv: ['python3'] },
      {
        progressPath: '/site/.sitecycle/progress-x.json',
        intervalMs: 1,
        reporter: new StreamReporter(l => lines.push(l)),
        label: 'reading every file of snapshot X'
      }
    )
    expect(r.stdout).toBe('out')
    expect(h.reads.length).toBeGreaterThanOrEqual(2)
    expect(
      lines.filter(l =>
        l.includes('reading every file of snapshot X: 1.0 MB of 4.0 MB (25%), 1 of 2 files')
      )
    ).not.toHaveLength(0)
    expect(h.removed).toEqual([])
  })

  test('a program that failed leaves its progress file: it is removed here', async () => {
    const h = slowHost(true)
    await expect(
      runWithProgress(
        h.exec,
        { argv: ['python3'] },
        {
          progressPath: '/site/.sitecycle/progress-x.json',
          intervalMs: 1,
          reporter: new StreamReporter(() => undefined),
          label: 'reading every file of snapshot X'
        }
      )
    ).rejects.toThrow(/Input\/output error/)
    expect(h.removed).toContainEqual([
      'rm',
      '-rf',
      '--',
      '/site/.sitecycle/progress-x.json',
      '/site/.sitecycle/progress-x.json.tmp'
    ])
  })

  test('the real program, given a progress file (written at its first file), leaves none behind when done', async () => {
    const d = await snapshotDir('p')
    await writeFile(join(d, 'files', 'shared', 'uploads', 'big.bin'), Buffer.alloc(2 << 20, 1))
    const progress = join(dir, 'progress-p.json')
    const out = parseWrittenSums(run(writeSnapshotSums(PY, d, undefined, progress).argv))
    expect(out.count).toBe(2)
    await expect(readFile(progress)).rejects.toThrow(/ENOENT/)
    await expect(readFile(`${progress}.tmp`)).rejects.toThrow(/ENOENT/)
  })

  test('a failing host program becomes one sentence with its last error line, never the program', async () => {
    const { CommandError } = await import('../../src/hosts/executor.js')
    const exec = {
      name: 'local',
      run: async () => {
        throw new CommandError(
          'local',
          'python3 -c "import hashlib, json ... (the program)"',
          1,
          '',
          "Traceback (most recent call last):\n  File ...\nOSError: [Errno 28] No space left on device: '/s/SHA256SUMS.tmp'\n"
        )
      }
    } as unknown as Executor
    await expect(
      runWithProgress(
        exec,
        { argv: ['python3'] },
        { intervalMs: 0, label: 'hashing the files of snapshot X' }
      )
    ).rejects.toThrow(
      /^hashing the files of snapshot X failed on local: OSError: \[Errno 28\] No space left on device: '\/s\/SHA256SUMS\.tmp'$/
    )
  })
})

describe('manifest formats', () => {
  const base = {
    id: '20240330T030000Z',
    site: 'v1',
    host: 'local',
    root: '/srv/v1',
    createdAt: '2024-03-30T03:00:00.000Z',
    finishedAt: '2024-03-30T03:00:01.000Z',
    live: null,
    sitecycleVersion: '0.1.0',
    previous: null,
    database: null,
    files: {
      count: 1,
      bytes: 1,
      folders: [
        { source: '/srv/v1/up', name: 'up', missing: false, count: 1, bytes: 1, listSha256: 'x' }
      ]
    }
  }
  test('format 1 (older snapshots) still reads without per-file sums', () => {
    expect(parseManifest(JSON.stringify({ ...base, format: 1 }), 'm').format).toBe(1)
  })
  test('format 2 must carry the sums and each folder its files', () => {
    expect(() => parseManifest(JSON.stringify({ ...base, format: 2 }), 'm.json')).toThrow(
      'm.json is not a snapshot manifest: sums: required in format 2'
    )
    const sums = { file: 'SHA256SUMS', sha256: 'a'.repeat(64), count: 1, bytes: 1 }
    expect(() => parseManifest(JSON.stringify({ ...base, format: 2, sums }), 'm.json')).toThrow(
      'files.folders.0.files: required in format 2'
    )
    const folders = [
      { ...base.files.folders[0], files: [{ path: 'files/up/a', size: 1, sha256: 'b'.repeat(64) }] }
    ]
    const ok = { ...base, format: 2, sums, files: { ...base.files, folders } }
    expect(parseManifest(JSON.stringify(ok), 'm').sums!.sha256).toBe('a'.repeat(64))
    expect(() => parseManifest(JSON.stringify({ ...ok, format: 4 }), 'm')).toThrow(/format/)
  })
})
