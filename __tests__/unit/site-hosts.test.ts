/**
 * A site on several hosts: `hosts:` in sitecycle.yml, the rolling-deploy order the workflows take
 * from `sitecycle hosts <site> --json`, and the one host an operation works on (`--host`, the
 * actions' `host` input). Also the deploy action's `config-secrets` input, which the reusable
 * deploy workflow fills with the job's secrets for the config template.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runDeployAction } from '../../src/actions/deploy.js'
import { parseConfigSecrets, readDeploySettings } from '../../src/actions/inputs.js'
import { runRollbackAction } from '../../src/actions/rollback.js'
import { main } from '../../src/cli.js'
import { parseConfig } from '../../src/config/load-config.js'
import type { HostSpec } from '../../src/config/model.js'
import { hostPlan, siteHosts, siteOnHost } from '../../src/config/site-hosts.js'
import { RecordingExecutor } from '../../src/hosts/recording-executor.js'
import type { DeployRequest } from '../../src/pipelines/deploy.js'
import type { OperationOutcome } from '../../src/pipelines/operation.js'
import type { RollbackRequest } from '../../src/pipelines/rollback.js'
import { ConfigError, SitecycleError } from '../../src/util/errors.js'
import { FakeCore } from '../helpers/fake-core.js'

const APP = 'app:\n  package: sample\n  wsgi: sample.wsgi:application\n'
const WEB = [
  'ssh://deploy@web1.example.org',
  'ssh://deploy@web2.example.org:2222',
  'ssh://deploy@web3.example.org'
]
const LABELS = [
  'ssh://deploy@web1.example.org:22',
  'ssh://deploy@web2.example.org:2222',
  'ssh://deploy@web3.example.org:22'
]

/** A config with site v1 on the three web hosts and site v2 on web1 only. */
const MULTI = [
  APP.trimEnd(),
  'sites:',
  '  v1:',
  '    hosts:',
  ...WEB.map(h => `      - ${h}`),
  '    root: /srv/s/v1',
  '    url: https://example.org',
  '  v2:',
  `    host: ${WEB[0]}`,
  '    root: /srv/s/v2',
  '    url: https://preview.example.org',
  ''
].join('\n')

function configErrorOf(text: string): ConfigError {
  try {
    parseConfig(text, '/app/sitecycle.yml')
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return e as ConfigError
  }
  throw new Error('expected a ConfigError')
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

describe('hosts: in sitecycle.yml', () => {
  it('loads every host in order; host is the first of them', () => {
    const site = parseConfig(MULTI, '/app/sitecycle.yml').sites.v1
    const web1: HostSpec = { kind: 'ssh', user: 'deploy', hostname: 'web1.example.org', port: 22 }
    expect(site.host).toEqual(web1)
    expect(site.hosts).toEqual([
      web1,
      { kind: 'ssh', user: 'deploy', hostname: 'web2.example.org', port: 2222 },
      { kind: 'ssh', user: 'deploy', hostname: 'web3.example.org', port: 22 }
    ])
    expect(siteHosts(site)).toBe(site.hosts)
  })

  it('leaves a site written with host: as it was', () => {
    const site = parseConfig(MULTI, '/app/sitecycle.yml').sites.v2
    expect(site).not.toHaveProperty('hosts')
    expect(siteHosts(site)).toEqual([site.host])
  })

  it('rejects host and hosts together, naming the line', () => {
    const text = MULTI.replace('    hosts:\n', `    host: ${WEB[0]}\n    hosts:\n`)
    expect(configErrorOf(text).message).toBe(
      '/app/sitecycle.yml:6:5: sites.v1.host: both host and hosts are given; expected host for a site on one host, or hosts for a site on several'
    )
  })

  it('rejects a host listed twice, local among several, an empty list and a bad entry', () => {
    const twice = MULTI.replace(`      - ${WEB[2]}`, `      - ${WEB[0]}:22`)
    expect(configErrorOf(twice).message).toBe(
      '/app/sitecycle.yml:9:9: sites.v1.hosts[2]: ssh://deploy@web1.example.org:22 is listed twice; expected each host once'
    )
    const local = MULTI.replace(`      - ${WEB[1]}`, '      - local')
    expect(configErrorOf(local).message).toBe(
      '/app/sitecycle.yml:8:9: sites.v1.hosts[1]: local in a list of several hosts; expected ssh://user@host[:port] hosts only (local is the machine the job runs on)'
    )
    const empty = MULTI.replace(/ {4}hosts:\n( {6}- .*\n)+/, '    hosts: []\n')
    expect(configErrorOf(empty).message).toBe(
      '/app/sitecycle.yml:6:12: sites.v1.hosts: got a list; expected a list of hosts such as [ssh://deploy@web1.example.org, ssh://deploy@web2.example.org]'
    )
    const bad = MULTI.replace(`      - ${WEB[1]}`, '      - ftp://web2')
    expect(configErrorOf(bad).message).toMatch(
      /^\/app\/sitecycle\.yml:8:9: sites\.v1\.hosts\[1\]: .*expected local or ssh:\/\/user@host\[:port\]/
    )
  })

  it('keeps the roots of two sites apart on every host they share', () => {
    const shared = MULTI.replace('    root: /srv/s/v2', '    root: /srv/s/v1/inner').replace(
      `    host: ${WEB[0]}`,
      `    host: ${WEB[2]}`
    )
    expect(configErrorOf(shared).message).toBe(
      '/app/sitecycle.yml:14:11: sites.v2.root: "/srv/s/v1/inner" is inside the root of site v1 on ssh://deploy@web3.example.org:22; expected a root of its own for each site on the same host'
    )
    const apart = shared.replace(`    host: ${WEB[2]}`, '    host: ssh://deploy@db.example.org')
    expect(() => parseConfig(apart, '/app/sitecycle.yml')).not.toThrow()
  })
})

describe('hostPlan and siteOnHost', () => {
  const config = parseConfig(MULTI, '/app/sitecycle.yml')

  it('puts the first host first as the canary, the rest in order', () => {
    expect(hostPlan(config.sites.v1)).toEqual({
      site: 'v1',
      hosts: LABELS,
      canary: LABELS[0],
      rest: LABELS.slice(1)
    })
    expect(hostPlan(config.sites.v2)).toEqual({
      site: 'v2',
      hosts: [LABELS[0]],
      canary: LABELS[0],
      rest: []
    })
  })

  it('picks the host asked for, written with or without its default port', () => {
    expect(siteOnHost(config.sites.v1, LABELS[2], '--host').host).toEqual(config.sites.v1.hosts![2])
    expect(siteOnHost(config.sites.v1, 'ssh://deploy@WEB3.example.org', '--host').host).toEqual(
      config.sites.v1.hosts![2]
    )
    expect(siteOnHost(config.sites.v2, undefined, '--host')).toBe(config.sites.v2)
    expect(siteOnHost(config.sites.v2, LABELS[0], '--host').host).toEqual(config.sites.v2.host)
  })

  it('never guesses: several hosts and none asked, a host of another site, not a host at all', () => {
    expect(errorOf(() => siteOnHost(config.sites.v1, ' ', "input 'host'")).message).toBe(
      `site v1 has 3 hosts (${LABELS.join(', ')}); name the one to work on with input 'host'`
    )
    const other = errorOf(() => siteOnHost(config.sites.v2, WEB[1], '--host'))
    expect(other.message).toBe(
      `--host is "${WEB[1]}", which is not a host of site v2; expected one of: ${LABELS[0]}`
    )
    expect(other.kind).toBe('input')
    expect(errorOf(() => siteOnHost(config.sites.v1, 'web1', '--host')).message).toBe(
      `--host is "web1", which is not a host (neither local nor an ssh:// URL); expected local or ssh://user@host[:port], one of: ${LABELS.join(', ')}`
    )
  })
})

let dir: string
let configFile: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-hosts-'))
  configFile = path.join(dir, 'sitecycle.yml')
  await fs.writeFile(configFile, MULTI)
})
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

async function cli(...argv: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = []
  const code = await main(argv, s => out.push(s))
  return { code, out }
}

describe('sitecycle hosts', () => {
  it('prints one line of JSON for a workflow matrix', async () => {
    const { code, out } = await cli('hosts', 'v1', '--config', configFile, '--json')
    expect(code).toBe(0)
    expect(out).toHaveLength(1)
    expect(out[0]).not.toContain('\n')
    expect(JSON.parse(out[0])).toEqual({
      site: 'v1',
      hosts: LABELS,
      canary: LABELS[0],
      rest: LABELS.slice(1)
    })
  })

  it('prints one host a line without --json', async () => {
    expect(await cli('hosts', 'v1', '-c', configFile)).toEqual({
      code: 0,
      out: [LABELS.join('\n')]
    })
  })

  it('exits 2 for an unknown site or a missing one', async () => {
    expect((await cli('hosts', 'v9', '-c', configFile)).code).toBe(2)
    expect((await cli('hosts', '-c', configFile)).code).toBe(2)
  })

  it('exits 2, before reaching any host, when a command on a site of several hosts names none or another', async () => {
    expect((await cli('status', 'v1', '-c', configFile)).code).toBe(2)
    expect(
      (await cli('rollback', 'v1', '-c', configFile, '--host', 'ssh://deploy@elsewhere')).code
    ).toBe(2)
  })
})

function executors() {
  const made: HostSpec[] = []
  const create = (host: HostSpec) => {
    made.push(host)
    return new RecordingExecutor(host.kind === 'ssh' ? host.hostname : 'local')
  }
  return { made, create }
}

function outcome(op: 'deploy' | 'rollback'): OperationOutcome {
  return {
    op,
    site: 'v1',
    host: LABELS[1],
    status: op === 'deploy' ? 'deployed' : 'rolled-back',
    version: '1.4.0',
    previousVersion: '1.3.0',
    targetVersion: '1.4.0',
    url: 'https://example.org',
    rolledBack: op === 'rollback',
    undoComplete: true,
    steps: [],
    operationId: 'op-1',
    notes: []
  }
}

describe('the actions on a site of several hosts', () => {
  it('deploy works on the host the matrix names, and only there', async () => {
    const { made, create } = executors()
    const requests: DeployRequest[] = []
    const core = new FakeCore({ config: configFile, site: 'v1', host: WEB[1] })
    await runDeployAction(core, {
      createExecutor: create,
      env: {},
      deploy: async req => (requests.push(req), outcome('deploy'))
    })
    expect(made).toEqual([
      { kind: 'ssh', user: 'deploy', hostname: 'web2.example.org', port: 2222 }
    ])
    expect(requests[0].site.host).toEqual(made[0])
    expect(core.outputs.get('status')).toBe('deployed')
  })

  it('rollback without a host on a site of several fails before any executor is made', async () => {
    const { made, create } = executors()
    let ran = 0
    const core = new FakeCore({ config: configFile, site: 'v1' })
    await expect(
      runRollbackAction(core, {
        createExecutor: create,
        rollback: async (_req: RollbackRequest) => (ran++, outcome('rollback'))
      })
    ).rejects.toThrow(
      `site v1 has 3 hosts (${LABELS.join(', ')}); name the one to work on with input 'host'`
    )
    expect(made).toEqual([])
    expect(ran).toBe(0)
    expect(core.outputs.get('status')).toBe('failed')
  })
})

describe("the deploy action's config-secrets input", () => {
  const DB_PASSWORD = 'correct-horse-battery-staple'
  const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAfake\n-----END OPENSSH PRIVATE KEY-----'

  it('parses a JSON object of strings, leaving out other values; anything else is undefined', () => {
    expect(
      parseConfigSecrets(JSON.stringify({ DB_PASSWORD, github_token: 'ghs_x', N: 1, E: '' }))
    ).toEqual({
      DB_PASSWORD,
      github_token: 'ghs_x'
    })
    expect(parseConfigSecrets('[1]')).toBeUndefined()
    expect(parseConfigSecrets('null')).toBeUndefined()
    expect(parseConfigSecrets(`DB_PASSWORD=${DB_PASSWORD}`)).toBeUndefined()
  })

  it('opens SITECYCLE_SECRETS (passed by name across owners) into its names; a name given on its own wins', () => {
    const bundle = JSON.stringify({ DB_PASSWORD, AUTH_PASSWORD: 'a-p', N: 2 })
    expect(
      parseConfigSecrets(
        JSON.stringify({ SITECYCLE_SECRETS: bundle, AUTH_PASSWORD: 'environment-secret' })
      )
    ).toEqual({ DB_PASSWORD, AUTH_PASSWORD: 'environment-secret' })
    // A bundle that is not a JSON object is refused as a whole, never half used.
    expect(
      parseConfigSecrets(JSON.stringify({ SITECYCLE_SECRETS: 'DB_PASSWORD=x' }))
    ).toBeUndefined()
    expect(parseConfigSecrets(JSON.stringify({ SITECYCLE_SECRETS: '' }))).toEqual({})
  })

  it('adds the secrets to the environment the template reads, masking each value first', async () => {
    const { create } = executors()
    const requests: DeployRequest[] = []
    const core = new FakeCore({
      config: configFile,
      site: 'v2',
      'config-secrets': JSON.stringify({ DB_PASSWORD, SITECYCLE_SSH_KEY: KEY })
    })
    await runDeployAction(core, {
      createExecutor: create,
      env: { PATH: '/usr/bin', DB_PASSWORD: 'from-the-environment' },
      deploy: async req => (requests.push(req), outcome('deploy'))
    })
    expect(requests[0].env).toEqual({ PATH: '/usr/bin', DB_PASSWORD, SITECYCLE_SSH_KEY: KEY })
    expect(core.secrets).toEqual(expect.arrayContaining([DB_PASSWORD, KEY, 'AAAAfake']))
    expect(core.log.map(([, m]) => m).join('\n')).not.toContain(DB_PASSWORD)
  })

  it('rejects a value that is not a JSON object without showing it', () => {
    const e = errorOf(() =>
      readDeploySettings(
        new FakeCore({ site: 'v1', 'config-secrets': `DB_PASSWORD=${DB_PASSWORD}` })
      )
    )
    expect(e.message).toBe(
      "input 'config-secrets' is not a JSON object of names to values (its value is not shown); " +
        'expected such as {"DB_PASSWORD": "..."}, or ${{ toJSON(secrets) }} in a workflow, ' +
        'whose SITECYCLE_SECRETS (when given) is itself such an object'
    )
    expect(e.message).not.toContain(DB_PASSWORD)
  })
})
