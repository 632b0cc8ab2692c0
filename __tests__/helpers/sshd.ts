/**
 * A throwaway OpenSSH server on 127.0.0.1 for integration tests: fresh host and client keys,
 * root login by key only, logging to a file the tests can read.
 */
import { spawn, execFileSync } from 'node:child_process'
import { openSync, closeSync, promises as fs } from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { freePort } from '../../src/util/free-port.js'

/** A running sshd and what a client needs to reach it. */
export interface Sshd {
  port: number
  user: 'root'
  /** Client private key (authorized for root). */
  keyFile: string
  /** Pinned known-hosts file with the server's host key for [127.0.0.1]:port. */
  knownHostsFile: string
  /** The server's private host key (its .pub sits next to it). */
  hostKeyFile: string
  /** sshd's log (LogLevel VERBOSE): "Accepted publickey" per login. */
  logFile: string
  /** Temp dir holding all of the above; removed by stop(). */
  dir: string
  /** Stop sshd and remove the temp dir. */
  stop(): Promise<void>
}

/** A free TCP port on loopback, never one this process handed out before (src/util/free-port.ts). */
export { freePort }

/** Generate an ed25519 key pair without passphrase at `file` (and `file.pub`). */
export function generateKey(file: string, comment = 'sitecycle-test'): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file])
}

/** The known-hosts line pinning the public host key `pubFile` for [127.0.0.1]:port. */
export async function knownHostsLine(port: number, pubFile: string): Promise<string> {
  const [type, key] = (await fs.readFile(pubFile, 'utf8')).trim().split(/\s+/)
  return `[127.0.0.1]:${port} ${type} ${key}\n`
}

function canConnect(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Start sshd on a free loopback port; resolves once it accepts connections. */
export async function startSshd(): Promise<Sshd> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-sshd-'))
  const hostKeyFile = path.join(dir, 'host_ed25519')
  const keyFile = path.join(dir, 'client_ed25519')
  generateKey(hostKeyFile, 'sitecycle-test-host')
  generateKey(keyFile, 'sitecycle-test-client')
  await fs.copyFile(`${keyFile}.pub`, path.join(dir, 'authorized_keys'))
  const port = await freePort()
  const config = path.join(dir, 'sshd_config')
  await fs.writeFile(
    config,
    [
      `ListenAddress 127.0.0.1`,
      `Port ${port}`,
      `HostKey ${hostKeyFile}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      `PermitRootLogin prohibit-password`,
      `PasswordAuthentication no`,
      `KbdInteractiveAuthentication no`,
      `StrictModes no`,
      `UsePAM no`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `LogLevel VERBOSE`,
      // bash sources ~/.bashrc when sshd starts it (a remote command) at shell level 1: this
      // machine's root one (pyenv init) would then run before every command, about a second of
      // CPU each, and put its shims on PATH. A fresh server's root has no such file: level 2.
      `SetEnv SHLVL=1`,
      ''
    ].join('\n')
  )
  await fs.mkdir('/run/sshd', { recursive: true })
  const logFile = path.join(dir, 'sshd.log')
  const logFd = openSync(logFile, 'a')
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    stdio: ['ignore', logFd, logFd]
  })
  closeSync(logFd)
  let exited = false
  const exit = new Promise<void>(resolve =>
    child.once('exit', () => {
      exited = true
      resolve()
    })
  )

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM')
      await exit
    }
    await fs.rm(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + 10_000
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      const log = await fs.readFile(logFile, 'utf8').catch(() => '')
      await stop()
      throw new Error(`sshd did not start on port ${port}:\n${log}`)
    }
    await new Promise(r => setTimeout(r, 50))
  }

  const knownHostsFile = path.join(dir, 'known_hosts')
  await fs.writeFile(knownHostsFile, await knownHostsLine(port, `${hostKeyFile}.pub`))
  return { port, user: 'root', keyFile, knownHostsFile, hostKeyFile, logFile, dir, stop }
}
