import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import { checkArchive } from '../../src/releases/archive-check.js'
import { readZipMember } from '../../src/releases/archive-entries.js'
import { SitecycleError } from '../../src/util/errors.js'

// ---- archives written by hand ---------------------------------------------------------------

interface TarOptions {
  type?: string
  data?: Buffer | string
  linkname?: string
  prefix?: string
  magic?: 'ustar' | 'gnu'
}

function octal(h: Buffer, at: number, width: number, n: number): void {
  h.write(n.toString(8).padStart(width - 1, '0') + '\0', at, width, 'latin1')
}

/** One tar member: a 512-byte header (checksum computed) and its data, padded. */
function tarEntry(name: string, opts: TarOptions = {}): Buffer {
  const data = Buffer.from(opts.data ?? '')
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  octal(h, 100, 8, opts.type === '5' ? 0o755 : 0o644)
  octal(h, 108, 8, 0)
  octal(h, 116, 8, 0)
  octal(h, 124, 12, data.length)
  octal(h, 136, 12, 1700000000)
  h.fill(0x20, 148, 156)
  h.write(opts.type ?? '0', 156, 1, 'latin1')
  h.write(opts.linkname ?? '', 157, 100, 'utf8')
  h.write(opts.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 8, 'latin1')
  h.write(opts.prefix ?? '', 345, 155, 'utf8')
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1')
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(padded)
  return Buffer.concat([h, padded])
}

function paxRecords(records: Record<string, string>): string {
  return Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`
      let len = body.length + 1
      while (`${len}${body}`.length !== len) len++
      return `${len}${body}`
    })
    .join('')
}

function tarBytes(members: Buffer[]): Buffer {
  return Buffer.concat([...members, Buffer.alloc(1024)])
}

const dir = (name: string): Buffer => tarEntry(name, { type: '5' })
const file = (name: string, data = `content of ${name}\n`): Buffer => tarEntry(name, { data })

let tmp: string
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-archive-'))
})
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

let counter = 0
/** Write bytes as `<unique dir>/<name>` (the name matters: it gives the sdist's folder). */
async function place(name: string, bytes: Buffer): Promise<string> {
  const sub = path.join(tmp, String(++counter))
  await fs.mkdir(sub)
  const p = path.join(sub, name)
  await fs.writeFile(p, bytes)
  return p
}

async function sdist(members: Buffer[], name = 'pkg-1.0.tar.gz'): Promise<string> {
  return place(name, gzipSync(tarBytes(members)))
}

/** Run Python's zipfile/tarfile to write an archive: `out` is sys.argv[1]. */
async function python(name: string, script: string): Promise<string> {
  const sub = path.join(tmp, String(++counter))
  await fs.mkdir(sub)
  const out = path.join(sub, name)
  execFileSync('/usr/bin/python3', ['-c', script, out], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  })
  return out
}

async function refusal(archive: string): Promise<string> {
  const err = await checkArchive(archive).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(SitecycleError)
  return (err as Error).message
}

// ---- good archives --------------------------------------------------------------------------

describe('checkArchive accepts safe archives', () => {
  it('accepts an sdist with one top-level folder and an inner symlink', async () => {
    const a = await sdist([
      dir('pkg-1.0/'),
      file('pkg-1.0/pyproject.toml'),
      dir('pkg-1.0/pkg/'),
      file('pkg-1.0/pkg/__init__.py'),
      tarEntry('pkg-1.0/pkg/alias.py', { type: '2', linkname: '__init__.py' }),
      tarEntry('pkg-1.0/README', { type: '2', linkname: 'pkg/../pyproject.toml' }),
      tarEntry('pkg-1.0/copy.py', { type: '1', linkname: 'pkg-1.0/pkg/__init__.py' })
    ])
    expect(await checkArchive(a)).toEqual({
      file: a,
      format: 'tar.gz',
      kind: 'sdist',
      entries: 7,
      topLevel: 'pkg-1.0'
    })
  })

  it('accepts a top-level folder that differs only by name normalisation (PEP 625)', async () => {
    const a = await sdist([file('my-pkg-1.0.0rc1/setup.py')], 'My_Pkg-1.0.0RC1.tar.gz')
    expect((await checkArchive(a)).topLevel).toBe('my-pkg-1.0.0rc1')
  })

  it('accepts an sdist made by GNU tar, with a long name', async () => {
    const src = path.join(tmp, 'gnu-src')
    const deep = path.join(src, 'pkg-2.0', 'a'.repeat(60), 'b'.repeat(60))
    await fs.mkdir(deep, { recursive: true })
    await fs.writeFile(path.join(deep, 'module.py'), 'x = 1\n')
    const out = path.join(tmp, 'pkg-2.0.tar.gz')
    execFileSync('tar', ['--format=gnu', '-czf', out, '-C', src, 'pkg-2.0'])
    const result = await checkArchive(out)
    expect(result).toMatchObject({ kind: 'sdist', topLevel: 'pkg-2.0', entries: 4 })
  })

  it('accepts a wheel written by zipfile, checking every entry, and reads a member', async () => {
    const whl = await python(
      'pkg-1.0-py3-none-any.whl',
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('pkg/__init__.py', 'VALUE = 1\\n' * 200)
    z.writestr('pkg/data/', '')
    z.writestr('pkg-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: pkg\\nVersion: 1.0\\n')
    z.writestr(zipfile.ZipInfo('pkg/stored.txt'), 'stored, not deflated')
`
    )
    expect(await checkArchive(whl)).toEqual({ file: whl, format: 'zip', kind: 'wheel', entries: 4 })
    expect((await readZipMember(whl, 'pkg-1.0.dist-info/METADATA'))?.toString()).toContain(
      'Name: pkg\n'
    )
    expect((await readZipMember(whl, 'pkg/stored.txt'))?.toString()).toBe('stored, not deflated')
    expect(await readZipMember(whl, 'nope')).toBeUndefined()
  })
})

// ---- unsafe tar entries ---------------------------------------------------------------------

describe('checkArchive refuses unsafe sdist entries, naming archive and entry', () => {
  const cases: Array<[string, Buffer[], string]> = [
    [
      'an absolute path',
      [dir('pkg-1.0/'), file('/etc/cron.d/evil')],
      "entry '/etc/cron.d/evil' has an absolute path"
    ],
    [
      'a .. segment',
      [dir('pkg-1.0/'), file('pkg-1.0/../../evil.py')],
      "entry 'pkg-1.0/../../evil.py' has a '..' segment"
    ],
    ['a .. segment that stays inside', [file('pkg-1.0/a/../b.py')], "has a '..' segment"],
    [
      'a backslash-absolute path',
      [file('\\Windows\\evil.dll')],
      "entry '\\Windows\\evil.dll' has an absolute path (backslash)"
    ],
    ['backslash .. segments', [file('pkg-1.0\\..\\..\\evil')], "has a '..' segment"],
    ['a drive letter', [file('C:/evil.py')], "entry 'C:/evil.py' has a drive letter"],
    [
      'an entry outside the top folder',
      [dir('pkg-1.0/'), file('pkg-1.0/setup.py'), file('other/x.py')],
      "entry 'other/x.py' is outside the top-level folder 'pkg-1.0/'"
    ],
    [
      'a file at the top level',
      [file('setup.py'), file('pkg-1.0/x.py')],
      "entry 'setup.py' is outside the top-level folder"
    ],
    [
      'a symlink escaping the archive',
      [dir('pkg-1.0/'), tarEntry('pkg-1.0/etc', { type: '2', linkname: '../../etc' })],
      "symlink 'pkg-1.0/etc' points outside the sdist folder ('../../etc')"
    ],
    [
      'an absolute symlink',
      [tarEntry('pkg-1.0/passwd', { type: '2', linkname: '/etc/passwd' })],
      "symlink 'pkg-1.0/passwd' points outside the sdist folder ('/etc/passwd')"
    ],
    [
      'a symlink to the archive root',
      [tarEntry('pkg-1.0/up', { type: '2', linkname: '..' })],
      "symlink 'pkg-1.0/up' points outside"
    ],
    [
      'a hardlink to an absolute path',
      [tarEntry('pkg-1.0/shadow', { type: '1', linkname: '/etc/shadow' })],
      "hardlink 'pkg-1.0/shadow' points outside the sdist folder ('/etc/shadow')"
    ],
    [
      'a hardlink outside the folder',
      [file('pkg-1.0/a'), tarEntry('pkg-1.0/b', { type: '1', linkname: 'other/a' })],
      "hardlink 'pkg-1.0/b' points outside"
    ],
    [
      'an entry written through a symlink',
      [tarEntry('pkg-1.0/a/b/s1', { type: '2', linkname: '../..' }), file('pkg-1.0/a/b/s1/x.py')],
      "entry 'pkg-1.0/a/b/s1/x.py' lies under the symlink 'pkg-1.0/a/b/s1'"
    ],
    [
      'a file replacing a symlink',
      [tarEntry('pkg-1.0/s', { type: '2', linkname: 'x' }), file('pkg-1.0/s')],
      "entry 'pkg-1.0/s' replaces a symlink"
    ],
    [
      'a device',
      [tarEntry('pkg-1.0/null', { type: '3' })],
      "entry 'pkg-1.0/null' is a character device"
    ],
    ['a fifo', [tarEntry('pkg-1.0/pipe', { type: '6' })], "entry 'pkg-1.0/pipe' is a fifo"],
    [
      'a folder not matching the file name',
      [file('other-2.0/setup.py')],
      "its top-level folder 'other-2.0/' does not match the file name (expected 'pkg-1.0/')"
    ],
    [
      'a ustar prefix making the path absolute',
      [tarEntry('evil.py', { prefix: '/usr/lib/python3' })],
      "entry '/usr/lib/python3/evil.py' has an absolute path"
    ],
    [
      'a GNU long name hiding a .. segment past 100 characters',
      [
        tarEntry('././@LongLink', {
          type: 'L',
          data: `pkg-1.0/${'d'.repeat(120)}/../../../evil.py\0`,
          magic: 'gnu'
        }),
        file('pkg-1.0/harmless.py')
      ],
      `entry 'pkg-1.0/${'d'.repeat(120)}/../../../evil.py' has a '..' segment`
    ],
    [
      'a GNU long link target escaping',
      [
        tarEntry('././@LongLink', {
          type: 'K',
          data: `${'../'.repeat(40)}etc/passwd\0`,
          magic: 'gnu'
        }),
        tarEntry('pkg-1.0/l', { type: '2', linkname: 'ok' })
      ],
      "symlink 'pkg-1.0/l' points outside"
    ],
    [
      'a pax path overriding a harmless name',
      [
        tarEntry('PaxHeaders/x', {
          type: 'x',
          data: paxRecords({ path: '../evil.py', mtime: '1' })
        }),
        file('pkg-1.0/harmless.py')
      ],
      "entry '../evil.py' has a '..' segment"
    ],
    [
      'a pax linkpath escaping',
      [
        tarEntry('PaxHeaders/x', { type: 'x', data: paxRecords({ linkpath: '/etc/shadow' }) }),
        tarEntry('pkg-1.0/l', { type: '2', linkname: 'fine' })
      ],
      "symlink 'pkg-1.0/l' points outside the sdist folder ('/etc/shadow')"
    ],
    [
      'a global pax header setting a path',
      [
        tarEntry('pax_global_header', { type: 'g', data: paxRecords({ path: 'x' }) }),
        file('pkg-1.0/a')
      ],
      'global pax header at byte 0 sets a path'
    ]
  ]

  it.each(cases)('refuses %s', async (_what, members, message) => {
    const archive = await sdist(members)
    const got = await refusal(archive)
    expect(got).toContain(`release archive ${archive} `)
    expect(got).toContain(message)
  })

  it('follows a pax size override to find the next header', async () => {
    // The header says 0 bytes, pax says 600: the data must be skipped by the pax size.
    const data = 'y'.repeat(600)
    const header = tarEntry('pkg-1.0/big.txt', { data })
    octal(header, 124, 12, 0)
    header.fill(0x20, 148, 156)
    let sum = 0
    for (const b of header.subarray(0, 512)) sum += b
    header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1')
    const archive = await sdist([
      tarEntry('PaxHeaders/big', { type: 'x', data: paxRecords({ size: '600' }) }),
      header,
      file('/etc/after-big')
    ])
    expect(await refusal(archive)).toContain("entry '/etc/after-big' has an absolute path")
  })

  it('refuses the same unsafe entries in a tar made by Python (pax format)', async () => {
    const archive = await python(
      'pkg-1.0.tar.gz',
      `import sys, tarfile, io
with tarfile.open(sys.argv[1], 'w:gz', format=tarfile.PAX_FORMAT) as t:
    info = tarfile.TarInfo('pkg-1.0/' + 'p' * 150 + '/../../../../tmp/evil.py')
    data = b'print(1)\\n'
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
`
    )
    expect(await refusal(archive)).toContain(
      `entry 'pkg-1.0/${'p'.repeat(150)}/../../../../tmp/evil.py' has a '..' segment`
    )
  })
})

// ---- corrupt tar.gz -------------------------------------------------------------------------

describe('checkArchive refuses corrupt or truncated sdists', () => {
  const members = (): Buffer[] => [dir('pkg-1.0/'), file('pkg-1.0/setup.py', 'z'.repeat(5000))]

  it('refuses a truncated gzip file', async () => {
    const whole = gzipSync(tarBytes(members()))
    const archive = await place('pkg-1.0.tar.gz', whole.subarray(0, Math.floor(whole.length / 2)))
    expect(await refusal(archive)).toMatch(
      /^release archive .*pkg-1\.0\.tar\.gz is corrupt or truncated: gzip data/
    )
  })

  it('refuses a file that is not gzip at all', async () => {
    const archive = await place('pkg-1.0.tar.gz', Buffer.from('PK\u0003\u0004 this is not gzip'))
    expect(await refusal(archive)).toContain(
      'is corrupt or truncated: gzip data is corrupt or truncated'
    )
  })

  it('refuses a tar header whose checksum does not match', async () => {
    const tar = tarBytes(members())
    tar[512 + 3] ^= 0x01 // a byte of the second header's name
    const archive = await place('pkg-1.0.tar.gz', gzipSync(tar))
    expect(await refusal(archive)).toContain('tar header checksum mismatch at byte 512')
  })

  it('refuses tar data cut in the middle of an entry (even with valid gzip)', async () => {
    const tar = Buffer.concat(members())
    const archive = await place('pkg-1.0.tar.gz', gzipSync(tar.subarray(0, 512 * 4)))
    expect(await refusal(archive)).toContain('tar data ends in the middle of an entry')
  })

  it('refuses tar data without its end-of-archive marker', async () => {
    const archive = await place('pkg-1.0.tar.gz', gzipSync(Buffer.concat(members())))
    expect(await refusal(archive)).toContain('without its end-of-archive marker')
  })

  it('refuses an empty archive', async () => {
    const archive = await place('pkg-1.0.tar.gz', gzipSync(Buffer.alloc(1024)))
    expect(await refusal(archive)).toContain('is unsafe: it is empty')
  })
})

// ---- wheels (zip) ---------------------------------------------------------------------------

describe('checkArchive refuses unsafe or corrupt wheels', () => {
  const zipWith = (entries: string): Promise<string> =>
    python(
      'pkg-1.0-py3-none-any.whl',
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('pkg/__init__.py', 'x = 1\\n')
${entries}
`
    )

  it.each([
    [
      'an absolute path',
      `    z.writestr('/etc/evil.pth', 'x')`,
      "entry '/etc/evil.pth' has an absolute path"
    ],
    [
      'a .. segment',
      `    z.writestr('pkg/../../evil.py', 'x')`,
      "entry 'pkg/../../evil.py' has a '..' segment"
    ],
    [
      'backslash .. segments',
      `    z.writestr('..\\\\..\\\\evil.py', 'x')`,
      "entry '..\\..\\evil.py' has a '..' segment"
    ],
    [
      'a drive letter',
      `    z.writestr('C:\\\\evil.py', 'x')`,
      "entry 'C:\\evil.py' has a drive letter"
    ],
    [
      'a symlink escaping the archive',
      `    i = zipfile.ZipInfo('pkg/link')
    i.create_system = 3
    i.external_attr = (0o120777 << 16)
    z.writestr(i, '../../../etc/passwd')`,
      "symlink 'pkg/link' points outside the archive ('../../../etc/passwd')"
    ]
  ])('refuses %s', async (_what, entries, message) => {
    const whl = await zipWith(entries)
    const got = await refusal(whl)
    expect(got).toContain(`release archive ${whl} is unsafe: `)
    expect(got).toContain(message)
  })

  it('accepts a symlink that stays inside the wheel', async () => {
    const whl = await zipWith(`    i = zipfile.ZipInfo('pkg/alias.py')
    i.create_system = 3
    i.external_attr = (0o120777 << 16)
    z.writestr(i, '__init__.py')`)
    expect((await checkArchive(whl)).entries).toBe(2)
  })

  it('refuses a truncated wheel', async () => {
    const whl = await zipWith('')
    const bytes = await fs.readFile(whl)
    await fs.writeFile(whl, bytes.subarray(0, bytes.length - 30))
    expect(await refusal(whl)).toContain(
      `release archive ${whl} is corrupt or truncated: no end of central directory record`
    )
  })

  it('refuses a wheel whose data does not match its CRC', async () => {
    const whl = await python(
      'pkg-1.0-py3-none-any.whl',
      `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr('pkg/__init__.py', 'ORIGINAL CONTENT\\n')
`
    )
    const bytes = await fs.readFile(whl)
    const at = bytes.indexOf('ORIGINAL')
    bytes[at] = 'X'.charCodeAt(0)
    await fs.writeFile(whl, bytes)
    expect(await refusal(whl)).toContain(
      "corrupt or truncated: data of 'pkg/__init__.py' does not match its size or CRC"
    )
  })

  it('refuses a central directory pointing at no local header', async () => {
    const whl = await zipWith('')
    const bytes = await fs.readFile(whl)
    bytes.writeUInt32LE(0, 0) // destroy the first local header's signature
    await fs.writeFile(whl, bytes)
    expect(await refusal(whl)).toContain("local header of 'pkg/__init__.py' is missing")
  })

  it('refuses a file that is not a zip', async () => {
    const whl = await place('pkg-1.0-py3-none-any.whl', Buffer.alloc(300, 7))
    expect(await refusal(whl)).toContain('corrupt or truncated: no end of central directory record')
  })
})

describe('checkArchive on other inputs', () => {
  it('refuses an unknown kind of file', async () => {
    const p = await place('pkg-1.0.rar', Buffer.from('x'))
    expect(await refusal(p)).toBe(
      `release archive ${p} is neither an sdist (.tar.gz, .zip) nor a wheel (.whl)`
    )
  })

  it('says when the archive does not exist', async () => {
    const p = path.join(tmp, 'missing-1.0.tar.gz')
    expect(await refusal(p)).toBe(`release archive ${p} not found`)
  })
})
