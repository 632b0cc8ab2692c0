/**
 * The loaded, validated and defaulted form of sitecycle.yml. The loader (load-config.ts) turns
 * the YAML into exactly these shapes; everything downstream reads only these.
 */
import type { AppEnvEntry } from './app-env.js'
import type { StaticEntry } from './static-files.js'

/** Where a site lives. */
export type HostSpec =
  | { kind: 'local' }
  | {
      kind: 'ssh'
      /** Login user. */
      user: string
      /** Host name or address. */
      hostname: string
      /** SSH port (22 by default). */
      port: number
    }

/** SSH settings shared by all SSH hosts of a run. */
export interface SshSettings {
  /** Private key file (absolute path after loading). */
  keyFile?: string
  /** Pinned known-hosts file: the host key must be listed there. */
  knownHostsFile?: string
}

export interface AppConfig {
  /** Python distribution name, e.g. `weave-server`. */
  package: string
  /** WSGI entry point, `module.path:attribute` or `module.path:factory(...)` with Python literal
   * arguments (checked when loaded; see wsgi-entry.ts). */
  wsgi: string
  /** Python interpreter on the hosts, by full path (default /usr/bin/python3). */
  python: string
  /** Command line that runs the tests (used by release). */
  tests?: string
  /** Environment of the application on every site (`app.env`), values as written. */
  env?: Record<string, string>
  /** Static files served by Apache on every site (`app.static`): URL prefix to release folder. */
  static?: Record<string, string>
}

export interface ApacheSettings {
  /** Address and port the vhost listens on, e.g. `127.0.0.1:8080` or `*:80`. */
  listen: string
  /** ServerName of the vhost (default: host part of the site url). */
  serverName: string
  /** Directory where the vhost file is written (default /etc/apache2/sites-available). */
  confDir: string
  /** Directory where the enabling link is made, or none when confDir is already included (default /etc/apache2/sites-enabled). */
  enableDir?: string
  /** apachectl command as argv (default ["apache2ctl"]). */
  ctl: string[]
  /** User and group the daemon processes run as (default www-data). */
  user: string
  group: string
  /** Daemon processes and threads per slot group. */
  processes: number
  threads: number
  /** Seconds a request on a group being restarted may take to finish. */
  shutdownTimeout: number
  /** `blue-green` (two groups, no dropped or stalled request) or `single` (fallback for small memory). */
  mode: 'blue-green' | 'single'
}

export interface SiteConfig {
  /** The site's name (its key in `sites:`), e.g. `v1`. */
  name: string
  role: 'production' | 'preview' | 'mirror' | 'old'
  /** Where the site lives; for a site on several hosts, the first of them until an operation picks one (siteOnHost). */
  host: HostSpec
  /** Every host of a site written with `hosts:` (a rolling deploy goes through them in order); absent for one `host:`. */
  hosts?: HostSpec[]
  /** Absolute site root on the host. */
  root: string
  /** Public URL of the site. */
  url: string
  /**
   * The application's environment on this site: `app.env` with `sites.<n>.env` over it, values
   * as written (placeholders rendered by a deploy). Absent when neither gives one.
   */
  env?: AppEnvEntry[]
  /**
   * Static files Apache serves from the release (`app.static` with `sites.<n>.static` over it, by
   * URL prefix), longest prefix first. Absent when neither gives any.
   */
  static?: StaticEntry[]
  health: {
    /**
     * HEALTH_URI (the default: the slot's WSGI script answers it with the release's version), or
     * a path of the application's own that the script also GETs in-process when it is asked.
     */
    path: string
    /** Require the application's own health path to answer the release's version. */
    expectVersion: boolean
    /** Seconds to keep trying before the verification fails. */
    timeout: number
  }
  /** Config file rendered for each release: template (absolute local path) and env var that tells the app where it is. */
  config?: { template: string; env: string }
  hooks: {
    afterInstall: string[]
    /**
     * Freeze the site around the hooks (`hooks.freeze`, for hooks that migrate the database):
     * users get the maintenance page from just before the hooks until the new release is verified
     * live, and the database is dumped after the freeze, so a failed deploy restores it without
     * losing a user's write. Absent: false (a failed deploy's rollback is code-only).
     */
    freeze?: boolean
  }
  /** Number of releases kept on the host (at least 2). */
  keepReleases: number
  /** Directory of releases (each with manifest.json) to take releases from by version. */
  releases?: string
  /** The store to fetch releases from by version (deploy --version without --release). */
  store?: StoreConfig
  /**
   * Install dependencies from an index instead of offline: the environment variable holding
   * the index URL (a secret: it may carry credentials). Absent: offline only (--no-index).
   */
  pip?: { indexUrlEnv: string }
  preflight: {
    /** Free megabytes needed under the site root. */
    minFreeMb: number
  }
  apache: ApacheSettings
  /** The site's database (`database:`), dumped by snapshots; absent: the site has none. */
  database?: DatabaseSettings
  /**
   * What outlives releases under `<root>/shared/` (`app.shared` with `sites.<n>.shared` over it,
   * by path): created by init for the Apache user, linked into each release, given to the
   * application as `{{ shared.NAME }}`, folders served by Apache at their url; folders and files
   * copied into snapshots. Absent when neither gives one.
   */
  shared?: SharedEntry[]
  /**
   * Data folders (uploads, media) copied into snapshots: absolute paths on the host; the shared
   * folders and files (unless `snapshot: false`; never the sqlite database file) are among them:
   * a path that is a shared entry of kind file is copied as a file (isDataFile, sites/shared-links.ts).
   */
  data?: string[]
  /** How many snapshots are kept (`snapshots:`); defaults applied when absent. */
  snapshots?: SnapshotRetention
  /** Who may reach the site (`access:`); the loader always sets it (absent: open to everyone). */
  access?: AccessSettings
  /** The maintenance page (`maintenance:`); the loader always sets it (absent: the defaults). */
  maintenance?: MaintenanceSettings
  /**
   * The site whose data this one copies (`from:`): a preview is synced from it, a mirror refreshed
   * from its snapshots. Another site of the same config file.
   */
  from?: string
  /**
   * How far a mirror lags behind its `from` site (`lag:`, role mirror only, required there): it
   * shows the newest snapshot at least this old, such as `1d`, `7d`, `30d` or `12h`.
   */
  lag?: MirrorLag
  /**
   * An SQL file (absolute local path after loading) run on the site's database after each copy of
   * its `from` site's data (`anonymize:`), before the site's hooks run and before users reach it.
   */
  anonymize?: string
}

/** One folder or file that outlives releases (`app.shared[]`, `sites.<n>.shared[]`). */
export interface SharedEntry {
  /** Path relative to `<root>/shared/`, as written (normalised), such as `media`. */
  path: string
  /** Absolute path on the host: `<root>/shared/<path>`. */
  absolute: string
  kind: 'folder' | 'file'
  /** Mode init gives it (default 0o770 for a folder, 0o660 for a file); restore and sync too. */
  mode: number
  /** The name `{{ shared.NAME }}` finds it by (default: its path with other characters as `_`). */
  name: string
  /** URL prefix Apache serves the folder at, with a trailing slash, such as `/media/`. */
  url?: string
  /** Path inside each release (its virtualenv) where a deploy links to it, such as `var/app-instance`. */
  link?: string
  /** Whether snapshots copy it (default true), restores and syncs bring it back. */
  snapshot: boolean
  /** Where it is written, such as `app.shared[0]` or `sites.v1.shared[1]`. */
  key: string
}

/** A mirror's lag (`sites.<n>.lag`). */
export interface MirrorLag {
  /** As written in the config file, such as `7d` (for messages). */
  text: string
  /** The same in seconds. */
  seconds: number
}

/** Who may reach a site (`sites.<n>.access`). */
export interface AccessSettings {
  /**
   * Apache basic auth over the whole site except its health path; absent: no password.
   * On by default for preview and mirror sites, off for production and old ones.
   */
  basicAuth?: {
    /** The one user name (default `sitecycle`). */
    user: string
    /** Name of the environment variable holding the password (a secret; never the password itself). */
    passwordEnv: string
  }
}

/** The site's maintenance page (`sites.<n>.maintenance`), shown while the site is frozen. */
export interface MaintenanceSettings {
  /** Client addresses or CIDR ranges that still reach the live slot while the site is frozen. */
  allow: string[]
  /** Seconds sent in `Retry-After` with the 503 (default 300). */
  retryAfter: number
}

/** A site's database (`sites.<n>.database`); the same shape as databases/engine.ts DatabaseConfig. */
export interface DatabaseSettings {
  engine: 'postgres' | 'mysql' | 'sqlite'
  /** Database name (postgres, mysql) or absolute file path on the host (sqlite). */
  name: string
  /** Server host or socket directory (postgres, mysql); default: the local socket. */
  host?: string
  /** Server port (postgres, mysql). */
  port?: number
  /** User to connect as (postgres, mysql). */
  user?: string
  /** Name of the environment variable holding the password (a secret; never the password itself). */
  passwordEnv?: string
  /**
   * An account on the same server that may create databases and roles (postgres: a superuser or
   * CREATEDB and CREATEROLE; mysql: CREATE, CREATE USER and GRANT OPTION): `init` creates the
   * database and its owner with it. Absent: init says what to create.
   */
  admin?: DatabaseAdmin
  /**
   * A mirror's read-only login (`sites.<n>.database.reader`): the application of the mirror logs
   * in as it (`{{ database.url }}` names it), and each refresh gives it read access only
   * (postgres: SELECT on every table, granted on the staged copy; mysql: SELECT on the database,
   * granted once by init) and checks, logged in as it, that it can read and cannot write.
   */
  reader?: DatabaseReader
}

/** The read-only login of a mirror's database (`sites.<n>.database.reader`). */
export interface DatabaseReader {
  user: string
  /** Name of the environment variable holding its password (a secret); absent: no password. */
  passwordEnv?: string
}

/** The admin login of a database server (`sites.<n>.database.admin`). */
export interface DatabaseAdmin {
  user: string
  /** Name of the environment variable holding its password (a secret); absent: no password. */
  passwordEnv?: string
}

/** Snapshot retention (`sites.<n>.snapshots`): grandfather-father-son. */
export interface SnapshotRetention {
  /** The newest N snapshots, whatever their age (at least 1). */
  last: number
  /** The newest snapshot of each of the last N days. */
  daily: number
  /** The newest snapshot of each of the last N ISO weeks. */
  weekly: number
  /** The newest snapshot of each of the last N months. */
  monthly: number
}

export interface SitecycleConfig {
  /** Absolute path of the file this was loaded from ('<embedded>' for defaults). */
  file: string
  app: AppConfig
  ssh: SshSettings
  /** How releases are made and where they are published (absent: `sitecycle release` is not set up). */
  release?: ReleaseConfig
  /** Where an unattended run's failure is reported (`alerts:`); absent: nowhere. */
  alerts?: AlertsConfig
  sites: Record<string, SiteConfig>
}

/** Alerts of unattended runs (`alerts:`): a mail, an issue, or both. */
export interface AlertsConfig {
  /** Mail through an SMTP server (`alerts.email`). */
  email?: AlertEmailSettings
  /** Keep one open issue per site and operation while it fails, closed by its next success. */
  githubIssues: boolean
}

/** The SMTP server and addresses of alert mails (`alerts.email`). */
export interface AlertEmailSettings {
  smtpHost: string
  /** 587 by default; 465 means TLS from the first byte. */
  smtpPort: number
  /** Upgrade with STARTTLS, refusing a server without it (default true; not used on port 465). */
  starttls: boolean
  /** The SMTP login, when the server wants one. */
  user?: string
  /** Name of the environment variable holding the SMTP password (a secret; never the password itself). */
  passwordEnv?: string
  /** Sender address. */
  from: string
  /** Recipient addresses (at least one). */
  to: string[]
}

/** A release store, as configured (`release.stores[]` and `sites.<name>.store`). */
export type StoreConfig =
  | {
      type: 'directory'
      /** Absolute folder (on `host`), laid out as a PEP 503 simple index plus release folders. */
      path: string
      host: HostSpec
    }
  | {
      type: 'github-release'
      /** `owner/repo`; default: GITHUB_REPOSITORY. */
      repository?: string
      /** Name of the environment variable holding the token (default GITHUB_TOKEN). */
      tokenEnv: string
    }
  | {
      type: 'actions-artifact'
      /** Artifact name pattern; `{version}` is replaced (default `release-{version}`). */
      name: string
      retentionDays?: number
    }

/**
 * How `python -m build` makes a release (`release.build:`). The isolated build environment
 * comes from pip's own configuration (index, find-links) unless findLinks or indexUrlEnv name
 * another source.
 */
export interface BuildSettings {
  /**
   * `auto` (default): no isolation when the build Python already has every requirement of
   * pyproject's [build-system] (the backend), else an isolated environment; `isolated`: always
   * isolated; `none`: never (offline, with the build Python's own backend).
   */
  isolation: 'auto' | 'isolated' | 'none'
  /** Folders of wheels the isolated build environment is made from (offline unless an index is set too). */
  findLinks: string[]
  /** Environment variable holding the index URL (a secret) the isolated build environment comes from. */
  indexUrlEnv?: string
}

/** How releases are made (`release:` in sitecycle.yml). */
export interface ReleaseConfig {
  /** Tag prefix (default `v`): tag `v1.4.0` is version `1.4.0`. */
  tagPrefix: string
  /** `pep440` (default) or `semver` (tags compared with the semver package). */
  versionScheme: 'pep440' | 'semver'
  /** Source folder of the Python project (default: the config file's folder). */
  source: string
  /** How the sdist and wheel are built (`release.build`). */
  build: BuildSettings
  /** Where releases are built (default `<source>/dist-releases`). */
  outDir: string
  /** Dependencies: a wheelhouse built at release time and installed offline at deploy. */
  wheelhouse?: {
    /** Requirements or constraints file pinning the dependencies (relative to source). */
    requirements?: string
    /** Extra folders of wheels/sdists to build the wheelhouse from (offline). */
    findLinks: string[]
    /** Environment variable holding an index URL (a secret), when the wheelhouse comes from an index. */
    indexUrlEnv?: string
  }
  stores: StoreConfig[]
  /** Published versions kept in each store on prune (default 20). */
  keepVersions: number
}
