/**
 * The loaded, validated and defaulted form of sitecycle.yml. The loader (load-config.ts) turns
 * the YAML into exactly these shapes; everything downstream reads only these.
 */

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
  /** WSGI entry point, `module.path:attribute`. */
  wsgi: string
  /** Python interpreter on the hosts, by full path (default /usr/bin/python3). */
  python: string
  /** Command line that runs the tests (used by release). */
  tests?: string
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
  host: HostSpec
  /** Absolute site root on the host. */
  root: string
  /** Public URL of the site. */
  url: string
  health: {
    /** Path answered by the application when it is healthy. */
    path: string
    /** Require the answer to contain the release's version. */
    expectVersion: boolean
    /** Seconds to keep trying before the verification fails. */
    timeout: number
  }
  /** Config file rendered for each release: template (absolute local path) and env var that tells the app where it is. */
  config?: { template: string; env: string }
  hooks: { afterInstall: string[] }
  /** Number of releases kept on the host (at least 2). */
  keepReleases: number
  /** Directory of releases (each with manifest.json) to take releases from by version. */
  releases?: string
  preflight: {
    /** Free megabytes needed under the site root. */
    minFreeMb: number
  }
  apache: ApacheSettings
}

export interface SitecycleConfig {
  /** Absolute path of the file this was loaded from ('<embedded>' for defaults). */
  file: string
  app: AppConfig
  ssh: SshSettings
  sites: Record<string, SiteConfig>
}
