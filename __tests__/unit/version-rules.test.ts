/**
 * The release version rules, table-tested: validity and canonical forms under PEP 440 and semver,
 * ordering (PEP 440's, not a near relative's), tag prefixes, deciding the version, and every
 * refusal: not newer than the newest release (tags and stores), a tag on another commit, a built
 * package of another version.
 */
import {
  canonicalVersion,
  checkBuiltVersion,
  checkNewerThanReleased,
  checkTagPlacement,
  compareReleaseVersions,
  decideVersion,
  isValidReleaseVersion,
  newestVersion,
  releaseTags,
  tagForVersion,
  versionOfTag,
  type VersionRules,
  type VersionScheme
} from '../../src/releases/version-rules.js'
import { SitecycleError } from '../../src/util/errors.js'

const PEP: VersionRules = { tagPrefix: 'v', scheme: 'pep440' }
const SEMVER: VersionRules = { tagPrefix: 'v', scheme: 'semver' }
const HEAD = 'a'.repeat(40)
const OTHER = 'b'.repeat(40)

function errorOf(run: () => unknown): SitecycleError {
  try {
    run()
  } catch (e) {
    expect(e).toBeInstanceOf(SitecycleError)
    return e as SitecycleError
  }
  throw new Error('expected a SitecycleError, but nothing was thrown')
}

describe('validity and canonical form', () => {
  it.each<[string, VersionScheme, string | null]>([
    ['1.4.0', 'pep440', '1.4.0'],
    ['1.4.0rc1', 'pep440', '1.4.0rc1'],
    ['1.4.0.post1', 'pep440', '1.4.0.post1'],
    ['2.0.0.dev3', 'pep440', '2.0.0.dev3'],
    ['1.4.0-RC1', 'pep440', '1.4.0rc1'],
    ['1.4.0alpha2', 'pep440', '1.4.0a2'],
    ['1.0-1', 'pep440', '1.0.post1'],
    ['1!2.0', 'pep440', '1!2.0'],
    ['1.4', 'pep440', '1.4'],
    ['v1.4.0', 'pep440', null], // the prefix belongs to the tag, not the version
    ['1.4.0+ubuntu1', 'pep440', null], // local labels are never released
    ['1.4.0 ', 'pep440', null],
    ['1.4.0-foo', 'pep440', null],
    ['', 'pep440', null],
    ['latest', 'pep440', null],
    ['1.4.0', 'semver', '1.4.0'],
    ['1.4.0-rc.1', 'semver', '1.4.0-rc.1'],
    ['1.4', 'semver', null], // semver needs three parts
    ['01.4.0', 'semver', null],
    ['1.4.0+build.5', 'semver', null],
    ['1.4.0-x.7.z.92', 'semver', null] // valid semver, but no Python package can carry it
  ])('%j under %s → %j', (text, scheme, canonical) => {
    expect(isValidReleaseVersion(text, scheme)).toBe(canonical !== null)
    if (canonical === null)
      expect(() => canonicalVersion(text, scheme)).toThrow(/invalid release version/)
    else expect(canonicalVersion(text, scheme)).toBe(canonical)
  })

  it('says why a local label or a semver-only version is refused', () => {
    expect(errorOf(() => canonicalVersion('1.4.0+ubuntu1', 'pep440')).message).toBe(
      "invalid release version: '1.4.0+ubuntu1' has a local label (+ubuntu1), which is for builds that are never published; release 1.4.0 instead"
    )
    expect(errorOf(() => canonicalVersion('1.4.0-x.7', 'semver')).message).toContain(
      'is a semantic version but not a PEP 440 version'
    )
  })
})

describe('ordering', () => {
  it.each<[string, string, VersionScheme, -1 | 0 | 1]>([
    ['1.0.dev0', '1.0a1', 'pep440', -1],
    ['1.0a1', '1.0b1', 'pep440', -1],
    ['1.0b2', '1.0rc1', 'pep440', -1],
    ['1.0rc1', '1.0', 'pep440', -1],
    ['1.0', '1.0.post1', 'pep440', -1],
    ['1.0.post1', '1.0.1', 'pep440', -1],
    ['1.0', '1.0.0', 'pep440', 0],
    ['1.10.0', '1.9.0', 'pep440', 1], // numbers, not strings
    ['1!0.1', '2.0', 'pep440', 1], // the epoch wins
    ['1.0.0a10', '1.0.0a9', 'pep440', 1],
    ['2.0.0.dev3', '2.0.0.dev10', 'pep440', -1],
    ['1.0.0-alpha.10', '1.0.0-alpha.9', 'semver', 1],
    ['1.0.0-rc.1', '1.0.0', 'semver', -1],
    ['1.0.0-beta', '1.0.0-alpha.1', 'semver', 1],
    ['1.10.0', '1.9.9', 'semver', 1]
  ])('%s vs %s (%s) → %i', (a, b, scheme, sign) => {
    expect(Math.sign(compareReleaseVersions(a, b, scheme))).toBe(sign)
    expect(Math.sign(compareReleaseVersions(b, a, scheme))).toBe(-sign || 0)
  })

  it('finds the newest of a list', () => {
    expect(newestVersion(['1.9', '1.10rc1', '1.2.post4', '1.10.dev1'], 'pep440')).toBe('1.10rc1')
    expect(newestVersion([], 'pep440')).toBeUndefined()
  })
})

describe('tag prefixes', () => {
  it.each<[string, VersionRules, string | undefined]>([
    ['v1.4.0', PEP, '1.4.0'],
    ['v1.4.0-rc1', PEP, '1.4.0rc1'],
    ['1.4.0', PEP, undefined], // no prefix: not a release tag
    ['vnext', PEP, undefined],
    ['vv1.4.0', PEP, undefined],
    ['release/1.4.0', { tagPrefix: 'release/', scheme: 'pep440' }, '1.4.0'],
    ['1.4.0', { tagPrefix: '', scheme: 'pep440' }, '1.4.0'],
    ['v1.4.0', { tagPrefix: '', scheme: 'pep440' }, undefined],
    ['v1.4.0-rc.1', SEMVER, '1.4.0-rc.1'],
    ['v1.4', SEMVER, undefined]
  ])('tag %s with %j names %j', (tag, rules, version) => {
    expect(versionOfTag(tag, rules)).toBe(version)
  })

  it('names a version with the prefix, and lists release tags newest first, skipping others', () => {
    expect(tagForVersion('1.4.0', { tagPrefix: 'release-', scheme: 'pep440' })).toBe(
      'release-1.4.0'
    )
    expect(releaseTags(['v1.9.0', 'nightly', 'v1.10.0', 'v1.10.0rc1', 'x1.11'], PEP)).toEqual([
      { tag: 'v1.10.0', version: '1.10.0' },
      { tag: 'v1.10.0rc1', version: '1.10.0rc1' },
      { tag: 'v1.9.0', version: '1.9.0' }
    ])
  })
})

describe('deciding the version', () => {
  it.each<[Parameters<typeof decideVersion>[0], VersionRules, ReturnType<typeof decideVersion>]>([
    [{ explicit: '1.5.0' }, PEP, { version: '1.5.0', tag: 'v1.5.0', source: 'input' }],
    [{ explicit: '1.5.0-RC1' }, PEP, { version: '1.5.0rc1', tag: 'v1.5.0rc1', source: 'input' }],
    [{ tag: 'v1.5.0' }, PEP, { version: '1.5.0', tag: 'v1.5.0', source: 'tag' }],
    // The tag keeps its spelling; the version is normalised.
    [{ tag: 'v1.5.0-rc1' }, PEP, { version: '1.5.0rc1', tag: 'v1.5.0-rc1', source: 'tag' }],
    [{ explicit: '1.5.0', tag: 'v1.5' }, PEP, { version: '1.5.0', tag: 'v1.5', source: 'input' }],
    [{ metadata: '2.0.0' }, PEP, { version: '2.0.0', tag: 'v2.0.0', source: 'metadata' }],
    [{ tag: 'v2.0.0', metadata: '1.0.0' }, PEP, { version: '2.0.0', tag: 'v2.0.0', source: 'tag' }],
    [{ tag: 'v1.5.0-rc.2' }, SEMVER, { version: '1.5.0-rc.2', tag: 'v1.5.0-rc.2', source: 'tag' }]
  ])('%j → %j', (inputs, rules, decided) => {
    expect(decideVersion(inputs, rules)).toEqual(decided)
  })

  it.each<[Parameters<typeof decideVersion>[0], string]>([
    [{ explicit: '1.6.0', tag: 'v1.5.0' }, 'the version given (1.6.0) is not the version of tag'],
    [{ tag: '1.5.0' }, "tag '1.5.0' does not start with the tag prefix 'v'"],
    [{ tag: 'vlatest' }, "tag 'vlatest' does not name a release"],
    [{ explicit: 'next' }, "invalid release version: 'next' is not a PEP 440 version"],
    [{ metadata: '1.0+dirty' }, "the package metadata's version does not fit"],
    [{}, 'cannot decide the version']
  ])('refuses %j', (inputs, message) => {
    expect(errorOf(() => decideVersion(inputs, PEP)).message).toContain(message)
  })
})

describe('refusals', () => {
  const decided = (version: string, tag = `v${version}`) =>
    ({ version, tag, source: 'input' }) as const

  it.each<[string, string[], Record<string, string[]>, string | undefined]>([
    ['1.5.0', ['v1.4.0', 'v1.3.0'], {}, 'v1.4.0'],
    ['1.5.0', [], { 'directory /srv/r': ['1.4.0'] }, undefined],
    ['1.5.0rc1', ['v1.4.0', 'v1.5.0.dev1'], {}, 'v1.5.0.dev1'],
    ['1.5.0', ['nightly', 'v1.10.0-broken'], {}, undefined], // not release tags
    ['1.10.0', ['v1.9.0'], { s: ['1.9.0', '1.2.0'] }, 'v1.9.0'],
    // The run's own tag (pushed, on HEAD) is not "an earlier release".
    ['1.5.0', ['v1.5.0', 'v1.4.0'], {}, 'v1.4.0']
  ])('accepts %s after tags %j and stores %j', (version, tags, stored, previousTag) => {
    expect(checkNewerThanReleased(decided(version), { tags, stored }, PEP)).toEqual(
      previousTag ? { previousTag } : {}
    )
  })

  it.each<[string, string, string[], Record<string, string[]>, string]>([
    // The same version, tagged earlier under another spelling than the one this run would make.
    [
      '1.4.0',
      'v1.4.0-final',
      ['v1.4.0'],
      {},
      "version 1.4.0 is not newer than 1.4.0, released as tag 'v1.4.0'"
    ],
    [
      '1.4.0',
      'v1.4.0',
      ['v1.5.0'],
      {},
      "version 1.4.0 is not newer than 1.5.0, released as tag 'v1.5.0'"
    ],
    [
      '1.4.0',
      'v1.4.0',
      ['v1.4'],
      {},
      "version 1.4.0 is not newer than 1.4, released as tag 'v1.4'"
    ],
    ['1.5.0rc1', 'v1.5.0rc1', ['v1.5.0'], {}, 'is not newer than 1.5.0'],
    ['1.9.0', 'v1.9.0', ['v1.10.0'], {}, 'is not newer than 1.10.0'],
    [
      '1.5.0',
      'v1.5.0',
      ['v1.4.0'],
      { 'directory /srv/r': ['1.5.0'] },
      'is not newer than 1.5.0, published in directory /srv/r'
    ],
    [
      '1.5.0',
      'v1.5.0',
      [],
      { a: ['1.0.0'], 'github-release o/r': ['1.6.0'] },
      'published in github-release o/r'
    ]
  ])('refuses %s (tag %s) after tags %j and stores %j', (version, tag, tags, stored, message) => {
    const error = errorOf(() =>
      checkNewerThanReleased(decided(version, tag), { tags, stored }, PEP)
    )
    expect(error.kind).toBe('release')
    expect(error.message).toContain(message)
  })

  it('orders semver tags with semver, and store versions with PEP 440', () => {
    expect(() =>
      checkNewerThanReleased(
        decided('1.0.0-alpha.10'),
        { tags: ['v1.0.0-alpha.9'], stored: {} },
        SEMVER
      )
    ).not.toThrow()
    expect(
      errorOf(() =>
        checkNewerThanReleased(
          decided('1.0.0-rc.1'),
          { tags: [], stored: { s: ['1.0.0rc2'] } },
          SEMVER
        )
      ).message
    ).toContain('is not newer than 1.0.0rc2')
  })

  it.each<[string | null, 'absent' | 'at-head' | 'refused']>([
    [null, 'absent'],
    [HEAD, 'at-head'],
    [OTHER, 'refused']
  ])('a tag on %s is %s', (commit, expected) => {
    if (expected === 'refused') {
      const error = errorOf(() => checkTagPlacement('v1.5.0', commit, HEAD))
      expect(error.message).toBe(
        "tag 'v1.5.0' already exists on commit bbbbbbbbbbbb, not on the commit being released (aaaaaaaaaaaa); release a new version, or delete the tag if it was made by mistake"
      )
    } else {
      expect(checkTagPlacement('v1.5.0', commit, HEAD)).toBe(expected)
    }
  })

  it.each<[string, string, boolean]>([
    ['1.5.0', '1.5.0', true],
    ['1.5.0', '1.5', true], // PEP 440 equal
    ['1.5.0rc1', '1.5.0rc1', true],
    ['1.5.0-rc.1', '1.5.0rc1', true], // a semver tag and its Python spelling
    ['1.5.0', '1.4.0', false],
    ['1.5.0', '1.5.0.post1', false],
    ['1.5.0', '1.5.0+local', false],
    ['1.5.0', 'garbage', false]
  ])('decided %s, built %s: accepted %s', (decidedVersion, built, ok) => {
    if (ok) expect(() => checkBuiltVersion(decidedVersion, built)).not.toThrow()
    else
      expect(errorOf(() => checkBuiltVersion(decidedVersion, built)).message).toBe(
        `the built package has version ${built}, but this release is ${decidedVersion}; set the version in the package (pyproject.toml or its version attribute) to match the tag, then release again`
      )
  })
})
