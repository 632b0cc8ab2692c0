/**
 * Choose the Executor for a site's host: the local machine, or a server over SSH.
 */
import type { HostSpec, SshSettings } from '../config/model.js'
import { SitecycleError } from '../util/errors.js'
import type { Executor } from './executor.js'
import { LocalExecutor } from './local-executor.js'
import { SshExecutor } from './ssh-executor.js'

/**
 * The Executor for `host`. For SSH, `ssh.key` (private key content, e.g. from a secret) wins over
 * `ssh.keyFile`; a pinned known-hosts file is required, and its absence is an error here, before
 * any connection is tried. Nothing connects until the first call; close() it when done.
 */
export function createExecutor(host: HostSpec, ssh: SshSettings & { key?: string } = {}): Executor {
  if (host.kind === 'local') return new LocalExecutor()
  const target = `ssh://${host.user}@${host.hostname}:${host.port}`
  if (!ssh.knownHostsFile) {
    throw new SitecycleError(
      `No pinned known-hosts file is set, so ${target} cannot be reached safely: set the known-hosts file ` +
        `in the ssh settings of sitecycle.yml (or the action's known-hosts input) to a file holding the server's ` +
        `host key line (from \`ssh-keyscan -p ${host.port} ${host.hostname}\`, checked out of band against ` +
        `\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).`,
      'config'
    )
  }
  return new SshExecutor({
    user: host.user,
    hostname: host.hostname,
    port: host.port,
    keyFile: ssh.keyFile,
    key: ssh.key,
    knownHostsFile: ssh.knownHostsFile
  })
}
