/**
 * Basic auth of a site (preview and mirror sites by default): the password comes from an
 * environment variable (a secret) on the machine running sitecycle, is hashed on the host by
 * `htpasswd` reading it from standard input, and only the bcrypt hash is written, to
 * `<root>/shared/.htpasswd` (mode 0640, group of Apache's daemons). The password never
 * reaches argv, logs or the journal.
 */
import { hashPassword, passwordFilePath } from '../commands/apache.js'
import { commitFile, removeFile } from '../commands/files.js'
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** A site's basic-auth credentials, read from the environment. */
export interface AccessCredentials {
  user: string
  password: string
  /** The variable the password came from (for messages). */
  passwordEnv: string
}

/**
 * The credentials of a protected site from `env`, or undefined when the site is open. Throws a
 * SitecycleError naming the variable when it is unset or empty, before anything is touched.
 */
export function readAccessCredentials(
  site: SiteConfig,
  env: NodeJS.ProcessEnv = process.env
): AccessCredentials | undefined {
  const auth = site.access?.basicAuth
  if (!auth) return undefined
  const password = env[auth.passwordEnv]
  const why =
    site.role === 'preview' || site.role === 'mirror'
      ? `a ${site.role} site is protected by basic auth by default`
      : `sites.${site.name}.access.basic_auth is on`
  if (!password)
    throw new SitecycleError(
      `site ${site.name}: ${why}, but the environment variable ${auth.passwordEnv} holding its password is not set: ` +
        `set ${auth.passwordEnv} (a secret), name another one with sites.${site.name}.access.basic_auth.password_env, ` +
        `or open the site with sites.${site.name}.access.basic_auth: false`,
      'input'
    )
  if (/[\r\n\0]/.test(password))
    throw new SitecycleError(
      `site ${site.name}: the password in ${auth.passwordEnv} contains a line break or NUL byte; expected one line`,
      'input'
    )
  return { user: auth.user, password, passwordEnv: auth.passwordEnv }
}

/**
 * Write the site's password file from `creds`: hash on the host (password on stdin), then commit
 * the one line with mode 0640 and Apache's group (host/commit-file.py with the host's `python`:
 * aside, fsync, rename over, fsync of the folder), so Apache (which reads the file on each
 * request) never sees half a file, nor an empty one after a power loss. A new salt each time: a
 * re-init rotates it.
 */
export async function writePasswordFile(
  exec: Executor,
  site: SiteConfig,
  creds: AccessCredentials,
  python: string
): Promise<string> {
  const r = await exec.tryRun(hashPassword(creds.user, creds.password))
  const line = r.stdout.split('\n').find(l => l.startsWith(`${creds.user}:`))
  if (r.code !== 0 || !line || !/^[^:]+:\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(line))
    throw new SitecycleError(
      `htpasswd could not hash the password of site ${site.name} on ${exec.name}` +
        (r.code === 127 || /not found|No such file/.test(r.stderr)
          ? ': htpasswd is missing; install it (Debian: apt-get install apache2-utils)'
          : `: exit code ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`),
      'apache'
    )
  const path = passwordFilePath(site)
  await exec.run(commitFile(python, path, `${line}\n`, 0o640, site.apache.group))
  return path
}

/** Remove the password file of a site that is no longer protected (nothing when absent). */
export async function removePasswordFile(exec: Executor, site: SiteConfig): Promise<void> {
  await exec.run(removeFile(passwordFilePath(site)))
}
