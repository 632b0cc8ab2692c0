/**
 * A wheel's METADATA against its file name and manifest, read in Node before any host is touched
 * (releases/wheel-metadata.ts), on real zip files written by Python's zipfile.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkWheelMetadata } from '../../src/releases/wheel-metadata.js'
import { SitecycleError } from '../../src/util/errors.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitecycle-wheel-meta-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A wheel file `name` whose dist-info folders hold these METADATA texts. */
function wheel(name: string, metadata: Record<string, string>): string {
  const file = join(dir, name)
  execFileSync('/usr/bin/python3', [
    '-c',
    `import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('sample/__init__.py', '')
    for folder, text in json.loads(sys.argv[2]).items():
        z.writestr(folder + '/METADATA', text)`,
    file,
    JSON.stringify(metadata)
  ])
  return file
}

const expected = { name: 'sample', version: '2.0.0', manifestPath: '/r/2.0.0/manifest.json' }

async function messageOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(SitecycleError)
    return (e as Error).message
  }
  throw new Error('expected a refusal')
}

describe('checkWheelMetadata', () => {
  it('accepts a wheel whose METADATA agrees (normalised name and version)', async () => {
    const w = wheel('sample-2.0.0-py3-none-any.whl', {
      'sample-2.0.0.dist-info': 'Metadata-Version: 2.1\nName: Sample\nVersion: 2.0\n\nbody'
    })
    await expect(checkWheelMetadata(w, expected)).resolves.toBeUndefined()
  })

  it('refuses a wheel whose METADATA has another version, naming both', async () => {
    const w = wheel('sample-2.0.0-py3-none-any.whl', {
      'sample-2.0.0.dist-info': 'Metadata-Version: 2.1\nName: sample\nVersion: 9.9.9\n'
    })
    expect(await messageOf(checkWheelMetadata(w, expected))).toBe(
      `wheel ${w} says in its METADATA it is version 9.9.9, but its file name and /r/2.0.0/manifest.json say 2.0.0`
    )
  })

  it('refuses a wheel whose METADATA names another project', async () => {
    const w = wheel('sample-2.0.0-py3-none-any.whl', {
      'sample-2.0.0.dist-info': 'Metadata-Version: 2.1\nName: other-app\nVersion: 2.0.0\n'
    })
    expect(await messageOf(checkWheelMetadata(w, expected))).toBe(
      `wheel ${w} says in its METADATA it is other-app, but its file name and /r/2.0.0/manifest.json say sample`
    )
  })

  it('refuses a version that is not PEP 440, and a second .dist-info', async () => {
    const bad = wheel('sample-2.0.0-py3-none-any.whl', {
      'sample-2.0.0.dist-info': 'Metadata-Version: 2.1\nName: sample\nVersion: two\n'
    })
    expect(await messageOf(checkWheelMetadata(bad, expected))).toMatch(/version two, but/)
    const two = wheel('sample-2.0.0-py3-none-any.whl', {
      'sample-2.0.0.dist-info': 'Name: sample\nVersion: 2.0.0\n',
      'other-1.0.dist-info': 'Name: other\nVersion: 1.0\n'
    })
    expect(await messageOf(checkWheelMetadata(two, expected))).toMatch(
      /has 2 \.dist-info\/METADATA files/
    )
  })
})
