/** A site config for tests, made through the real loader from YAML. */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/load-config.js'
import type { SitecycleConfig, SiteConfig } from '../../src/config/model.js'
import { freePort, type TestApache } from './apache.js'

export interface TestSite {
  config: SitecycleConfig
  site: SiteConfig
  port: number
  dir: string
  root: string
  url: string
  cleanup(): Promise<void>
}

export interface TestSiteOptions {
  apache: TestApache
  hooks?: string[]
  host?: string
  keepReleases?: number
  mode?: 'blue-green' | 'single'
  ssh?: { keyFile: string; knownHostsFile: string }
  /** Extra text appended to the config template. */
  template?: string
  /** Extra YAML lines for the site (indented by the helper). */
  siteYaml?: string
  /** app.wsgi (default the sample's module:attribute, written plain so tests can replace it). */
  wsgi?: string
  /** Extra YAML lines for app: (indented by the helper). */
  appYaml?: string
}

export async function makeTestSite(opts: TestSiteOptions): Promise<TestSite> {
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-site-'))
  await chmod(dir, 0o755)
  const root = join(dir, 'root')
  await mkdir(join(dir, 'deploy'))
  await writeFile(
    join(dir, 'deploy', 'app.ini.tmpl'),
    `[app]\ngreeting = hello from {{ site.name }}\nsecret_key = {{ secret.SAMPLE_SECRET_KEY }}\nroot = {{ site.root }}\nversion = {{ release.version }}\n${opts.template ?? ''}`
  )
  const port = await freePort()
  const hooks = opts.hooks ?? ['python -m sitecycle_sample.manage check']
  const yaml = `
app:
  package: sitecycle-sample
  wsgi: ${opts.wsgi === undefined ? 'sitecycle_sample.wsgi:application' : JSON.stringify(opts.wsgi)}
${(opts.appYaml ?? '')
  .split('\n')
  .filter(Boolean)
  .map(l => `  ${l}\n`)
  .join(
    ''
  )}${opts.ssh ? `ssh:\n  key_file: ${opts.ssh.keyFile}\n  known_hosts: ${opts.ssh.knownHostsFile}\n` : ''}sites:
  v1:
    host: ${opts.host ?? 'local'}
    root: ${root}
    url: http://127.0.0.1:${port}
    health: { path: /__version__, expect_version: true, timeout: 20 }
    config: { template: deploy/app.ini.tmpl }
    hooks:
      after_install: ${JSON.stringify(hooks)}
    keep_releases: ${opts.keepReleases ?? 3}
${(opts.siteYaml ?? '')
  .split('\n')
  .filter(Boolean)
  .map(l => `    ${l}`)
  .join('\n')}
    preflight: { min_free_mb: 10 }
    apache:
      listen: 127.0.0.1:${port}
      conf_dir: ${opts.apache.confDir}
      enable_dir: null
      ctl: ${JSON.stringify(opts.apache.ctl)}
      shutdown_timeout: 5
      mode: ${opts.mode ?? 'blue-green'}
`
  const file = join(dir, 'sitecycle.yml')
  await writeFile(file, yaml)
  const config = parseConfig(yaml, file)
  return {
    config,
    site: config.sites.v1,
    port,
    dir,
    root,
    url: `http://127.0.0.1:${port}`,
    async cleanup() {
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** GET a path on the site as a user would; returns status and body. */
export async function httpGet(
  url: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: string }> {
  const r = await fetch(url, { headers })
  return { status: r.status, body: (await r.text()).trim() }
}

/**
 * The version a site serves, from sitecycle's health path: the host itself needs no credentials
 * there, and it answers through a freeze (the application's /__version__ does neither).
 */
export async function servedVersion(url: string): Promise<string> {
  const r = await httpGet(`${url}/.sitecycle/health`)
  return r.status === 200 ? (JSON.parse(r.body) as { version: string }).version : r.body
}
