import { describe, expect, it } from '@jest/globals'
import {
  compareVersions,
  isValidVersion,
  normalizeVersion,
  parseReleaseFileName,
  parseVersion,
  satisfiesRequiresPython,
  versionFromFilename
} from '../../src/releases/version.js'
import { SitecycleError } from '../../src/util/errors.js'

describe('parseVersion', () => {
  it('parses every part of a PEP 440 version', () => {
    expect(parseVersion('2!1.4.0rc2.post3.dev4+ubuntu-1')).toEqual({
      epoch: 2,
      release: [1, 4, 0],
      pre: { label: 'rc', number: 2 },
      post: 3,
      dev: 4,
      local: 'ubuntu.1',
      normalized: '2!1.4.0rc2.post3.dev4+ubuntu.1'
    })
    expect(parseVersion('1.0')).toEqual({ epoch: 0, release: [1, 0], normalized: '1.0' })
  })

  it.each([
    ['1.0.0-RC1', '1.0.0rc1'],
    ['v1.0', '1.0'],
    ['1.0.0.alpha1', '1.0.0a1'],
    ['1.0-beta.2', '1.0b2'],
    ['1.0c1', '1.0rc1'],
    ['1.0preview3', '1.0rc3'],
    ['1.0pre', '1.0rc0'],
    ['1.0a', '1.0a0'],
    ['1.0-1', '1.0.post1'],
    ['1.0rev2', '1.0.post2'],
    ['1.0-r', '1.0.post0'],
    ['1.0.post', '1.0.post0'],
    ['1.0-dev', '1.0.dev0'],
    ['1.0_DEV7', '1.0.dev7'],
    ['01.002.0003', '1.2.3'],
    ['0!1.0', '1.0'],
    [' 1.0 ', '1.0'],
    ['1.0+Local_Build-7', '1.0+local.build.7'],
    ['1.0.0-beta-1', '1.0.0b1'],
    ['2.0.0rc1', '2.0.0rc1']
  ])('normalises %s to %s', (input, normalized) => {
    expect(normalizeVersion(input)).toBe(normalized)
  })

  it.each([
    '',
    'latest',
    '1.0-1-1',
    '1..0',
    '1.0.',
    '.1',
    '1.0+',
    '1.0+a..b',
    'v',
    '1.0 rc1',
    'one.two',
    '1!',
    '1.0.0/2'
  ])('rejects %j with the expected message', text => {
    expect(isValidVersion(text)).toBe(false)
    expect(() => parseVersion(text)).toThrow(SitecycleError)
    expect(() => parseVersion(text)).toThrow(
      `invalid version '${text}': expected a PEP 440 version such as 1.4.0, 1.4.0rc1, 1.4.0.post1 or 2.0.0.dev3`
    )
  })
})

describe('compareVersions', () => {
  // Strictly increasing, by PEP 440 (and as packaging.version sorts them).
  const ascending = [
    '0.9',
    '1.0.dev0',
    '1.0.dev1',
    '1.0a1.dev0',
    '1.0a1',
    '1.0a2',
    '1.0a10',
    '1.0b1',
    '1.0rc1.dev0',
    '1.0rc1',
    '1.0rc1.post1',
    '1.0',
    '1.0+abc',
    '1.0+abc.5',
    '1.0+5',
    '1.0.post1.dev0',
    '1.0.post1',
    '1.0.post2',
    '1.0.1',
    '1.1.dev1',
    '1.1',
    '1.10',
    '2.0.0rc1',
    '2.0.0',
    '10.0',
    '1!0.1'
  ]

  it('orders a table of versions as PEP 440 does', () => {
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        const got = Math.sign(compareVersions(ascending[i], ascending[j]))
        expect([ascending[i], ascending[j], got]).toEqual([
          ascending[i],
          ascending[j],
          Math.sign(i - j)
        ])
      }
    }
  })

  it('sorts a shuffled list back into order', () => {
    const shuffled = [...ascending].reverse()
    shuffled.push(shuffled.shift() as string)
    expect(shuffled.sort(compareVersions)).toEqual(ascending)
  })

  it.each([
    ['1.0', '1.0.0'],
    ['1.0.0', '1'],
    ['1.0.0-RC1', '1.0.0rc1'],
    ['1.0-1', '1.0.post1'],
    ['0!2.0', '2.0'],
    ['1.0+UB.1', '1.0+ub-1']
  ])('treats %s and %s as equal', (a, b) => {
    expect(compareVersions(a, b)).toBe(0)
    expect(compareVersions(b, a)).toBe(0)
  })

  it('throws on an invalid version', () => {
    expect(() => compareVersions('1.0', 'nope')).toThrow("invalid version 'nope'")
  })
})

describe('release file names', () => {
  it.each([
    ['sitecycle_sample-1.0.0.tar.gz', 'sitecycle_sample', '1.0.0', 'sdist'],
    ['sitecycle-sample-1.0.0.tar.gz', 'sitecycle-sample', '1.0.0', 'sdist'],
    ['/srv/rel/sitecycle-sample-2.0.0rc1.tar.gz', 'sitecycle-sample', '2.0.0rc1', 'sdist'],
    ['pkg-1.0.zip', 'pkg', '1.0', 'sdist'],
    ['sitecycle_sample-1.0.0-py3-none-any.whl', 'sitecycle_sample', '1.0.0', 'wheel'],
    [
      'dist/weave_server-2.0.0.dev3-1-cp311-cp311-linux_x86_64.whl',
      'weave_server',
      '2.0.0.dev3',
      'wheel'
    ]
  ])('reads %s', (file, name, version, kind) => {
    expect(parseReleaseFileName(file)).toEqual({ name, version, kind })
    expect(versionFromFilename(file)).toBe(version)
  })

  it.each([
    ['pkg.tar.gz', 'not a release file name'],
    ['pkg-1.0.tar.bz2', 'not a release file name'],
    ['pkg-1.0-py3.whl', 'not a wheel file name'],
    ['pkg-latest.tar.gz', "invalid version 'latest'"],
    ['pkg-one-py3-none-any.whl', "invalid version 'one'"]
  ])('refuses %s', (file, message) => {
    expect(() => versionFromFilename(file)).toThrow(message)
  })
})

describe('satisfiesRequiresPython', () => {
  it.each([
    ['>=3.9', '3.11.2', true],
    ['>=3.9', '3.9', true],
    ['>=3.9', '3.9.0', true],
    ['>=3.9', '3.8.18', false],
    ['>=3.8,<4', '3.12.1', true],
    ['>=3.8, <4', '4.0', false],
    ['>=3.8,<4', '3.7', false],
    ['~=3.10', '3.10.0', true],
    ['~=3.10', '3.13.1', true],
    ['~=3.10', '3.9.9', false],
    ['~=3.10', '4.0', false],
    ['~=3.10.2', '3.10.9', true],
    ['~=3.10.2', '3.11.0', false],
    ['!=3.11.*', '3.11.4', false],
    ['!=3.11.*', '3.12.0', true],
    ['!=3.11.*', '3.1', true],
    ['==3.11.*', '3.11', true],
    ['==3.11.*', '3.11.7', true],
    ['==3.11.*', '3.12.0', false],
    ['==3.11', '3.11.0', true],
    ['==3.11', '3.11.1', false],
    ['!=3.10.0', '3.10.1', true],
    ['<=3.11', '3.11.0', true],
    ['>3.9', '3.9.1', true],
    ['>3.9', '3.9', false],
    ['>3.9', '3.9.post1', false],
    ['<3.12', '3.12.0rc1', false],
    ['<3.12', '3.11.9', true],
    ['>=3.9', '3.13.0rc2', true],
    ['>=3.9,!=3.10.*,<3.13', '3.10.12', false],
    ['>=3.9,!=3.10.*,<3.13', '3.11.2', true],
    ['===3.11.2', '3.11.2', true],
    ['===3.11.2', '3.11.2.0', false],
    ['', '3.11.2', true]
  ])('%j with Python %s → %s', (spec, python, expected) => {
    expect(satisfiesRequiresPython(spec, python)).toBe(expected)
  })

  it.each([
    ['>=three', "'three' is not a version"],
    ['=>3.9', "'=>3.9' is not a version specifier"],
    ['~=3', "'~=' needs at least two parts"],
    ['==3.*.1', "'3.*.1' is not a version"],
    ['==3.11rc1.*', 'must be a release prefix'],
    [',', 'it is empty']
  ])('refuses the specifier %j', (spec, message) => {
    expect(() => satisfiesRequiresPython(spec, '3.11.2')).toThrow(SitecycleError)
    expect(() => satisfiesRequiresPython(spec, '3.11.2')).toThrow(message)
  })
})
