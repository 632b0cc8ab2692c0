/**
 * The schema of sitecycle.yml as written (snake_case keys), with its static defaults.
 * Every schema carries the expected form as its error message, so a problem reads
 * "got <value>; expected <form>". Defaults that depend on other fields (apache listen and
 * server_name from the url) and local paths (resolved against the config file) are applied
 * by load-config.ts when it builds the model.
 */
import { posix } from 'node:path'
import { isIP } from 'node:net'
import { z } from '../util/zod.js'
import { HOST_FORM, tryParseHost } from './host-spec.js'
import type { HostSpec } from './model.js'
import { tryParseWsgiEntry, WSGI_ENTRY_FORM } from './wsgi-entry.js'
import { ENV_NAME_FORM, ENV_VALUE_FORM, envNameProblem, envValueProblem } from './app-env.js'
import {
  STATIC_FOLDER_FORM,
  STATIC_FORM,
  STATIC_PREFIX_FORM,
  staticFolder,
  staticPrefixProblem
} from './static-files.js'

/** Site names end up in Apache process-group names and paths. */
export const SITE_NAME = /^[a-z0-9][a-z0-9_-]{0,30}$/
export const SITE_NAME_FORM =
  'a site name of 1 to 31 lowercase letters, digits, _ or -, starting with a letter or digit'

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/
// PEP 508 names; PEP 503 normalises any of them.
const DISTRIBUTION_NAME = /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/
// Paths and names written into Apache config: no whitespace, quotes, backslashes or control characters.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is excluded
const PLAIN = /^[^\s"'\\\x00-\x1f\x7f]+$/

/**
 * The health path sitecycle's WSGI script answers itself, once the application has imported,
 * with the release's version (and the answer of the application's own health path, if one is
 * set): the only path that passes a freeze and, from the host itself, a preview's basic auth.
 */
export const HEALTH_URI = '/.sitecycle/health'

/** Defaults of the settings that do not depend on other settings. */
export const DEFAULTS = {
  python: '/usr/bin/python3',
  role: 'production',
  host: 'local',
  healthPath: HEALTH_URI,
  expectVersion: true,
  healthTimeout: 30,
  configEnv: 'SITECYCLE_CONFIG',
  keepReleases: 5,
  minFreeMb: 200,
  confDir: '/etc/apache2/sites-available',
  enableDir: '/etc/apache2/sites-enabled',
  ctl: ['apache2ctl'],
  user: 'www-data',
  group: 'www-data',
  processes: 1,
  threads: 15,
  shutdownTimeout: 30,
  mode: 'blue-green'
} as const

/** Defaults of the `release:` settings. */
export const RELEASE_DEFAULTS = {
  tagPrefix: 'v',
  versionScheme: 'pep440',
  /** Build isolation: `auto` builds without isolation when the build Python has the backend. */
  isolation: 'auto',
  /** Folder of built releases, under the source folder. */
  outDir: 'dist-releases',
  keepVersions: 20
} as const

/** A custom issue: `form` is the expected form, `reason` (optional) says what is wrong with the value. */
function problem(
  ctx: z.RefinementCtx,
  value: unknown,
  form: string,
  reason?: string
): typeof z.NEVER {
  ctx.issues.push({
    code: 'custom',
    message: form,
    input: value,
    params: reason ? { reason } : undefined
  })
  return z.NEVER
}

function text(form: string) {
  return z.string({ error: form }).min(1, { error: form })
}

function matching(pattern: RegExp, form: string) {
  return z.string({ error: form }).regex(pattern, { error: form })
}

function integer(min: number, form = `an integer of at least ${min}`) {
  return z.int({ error: form }).min(min, { error: form })
}

function mapping<T extends z.ZodRawShape>(shape: T, form: string) {
  return z.strictObject(shape, { error: form })
}

/** An absolute path on a host: normalised, without '..' and without a trailing slash. */
function remotePath(form: string) {
  return z.string({ error: form }).transform((value, ctx) => normaliseRemotePath(value, ctx, form))
}

function normaliseRemotePath(value: string, ctx: z.RefinementCtx, form: string): string {
  if (!value.startsWith('/')) return problem(ctx, value, form, 'not an absolute path')
  if (value.split('/').includes('..')) return problem(ctx, value, form, "contains '..'")
  if (!PLAIN.test(value))
    return problem(ctx, value, form, 'contains whitespace, quotes or control characters')
  const normalised = posix.normalize(value).replace(/\/+$/, '')
  if (normalised === '') return problem(ctx, value, form, 'the root directory itself')
  return normalised
}

/** A path on this machine; load-config.ts resolves it against the config file's directory. */
function localPath(
  form = 'a file path (absolute, relative to the config file, or starting with ~/)'
) {
  return z
    .string({ error: form })
    .refine(p => p.length > 0 && !p.includes('\0') && !/^~[^/]/.test(p), { error: form })
}

const REPOSITORY_PATH_FORM =
  "a file path relative to the config file's folder (the repository), without '..', such as deploy/app.ini.tmpl"

/**
 * A file of the repository: relative to the config file's folder and inside it (no absolute path,
 * no ~, no '..'), so that the file read is one the repository holds (symlinks are checked when it
 * is read: sites/render-config.ts readTemplate).
 */
function repositoryPath(form = REPOSITORY_PATH_FORM) {
  return z.string({ error: form }).transform((value, ctx) => {
    if (value === '' || value.includes('\0')) return problem(ctx, value, form)
    if (value.startsWith('/')) return problem(ctx, value, form, 'an absolute path')
    if (value.startsWith('~')) return problem(ctx, value, form, 'starts with ~')
    if (value.split(/[\\/]/).includes('..')) return problem(ctx, value, form, "contains '..'")
    return value
  })
}

const URL_FORM =
  'an http:// or https:// URL such as https://example.org, without user, password, query or fragment'

/** The site's public URL, without a trailing slash so that paths can be appended. */
const siteUrl = z.string({ error: URL_FORM }).transform((value, ctx) => {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return problem(ctx, value, URL_FORM, 'not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return problem(ctx, value, URL_FORM, `${url.protocol} URL`)
  if (url.username || url.password) return problem(ctx, value, URL_FORM, 'has a user or password')
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    return problem(ctx, value, URL_FORM, 'has a query or fragment')
  }
  return url.href.replace(/\/+$/, '')
})

const LISTEN_FORM = 'an address and port such as 127.0.0.1:8080, [::1]:8080 or *:80'

/** Whether `value` is an Apache `address:port` where the address is `*` or an IP literal. */
export function isListenAddress(value: string): boolean {
  const m = /^(\*|[0-9.]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/.exec(value)
  if (!m) return false
  const [, address, port] = m
  const ipOk = address === '*' || isIP(address.replace(/^\[|\]$/g, '')) !== 0
  return ipOk && Number(port) >= 1 && Number(port) <= 65535
}

const ENABLE_DIR_FORM =
  'an absolute directory path such as /etc/apache2/sites-enabled, or null for no enabling link'

const CTL_FORM = 'a command such as apache2ctl or "sudo apache2ctl", as a string or a list of words'

/** apachectl as argv: a string split on whitespace, or a list of words. */
const ctlCommand = z.unknown().transform((value, ctx): string[] => {
  const words =
    typeof value === 'string'
      ? value.split(/\s+/).filter(w => w !== '')
      : Array.isArray(value) && value.every(w => typeof w === 'string' && w !== '')
        ? (value as string[])
        : undefined
  if (!words || words.length === 0) return problem(ctx, value, CTL_FORM)
  return words
})

const hostSpec = z
  .string({ error: HOST_FORM })
  .default(DEFAULTS.host)
  .transform((value, ctx) => {
    const host = tryParseHost(value)
    return 'problem' in host ? problem(ctx, value, HOST_FORM, host.problem) : host
  })

/** A problem with one entry of a mapping (`key`), such as a name or value of `env:`. */
function entryProblem(
  ctx: z.RefinementCtx,
  key: string,
  input: unknown,
  form: string,
  reason: string
): void {
  ctx.issues.push({ code: 'custom', path: [key], input, message: form, params: { reason } })
}

/** One entry of `hosts:`; unlike `host:` it has no default. */
const hostEntry = z.string({ error: HOST_FORM }).transform((value, ctx) => {
  const host = tryParseHost(value)
  return 'problem' in host ? problem(ctx, value, HOST_FORM, host.problem) : host
})

const HOSTS_FORM =
  'a list of hosts such as [ssh://deploy@web1.example.org, ssh://deploy@web2.example.org]'

const ENV_FORM =
  'a mapping of environment variable names to one-line strings, such as { DJANGO_SETTINGS_MODULE: mysite.settings }'

/** `app.env` and `sites.<n>.env`: names and values checked, placeholders known (see app-env.ts). */
const envSchema = z
  .record(z.string(), z.string({ error: ENV_VALUE_FORM }), { error: ENV_FORM })
  .superRefine((env, ctx) => {
    for (const [name, value] of Object.entries(env)) {
      const bad = envNameProblem(name)
      if (bad) entryProblem(ctx, name, value, ENV_NAME_FORM, `${JSON.stringify(name)}: ${bad}`)
      const badValue = envValueProblem(value)
      if (badValue) entryProblem(ctx, name, value, ENV_VALUE_FORM, badValue)
    }
  })

/** `app.static` and `sites.<n>.static`: URL prefixes and release folders checked (static-files.ts). */
const staticSchema = z
  .record(z.string(), z.string({ error: STATIC_FOLDER_FORM }), { error: STATIC_FORM })
  .transform((mapping, ctx) => {
    const out: Record<string, string> = {}
    for (const [prefix, folder] of Object.entries(mapping)) {
      const bad = staticPrefixProblem(prefix)
      if (bad)
        entryProblem(ctx, prefix, prefix, STATIC_PREFIX_FORM, `${JSON.stringify(prefix)}: ${bad}`)
      const f = staticFolder(folder)
      if ('problem' in f) entryProblem(ctx, prefix, folder, STATIC_FOLDER_FORM, f.problem)
      else out[prefix] = f.folder
    }
    return out
  })

const SHARED_PATH_FORM =
  "a path relative to the site's shared/ folder, such as media or instance (no '..', no absolute path, no part starting with a dot, not logs)"
const SHARED_MODE_FORM = "an octal mode written as a string, such as '0770' or '0640'"
const SHARED_URL_FORM =
  'a URL path prefix such as /media/ (letters, digits and / . _ ~ - only; not /, not under /.sitecycle/)'
const SHARED_LINK_FORM =
  "a path inside each release (its virtualenv) where a link to the shared entry is made, such as var/myapp-instance (no '..', no absolute path)"
const SHARED_NAME_FORM =
  'a name of letters, digits and _ (used as {{ shared.NAME }} in env values), such as media'
const SHARED_FORM =
  'a path such as media, or a mapping with path and optionally kind (folder or file), mode, url, link, name and snapshot'

/** The name `{{ shared.NAME }}` finds an entry by, when it has no `name:`: its path with every other character `_`. */
export function sharedEntryName(path: string): string {
  return path.replace(/[^A-Za-z0-9_]/g, '_')
}

/** A relative path without '..', '.', empty parts, or (with `hidden`) parts starting with a dot: why not, or undefined. */
function relativePathProblem(value: string, hidden: boolean): string | undefined {
  if (value === '') return 'empty'
  if (value.startsWith('/')) return 'an absolute path'
  if (!PLAIN.test(value)) return 'contains whitespace, quotes or control characters'
  const parts = value.replace(/\/+$/, '').split('/')
  if (parts.includes('..')) return "contains '..'"
  if (parts.some(p => p === '' || p === '.')) return "contains an empty or '.' part"
  if (hidden && parts.some(p => p.startsWith('.'))) return 'a part starts with a dot'
  return undefined
}

/** `shared.<i>.mode`: '0770', '770', or a YAML integer written with octal digits (770). */
const sharedMode = z
  .union([z.string(), z.int()], { error: SHARED_MODE_FORM })
  .transform((value, ctx) => {
    const text = String(value)
    if (!/^0?[0-7]{3}$/.test(text)) return problem(ctx, value, SHARED_MODE_FORM)
    return parseInt(text, 8)
  })

/** A shared entry's path, as written alone or as `path:`. */
function sharedPath(value: string, ctx: z.RefinementCtx): string {
  const bad = relativePathProblem(value, true)
  if (bad) return problem(ctx, value, SHARED_PATH_FORM, bad)
  const normalised = value.replace(/\/+$/, '')
  if (normalised.split('/')[0] === 'logs')
    return problem(ctx, value, SHARED_PATH_FORM, 'shared/logs is the Apache logs folder')
  return normalised
}

/** One entry of `app.shared` / `sites.<n>.shared`: a path under `<root>/shared/` that outlives releases. */
const sharedEntryMapping = mapping(
  {
    path: z.string({ error: SHARED_PATH_FORM }).transform(sharedPath),
    kind: z.enum(['folder', 'file'], { error: 'folder or file' }).default('folder'),
    mode: sharedMode.optional(),
    url: z
      .string({ error: SHARED_URL_FORM })
      .transform((value, ctx) => {
        const prefix = value.endsWith('/') ? value : `${value}/`
        if (!/^\/[A-Za-z0-9/._~-]*$/.test(prefix))
          return problem(ctx, value, SHARED_URL_FORM, 'not a URL path of those characters')
        if (prefix === '/') return problem(ctx, value, SHARED_URL_FORM, 'the whole site')
        const parts = prefix.slice(1, -1).split('/')
        if (parts.some(p => p === '' || p === '.' || p === '..'))
          return problem(ctx, value, SHARED_URL_FORM, "an empty, '.' or '..' part")
        if (parts[0] === '.sitecycle')
          return problem(ctx, value, SHARED_URL_FORM, "sitecycle's own /.sitecycle/")
        return prefix
      })
      .optional(),
    link: z
      .string({ error: SHARED_LINK_FORM })
      .transform((value, ctx) => {
        const bad = relativePathProblem(value, false)
        return bad ? problem(ctx, value, SHARED_LINK_FORM, bad) : value.replace(/\/+$/, '')
      })
      .optional(),
    name: matching(/^[A-Za-z_][A-Za-z0-9_]*$/, SHARED_NAME_FORM).optional(),
    snapshot: z.boolean({ error: 'true or false' }).optional()
  },
  SHARED_FORM
).superRefine((entry, ctx) => {
  if (entry.kind === 'file' && entry.url !== undefined)
    entryProblem(
      ctx,
      'url',
      entry.url,
      'no url for a file entry (kind: folder to serve a folder)',
      'Apache serves folders of shared entries, not files'
    )
})

/**
 * One entry: a path alone (a folder with the defaults), or the mapping. A problem of the short
 * form is reported at the entry itself, one of the mapping at its key.
 */
const sharedEntry = z.unknown().transform((value, ctx): z.output<typeof sharedEntryMapping> => {
  if (typeof value === 'string') return { path: sharedPath(value, ctx), kind: 'folder' }
  const parsed = sharedEntryMapping.safeParse(value)
  if (parsed.success) return parsed.data
  for (const issue of parsed.error.issues) ctx.issues.push(issue as (typeof ctx.issues)[number])
  return z.NEVER
})

/** `app.shared` and `sites.<n>.shared`. */
const sharedSchema = z.array(sharedEntry, {
  error: 'a list of shared folders and files, such as [instance, { path: media, url: /media/ }]'
})

export const appSchema = mapping(
  {
    package: matching(
      DISTRIBUTION_NAME,
      'a Python distribution name such as sitecycle-sample (letters, digits, ., _ and -)'
    ),
    wsgi: z.string({ error: WSGI_ENTRY_FORM }).transform((value, ctx) => {
      const entry = tryParseWsgiEntry(value)
      return 'problem' in entry ? problem(ctx, value, WSGI_ENTRY_FORM, entry.problem) : value
    }),
    python: remotePath(
      'an absolute path to a Python interpreter, such as /usr/bin/python3'
    ).default(DEFAULTS.python),
    tests: text('a command line that runs the tests, such as python -m pytest -q').optional(),
    env: envSchema.optional(),
    static: staticSchema.optional(),
    shared: sharedSchema.optional()
  },
  'a mapping with package, wsgi and optionally python, tests, env, static and shared'
)

export const sshSchema = mapping(
  { key_file: localPath().optional(), known_hosts: localPath().optional() },
  'a mapping with key_file and known_hosts'
)

export const healthSchema = mapping(
  {
    path: matching(/^\/[^\s]*$/, 'a URL path starting with /, such as /__version__').default(
      DEFAULTS.healthPath
    ),
    expect_version: z.boolean({ error: 'true or false' }).default(DEFAULTS.expectVersion),
    timeout: z
      .number({ error: 'a positive number of seconds' })
      .positive({ error: 'a positive number of seconds' })
      .default(DEFAULTS.healthTimeout)
  },
  'a mapping with path, expect_version and timeout'
)

export const apacheSchema = mapping(
  {
    listen: z
      .string({ error: LISTEN_FORM })
      .refine(isListenAddress, { error: LISTEN_FORM })
      .optional(),
    server_name: matching(PLAIN, 'a host name such as example.org').optional(),
    conf_dir: remotePath('an absolute directory path such as /etc/apache2/sites-available').default(
      DEFAULTS.confDir
    ),
    enable_dir: z
      .string({ error: ENABLE_DIR_FORM })
      .nullable()
      .transform((value, ctx) =>
        value === null || value === '' ? null : normaliseRemotePath(value, ctx, ENABLE_DIR_FORM)
      )
      .default(DEFAULTS.enableDir),
    ctl: ctlCommand.default([...DEFAULTS.ctl]),
    user: matching(ACCOUNT_NAME, 'a user name such as www-data').default(DEFAULTS.user),
    group: matching(ACCOUNT_NAME, 'a group name such as www-data').default(DEFAULTS.group),
    processes: integer(1).default(DEFAULTS.processes),
    threads: integer(1).default(DEFAULTS.threads),
    shutdown_timeout: integer(1, 'a whole number of seconds, at least 1').default(
      DEFAULTS.shutdownTimeout
    ),
    mode: z.enum(['blue-green', 'single'], { error: 'blue-green or single' }).default(DEFAULTS.mode)
  },
  'a mapping of Apache settings (listen, server_name, conf_dir, enable_dir, ctl, user, group, processes, threads, shutdown_timeout, mode)'
)

const STORE_TYPES = ['directory', 'github-release', 'actions-artifact'] as const
type StoreType = (typeof STORE_TYPES)[number]

/** The settings each store type takes (besides `type`). */
export const STORE_SETTINGS: Record<StoreType, readonly string[]> = {
  directory: ['path', 'host'],
  'github-release': ['repository', 'token_env'],
  'actions-artifact': ['name', 'retention_days']
}

const STORE_PATH_FORM =
  'a directory path: absolute on an SSH host; on this machine also relative to the config file or starting with ~/'
const REPOSITORY_FORM = 'a GitHub repository as owner/name, such as octo-org/weave-server'
const ARTIFACT_NAME_FORM =
  'an artifact name such as release-{version} (no " : < > | * ? \\ / or line breaks); {version} is replaced'

/** A store as written, after its per-type checks: still snake_case, paths not yet resolved. */
export type RawStore =
  | { type: 'directory'; path: string; host: HostSpec }
  | { type: 'github-release'; repository?: string; token_env: string }
  | { type: 'actions-artifact'; name: string; retention_days?: number }

/**
 * One release store (`release.stores[]`, `sites.<name>.store`). All settings are one mapping so
 * that an unknown key gets a did-you-mean; a setting of another store type is reported at its
 * line, and a directory store needs a path (absolute when its host is reached over SSH).
 */
export const storeSchema = mapping(
  {
    type: z.enum(STORE_TYPES, { error: 'directory, github-release or actions-artifact' }),
    path: localPath(STORE_PATH_FORM).optional(),
    host: z
      .string({ error: HOST_FORM })
      .transform((value, ctx) => {
        const host = tryParseHost(value)
        return 'problem' in host ? problem(ctx, value, HOST_FORM, host.problem) : host
      })
      .optional(),
    repository: matching(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, REPOSITORY_FORM).optional(),
    token_env: matching(
      ENV_NAME,
      'the name of the environment variable holding the token, such as GITHUB_TOKEN'
    ).optional(),
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is excluded
    name: matching(/^[^"':<>|*?\\/\x00-\x1f\x7f]+$/, ARTIFACT_NAME_FORM).optional(),
    retention_days: integer(1, 'a whole number of days from 1 to 90')
      .max(90, { error: 'a whole number of days from 1 to 90' })
      .optional()
  },
  'a store: a mapping with type (directory, github-release or actions-artifact) and its settings'
)
  .superRefine((store, ctx) => {
    const allowed = STORE_SETTINGS[store.type]
    for (const key of Object.keys(store)) {
      if (key === 'type' || allowed.includes(key)) continue
      ctx.issues.push({
        code: 'custom',
        path: [key],
        input: (store as Record<string, unknown>)[key],
        message: `the settings of a ${store.type} store: type, ${allowed.join(', ')}`,
        params: { reason: `not a setting of a ${store.type} store` }
      })
    }
    if (store.type !== 'directory') return
    if (store.path === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['path'],
        input: undefined,
        message: STORE_PATH_FORM
      })
    } else if (store.host?.kind === 'ssh') {
      const reason = !store.path.startsWith('/')
        ? 'not an absolute path'
        : store.path.split('/').includes('..')
          ? "contains '..'"
          : undefined
      if (reason) {
        ctx.issues.push({
          code: 'custom',
          path: ['path'],
          input: store.path,
          message: `an absolute directory path on ${store.host.hostname}, such as /srv/releases`,
          params: { reason }
        })
      }
    }
  })
  .transform((store): RawStore => {
    switch (store.type) {
      case 'directory':
        return { type: 'directory', path: store.path!, host: store.host ?? { kind: 'local' } }
      case 'github-release':
        return {
          type: 'github-release',
          ...(store.repository !== undefined && { repository: store.repository }),
          token_env: store.token_env ?? 'GITHUB_TOKEN'
        }
      case 'actions-artifact':
        return {
          type: 'actions-artifact',
          name: store.name ?? 'release-{version}',
          ...(store.retention_days !== undefined && { retention_days: store.retention_days })
        }
    }
  })

/** Where pip finds packages for a build or the wheelhouse: local folders and an index URL held in a variable. */
function packageSourceFields() {
  return {
    find_links: z
      .array(
        localPath('a directory path (absolute, relative to the config file, or starting with ~/)'),
        { error: 'a list of directory paths' }
      )
      .default([]),
    index_url_env: matching(
      ENV_NAME,
      'the name of the environment variable holding the index URL, such as PIP_INDEX_URL_SECRET'
    ).optional()
  }
}

const TAG_PREFIX_FORM = "a tag prefix such as v or release/ (letters, digits, . _ - /; '' for none)"

/** How releases are made and where they are published (`release:`). */
export const releaseSchema = mapping(
  {
    tag_prefix: z
      .string({ error: TAG_PREFIX_FORM })
      .refine(
        p =>
          /^[A-Za-z0-9._/-]*$/.test(p) &&
          !/^[-./]/.test(p) &&
          !p.includes('..') &&
          !p.includes('//') &&
          !p.includes('/.'),
        { error: TAG_PREFIX_FORM }
      )
      .default(RELEASE_DEFAULTS.tagPrefix),
    version_scheme: z
      .enum(['pep440', 'semver'], { error: 'pep440 or semver' })
      .default(RELEASE_DEFAULTS.versionScheme),
    source: localPath(
      'a directory path (absolute, relative to the config file, or starting with ~/)'
    ).optional(),
    /** Legacy spelling of `build.isolation` (true: `isolation: false`). */
    no_isolation: z.boolean({ error: 'true or false' }).optional(),
    build: mapping(
      {
        isolation: z
          .union([z.literal('auto'), z.boolean()], { error: 'auto, true or false' })
          .default(RELEASE_DEFAULTS.isolation),
        ...packageSourceFields()
      },
      'a mapping with isolation (auto, true or false), find_links and index_url_env'
    ).optional(),
    out_dir: localPath(
      'a directory path (absolute, relative to the config file, or starting with ~/)'
    ).optional(),
    wheelhouse: mapping(
      {
        requirements: localPath(
          'a requirements or constraints file path, relative to the source directory'
        ).optional(),
        ...packageSourceFields()
      },
      'a mapping with requirements, find_links and index_url_env'
    ).optional(),
    stores: z
      .array(storeSchema, {
        error: 'a list of stores, such as [{ type: directory, path: /srv/releases }]'
      })
      .default([]),
    keep_versions: integer(1).default(RELEASE_DEFAULTS.keepVersions)
  },
  'a mapping of release settings (tag_prefix, version_scheme, source, build, out_dir, wheelhouse, stores, keep_versions)'
)

/** Defaults of `sites.<n>.snapshots` (retention). */
export const SNAPSHOT_DEFAULTS = { keepLast: 3, daily: 7, weekly: 4, monthly: 6 } as const

const DATABASE_ENGINES = ['postgres', 'mysql', 'sqlite'] as const
const DB_NAME_FORM =
  'a database name of 1 to 63 letters, digits, _ or - (postgres, mysql), or an absolute file path (sqlite)'
const SERVER_ONLY = ['host', 'port', 'user', 'password_env', 'admin', 'reader'] as const

/** A site's database (`sites.<n>.database`). sqlite takes only a file path as its name. */
export const databaseSchema = mapping(
  {
    engine: z.enum(DATABASE_ENGINES, { error: 'postgres, mysql or sqlite' }),
    name: text(DB_NAME_FORM),
    host: matching(PLAIN, 'a host name, address or socket directory such as 127.0.0.1').optional(),
    port: integer(1, 'a port number from 1 to 65535')
      .max(65535, { error: 'a port number from 1 to 65535' })
      .optional(),
    user: matching(ACCOUNT_NAME, 'a database user name such as weave').optional(),
    password_env: matching(
      ENV_NAME,
      'the name of the environment variable holding the password, such as DB_PASSWORD'
    ).optional(),
    admin: mapping(
      {
        user: matching(ACCOUNT_NAME, 'a database user name such as postgres or root'),
        password_env: matching(
          ENV_NAME,
          'the name of the environment variable holding the password, such as DB_ADMIN_PASSWORD'
        ).optional()
      },
      'a mapping with user and optionally password_env, such as { user: postgres }'
    ).optional(),
    reader: mapping(
      {
        user: matching(ACCOUNT_NAME, 'a database user name such as weave_reader'),
        password_env: matching(
          ENV_NAME,
          'the name of the environment variable holding the password, such as DB_READER_PASSWORD'
        ).optional()
      },
      'a mapping with user and optionally password_env, such as { user: weave_reader }'
    ).optional()
  },
  'a mapping with engine (postgres, mysql or sqlite), name and optionally host, port, user, password_env, admin, reader'
).superRefine((db, ctx) => {
  if (db.engine === 'sqlite') {
    const form =
      'an absolute path to the SQLite database file on the host, such as /srv/app/db.sqlite3'
    const reason = !db.name.startsWith('/')
      ? 'not an absolute path'
      : db.name.split('/').includes('..')
        ? "contains '..'"
        : !PLAIN.test(db.name)
          ? 'contains whitespace, quotes or control characters'
          : undefined
    if (reason)
      ctx.issues.push({
        code: 'custom',
        path: ['name'],
        input: db.name,
        message: form,
        params: { reason }
      })
    for (const key of SERVER_ONLY) {
      if (db[key] === undefined) continue
      ctx.issues.push({
        code: 'custom',
        path: [key],
        input: db[key],
        message: 'the settings of a sqlite database: engine, name',
        params: { reason: 'not a setting of a sqlite database' }
      })
    }
  } else if (!/^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/.test(db.name)) {
    ctx.issues.push({ code: 'custom', path: ['name'], input: db.name, message: DB_NAME_FORM })
  }
})

const DATA_FOLDER_FORM =
  'a folder relative to the site root (such as shared/uploads) or an absolute path, outside snapshots/ and .sitecycle/'

/** One data folder: relative to the site root (normalised, no '..') or absolute. */
const dataFolder = z.string({ error: DATA_FOLDER_FORM }).transform((value, ctx) => {
  if (value.startsWith('/')) return normaliseRemotePath(value, ctx, DATA_FOLDER_FORM)
  if (value === '' || value.split('/').includes('..'))
    return problem(ctx, value, DATA_FOLDER_FORM, value === '' ? 'empty' : "contains '..'")
  if (!PLAIN.test(value))
    return problem(
      ctx,
      value,
      DATA_FOLDER_FORM,
      'contains whitespace, quotes or control characters'
    )
  const normalised = posix.normalize(value).replace(/\/+$/, '')
  const top = normalised.split('/')[0]
  if (normalised === '.' || top === 'snapshots' || top === '.sitecycle')
    return problem(
      ctx,
      value,
      DATA_FOLDER_FORM,
      normalised === '.' ? 'the site root itself' : `inside ${top}/`
    )
  return normalised
})

/** Snapshot retention (`sites.<n>.snapshots`). */
export const snapshotsSchema = mapping(
  {
    keep_last: integer(1).default(SNAPSHOT_DEFAULTS.keepLast),
    daily: integer(0, 'a whole number of days (0 or more)').default(SNAPSHOT_DEFAULTS.daily),
    weekly: integer(0, 'a whole number of weeks (0 or more)').default(SNAPSHOT_DEFAULTS.weekly),
    monthly: integer(0, 'a whole number of months (0 or more)').default(SNAPSHOT_DEFAULTS.monthly)
  },
  'a mapping with keep_last, daily, weekly and monthly'
)

/** Defaults of `sites.<n>.access.basic_auth` and `sites.<n>.maintenance`. */
export const ACCESS_DEFAULTS = {
  user: 'sitecycle',
  passwordEnv: 'SITECYCLE_ACCESS_PASSWORD',
  retryAfter: 300
} as const

const BASIC_AUTH_FORM =
  'false, true, or a mapping with user and password_env, such as { user: preview, password_env: PREVIEW_PASSWORD }'

/** Who may reach the site (`sites.<n>.access`); the per-role default is applied by load-config.ts. */
export const accessSchema = mapping(
  {
    basic_auth: z
      .union(
        [
          z.boolean(),
          mapping(
            {
              user: matching(
                /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/,
                'a user name of letters, digits, _ . @ or - (no colon), such as preview'
              ).default(ACCESS_DEFAULTS.user),
              password_env: matching(
                ENV_NAME,
                'the name of the environment variable holding the password, such as PREVIEW_PASSWORD'
              ).default(ACCESS_DEFAULTS.passwordEnv)
            },
            BASIC_AUTH_FORM
          )
        ],
        { error: BASIC_AUTH_FORM }
      )
      .optional()
  },
  'a mapping with basic_auth'
)

const CLIENT_FORM =
  'a client IP address or CIDR range, such as 192.0.2.10, 10.0.0.0/8 or 2001:db8::/32'

/** Whether `value` is an IPv4/IPv6 address, optionally with a /prefix length that fits it. */
export function isClientRange(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

/** The maintenance page (`sites.<n>.maintenance`). */
export const maintenanceSchema = mapping(
  {
    allow: z
      .array(z.string({ error: CLIENT_FORM }).refine(isClientRange, { error: CLIENT_FORM }), {
        error: 'a list of client addresses or CIDR ranges, such as [192.0.2.10, 10.0.0.0/8]'
      })
      .default([]),
    retry_after: integer(0, 'a whole number of seconds from 0 to 86400 (one day)')
      .max(86_400, { error: 'a whole number of seconds from 0 to 86400 (one day)' })
      .default(ACCESS_DEFAULTS.retryAfter)
  },
  'a mapping with allow and retry_after'
)

const LAG_FORM = 'a duration such as 1d, 7d, 30d, 12h or 1w2d (units s, m, h, d, w)'
const LAG_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** Seconds in a duration such as `7d` or `1d12h`; undefined when it is not one (or is zero). */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+[smhdw])+$/.test(text)) return undefined
  let seconds = 0
  for (const m of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(m[1]) * LAG_UNITS[m[2]]
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined
}

/** A mirror's lag (`sites.<n>.lag`): a duration string, or a number of days. */
const lagSchema = z
  .union([z.string(), z.int().min(1)], { error: LAG_FORM })
  .transform((value, ctx) => {
    const text = typeof value === 'number' ? `${value}d` : value.trim()
    const seconds = parseDuration(text)
    if (seconds === undefined) return problem(ctx, value, LAG_FORM)
    return { text, seconds }
  })

export const siteSchema = mapping(
  {
    role: z
      .enum(['production', 'preview', 'mirror', 'old'], {
        error: 'production, preview, mirror or old'
      })
      .default(DEFAULTS.role),
    host: hostSpec,
    hosts: z.array(hostEntry, { error: HOSTS_FORM }).min(1, { error: HOSTS_FORM }).optional(),
    root: remotePath('an absolute directory path such as /srv/app/v1'),
    url: siteUrl,
    health: healthSchema.prefault({}),
    config: mapping(
      {
        template: repositoryPath(),
        env: matching(
          ENV_NAME,
          'an environment variable name such as SITECYCLE_CONFIG (A-Z, 0-9, _)'
        ).default(DEFAULTS.configEnv)
      },
      'a mapping with template and optionally env'
    ).optional(),
    env: envSchema.optional(),
    static: staticSchema.optional(),
    hooks: mapping(
      {
        after_install: z
          .array(text('a command line'), { error: 'a list of command lines' })
          .default([]),
        freeze: z.boolean({ error: 'true or false' }).default(false)
      },
      'a mapping with after_install and optionally freeze'
    ).prefault({}),
    keep_releases: integer(2).default(DEFAULTS.keepReleases),
    releases: localPath(
      'a directory path (absolute, relative to the config file, or starting with ~/)'
    ).optional(),
    store: storeSchema.optional(),
    pip: mapping(
      {
        index_url_env: matching(
          ENV_NAME,
          'the name of an environment variable holding the index URL, such as SITE_INDEX_URL'
        )
      },
      'a mapping with index_url_env'
    ).optional(),
    preflight: mapping(
      {
        min_free_mb: integer(0, 'a whole number of megabytes (0 or more)').default(
          DEFAULTS.minFreeMb
        )
      },
      'a mapping with min_free_mb'
    ).prefault({}),
    apache: apacheSchema.prefault({}),
    database: databaseSchema.optional(),
    shared: sharedSchema.optional(),
    data: z
      .array(dataFolder, { error: 'a list of data folders, such as [shared/uploads]' })
      .optional(),
    snapshots: snapshotsSchema.optional(),
    access: accessSchema.optional(),
    maintenance: maintenanceSchema.optional(),
    from: matching(SITE_NAME, 'the name of another site of sites:, such as v1').optional(),
    lag: lagSchema.optional(),
    anonymize: localPath(
      'an SQL file path (absolute, relative to the config file, or starting with ~/)'
    ).optional()
  },
  'a mapping of site settings with at least root and url'
)

const MAIL_ADDRESS = /^[^\s@<>"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/
const MAIL_FORM = 'a mail address such as alerts@example.org'

/** Where unattended runs report failures (`alerts:`). */
export const alertsSchema = mapping(
  {
    email: mapping(
      {
        smtp_host: matching(
          /^[A-Za-z0-9.:[\]-]+$/,
          'an SMTP server host name or address, such as smtp.example.org'
        ),
        smtp_port: integer(1, 'a TCP port such as 587 (STARTTLS), 465 (TLS) or 25')
          .max(65535, { error: 'a TCP port such as 587 (STARTTLS), 465 (TLS) or 25' })
          .default(587),
        starttls: z.boolean({ error: 'true or false' }).default(true),
        user: text('the SMTP user name').optional(),
        password_env: matching(
          ENV_NAME,
          'the name of the environment variable holding the SMTP password, such as SMTP_PASSWORD'
        ).optional(),
        from: matching(MAIL_ADDRESS, MAIL_FORM),
        to: z
          .array(matching(MAIL_ADDRESS, MAIL_FORM), {
            error: 'a list of mail addresses, such as [ops@example.org]'
          })
          .min(1, { error: 'a list of at least one mail address, such as [ops@example.org]' })
      },
      'a mapping with smtp_host, from, to and optionally smtp_port, starttls, user and password_env'
    ).optional(),
    github_issues: z.boolean({ error: 'true or false' }).default(false)
  },
  'a mapping with email and/or github_issues'
)

export const configSchema = mapping(
  {
    app: appSchema,
    ssh: sshSchema.optional(),
    release: releaseSchema.optional(),
    alerts: alertsSchema.optional(),
    sites: z.record(z.string(), siteSchema, {
      error: 'a mapping of site names to sites, such as v1: { root: ..., url: ... }'
    })
  },
  'a mapping with app, sites and optionally ssh and release'
)

/** sitecycle.yml after validation and static defaults, still with its snake_case keys. */
export type RawConfig = z.output<typeof configSchema>
export type RawSite = z.output<typeof siteSchema>
export type RawRelease = z.output<typeof releaseSchema>

/**
 * The keys allowed in the mapping at `path` (a path through the YAML, such as
 * ['sites', 'v1', 'health']), or undefined when no mapping of known keys lives there.
 */
export function knownKeysAt(path: readonly PropertyKey[]): string[] | undefined {
  let schema: z.ZodType | undefined = unwrap(configSchema)
  for (const segment of path) {
    if (schema instanceof z.ZodObject)
      schema = (schema.shape as Record<string, z.ZodType>)[String(segment)]
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType
    else return undefined
    schema = schema && unwrap(schema)
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : undefined
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema
  for (;;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional) {
      s = s.unwrap() as z.ZodType
    } else if (s instanceof z.ZodPipe) {
      s = s.in as z.ZodType
    } else {
      return s
    }
  }
}
