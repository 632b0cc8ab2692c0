import { describe, expect, it } from '@jest/globals'
import { parseConfig } from '../../src/config/load-config.js'
import { readDeploySettings, readRollbackSettings, selectSite } from '../../src/actions/inputs.js'
import { secretParts } from '../../src/actions/secrets.js'
import { SitecycleError } from '../../src/util/errors.js'
import { DEFAULT_LOCK_WAIT_SECONDS } from '../../src/sites/lock.js'

const KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBjb21wbGV0ZWx5LWZha2Uta2V5LWZvci10ZXN0cwAAAAAAAAA=',
  '-----END OPENSSH PRIVATE KEY-----'
].join('\n')
const HOST_LINE =
  'web1.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1zaXRlY3ljbGU='

/** getInput over a map; absent inputs read as '' like @actions/core. */
function inputs(values: Record<string, string>) {
  return { getInput: (name: string) => values[name] ?? '' }
}

function errorOf(fn: () => unknown): SitecycleError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(SitecycleError)
    return e as SitecycleError
  }
  throw new Error('expected an error')
}

describe('readDeploySettings', () => {
  it('reads every input into the settings', () => {
    const s = readDeploySettings(
      inputs({
        config: 'deploy/sitecycle.yml',
        site: ' v1 ',
        release: 'dist/releases',
        version: '1.4.0rc1',
        'lock-wait': '600',
        'ssh-key': KEY + '\n',
        'known-hosts': `# pinned\n${HOST_LINE}\n`,
        'dry-run': 'TRUE',
        'allow-bad': 'true'
      })
    )
    expect(s).toEqual({
      configFile: 'deploy/sitecycle.yml',
      site: 'v1',
      release: 'dist/releases',
      version: '1.4.0rc1',
      lockWait: 600,
      sshKey: KEY,
      knownHosts: `# pinned\n${HOST_LINE}`,
      dryRun: true,
      allowBad: true
    })
  })

  it('applies the defaults when optional inputs are empty', () => {
    expect(readDeploySettings(inputs({ site: 'v1' }))).toEqual({
      configFile: 'sitecycle.yml',
      site: 'v1',
      lockWait: DEFAULT_LOCK_WAIT_SECONDS,
      dryRun: false,
      allowBad: false
    })
  })

  it.each(['5m', '-1', '1.5', '1e3', 'ten'])(
    'rejects lock-wait %p, naming the input and the form',
    value => {
      const e = errorOf(() => readDeploySettings(inputs({ site: 'v1', 'lock-wait': value })))
      expect(e.message).toBe(
        `input 'lock-wait' is '${value}'; expected a whole number of seconds, 0 or more (such as 0 or 600)`
      )
      expect(e.kind).toBe('input')
    }
  )

  it('rejects a version that is not PEP 440', () => {
    const e = errorOf(() => readDeploySettings(inputs({ site: 'v1', version: '1.4.x' })))
    expect(e.message).toBe(
      "input 'version' is '1.4.x'; expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1"
    )
  })

  it('rejects an empty site and a dry-run that is not a boolean', () => {
    expect(errorOf(() => readDeploySettings(inputs({}))).message).toMatch(
      /^input 'site' is empty; expected the name of a site/
    )
    expect(
      errorOf(() => readDeploySettings(inputs({ site: 'v1', 'dry-run': 'yes' }))).message
    ).toBe("input 'dry-run' is 'yes'; expected true or false")
  })

  it('names every bad input in one error', () => {
    const e = errorOf(() =>
      readDeploySettings(inputs({ site: 'v1', version: 'latest', 'lock-wait': 'soon' }))
    )
    const lines = e.message.split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^input 'lock-wait' is 'soon'/)
    expect(lines[1]).toMatch(/^input 'version' is 'latest'/)
  })

  it('rejects an ssh-key that is not a private key without showing it', () => {
    const e = errorOf(() =>
      readDeploySettings(inputs({ site: 'v1', 'ssh-key': 'hunter2-password' }))
    )
    expect(e.message).toMatch(/^input 'ssh-key' does not hold a private key/)
    expect(e.message).not.toContain('hunter2')
  })

  it('rejects a private key pasted into known-hosts without showing it', () => {
    const e = errorOf(() => readDeploySettings(inputs({ site: 'v1', 'known-hosts': KEY })))
    expect(e.message).toMatch(/^input 'known-hosts' holds a private key/)
    expect(e.message).not.toContain('b3BlbnNzaC1rZXkt')
  })

  it('rejects known-hosts text that is not known-hosts lines, naming the line', () => {
    const e = errorOf(() =>
      readDeploySettings(
        inputs({ site: 'v1', 'known-hosts': `${HOST_LINE}\nssh-ed25519 AAAA web1` })
      )
    )
    expect(e.message).toMatch(
      /^input 'known-hosts' line 2 \('ssh-ed25519 AAAA web1'\) is not a known-hosts line; expected/
    )
    expect(
      errorOf(() => readDeploySettings(inputs({ site: 'v1', 'known-hosts': '# only a comment' })))
        .message
    ).toMatch(/^input 'known-hosts' has no host key line/)
  })

  it('accepts hashed hosts, ports and markers in known-hosts', () => {
    const text = [
      '|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==',
      '[web1.example.org]:2222,192.0.2.7 ecdsa-sha2-nistp256 AAAAE2VjZHNh comment here',
      '@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB=='
    ].join('\n')
    expect(readDeploySettings(inputs({ site: 'v1', 'known-hosts': text })).knownHosts).toBe(text)
  })
})

describe('readRollbackSettings', () => {
  it('reads the inputs, with to optional', () => {
    expect(readRollbackSettings(inputs({ site: 'v2', to: '1.3.2', 'lock-wait': '30' }))).toEqual({
      configFile: 'sitecycle.yml',
      site: 'v2',
      lockWait: 30,
      to: '1.3.2',
      allowBad: false
    })
    expect(readRollbackSettings(inputs({ site: 'v2' }))).not.toHaveProperty('to')
    expect(readRollbackSettings(inputs({ site: 'v2', 'allow-bad': 'true' })).allowBad).toBe(true)
  })

  it('rejects a to that is not PEP 440, naming the input', () => {
    expect(
      errorOf(() => readRollbackSettings(inputs({ site: 'v2', to: 'previous' }))).message
    ).toBe(
      "input 'to' is 'previous'; expected a PEP 440 version such as 1.4.0, 1.4.0rc1 or 1.4.0.post1"
    )
  })
})

describe('selectSite', () => {
  const config = parseConfig(
    'app: { package: sample, wsgi: "sample.wsgi:application" }\n' +
      'sites:\n  v1: { root: /srv/s/v1, url: "https://a.example.org" }\n  v2: { root: /srv/s/v2, url: "https://b.example.org" }\n',
    '/repo/sitecycle.yml'
  )

  it('returns the named site', () => {
    expect(selectSite(config, 'v2').root).toBe('/srv/s/v2')
  })

  it('names the input, the config file and the known sites for an unknown site', () => {
    expect(errorOf(() => selectSite(config, 'prod')).message).toBe(
      "input 'site' is 'prod', which is not a site in /repo/sitecycle.yml; expected one of: v1, v2"
    )
    // Not fooled by names every object has.
    expect(errorOf(() => selectSite(config, 'constructor')).message).toMatch(
      /^input 'site' is 'constructor'/
    )
  })
})

describe('secretParts', () => {
  it('masks the whole value and each line long enough to mask alone', () => {
    expect(secretParts(`\n${KEY}\r\n`)).toEqual([KEY, ...KEY.split('\n')])
    expect(secretParts('line-one\r\nab\r\nline-two')).toEqual([
      'line-one\r\nab\r\nline-two',
      'line-one',
      'line-two'
    ])
    expect(secretParts('s3cret')).toEqual(['s3cret'])
    expect(secretParts('  \n ')).toEqual([])
  })
})
