/**
 * The wheelhouse's pure parts: the pip command lines (exact argv; the index URL only in the
 * environment and redacted) and the requirements.lock text.
 */
import { describe, expect, it } from '@jest/globals'
import { describeCommand } from '../../src/commands/command.js'
import { pipCheckLock, pipInstallLocked, pipWheelhouse } from '../../src/commands/python.js'
import { formatRequirementsLock, hasHashes } from '../../src/releases/wheelhouse.js'

const PY = '/usr/bin/python3'

describe('pipWheelhouse', () => {
  it('offline: --no-index, the find-links folders, no build isolation, the app wheel', () => {
    const c = pipWheelhouse(PY, '/w/wheelhouse', ['/w/app-1.0-py3-none-any.whl'], {
      findLinks: ['/deps', '/more'],
      constraints: '/src/constraints.txt'
    })
    expect(c.argv).toEqual([
      PY,
      '-m',
      'pip',
      'wheel',
      '--no-index',
      '--find-links',
      '/deps',
      '--find-links',
      '/more',
      '--no-build-isolation',
      '--wheel-dir',
      '/w/wheelhouse',
      '--constraint',
      '/src/constraints.txt',
      '/w/app-1.0-py3-none-any.whl'
    ])
    expect(c.env).toMatchObject({ PIP_CONFIG_FILE: '/dev/null' })
    expect(c.env?.PIP_INDEX_URL).toBeUndefined()
    expect(c.unsetEnv).toEqual(
      expect.arrayContaining(['PIP_FIND_LINKS', 'PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL'])
    )
  })

  it('from an index: the URL travels in the environment, never the argv, and is redacted', () => {
    const url = 'https://deploy:t0ken%2Fx@pypi.example.org/simple'
    const c = pipWheelhouse(PY, '/w', [], {
      findLinks: [],
      indexUrl: url,
      requirements: ['/src/requirements.lock', '/w/app.txt'],
      noBuildIsolation: false
    })
    expect(c.argv).toEqual([
      PY,
      '-m',
      'pip',
      'wheel',
      '--wheel-dir',
      '/w',
      '--requirement',
      '/src/requirements.lock',
      '--requirement',
      '/w/app.txt'
    ])
    expect(c.argv.join(' ')).not.toContain('t0ken')
    expect(c.env?.PIP_INDEX_URL).toBe(url)
    expect(c.redact).toEqual(expect.arrayContaining([url, 't0ken/x', 't0ken%2Fx']))
    expect(describeCommand({ ...c, argv: [...c.argv, url] })).not.toContain('t0ken')
  })
})

describe('pipWheelhouse with no source configured', () => {
  it("leaves pip's own configuration (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS) in force", () => {
    const c = pipWheelhouse(PY, '/w', ['/r/app.whl'], { findLinks: [] })
    expect(c.argv).not.toContain('--no-index')
    expect(c.env?.PIP_CONFIG_FILE).toBeUndefined()
    expect(c.unsetEnv).not.toEqual(expect.arrayContaining(['PIP_INDEX_URL']))
    expect(c.unsetEnv).not.toEqual(expect.arrayContaining(['PIP_FIND_LINKS']))
  })
})

describe('pipInstallLocked and pipCheckLock', () => {
  it('install offline into the venv, every file checked against the lock', () => {
    expect(
      pipInstallLocked(PY, '/srv/a/releases/1.0', '/in/requirements.lock', [
        '/in',
        '/in/wheelhouse'
      ]).argv
    ).toEqual([
      PY,
      '-m',
      'pip',
      '--python',
      '/srv/a/releases/1.0/bin/python',
      'install',
      '--no-index',
      '--require-hashes',
      '--find-links',
      '/in',
      '--find-links',
      '/in/wheelhouse',
      '--no-compile',
      '--requirement',
      '/in/requirements.lock'
    ])
  })

  it('check the lock with a dry run into a target that is never made', () => {
    expect(pipCheckLock(PY, '/w/requirements.lock', ['/w', '/w/wheelhouse'], '/w/t').argv).toEqual([
      PY,
      '-m',
      'pip',
      'install',
      '--dry-run',
      '--target',
      '/w/t',
      '--no-index',
      '--require-hashes',
      '--find-links',
      '/w',
      '--find-links',
      '/w/wheelhouse',
      '--requirement',
      '/w/requirements.lock'
    ])
  })
})

describe('requirements.lock', () => {
  it('pins the app first, then the dependencies by normalised name, each by version and hash', () => {
    const text = formatRequirementsLock(
      { name: 'Weave_Server', version: '1.0', sha256: 'a'.repeat(64) },
      [
        { name: 'zeta.lib', version: '2.0.0-RC1', sha256: 'c'.repeat(64) },
        { name: 'Alpha_Lib', version: '0.1', sha256: 'b'.repeat(64) }
      ]
    )
    expect(text.split('\n').filter(l => l && !l.startsWith('#'))).toEqual([
      `weave-server==1.0 --hash=sha256:${'a'.repeat(64)}`,
      `alpha-lib==0.1 --hash=sha256:${'b'.repeat(64)}`,
      `zeta-lib==2.0.0rc1 --hash=sha256:${'c'.repeat(64)}`
    ])
  })

  it('tells a hash-pinned lock from a constraints file', () => {
    expect(hasHashes('a==1 \\\n    --hash=sha256:abc\n')).toBe(true)
    expect(hasHashes('a==1 --hash sha256:abc\n')).toBe(true)
    expect(hasHashes('a==1\n# no --hashes here? no: "--hashes" is not --hash=\nb>=2\n')).toBe(false)
  })
})
