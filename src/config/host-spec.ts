import { isIPv6 } from 'node:net'
import { ConfigError } from '../util/errors.js'
import type { HostSpec } from './model.js'

/** The forms a host may be written in, for error messages. */
export const HOST_FORM = 'local or ssh://user@host[:port]'

const SSH_URL = /^ssh:\/\/(?:([^@/]*)@)?(\[[^\]]*\]|[^:/[\]]*)(?::([^/]*))?(\/?)(.*)$/s
// Neither may start with '-': they end up as arguments of ssh.
const USER = /^[A-Za-z_][A-Za-z0-9._-]*$/
const DNS_NAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/

/**
 * Parse a host written as `local` or `ssh://user@host[:port]` (port 22 by default).
 * Returns the host, or a short reason why `value` is not one.
 */
export function tryParseHost(value: string): HostSpec | { problem: string } {
  if (value === 'local') return { kind: 'local' }
  const m = SSH_URL.exec(value)
  if (!m) return { problem: 'neither local nor an ssh:// URL' }
  const [, user, host = '', port, slash, rest] = m
  if (user === undefined || user === '') return { problem: 'the user is missing' }
  if (!USER.test(user)) return { problem: `"${user}" is not a user name` }
  let hostname: string
  if (host.startsWith('[')) {
    hostname = host.slice(1, -1)
    if (!isIPv6(hostname)) return { problem: `"${host}" is not an IPv6 address` }
  } else {
    if (host === '') return { problem: 'the host name is missing' }
    if (!DNS_NAME.test(host)) return { problem: `"${host}" is not a host name` }
    hostname = host
  }
  if (slash !== '' && rest !== '') return { problem: 'an ssh:// host takes no path' }
  if (rest !== '') return { problem: `unexpected "${rest}" after the host` }
  let portNumber = 22
  if (port !== undefined) {
    portNumber = /^\d{1,5}$/.test(port) ? Number(port) : NaN
    if (!(portNumber >= 1 && portNumber <= 65535))
      return { problem: `"${port}" is not a port number` }
  }
  return { kind: 'ssh', user, hostname: hostname.toLowerCase(), port: portNumber }
}

/**
 * Parse a host written as `local` or `ssh://user@host[:port]`, as in sitecycle.yml or the
 * CLI's --host flag. Throws ConfigError naming the value and the expected form.
 */
export function parseHost(value: string): HostSpec {
  const result = tryParseHost(value)
  if ('problem' in result) {
    throw new ConfigError(
      `bad host ${JSON.stringify(value)}: ${result.problem}; expected ${HOST_FORM}`
    )
  }
  return result
}

/** The host as written canonically: `local` or `ssh://user@host:port` (IPv6 addresses in brackets). */
export function hostLabel(host: HostSpec): string {
  if (host.kind === 'local') return 'local'
  const name = host.hostname.includes(':') ? `[${host.hostname}]` : host.hostname
  return `ssh://${host.user}@${name}:${host.port}`
}
