import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {
  digestFile,
  formatSha256Sums,
  parseSha256Sums,
  readManifest,
  sha256File,
  writeManifest,
  type ReleaseManifest
} from '../../src/releases/manifest.js'
import { SitecycleError } from '../../src/util/errors.js'

const SHA_A = 'a'.repeat(64)
const SHA_B = '0123456789abcdef'.repeat(4)

function goodManifest(): ReleaseManifest {
  return {
    name: 'sitecycle-sample',
    version: '1.0.0',
    commit: '3f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e',
    requires_python: '>=3.9',
    built_at: '2024-05-01T12:30:00.000Z',
    files: [
      { name: 'sitecycle_sample-1.0.0.tar.gz', kind: 'sdist', sha256: SHA_A, size: 1234 },
      { name: 'sitecycle_sample-1.0.0-py3-none-any.whl', kind: 'wheel', sha256: SHA_B, size: 5678 }
    ]
  }
}

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-manifest-'))
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

async function writeJson(value: unknown): Promise<string> {
  const file = path.join(dir, 'manifest.json')
  await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value))
  return file
}

describe('writeManifest and readManifest', () => {
  it('round-trips a manifest and writes SHA256SUMS beside it', async () => {
    const manifestPath = await writeManifest(dir, goodManifest())
    expect(manifestPath).toBe(path.join(dir, 'manifest.json'))
    expect(await readManifest(manifestPath)).toEqual(goodManifest())
    expect(JSON.parse(await fs.readFile(manifestPath, 'utf8'))).toEqual(goodManifest())
    expect(await fs.readFile(path.join(dir, 'SHA256SUMS'), 'utf8')).toBe(
      `${SHA_A}  sitecycle_sample-1.0.0.tar.gz\n${SHA_B}  sitecycle_sample-1.0.0-py3-none-any.whl\n`
    )
    // Nothing written aside is left behind.
    expect((await fs.readdir(dir)).sort()).toEqual(['SHA256SUMS', 'manifest.json'])
  })

  it('writes a SHA256SUMS that sha256sum -c accepts', async () => {
    const content = Buffer.from('release bytes\n')
    await fs.writeFile(path.join(dir, 'pkg-1.0.tar.gz'), content)
    const { sha256, size } = await digestFile(path.join(dir, 'pkg-1.0.tar.gz'))
    await writeManifest(dir, {
      ...goodManifest(),
      name: 'pkg',
      version: '1.0',
      files: [{ name: 'pkg-1.0.tar.gz', kind: 'sdist', sha256, size }]
    })
    const out = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir }).toString()
    expect(out).toBe('pkg-1.0.tar.gz: OK\n')
  })

  it('accepts a null commit and requires_python, and defaults them when absent', async () => {
    const m = goodManifest() as Partial<ReleaseManifest>
    delete m.commit
    delete m.requires_python
    const read = await readManifest(await writeJson(m))
    expect(read.commit).toBeNull()
    expect(read.requires_python).toBeNull()
  })

  it('round-trips the tests and dirty-tree record, and reads an older manifest without them', async () => {
    const recorded: ReleaseManifest = {
      ...goodManifest(),
      tests: 'skipped',
      dirty: true,
      dirty_changes: ['M README.md', '?? scratch.txt']
    }
    expect(await readManifest(await writeManifest(dir, recorded))).toEqual(recorded)
    const old = await readManifest(await writeJson(goodManifest()))
    expect(old.tests).toBeUndefined()
    expect(old.dirty).toBeUndefined()
    await expect(
      readManifest(await writeJson({ ...goodManifest(), tests: 'maybe' }))
    ).rejects.toThrow('tests:')
  })

  it('refuses to write an invalid manifest', async () => {
    await expect(writeManifest(dir, { ...goodManifest(), version: 'latest' })).rejects.toThrow(
      'version: expected a PEP 440 version'
    )
    expect(await fs.readdir(dir)).toEqual([])
  })
})

describe('readManifest errors name the file and what is wrong', () => {
  const cases: Array<[string, (m: Record<string, unknown>) => unknown, string]> = [
    ['a bad version', m => ({ ...m, version: '1.0-final' }), 'version: expected a PEP 440 version'],
    ['a missing name', m => ({ ...m, name: undefined }), 'name: '],
    ['a bad name', m => ({ ...m, name: '-pkg' }), 'name: expected a Python distribution name'],
    ['a bad commit', m => ({ ...m, commit: 'main' }), 'commit: expected a git commit sha'],
    [
      'a bad date',
      m => ({ ...m, built_at: 'yesterday' }),
      'built_at: expected an ISO 8601 date and time'
    ],
    ['no files', m => ({ ...m, files: [] }), 'files: a release has at least one file'],
    [
      'a short sha256',
      m => ({ ...m, files: [{ ...(m.files as object[])[0], sha256: 'abc' }] }),
      'files[0].sha256: expected 64 lower-case hex digits'
    ],
    [
      'a file name with a directory',
      m => ({
        ...m,
        files: [{ ...(m.files as object[])[0], name: '../sitecycle_sample-1.0.0.tar.gz' }]
      }),
      'files[0].name: expected a plain file name'
    ],
    [
      'a negative size',
      m => ({ ...m, files: [(m.files as object[])[0], { ...(m.files as object[])[1], size: -1 }] }),
      'files[1].size'
    ],
    [
      'a wheel called an sdist',
      m => ({ ...m, files: [{ ...(m.files as object[])[1], kind: 'sdist' }] }),
      'files[0].kind: kind does not match the file name'
    ],
    [
      'an unknown kind',
      m => ({ ...m, files: [{ ...(m.files as object[])[0], kind: 'egg' }] }),
      'files[0].kind'
    ],
    [
      'a file listed twice',
      m => ({ ...m, files: [(m.files as object[])[0], (m.files as object[])[0]] }),
      'files: a file is listed twice'
    ],
    ['an array', () => [], '(top level)']
  ]

  it.each(cases)('refuses %s', async (_what, change, message) => {
    const file = await writeJson(change(goodManifest() as unknown as Record<string, unknown>))
    const err = await readManifest(file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SitecycleError)
    expect((err as Error).message).toContain(`manifest ${file} is invalid: `)
    expect((err as Error).message).toContain(message)
  })

  it('reports every problem at once', async () => {
    const file = await writeJson({ ...goodManifest(), version: 'x', commit: 'zz' })
    await expect(readManifest(file)).rejects.toThrow(/version: .*; commit: |commit: .*; version: /)
  })

  it('refuses text that is not JSON', async () => {
    const file = await writeJson('{"name": "pkg",')
    await expect(readManifest(file)).rejects.toThrow(`manifest ${file} is not valid JSON`)
  })

  it('says when the manifest is missing', async () => {
    const file = path.join(dir, 'nope', 'manifest.json')
    await expect(readManifest(file)).rejects.toThrow(`manifest ${file} not found`)
  })
})

describe('checksums', () => {
  it('computes sha256 and size by streaming, matching sha256sum', async () => {
    const file = path.join(dir, 'big.bin')
    // Several stream chunks, with content that differs per chunk.
    const buf = Buffer.alloc(3 * 1024 * 1024 + 17)
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + (i >> 16)) & 0xff
    await fs.writeFile(file, buf)
    const expected = execFileSync('sha256sum', [file]).toString().split(' ')[0]
    expect(await sha256File(file)).toBe(expected)
    expect(await digestFile(file)).toEqual({ sha256: expected, size: buf.length })
  })

  it('knows the sha256 of a known input', async () => {
    const file = path.join(dir, 'abc')
    await fs.writeFile(file, 'abc')
    expect(await sha256File(file)).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    )
  })

  it('parses SHA256SUMS lines in text and binary mode and refuses others', () => {
    const sums = parseSha256Sums(`${SHA_A}  a.tar.gz\n${SHA_B.toUpperCase()} *b.whl\n\n`)
    expect([...sums]).toEqual([
      ['a.tar.gz', SHA_A],
      ['b.whl', SHA_B]
    ])
    expect(formatSha256Sums(goodManifest())).toContain(
      `${SHA_B}  sitecycle_sample-1.0.0-py3-none-any.whl\n`
    )
    expect(() => parseSha256Sums(`${SHA_A}  a\nnot a line\n`, '/r/SHA256SUMS')).toThrow(
      "/r/SHA256SUMS line 2 is not '<sha256>  <file name>'"
    )
  })
})
