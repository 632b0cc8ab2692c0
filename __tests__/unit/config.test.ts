import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  defaultReleaseConfig,
  getSite,
  hostLabel,
  loadConfig,
  parseConfig,
  parseHost
} from '../../src/config/load-config.js'
import type { ReleaseConfig, SiteConfig, SitecycleConfig } from '../../src/config/model.js'
import { ConfigError } from '../../src/util/errors.js'

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url))

/** Parse a fixture, naming it by its base name so messages are short. */
function parseFixture(name: string): SitecycleConfig {
  return parseConfig(readFileSync(path.join(FIXTURES, name), 'utf8'), name)
}

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error('expected a ConfigError, but nothing was thrown')
}

const MINIMAL_APP = 'app:\n  package: sample\n  wsgi: sample.wsgi:application\n'

/** A one-site config (root on line 6, url on line 7) with extra site settings indented 4 spaces. */
function oneSite(extra = '', { root = '/srv/s/v1', url = 'http://127.0.0.1:8080' } = {}): string {
  return `${MINIMAL_APP}sites:\n  v1:\n    root: ${root}\n    url: ${url}\n${extra}`
}

const DEFAULT_APACHE = {
  confDir: '/etc/apache2/sites-available',
  enableDir: '/etc/apache2/sites-enabled',
  ctl: ['apache2ctl'],
  user: 'www-data',
  group: 'www-data',
  processes: 1,
  threads: 15,
  shutdownTimeout: 30,
  mode: 'blue-green'
}

describe('parseConfig: defaults', () => {
  it('fills in every default of a minimal file', () => {
    const config = parseFixture('minimal.yml')
    const expected: SitecycleConfig = {
      file: path.resolve('minimal.yml'),
      app: { package: 'sample', wsgi: 'sample.wsgi:application', python: '/usr/bin/python3' },
      ssh: {},
      sites: {
        v1: {
          name: 'v1',
          role: 'production',
          host: { kind: 'local' },
          root: '/srv/sample/v1',
          url: 'https://sample.example.org',
          health: { path: '/.sitecycle/health', expectVersion: true, timeout: 30 },
          hooks: { afterInstall: [] },
          keepReleases: 5,
          preflight: { minFreeMb: 200 },
          apache: {
            listen: '*:443',
            serverName: 'sample.example.org',
            ...DEFAULT_APACHE
          } as SiteConfig['apache']
        }
      }
    }
    expect(config).toStrictEqual(expected)
  })

  it.each([
    ['http://127.0.0.1:8080', '127.0.0.1:8080', '127.0.0.1'],
    ['http://example.org', '*:80', 'example.org'],
    ['https://Example.ORG:8443/app/', '*:8443', 'example.org'],
    ['http://[::1]:8081', '[::1]:8081', '[::1]']
  ])('derives listen and server_name from the url %s', (url, listen, serverName) => {
    const site = parseConfig(oneSite('', { url }), 's.yml').sites.v1
    expect(site.apache.listen).toBe(listen)
    expect(site.apache.serverName).toBe(serverName)
  })

  it('reads ctl as a string split on whitespace, and an empty enable_dir as no enabling link', () => {
    const site = parseConfig(
      oneSite('    apache: { ctl: "  sudo -n   apache2ctl ", enable_dir: "" }\n'),
      's.yml'
    ).sites.v1
    expect(site.apache.ctl).toEqual(['sudo', '-n', 'apache2ctl'])
    expect(site.apache).not.toHaveProperty('enableDir')
  })

  it('normalises the root and strips the url of its trailing slash', () => {
    const text = oneSite('', { root: '/srv//s/./v1/', url: 'http://h.example/app/' })
    const site = parseConfig(text, 's.yml').sites.v1
    expect(site.root).toBe('/srv/s/v1')
    expect(site.url).toBe('http://h.example/app')
  })
})

describe('loadConfig: the full form', () => {
  it('loads every setting into the model, resolving local paths against the file', async () => {
    const file = path.join(FIXTURES, 'full.yml')
    const config = await loadConfig(file)
    const expected: SitecycleConfig = {
      file,
      app: {
        package: 'sitecycle-sample',
        wsgi: 'sitecycle_sample.wsgi:application',
        python: '/usr/bin/python3',
        tests: 'python -m pytest -q'
      },
      ssh: {
        keyFile: path.join(FIXTURES, 'deploy/id_ed25519'),
        knownHostsFile: path.join(FIXTURES, 'deploy/known_hosts')
      },
      sites: {
        v1: {
          name: 'v1',
          role: 'production',
          host: { kind: 'local' },
          root: '/srv/sample/v1',
          url: 'http://127.0.0.1:8080',
          health: { path: '/__version__', expectVersion: true, timeout: 30 },
          config: { template: path.join(FIXTURES, 'deploy/app.ini.tmpl'), env: 'SITECYCLE_CONFIG' },
          hooks: { afterInstall: ['python -m sitecycle_sample.manage check'] },
          keepReleases: 5,
          releases: path.join(FIXTURES, 'releases'),
          preflight: { minFreeMb: 200 },
          apache: {
            listen: '127.0.0.1:8080',
            serverName: '127.0.0.1',
            ...DEFAULT_APACHE
          } as SiteConfig['apache']
        },
        v2: {
          name: 'v2',
          role: 'preview',
          access: { basicAuth: { user: 'sitecycle', passwordEnv: 'SITECYCLE_ACCESS_PASSWORD' } },
          host: { kind: 'ssh', user: 'deploy', hostname: 'web1.example.org', port: 2222 },
          root: '/srv/sample/v2',
          url: 'https://preview.example.org',
          health: { path: '/healthz', expectVersion: false, timeout: 2.5 },
          hooks: {
            afterInstall: [
              'python -m sitecycle_sample.manage migrate',
              'python -m sitecycle_sample.manage collectstatic'
            ]
          },
          keepReleases: 2,
          preflight: { minFreeMb: 0 },
          apache: {
            listen: '*:443',
            serverName: 'preview.example.org',
            confDir: '/etc/apache2/sites-available',
            ctl: ['sudo', '-n', 'apache2ctl'],
            user: 'www-data',
            group: 'www-data',
            processes: 2,
            threads: 4,
            shutdownTimeout: 5,
            mode: 'single'
          }
        }
      }
    }
    expect(config).toStrictEqual(expected)
  })
})

describe('loadConfig: local paths', () => {
  let dir: string
  const savedHome = process.env.HOME
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sitecycle-config-'))
  })
  afterEach(async () => {
    process.env.HOME = savedHome
    await rm(dir, { recursive: true, force: true })
  })

  it('resolves relative paths against the config file directory, not the working directory, and ~ against HOME', async () => {
    await mkdir(path.join(dir, 'repo'))
    const file = path.join(dir, 'repo', 'sitecycle.yml')
    await writeFile(
      file,
      `${MINIMAL_APP}ssh:\n  key_file: ~/.ssh/deploy_key\n  known_hosts: ../pinned/known_hosts\n` +
        'sites:\n  v1:\n    root: /srv/s/v1\n    url: http://127.0.0.1:8080\n' +
        '    config: { template: deploy/app.ini.tmpl }\n    releases: /var/releases\n'
    )
    process.env.HOME = path.join(dir, 'home')
    const config = await loadConfig(path.relative(process.cwd(), file))
    expect(config.file).toBe(file)
    expect(config.ssh).toEqual({
      keyFile: path.join(dir, 'home', '.ssh', 'deploy_key'),
      knownHostsFile: path.join(dir, 'pinned', 'known_hosts')
    })
    expect(config.sites.v1.config).toEqual({
      template: path.join(dir, 'repo', 'deploy', 'app.ini.tmpl'),
      env: 'SITECYCLE_CONFIG'
    })
    expect(config.sites.v1.releases).toBe('/var/releases')
  })

  it('names the path of a missing config file', async () => {
    const file = path.join(dir, 'nope.yml')
    await expect(loadConfig(file)).rejects.toThrow(ConfigError)
    await expect(loadConfig(file)).rejects.toThrow(
      `cannot read the config file ${file}: no such file`
    )
  })

  it('names the path of a config file that is a directory', async () => {
    await expect(loadConfig(dir)).rejects.toThrow(
      `cannot read the config file ${dir}: it is a directory`
    )
  })
})

describe('parseConfig: errors name file, line and expected form', () => {
  it('reports every bad value, in file order, each at the line and column of its node', () => {
    const error = configErrorOf(() => parseFixture('bad-values.yml'))
    expect(error.file).toBe('bad-values.yml')
    expect(error.line).toBe(3)
    expect(error.message.split('\n')).toEqual([
      `bad-values.yml:3:9: app.wsgi: got "sample.wsgi" (not module:attribute or module:factory(...)); expected a WSGI entry point module.path:attribute, or module.path:factory(...) called with Python literals (strings, numbers, True, False, None; positional, then name=value), such as sample.wsgi:application or myapp:create_app('production')`,
      'bad-values.yml:4:11: app.python: got "python3" (not an absolute path); expected an absolute path to a Python interpreter, such as /usr/bin/python3',
      'bad-values.yml:10:16: sites.v1.health.timeout: got -1; expected a positive number of seconds',
      'bad-values.yml:11:11: sites.v1.role: got "staging"; expected production, preview, mirror or old',
      'bad-values.yml:12:20: sites.v1.keep_releases: got "five"; expected an integer of at least 2',
      'bad-values.yml:14:15: sites.v1.apache.listen: got "localhost:8080"; expected an address and port such as 127.0.0.1:8080, [::1]:8080 or *:80',
      'bad-values.yml:15:16: sites.v1.apache.threads: got 0; expected an integer of at least 1'
    ])
  })

  it('reports unknown keys at their line, with a did-you-mean', () => {
    const error = configErrorOf(() => parseFixture('unknown-key.yml'))
    expect(error.line).toBe(4)
    const lines = error.message.split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toBe(
      "unknown-key.yml:4:3: app: unknown key 'pyhton' (did you mean python?); expected one of package, wsgi, python, tests, env, static, shared"
    )
    expect(lines[1]).toMatch(
      /^unknown-key\.yml:9:5: sites\.v1: unknown key 'keep_release' \(did you mean keep_releases\?\); expected one of role, host, hosts, root, url, /
    )
    expect(lines[2]).toBe(
      "unknown-key.yml:10:35: sites.v1.health: unknown key 'expect' (did you mean expect_version?); expected one of path, expect_version, timeout"
    )
  })

  it('reports a bad host URL at its line', () => {
    const error = configErrorOf(() => parseFixture('bad-host.yml'))
    expect(error.line).toBe(9)
    expect(error.message).toBe(
      'bad-host.yml:9:11: sites.v2.host: got "ssh://web1.example.org:2222" (the user is missing); expected local or ssh://user@host[:port]'
    )
  })

  it('reports a relative root at its line', () => {
    const error = configErrorOf(() => parseFixture('relative-root.yml'))
    expect(error.line).toBe(7)
    expect(error.message).toBe(
      'relative-root.yml:7:11: sites.v1.root: got "srv/sample/v1" (not an absolute path); expected an absolute directory path such as /srv/app/v1'
    )
  })

  it('reports a YAML syntax error with file, line and column', () => {
    const error = configErrorOf(() => parseFixture('syntax-error.yml.txt'))
    expect(error.line).toBe(8)
    expect(error.message).toMatch(/^syntax-error\.yml\.txt:8:1: invalid YAML: /)
  })

  it('reports a duplicate key as a YAML error at the second key', () => {
    const error = configErrorOf(() =>
      parseConfig(oneSite('    keep_releases: 3\n    keep_releases: 4\n'), 's.yml')
    )
    expect(error.message).toBe(
      's.yml:9:5: invalid YAML: duplicate key; expected each key once per mapping'
    )
  })

  it('reports two sites sharing a root on the same host, at the later root', () => {
    const error = configErrorOf(() => parseFixture('duplicate-roots.yml'))
    expect(error.line).toBe(13)
    // v2 has the same root on another host: that is allowed.
    expect(error.message).toBe(
      'duplicate-roots.yml:13:11: sites.v3.root: "/srv/sample/v1" is also the root of site v1 on local; expected a root of its own for each site on the same host'
    )
  })

  it('reports a root inside another site root on the same host', () => {
    const text = `${oneSite()}  v2:\n    root: /srv/s/v1/inner\n    url: http://127.0.0.1:8081\n`
    expect(configErrorOf(() => parseConfig(text, 's.yml')).message).toBe(
      's.yml:9:11: sites.v2.root: "/srv/s/v1/inner" is inside the root of site v1 on local; expected a root of its own for each site on the same host'
    )
  })

  it('reports missing keys at the entry that should hold them, and bad site names at the name', () => {
    const error = configErrorOf(() => parseFixture('missing-keys.yml'))
    expect(error.message.split('\n')).toEqual([
      'missing-keys.yml:1:1: app.package: missing; expected a Python distribution name such as sitecycle-sample (letters, digits, ., _ and -)',
      'missing-keys.yml:4:3: sites: bad site name "V1"; expected a site name of 1 to 31 lowercase letters, digits, _ or -, starting with a letter or digit',
      'missing-keys.yml:4:3: sites.V1.root: missing; expected an absolute directory path such as /srv/app/v1'
    ])
  })

  it('requires at least one site', () => {
    expect(configErrorOf(() => parseConfig(`${MINIMAL_APP}sites: {}\n`, 's.yml')).message).toBe(
      's.yml:4:8: sites: no sites; expected at least one site'
    )
  })

  it.each([
    [{ root: '/' }, 6, 'sites.v1.root: got "/" (the root directory itself)'],
    [{ root: '/srv/../etc' }, 6, `sites.v1.root: got "/srv/../etc" (contains '..')`],
    [{ url: 'ftp://example.org' }, 7, 'sites.v1.url: got "ftp://example.org" (ftp: URL)'],
    [
      { url: 'https://user:pw@example.org' },
      7,
      '(has a user or password); expected an http:// or https:// URL'
    ],
    [
      '    keep_releases: 1\n',
      8,
      'sites.v1.keep_releases: got 1; expected an integer of at least 2'
    ],
    [
      '    config: { template: t.tmpl, env: app-config }\n',
      8,
      'sites.v1.config.env: got "app-config"; expected an environment variable name'
    ],
    [
      '    config: { env: APP_CONFIG }\n',
      8,
      'sites.v1.config.template: missing; expected a file path'
    ],
    [
      '    hooks: { after_install: [migrate, 3] }\n',
      8,
      'sites.v1.hooks.after_install[1]: got 3; expected a command line'
    ],
    [
      '    config: { template: /etc/shadow }\n',
      8,
      'sites.v1.config.template: got "/etc/shadow" (an absolute path); expected a file path relative to the config file\'s folder'
    ],
    [
      '    config: { template: ~/.ssh/id_ed25519 }\n',
      8,
      'sites.v1.config.template: got "~/.ssh/id_ed25519" (starts with ~)'
    ],
    [
      '    config: { template: deploy/../../keys/id }\n',
      8,
      `sites.v1.config.template: got "deploy/../../keys/id" (contains '..')`
    ],
    [
      '    hooks: { after_install: [migrate, "python -m app.manage migrate; rm -rf /"] }\n',
      8,
      'sites.v1.hooks.after_install[1]: hook "python -m app.manage migrate; rm -rf /" uses the shell character ;'
    ],
    [
      "    hooks: { after_install: ['python -c \"unclosed'] }\n",
      8,
      'sites.v1.hooks.after_install[0]: hook "python -c "unclosed" has an unclosed "'
    ],
    [
      '    apache: { ctl: [] }\n',
      8,
      'sites.v1.apache.ctl: got a list; expected a command such as apache2ctl'
    ],
    [
      '    apache: { mode: green }\n',
      8,
      'sites.v1.apache.mode: got "green"; expected blue-green or single'
    ],
    [
      '    apache:\n      enable_dir: etc/sites\n',
      9,
      'sites.v1.apache.enable_dir: got "etc/sites" (not an absolute path)'
    ],
    [
      '    health: null\n',
      8,
      'sites.v1.health: got null; expected a mapping with path, expect_version and timeout'
    ]
  ])('rejects %j at the line of the bad node', (change, line, expected) => {
    const text = typeof change === 'string' ? oneSite(change) : oneSite('', change)
    const error = configErrorOf(() => parseConfig(text, 's.yml'))
    expect(error.line).toBe(line)
    expect(error.message).toMatch(new RegExp(`^s\\.yml:${line}:\\d+: `))
    expect(error.message).toContain(expected)
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('rejects a file that is not a mapping, and an empty file', () => {
    expect(configErrorOf(() => parseConfig('- a\n- b\n', 's.yml')).message).toBe(
      's.yml:1:1: got a list; expected a mapping with app, sites and optionally ssh and release'
    )
    expect(configErrorOf(() => parseConfig('# nothing\n', 's.yml')).message).toBe(
      's.yml:1:1: the file is empty; expected a mapping with app and sites'
    )
  })
})

describe('getSite', () => {
  const config = parseFixture('full.yml')

  it('returns the named site', () => {
    expect(getSite(config, 'v2').root).toBe('/srv/sample/v2')
  })

  it('names the file and the known sites for an unknown name', () => {
    const error = configErrorOf(() => getSite(config, 'v3'))
    expect(error.message).toBe(
      `unknown site 'v3' in ${path.resolve('full.yml')}; known sites: v1, v2`
    )
    expect(configErrorOf(() => getSite(config, 'toString')).message).toContain(
      "unknown site 'toString'"
    )
  })
})

describe('parseHost and hostLabel', () => {
  it.each([
    ['local', { kind: 'local' }, 'local'],
    [
      'ssh://deploy@web1.example.org',
      { kind: 'ssh', user: 'deploy', hostname: 'web1.example.org', port: 22 },
      'ssh://deploy@web1.example.org:22'
    ],
    [
      'ssh://deploy@WEB1:2222/',
      { kind: 'ssh', user: 'deploy', hostname: 'web1', port: 2222 },
      'ssh://deploy@web1:2222'
    ],
    [
      'ssh://root@127.0.0.1:22',
      { kind: 'ssh', user: 'root', hostname: '127.0.0.1', port: 22 },
      'ssh://root@127.0.0.1:22'
    ],
    [
      'ssh://u@[::1]:2200',
      { kind: 'ssh', user: 'u', hostname: '::1', port: 2200 },
      'ssh://u@[::1]:2200'
    ]
  ])('parses %s', (value, host, label) => {
    expect(parseHost(value)).toEqual(host)
    expect(hostLabel(parseHost(value))).toBe(label)
  })

  it.each([
    ['ssh://web1', 'the user is missing'],
    ['ssh://@web1', 'the user is missing'],
    ['ssh://-oProxyCommand=x@web1', 'is not a user name'],
    ['ssh://u@-web1', 'is not a host name'],
    ['ssh://u@web1:0', '"0" is not a port number'],
    ['ssh://u@web1:65536', '"65536" is not a port number'],
    ['ssh://u@web1/srv', 'takes no path'],
    ['ssh://u@[nope]', 'is not an IPv6 address'],
    ['web1.example.org', 'neither local nor an ssh:// URL'],
    ['Local', 'neither local nor an ssh:// URL']
  ])('rejects %s', (value, reason) => {
    const error = configErrorOf(() => parseHost(value))
    expect(error.message).toContain(`bad host ${JSON.stringify(value)}: `)
    expect(error.message).toContain(reason)
    expect(error.message).toContain('; expected local or ssh://user@host[:port]')
  })
})

/** A one-site config whose `release:` section (from line 4) is `release`, indented 2 spaces. */
function withRelease(release: string, siteExtra = ''): string {
  return `${MINIMAL_APP}release:\n${release}sites:\n  v1:\n    root: /srv/s/v1\n    url: http://127.0.0.1:8080\n${siteExtra}`
}

describe('parseConfig: release and stores', () => {
  const dir = path.resolve('repo')
  const file = path.join(dir, 'sitecycle.yml')

  it('has no release settings unless the file has a release: section', () => {
    expect(parseConfig(oneSite(), file).release).toBeUndefined()
    expect(parseConfig(oneSite(), file).sites.v1.store).toBeUndefined()
  })

  it('fills in every default of an empty release: section', () => {
    const config = parseConfig(withRelease('  stores: []\n'), file)
    const expected: ReleaseConfig = {
      tagPrefix: 'v',
      versionScheme: 'pep440',
      source: dir,
      build: { isolation: 'auto', findLinks: [] },
      outDir: path.join(dir, 'dist-releases'),
      stores: [],
      keepVersions: 20
    }
    expect(config.release).toStrictEqual(expected)
    expect(defaultReleaseConfig(dir)).toStrictEqual(expected)
  })

  it('loads release.build (isolation, find_links, index_url_env) and the legacy no_isolation', () => {
    const build = (text: string) => parseConfig(withRelease(text), file).release!.build
    expect(
      build(
        '  build:\n    isolation: true\n    find_links: [wheels, /opt/wheels]\n    index_url_env: BUILD_INDEX\n'
      )
    ).toStrictEqual({
      isolation: 'isolated',
      findLinks: [path.join(dir, 'wheels'), '/opt/wheels'],
      indexUrlEnv: 'BUILD_INDEX'
    })
    expect(build('  build: { isolation: false }\n')).toStrictEqual({
      isolation: 'none',
      findLinks: []
    })
    expect(build('  build: { isolation: auto }\n')).toStrictEqual({
      isolation: 'auto',
      findLinks: []
    })
    expect(build('  no_isolation: true\n')).toStrictEqual({ isolation: 'none', findLinks: [] })
    expect(() => parseConfig(withRelease('  build: { isolation: sometimes }\n'), file)).toThrow(
      'release.build.isolation: got "sometimes"; expected auto, true or false'
    )
  })

  it('loads every release setting and every store type, resolving local paths', () => {
    const text = withRelease(
      [
        "  tag_prefix: 'release/'",
        '  version_scheme: semver',
        '  source: app',
        '  no_isolation: false',
        '  out_dir: ~/releases',
        '  wheelhouse:',
        '    requirements: requirements.lock',
        '    find_links: [wheels, /opt/wheels]',
        '    index_url_env: INDEX_URL',
        '  stores:',
        '    - { type: directory, path: shared/releases }',
        '    - { type: directory, path: /srv/releases/, host: "ssh://deploy@web1:2222" }',
        '    - { type: github-release, repository: octo/weave }',
        '    - { type: actions-artifact, retention_days: 5 }',
        "    - { type: actions-artifact, name: 'weave-{version}' }",
        '  keep_versions: 3',
        ''
      ].join('\n'),
      '    store: { type: directory, path: /srv/releases, host: "ssh://deploy@web1" }\n'
    )
    const saved = process.env.HOME
    process.env.HOME = '/home/rel'
    let config: SitecycleConfig
    try {
      config = parseConfig(text, file)
    } finally {
      process.env.HOME = saved
    }
    const expected: ReleaseConfig = {
      tagPrefix: 'release/',
      versionScheme: 'semver',
      source: path.join(dir, 'app'),
      build: { isolation: 'isolated', findLinks: [] },
      outDir: '/home/rel/releases',
      wheelhouse: {
        requirements: path.join(dir, 'app', 'requirements.lock'),
        findLinks: [path.join(dir, 'wheels'), '/opt/wheels'],
        indexUrlEnv: 'INDEX_URL'
      },
      stores: [
        { type: 'directory', path: path.join(dir, 'shared/releases'), host: { kind: 'local' } },
        {
          type: 'directory',
          path: '/srv/releases',
          host: { kind: 'ssh', user: 'deploy', hostname: 'web1', port: 2222 }
        },
        { type: 'github-release', repository: 'octo/weave', tokenEnv: 'GITHUB_TOKEN' },
        { type: 'actions-artifact', name: 'release-{version}', retentionDays: 5 },
        { type: 'actions-artifact', name: 'weave-{version}' }
      ],
      keepVersions: 3
    }
    expect(config.release).toStrictEqual(expected)
    expect(config.sites.v1.store).toStrictEqual({
      type: 'directory',
      path: '/srv/releases',
      host: { kind: 'ssh', user: 'deploy', hostname: 'web1', port: 22 }
    })
  })

  it.each([
    [
      '  tag_prefix: "-v"\n',
      5,
      'release.tag_prefix: got "-v"; expected a tag prefix such as v or release/'
    ],
    ['  tag_prefix: "a..b"\n', 5, 'release.tag_prefix: got "a..b"'],
    [
      '  version_scheme: calver\n',
      5,
      'release.version_scheme: got "calver"; expected pep440 or semver'
    ],
    ['  keep_versions: 0\n', 5, 'release.keep_versions: got 0; expected an integer of at least 1'],
    [
      '  no_isolation: yes please\n',
      5,
      'release.no_isolation: got "yes please"; expected true or false'
    ],
    [
      '  stores:\n    - { type: s3, path: /x }\n',
      6,
      'release.stores[0].type: got "s3"; expected directory, github-release or actions-artifact'
    ],
    [
      '  stores:\n    - { type: directory }\n',
      6,
      'release.stores[0].path: missing; expected a directory path'
    ],
    [
      '  stores:\n    - type: directory\n      path: srv/releases\n      host: ssh://deploy@web1\n',
      7,
      'release.stores[0].path: got "srv/releases" (not an absolute path); expected an absolute directory path on web1'
    ],
    [
      '  stores:\n    - type: directory\n      path: /srv\n      host: ftp://web1\n',
      8,
      'release.stores[0].host: got "ftp://web1"'
    ],
    [
      '  stores:\n    - type: directory\n      path: /srv\n      token_env: GITHUB_TOKEN\n',
      8,
      'release.stores[0].token_env: got "GITHUB_TOKEN" (not a setting of a directory store); expected the settings of a directory store: type, path, host'
    ],
    [
      '  stores:\n    - { type: github-release, repository: weave }\n',
      6,
      'release.stores[0].repository: got "weave"; expected a GitHub repository as owner/name'
    ],
    [
      '  stores:\n    - { type: github-release, token_env: gh-token }\n',
      6,
      'release.stores[0].token_env: got "gh-token"; expected the name of the environment variable'
    ],
    [
      '  stores:\n    - { type: actions-artifact, retention_days: 91 }\n',
      6,
      'release.stores[0].retention_days: got 91; expected a whole number of days from 1 to 90'
    ],
    [
      '  stores:\n    - { type: actions-artifact, name: "a/b" }\n',
      6,
      'release.stores[0].name: got "a/b"; expected an artifact name'
    ],
    [
      '  stores: /srv/releases\n',
      5,
      'release.stores: got "/srv/releases"; expected a list of stores'
    ],
    [
      '  wheelhouse: { find_links: wheels }\n',
      5,
      'release.wheelhouse.find_links: got "wheels"; expected a list of directory paths'
    ],
    [
      '  wheelhouse: { index_url_env: "https://pypi.org/simple" }\n',
      5,
      'release.wheelhouse.index_url_env: got "https://pypi.org/simple"; expected the name of the environment variable'
    ]
  ])('rejects release setting %j at the line of the bad node', (release, line, expected) => {
    const error = configErrorOf(() => parseConfig(withRelease(release), 's.yml'))
    expect(error.line).toBe(line)
    expect(error.message).toMatch(new RegExp(`^s\\.yml:${line}:\\d+: `))
    expect(error.message).toContain(expected)
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('reports an unknown key of a store and of release: with a did-you-mean', () => {
    const error = configErrorOf(() =>
      parseConfig(
        withRelease('  tag_prefx: v\n  stores:\n    - { type: directory, pth: /x }\n'),
        's.yml'
      )
    )
    const lines = error.message.split('\n')
    expect(lines[0]).toMatch(
      /^s\.yml:5:3: release: unknown key 'tag_prefx' \(did you mean tag_prefix\?\); expected one of tag_prefix, /
    )
    expect(lines.slice(1)).toEqual([
      's.yml:7:7: release.stores[0].path: missing; expected a directory path: absolute on an SSH host; on this machine also relative to the config file or starting with ~/',
      expect.stringMatching(
        /^s\.yml:7:26: release\.stores\[0\]: unknown key 'pth' \(did you mean path\?\)/
      )
    ])
  })

  it('rejects a bad site store at its line', () => {
    const error = configErrorOf(() =>
      parseConfig(oneSite('    store: { type: github-release, path: /srv }\n'), 's.yml')
    )
    expect(error.message).toBe(
      's.yml:8:42: sites.v1.store.path: got "/srv" (not a setting of a github-release store); expected the settings of a github-release store: type, repository, token_env'
    )
  })
})
