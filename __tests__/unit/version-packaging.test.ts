/**
 * Differential test of src/releases/version.ts against Python's own `packaging` (the library
 * pip decides with; pip vendors it, so any python3 with pip has it): over a corpus of real and
 * malformed version strings, the two agree on which are valid, on each one's normalised form,
 * on every pairwise comparison and so on the sort order of the whole corpus.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import {
  compareVersions,
  isValidVersion,
  MAX_VERSION_LENGTH,
  normalizeVersion
} from '../../src/releases/version.js'

const CORPUS = [
  // plain releases, leading zeros, long and short release segments
  '0',
  '1',
  '1.0',
  '1.0.0',
  '1.0.0.0',
  '01.02.003',
  '1.2.3',
  '1.10',
  '1.9',
  '2024.12.31',
  '20241231235959',
  // epochs
  '1!1.0',
  '0!1.0',
  '01!2.0',
  '2!0.1',
  // pre-releases and their spellings
  '1.0a1',
  '1.0alpha1',
  '1.0.0-alpha.1',
  '1.0b2',
  '1.0beta2',
  '1.0c1',
  '1.0pre1',
  '1.0preview1',
  '1.0rc1',
  '1.0.0RC1',
  '1.0.0-rc1',
  '1.0.0_rc_1',
  '1.0.0.rc.1',
  '1.0rc',
  '1.0a',
  '1.0rc01',
  // post-releases
  '1.0.post1',
  '1.0-post1',
  '1.0post1',
  '1.0-1',
  '1.0.rev2',
  '1.0r3',
  '1.0.post',
  '1.0-post',
  '1.0a1.post2',
  // development releases
  '1.0.dev0',
  '1.0dev',
  '1.0.dev3',
  '1.0-dev-4',
  '1.0a1.dev1',
  '1.0.post1.dev2',
  '1!1.0rc1.post2.dev3',
  // local versions
  '1.0+local',
  '1.0+ubuntu.1',
  '1.0+ubuntu-1',
  '1.0+Ubuntu_1',
  '1.0+abc.007',
  '1.0+abc.7',
  '1.0+7',
  '1.0+0007.A-00',
  '1.0+abc',
  '1.0+abc.def',
  '1.0+1.a',
  '1.0.post1+build.5',
  '2024.12.31.post12.dev3+build.20241231.abcdef0',
  // v prefix, case, whitespace
  'v1.0',
  'V2.0',
  ' 1.0 ',
  '\t1.0rc1\n',
  '1.0.0RC1 ',
  'V1.0.0-ALPHA.1+LOCAL.X',
  // invalid
  '',
  ' ',
  'v',
  '1.',
  '.1',
  '1..0',
  '1.0-',
  '1.0+',
  '1.0+local+again',
  '1.0+local.',
  '1.0+lo cal',
  '1.0 rc1',
  'vv1.0',
  '1.0.x',
  'latest',
  '1.0-alpha-beta',
  '1.0rc1rc2',
  '1!2!3',
  '!1.0',
  '1.0_',
  '1.0.dev-',
  '1,0',
  '1.0\u00a0',
  '\ufeff1.0',
  '1.0\u0085',
  '\u001f1.0',
  '١.٠',
  '1.0\u2028',
  '1.0.0-SNAPSHOT',
  '2.0.0-beta+exp.sha.5114f85'
]

/** What sitecycle refuses on purpose although packaging takes it (see version.ts). */
const REFUSED_ON_PURPOSE = [
  `1.${'0'.repeat(MAX_VERSION_LENGTH)}`,
  '1.99999999999999999999',
  '1.0+' + 'a'.repeat(MAX_VERSION_LENGTH),
  // Python's re.IGNORECASE lets the Kelvin sign (U+212A) match [a-z]: a local label 'k' to pip.
  '1.0+\u212a'
]

const PYTHON = `
import json, sys
try:
    from packaging.version import Version, InvalidVersion
except ImportError:
    from pip._vendor.packaging.version import Version, InvalidVersion
corpus = json.load(sys.stdin)
parsed = {}
out = {'versions': [], 'compare': []}
for t in corpus:
    try:
        v = Version(t)
        parsed[t] = v
        out['versions'].append({'valid': True, 'normalized': str(v)})
    except InvalidVersion:
        out['versions'].append({'valid': False, 'normalized': None})
valid = [t for t in corpus if t in parsed]
for a in valid:
    out['compare'].append([(parsed[a] > parsed[b]) - (parsed[a] < parsed[b]) for b in valid])
out['sorted'] = sorted(valid, key=lambda t: parsed[t])
json.dump(out, sys.stdout)
`

interface PackagingAnswer {
  versions: { valid: boolean; normalized: string | null }[]
  compare: number[][]
  sorted: string[]
}

function packaging(corpus: string[]): PackagingAnswer {
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', PYTHON], {
      input: JSON.stringify(corpus),
      encoding: 'utf8'
    })
  ) as PackagingAnswer
}

describe("src/releases/version.ts agrees with Python's packaging", () => {
  const want = packaging(CORPUS)
  const valid = CORPUS.filter((_, i) => want.versions[i].valid)

  it('on which strings are versions, and on their normalised form', () => {
    const ours = CORPUS.map(t => ({
      valid: isValidVersion(t),
      normalized: isValidVersion(t) ? normalizeVersion(t) : null
    }))
    expect(Object.fromEntries(CORPUS.map((t, i) => [t, ours[i]]))).toEqual(
      Object.fromEntries(CORPUS.map((t, i) => [t, want.versions[i]]))
    )
    // The corpus holds both kinds, enough of each.
    expect(valid.length).toBeGreaterThan(50)
    expect(CORPUS.length - valid.length).toBeGreaterThan(20)
  })

  it('on every comparison of two versions, and so on the sort order of the corpus', () => {
    const ours = valid.map(a => valid.map(b => Math.sign(compareVersions(a, b))))
    const differences = valid.flatMap((a, i) =>
      valid.flatMap((b, j) =>
        ours[i][j] === want.compare[i][j]
          ? []
          : [`${a} vs ${b}: ours ${ours[i][j]}, packaging ${want.compare[i][j]}`]
      )
    )
    expect(differences).toEqual([])
    // Both sorts are stable and start from the corpus order, so equal versions stay in place.
    expect([...valid].sort(compareVersions)).toEqual(want.sorted)
  })

  it('and refuses on purpose only what is too long, too large for a number or not ASCII', () => {
    expect(packaging(REFUSED_ON_PURPOSE).versions.map(v => v.valid)).toEqual(
      REFUSED_ON_PURPOSE.map(() => true)
    )
    expect(REFUSED_ON_PURPOSE.map(isValidVersion)).toEqual(REFUSED_ON_PURPOSE.map(() => false))
  })
})
