/**
 * App entry points (`app.wsgi`: module:attribute and module:factory(literals)) and the
 * application's environment (`app.env`, `sites.<n>.env`): what the loader accepts and refuses,
 * and what is rendered from them (the WSGI script's import, env.json, DATABASE_URL).
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { renderWsgiScript } from '../../src/commands/apache.js'
import { databaseUrl, envFileText, parseEnvFile, renderAppEnv } from '../../src/config/app-env.js'
import { parseConfig } from '../../src/config/load-config.js'
import { parseWsgiEntry, pythonImportLines } from '../../src/config/wsgi-entry.js'
import type { Command } from '../../src/commands/command.js'
import { argvStartsWith, RecordingExecutor } from '../../src/hosts/recording-executor.js'
import { secretEnvThroughStdin } from '../../src/hosts/ssh-executor.js'
import { runAfterInstallHooks } from '../../src/sites/hooks.js'
import { ConfigError, SitecycleError } from '../../src/util/errors.js'
import { StreamReporter } from '../../src/util/reporter.js'

function withWsgi(wsgi: string, app = '', site = ''): string {
  return `app:\n  package: sample\n  wsgi: ${wsgi}\n${app}sites:\n  v1:\n    root: /srv/s/v1\n    url: http://127.0.0.1:8080\n${site}`
}

function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, 'c.yml')
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('app.wsgi forms', () => {
  test.each([
    ['sample.wsgi:application', { module: 'sample.wsgi', attribute: 'application' }],
    [
      'myapp:create_app()',
      { module: 'myapp', attribute: 'create_app', call: { args: [], kwargs: [] } }
    ],
    [
      `"myapp:create_app('production')"`,
      {
        module: 'myapp',
        attribute: 'create_app',
        call: { args: [{ kind: 'str', value: 'production' }], kwargs: [] }
      }
    ],
    [
      '\'pkg.app:make("a,b=c", -1.5e3, debug=False, workers=2, extra=None)\'',
      {
        module: 'pkg.app',
        attribute: 'make',
        call: {
          args: [
            { kind: 'str', value: 'a,b=c' },
            { kind: 'number', text: '-1.5e3' }
          ],
          kwargs: [
            ['debug', { kind: 'constant', text: 'False' }],
            ['workers', { kind: 'number', text: '2' }],
            ['extra', { kind: 'constant', text: 'None' }]
          ]
        }
      }
    ]
  ])('%s is accepted and parsed', (written, entry) => {
    const config = parseConfig(withWsgi(written), 'c.yml')
    expect(parseWsgiEntry(config.app.wsgi)).toEqual(entry)
  })

  test.each([
    ['sample.wsgi', 'not module:attribute or module:factory(...)'],
    ['"myapp:create_app(os.environ)"', 'os.environ is not a Python literal'],
    [`"myapp:create_app(__import__('os').system('id'))"`, '__import__( is not a Python literal'],
    ['"myapp:create_app(f\'{x}\')"', 'f is not a Python literal'],
    ['"myapp:create_app(x)"', 'x is not a Python literal'],
    ['"myapp:create_app(debug=True, 1)"', 'a positional argument follows a keyword argument'],
    ['"myapp:create_app(a=1, a=2)"', 'the argument a is given twice'],
    ['"myapp:create_app(1 2)"', 'arguments must be separated by commas'],
    ['"myapp:create_app(\'open)"', 'is not closed'],
    ['"myapp:create_app(\'a\\\\x41\')"', 'the escape \\x is not one of'],
    ['"myapp:create_app(007)"', '007 is not a Python literal'],
    ['"myapp:create_app(class=1)"', 'the argument name class is a Python keyword'],
    ['my-app:application', 'the module name part "my-app" is not a Python identifier'],
    ['myapp:import', 'the attribute import is a Python keyword'],
    ['"myapp:create_app()()"', '()( is not a Python literal']
  ])('%s is refused, naming the key, the reason and the form', (written, reason) => {
    const message = errorOf(withWsgi(written))
    expect(message).toMatch(/^c\.yml:3:9: app\.wsgi: got /)
    expect(message).toContain(reason)
    expect(message).toContain(
      'expected a WSGI entry point module.path:attribute, or module.path:factory(...) called with Python literals'
    )
  })

  test('the import is rebuilt from the parsed literals, not copied from the config', () => {
    const entry = parseWsgiEntry(`pkg.app:make('it\\'s "q"\\n', +2, debug=False)`)
    expect(pythonImportLines(entry)).toEqual([
      '    from pkg.app import make as _entry',
      `    return _entry("it's \\"q\\"\\n", +2, debug=False)`
    ])
    expect(pythonImportLines(parseWsgiEntry('a.b:app'))).toEqual([
      '    from a.b import app as _entry',
      '    return _entry'
    ])
  })
})

describe('env', () => {
  const db =
    '    database: { engine: postgres, name: app_v1, host: /var/run/postgresql, user: app, password_env: DB_PASSWORD }\n'

  test('app.env applies to every site; a site overrides it per key; each entry knows its key', () => {
    const config = parseConfig(
      withWsgi(
        'project.wsgi:application',
        '  env:\n    DJANGO_SETTINGS_MODULE: project.settings\n    MODE: shared\n',
        `    env:\n      MODE: "{{ secret.MODE_SECRET }}"\n      DATABASE_URL: "{{ database.url }}"\n${db}  v2:\n    root: /srv/s/v2\n    url: http://127.0.0.1:8081\n`
      ),
      'c.yml'
    )
    expect(config.sites.v1.env).toEqual([
      {
        name: 'DJANGO_SETTINGS_MODULE',
        value: 'project.settings',
        key: 'app.env.DJANGO_SETTINGS_MODULE'
      },
      { name: 'MODE', value: '{{ secret.MODE_SECRET }}', key: 'sites.v1.env.MODE' },
      { name: 'DATABASE_URL', value: '{{ database.url }}', key: 'sites.v1.env.DATABASE_URL' }
    ])
    expect(config.sites.v2.env).toEqual([
      {
        name: 'DJANGO_SETTINGS_MODULE',
        value: 'project.settings',
        key: 'app.env.DJANGO_SETTINGS_MODULE'
      },
      { name: 'MODE', value: 'shared', key: 'app.env.MODE' }
    ])
    expect(parseConfig(withWsgi('a:b'), 'c.yml').sites.v1.env).toBeUndefined()
  })

  test.each([
    [
      '    env:\n      1BAD: x\n',
      'sites.v1.env.1BAD: got "x" ("1BAD": not a valid environment variable name)'
    ],
    ['    env:\n      BAD-NAME: x\n', '("BAD-NAME": not a valid environment variable name)'],
    ['    env:\n      SITECYCLE_SLOT: x\n', 'sitecycle sets the SITECYCLE_ variables'],
    ['    env:\n      A: "two\\nlines"\n', 'sites.v1.env.A: got "two\\nlines" (holds a newline)'],
    ['    env:\n      A: "bell\\u0007"\n', '(holds a control character or line separator)'],
    ['    env:\n      A: 5\n', 'sites.v1.env.A: got 5; expected a one-line string'],
    ['    env:\n      A: "{{ env.HOME }}"\n', '({{ env.HOME }} is not understood)'],
    ['    env:\n      A: "{{ secret.X }"\n', '({{ is not a placeholder)'],
    [
      '    env: [A]\n',
      'sites.v1.env: got a list; expected a mapping of environment variable names'
    ],
    [
      '    env:\n      DATABASE_URL: "{{ database.url }}"\n',
      'sites.v1.env.DATABASE_URL: {{ database.url }} is used for site v1, which has no database'
    ]
  ])('a bad env is refused at load, naming the key (case %#)', (site, expected) => {
    expect(errorOf(withWsgi('a:b', '', site))).toContain(expected)
  })

  test('app.env is checked too, and {{ database.url }} in it needs each site to have a database', () => {
    expect(errorOf(withWsgi('a:b', '  env:\n    U: "{{ database.url }}"\n'))).toContain(
      'app.env.U: {{ database.url }} is used for site v1, which has no database'
    )
    expect(errorOf(withWsgi('a:b', '  env:\n    "X Y": z\n'))).toContain(
      'app.env.X Y: got "z" ("X Y": not a valid environment variable name)'
    )
  })

  test('rendering: secrets from the environment, masked; a missing or multi-line secret is named, never shown', () => {
    const entries = [
      { name: 'MODE', value: 'prod', key: 'app.env.MODE' },
      { name: 'TOKEN', value: 'tok-{{ secret.APP_TOKEN }}', key: 'sites.v1.env.TOKEN' }
    ]
    const r = renderAppEnv(entries, { name: 'v1' }, 'c.yml', { APP_TOKEN: 's3cret' })
    expect(r).toEqual({
      variables: { MODE: 'prod', TOKEN: 'tok-s3cret' },
      secrets: ['s3cret', 'tok-s3cret'],
      secretNames: ['TOKEN']
    })
    expect(parseEnvFile(envFileText(r))).toEqual({
      variables: { MODE: 'prod', TOKEN: 'tok-s3cret' },
      secret: ['TOKEN']
    })
    expect(() => renderAppEnv(entries, { name: 'v1' }, 'c.yml', {})).toThrow(
      'c.yml: sites.v1.env.TOKEN: secret APP_TOKEN is not set; set it in the environment of the deploy'
    )
    let err: unknown
    try {
      renderAppEnv(entries, { name: 'v1' }, 'c.yml', { APP_TOKEN: 'line1\nline2-hidden' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(SitecycleError)
    expect((err as Error).message).toContain('sites.v1.env.TOKEN: secret APP_TOKEN holds a newline')
    expect((err as Error).message).not.toContain('hidden')
  })

  test('{{ database.url }} for postgres, mysql and sqlite; the password is a secret', () => {
    const entries = [
      { name: 'DATABASE_URL', value: '{{ database.url }}', key: 'app.env.DATABASE_URL' }
    ]
    const pg = {
      engine: 'postgres' as const,
      name: 'app_v1',
      host: '/var/run/postgresql',
      user: 'app',
      passwordEnv: 'DB_PASSWORD'
    }
    const r = renderAppEnv(entries, { name: 'v1', database: pg }, 'c.yml', {
      DB_PASSWORD: 'p@ss:w/rd'
    })
    expect(r.variables.DATABASE_URL).toBe(
      'postgresql://app:p%40ss%3Aw%2Frd@%2Fvar%2Frun%2Fpostgresql/app_v1'
    )
    expect(r.secrets).toEqual(['p@ss:w/rd', r.variables.DATABASE_URL])
    expect(() => renderAppEnv(entries, { name: 'v1', database: pg }, 'c.yml', {})).toThrow(
      'needs the password in DB_PASSWORD (sites.v1.database.password_env), which is not set'
    )
    expect(databaseUrl({ engine: 'postgres', name: 'app' })).toBe('postgresql:///app')
    expect(
      databaseUrl({
        engine: 'postgres',
        name: 'app',
        host: 'db.example.org',
        port: 5433,
        user: 'u'
      })
    ).toBe('postgresql://u@db.example.org:5433/app')
    expect(databaseUrl({ engine: 'mysql', name: 'app', user: 'u' }, 'pw')).toBe(
      'mysql://u:pw@localhost/app'
    )
    expect(databaseUrl({ engine: 'sqlite', name: '/srv/app/v1/shared/db.sqlite3' })).toBe(
      'sqlite:////srv/app/v1/shared/db.sqlite3'
    )
    const plain = renderAppEnv(
      entries,
      { name: 'v1', database: { engine: 'sqlite', name: '/d/x.db' } },
      'c.yml',
      {}
    )
    expect(plain).toEqual({
      variables: { DATABASE_URL: 'sqlite:////d/x.db' },
      secrets: [],
      secretNames: []
    })
  })
})

describe('the WSGI script', () => {
  const site = parseConfig(withWsgi('a:b'), 'c.yml').sites.v1
  const factory = `pkg.app:make('it\\'s', debug=False, workers=2)`
  const script = renderWsgiScript(site, factory, '/srv/s/v1/slots/blue', 'blue')

  test('both import places call one function that loads env.json, then imports and calls the factory', () => {
    expect(script).toContain(
      [
        '        with open(os.path.join(_release, "env.json"), encoding=\'utf-8\') as f:',
        "            os.environ.update(json.load(f)['variables'])",
        '    except FileNotFoundError:',
        '        pass',
        '    from pkg.app import make as _entry',
        `    return _entry("it's", debug=False, workers=2)`
      ].join('\n')
    )
    expect(script).toContain(
      'if _installed():\n    application = _serving(_import_application())\n'
    )
    expect(script).toContain('                _loaded.append(_serving(_import_application()))')
    expect(script.match(/from pkg\.app import/g)).toHaveLength(1)
    // The environment's values are never in the script: it reads them from the release.
    expect(script).not.toMatch(/secret/i)
  })

  test('it is valid Python for every accepted form', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sitecycle-wsgi-compile-'))
    try {
      for (const [i, entry] of [
        'a.b:application',
        'a:create_app()',
        `a:f("\u2028\u0085\0", 'x\\ty', -0.5, 1e-3, None, True, k=1,)`
      ].entries()) {
        const file = join(dir, `s${i}.wsgi`)
        await writeFile(file, renderWsgiScript(site, entry, '/srv/s/v1/slots/blue', 'blue'))
        execFileSync('/usr/bin/python3', ['-m', 'py_compile', file])
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('hooks in a live release (restore, sync)', () => {
  test("get the release's env.json, its secrets masked and kept off a remote command line", async () => {
    const config = parseConfig(
      withWsgi('a:b', '', '    hooks: { after_install: ["python -m app.manage migrate"] }\n'),
      '/repo/c.yml'
    )
    const site = config.sites.v1
    const exec = new RecordingExecutor()
    const rendered = renderAppEnv(
      [
        { name: 'MODE', value: 'prod', key: 'app.env.MODE' },
        { name: 'TOKEN', value: '{{ secret.T }}', key: 'app.env.TOKEN' }
      ],
      site,
      'c.yml',
      { T: 'hook-secret-42' }
    )
    exec.files.set('/srv/s/v1/releases/1.0.0/env.json', envFileText(rendered))
    // sitecycle runs as root: the hook runs as the site's user, through setpriv.
    exec
      .respond(argvStartsWith('id', '-u', '--', 'www-data'), { stdout: '33\n' })
      .respond(c => c.argv.join(' ') === 'id -u', { stdout: '0\n' })
    const lines: string[] = []
    const reporter = new StreamReporter(l => lines.push(l))
    expect(await runAfterInstallHooks(exec, config, site, { version: '1.0.0' }, reporter)).toBe(1)
    const hook = hookCall(exec)
    expect(hook.argv).toEqual([
      'setpriv',
      '--reuid=www-data',
      '--regid=www-data',
      '--init-groups',
      '--',
      '/srv/s/v1/releases/1.0.0/bin/python',
      '-m',
      'app.manage',
      'migrate'
    ])
    expect(hook.cwd).toBe('/srv/s/v1/releases/1.0.0')
    expect(hook.env).toMatchObject({
      MODE: 'prod',
      TOKEN: 'hook-secret-42',
      VIRTUAL_ENV: '/srv/s/v1/releases/1.0.0',
      HOME: '/srv/s/v1/releases/1.0.0'
    })
    expect(lines.join('\n')).not.toMatch(/not as the site's user/)
    expect(hook.redact).toEqual(['hook-secret-42'])
    // Over SSH a redacted variable goes on standard input, not into the visible command line.
    expect(secretEnvThroughStdin(hook, undefined).line).not.toContain('hook-secret-42')
    expect(reporter.filter.apply('x hook-secret-42 y')).toBe('x *** y')
  })

  test('a release without env.json: the hooks run as before', async () => {
    const config = parseConfig(
      withWsgi('a:b', '', '    hooks: { after_install: ["python -m app.manage migrate"] }\n'),
      '/repo/c.yml'
    )
    const exec = new RecordingExecutor()
    await runAfterInstallHooks(
      exec,
      config,
      config.sites.v1,
      { version: '1.0.0' },
      new StreamReporter(() => undefined)
    )
    const hook = hookCall(exec)
    expect(Object.keys(hook.env!).sort()).toEqual(
      [
        'HOME',
        'PATH',
        'SITECYCLE_CONFIG',
        'SITECYCLE_RELEASE_DIR',
        'SITECYCLE_ROOT',
        'SITECYCLE_SHARED',
        'SITECYCLE_SITE',
        'SITECYCLE_VERSION',
        'VIRTUAL_ENV'
      ].sort()
    )
    expect(hook.redact).toBeUndefined()
  })

  test("a host user that is neither root nor the site's user runs the hooks itself, warned", async () => {
    const config = parseConfig(
      withWsgi('a:b', '', '    hooks: { after_install: ["python -m app.manage migrate"] }\n'),
      '/repo/c.yml'
    )
    const exec = new RecordingExecutor('ssh://deploy@web1:22')
      .respond(argvStartsWith('id', '-u', '--', 'www-data'), { stdout: '33\n' })
      .respond(c => c.argv.join(' ') === 'id -u', { stdout: '1000\n' })
    const lines: string[] = []
    await runAfterInstallHooks(
      exec,
      config,
      config.sites.v1,
      { version: '1.0.0' },
      new StreamReporter(l => lines.push(l))
    )
    expect(hookCall(exec).argv[0]).toBe('/srv/s/v1/releases/1.0.0/bin/python')
    expect(lines.join('\n')).toContain(
      "the hooks of site v1 run as uid 1000 on ssh://deploy@web1:22, not as the site's user www-data (only root can switch): run sitecycle as root or as www-data"
    )
  })
})

/** The hook's command among the calls (after the `id` look-ups of the site's user). */
function hookCall(exec: RecordingExecutor): Command {
  return exec.calls.find(c => c.type === 'run' && c.argv!.includes('app.manage'))!.command!
}
