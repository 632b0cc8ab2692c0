/**
 * The Executor for a server driven over SSH with the system OpenSSH client: no agent on the
 * server, only a POSIX shell, coreutils, Python, pip and Apache. One connection per run (an
 * OpenSSH ControlMaster in a private temp dir); host keys checked against a pinned file only.
 */
import {
  constants as fsConstants,
  createReadStream,
  createWriteStream,
  promises as fs
} from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { PassThrough, type Readable, type Writable } from 'node:stream'
import { cmd, describeCommand, type Command } from '../commands/command.js'
import { tiedToThisProcess } from '../util/die-with-parent.js'
import { SitecycleError } from '../util/errors.js'
import { freePort } from '../util/free-port.js'
import { makeRunTempDir } from '../util/run-temp-dir.js'
import { type Executor, type PortForward, type RunOptions, type RunResult } from './executor.js'
import { redactedResult, runProcess, throwUnlessSuccess } from './local-executor.js'
import { toShellLine } from './shell-quote.js'

/** How to reach one server over SSH. */
export interface SshExecutorOptions {
  /** Login user. */
  user: string
  /** Host name or address. */
  hostname: string
  /** SSH port. */
  port: number
  /** Private key file to log in with (ignored when `key` is given). */
  keyFile?: string
  /**
   * Private key content (e.g. from a GitHub secret). Written with mode 0600 to a fresh directory
   * under RUNNER_TEMP (or the system temp dir) for the login of the shared connection only, and
   * removed as soon as that connection is up (a run killed during the login leaves it for the
   * next run, which removes it: run-temp-dir.ts).
   */
  key?: string
  /** Pinned known-hosts file: the server's host key must be listed there. Never learned on the fly. */
  knownHostsFile: string
  /** Seconds to wait for the TCP connection and handshake (default 20). */
  connectTimeoutSeconds?: number
  /** The ssh program (default `ssh` from PATH). */
  sshPath?: string
}

/** Why an SSH connection failed: the server's host key, the login, or the network. */
export type SshFailureReason = 'host-key' | 'auth' | 'connect'

/** The SSH connection itself failed (not the command run over it); kind is always 'host'. */
export class SshConnectionError extends SitecycleError {
  constructor(
    message: string,
    /** What failed. */
    readonly reason: SshFailureReason,
    /** `ssh://user@host:port`. */
    readonly host: string
  ) {
    super(message, 'host')
    this.name = 'SshConnectionError'
  }
}

/** readFile's script exits with this when the file does not exist (cat itself only uses 0 and 1). */
const MISSING_FILE_EXIT = 44
/** Extra seconds the remote `timeout` gives a command after TERM before KILL. */
const KILL_AFTER_SECONDS = 5
/** Longest Unix socket path (108 bytes on Linux, with room for ssh's temporary suffix). */
const MAX_SOCKET_PATH = 100

/** Runs commands and moves files on one server over SSH. */
export class SshExecutor implements Executor {
  /** `ssh://user@host:port`. */
  readonly name: string
  private readonly options: SshExecutorOptions
  private tempDir: string | undefined
  private identityFile: string | undefined
  private connecting: Promise<void> | undefined
  private masterStarted = false
  /** The ControlMaster: a child of this process that gets SIGTERM if this process dies. */
  private master: ChildProcess | undefined

  constructor(options: SshExecutorOptions) {
    this.options = { ...options, knownHostsFile: path.resolve(options.knownHostsFile) }
    const host = options.hostname.includes(':') ? `[${options.hostname}]` : options.hostname
    this.name = `ssh://${options.user}@${host}:${options.port}`
  }

  /**
   * Open the shared connection now (otherwise the first call does): checks the host key against
   * the pinned file and logs in. Throws SshConnectionError when either fails; nothing has run then.
   */
  connect(): Promise<void> {
    this.connecting ??= this.startMaster()
    return this.connecting
  }

  /** Run a command on the server; throws CommandError when it exits non-zero. */
  async run(command: Command, options: RunOptions = {}): Promise<RunResult> {
    return throwUnlessSuccess(this.name, command, await this.tryRun(command, options))
  }

  /**
   * Run a command on the server (as `toShellLine(command)` for the login shell, stdin piped) and
   * return how it ended, with `command.redact` hidden in its output. With a timeout the command runs
   * under the server's coreutils `timeout`, so it is killed there too; exit code 124 then.
   * Throws SshConnectionError when SSH itself fails.
   */
  async tryRun(command: Command, options: RunOptions = {}): Promise<RunResult> {
    const r = await this.exec(command, {
      timeoutMs: options.timeoutMs,
      ...(options.stdout && { stdout: options.stdout }),
      ...(options.stderr && { stderr: options.stderr })
    })
    return redactedResult(command, r.code, r.stdout.toString(), r.stderr)
  }

  /** Stream a local file to the server (parents created; mode applied when given). */
  async put(localPath: string, remotePath: string, mode?: number): Promise<void> {
    await fs.access(localPath, fsConstants.R_OK)
    await this.writeFrom(createReadStream(localPath), remotePath, mode)
  }

  /** Stream a file from the server to a local path (parents created; nothing left on failure). */
  async get(remotePath: string, localPath: string): Promise<void> {
    await fs.mkdir(path.dirname(localPath), { recursive: true })
    const command = cmd(['cat', '--', remotePath])
    const out = createWriteStream(localPath)
    try {
      const r = await this.exec(command, { stdout: out })
      throwUnlessSuccess(this.name, command, redactedResult(command, r.code, '', r.stderr))
    } catch (e) {
      await fs.rm(localPath, { force: true })
      throw e
    }
  }

  /**
   * Write content to a file on the server (parents created). With a mode, a new file is created
   * private (umask 077) and then given the mode, so a secret is never readable by others in between.
   */
  async writeFile(remotePath: string, content: string | Buffer, mode?: number): Promise<void> {
    await this.writeFrom(content, remotePath, mode)
  }

  /** Read a file on the server as UTF-8; undefined when it does not exist. */
  async readFile(remotePath: string): Promise<string | undefined> {
    const command = cmd([
      'sh',
      '-c',
      `[ -e "$1" ] || exit ${MISSING_FILE_EXIT}; exec cat -- "$1"`,
      'sh',
      remotePath
    ])
    const r = await this.exec(command)
    if (r.code === MISSING_FILE_EXIT) return undefined
    return throwUnlessSuccess(
      this.name,
      command,
      redactedResult(command, r.code, r.stdout.toString(), r.stderr)
    ).stdout
  }

  /**
   * Forward a free port of this machine's 127.0.0.1 to `hostPort` on the server's loopback,
   * through the shared connection (`ssh -O forward -L`); close() cancels it (`-O cancel`).
   */
  async forwardPort(hostPort: number): Promise<PortForward> {
    await this.connect()
    const port = await freePort()
    const spec = `127.0.0.1:${port}:127.0.0.1:${hostPort}`
    const control = (op: string) =>
      runProcess(
        this.sshPath,
        [...this.sshArgs(), '-O', op, '-L', spec, '--', this.options.hostname],
        {
          timeoutMs: 10_000
        }
      )
    const r = await control('forward')
    if (r.code !== 0)
      throw new SitecycleError(
        `cannot forward 127.0.0.1:${port} here to port ${hostPort} on ${this.name}: ${tail(r.stderr.toString())}`,
        'host'
      )
    return {
      port,
      close: async () => {
        await control('cancel').catch(() => undefined)
      }
    }
  }

  /** Stop the shared connection (`ssh -O exit`) and remove the temp dir with the key and socket. */
  async close(): Promise<void> {
    const dir = this.tempDir
    if (this.masterStarted) {
      await runProcess(
        this.sshPath,
        [...this.sshArgs(), '-O', 'exit', '--', this.options.hostname],
        {
          timeoutMs: 10_000
        }
      ).catch(() => undefined)
    }
    this.master?.kill('SIGTERM')
    this.master = undefined
    this.masterStarted = false
    this.connecting = undefined
    this.tempDir = undefined
    this.identityFile = undefined
    if (dir) await fs.rm(dir, { recursive: true, force: true })
  }

  private get sshPath(): string {
    return this.options.sshPath ?? 'ssh'
  }

  private async startMaster(): Promise<void> {
    const o = this.options
    if (!(await isReadableFile(o.knownHostsFile))) {
      throw new SshConnectionError(
        `The pinned known-hosts file ${o.knownHostsFile} for ${this.name} does not exist or cannot be read. ` +
          `Create it with the server's host key line (from \`ssh-keyscan -p ${o.port} ${o.hostname}\`, ` +
          `checked out of band against \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the server).`,
        'host-key',
        this.name
      )
    }
    if (o.key === undefined && o.keyFile !== undefined && !(await isReadableFile(o.keyFile))) {
      throw new SshConnectionError(
        `The SSH key file ${o.keyFile} for ${this.name} does not exist or cannot be read.`,
        'auth',
        this.name
      )
    }
    this.tempDir = await makePrivateTempDir()
    let keyCopy: string | undefined
    if (o.key !== undefined) {
      keyCopy = path.join(this.tempDir, 'id')
      this.identityFile = keyCopy
      await fs.writeFile(keyCopy, normalizeKey(o.key), { mode: 0o600 })
    } else {
      this.identityFile = o.keyFile
    }
    try {
      await this.startMasterProcess()
    } finally {
      // Logged in (or not): the connection needs the key no more, and no copy stays on disk.
      if (keyCopy) {
        await fs.rm(keyCopy, { force: true })
        this.identityFile = undefined
      }
    }
    this.masterStarted = true
  }

  /**
   * Start the ControlMaster as a child of this process (not forked into the background with -f,
   * so it gets SIGTERM when this process dies: die-with-parent.ts) and wait until it answers on
   * its control socket. Throws SshConnectionError when it ends first.
   */
  private async startMasterProcess(): Promise<void> {
    const o = this.options
    const timeoutMs = ((o.connectTimeoutSeconds ?? 20) + 10) * 1000
    const tied = tiedToThisProcess(this.sshPath, [
      ...this.sshArgs(),
      '-o',
      'ControlMaster=yes',
      '-o',
      'ControlPersist=no',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=4',
      '-N',
      '--',
      o.hostname
    ])
    const master = spawn(tied.file, tied.args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    master.stderr!.setEncoding('utf8').on('data', (t: string) => {
      if (stderr.length < 65536) stderr += t
    })
    const ended = new Promise<number>(resolve => {
      master.on('error', () => resolve(127))
      master.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
    let exitCode: number | undefined
    void ended.then(c => (exitCode = c))
    const deadline = Date.now() + timeoutMs
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      await new Promise(r => setTimeout(r, pause))
      if (exitCode === undefined && (await this.masterAnswers())) break
      if (exitCode !== undefined || Date.now() > deadline) {
        if (exitCode === undefined) master.kill('SIGKILL')
        const code = await ended
        throw (
          this.sshFailure(stderr) ??
          new SshConnectionError(
            `Cannot connect to ${o.hostname}:${o.port} over SSH (exit code ${code}): ${tail(stderr)}`,
            'connect',
            this.name
          )
        )
      }
    }
    // The master must not keep this process alive, nor its output pipe fill up.
    master.stderr!.resume()
    master.stderr!.on('data', () => undefined)
    master.unref()
    ;(master.stderr as unknown as { unref?: () => void }).unref?.()
    this.master = master
  }

  /** Whether the ControlMaster answers on its socket (`ssh -O check`). */
  private async masterAnswers(): Promise<boolean> {
    const r = await runProcess(
      this.sshPath,
      [...this.sshArgs(), '-O', 'check', '--', this.options.hostname],
      { timeoutMs: 10_000 }
    ).catch(() => undefined)
    return r?.code === 0
  }

  /** Options every ssh call shares; the first value given for an option wins in ssh, so none repeat. */
  private sshArgs(): string[] {
    const o = this.options
    if (!this.tempDir) throw new Error('SshExecutor used before connect()')
    const args = [
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${sshOptionValue(o.knownHostsFile)}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      // Never write to the pinned file (OpenSSH may otherwise add keys the server announces).
      '-o',
      'UpdateHostKeys=no',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `ControlPath=${sshOptionValue(path.join(this.tempDir, 'cm-'), '%C')}`,
      '-o',
      `ConnectTimeout=${o.connectTimeoutSeconds ?? 20}`,
      '-p',
      String(o.port),
      '-l',
      o.user
    ]
    if (this.identityFile) args.push('-i', this.identityFile)
    return args
  }

  /** Run a command through the shared connection; raw result, SSH failures thrown. */
  private async exec(
    command: Command,
    io: {
      stdin?: Readable | string | Buffer
      stdout?: Writable
      stderr?: Writable
      timeoutMs?: number
    } = {}
  ): Promise<{ code: number; stdout: Buffer; stderr: string }> {
    await this.connect()
    const remote =
      io.timeoutMs === undefined
        ? command
        : {
            ...command,
            argv: [
              'timeout',
              `--kill-after=${KILL_AFTER_SECONDS}`,
              `${io.timeoutMs / 1000}`,
              ...command.argv
            ]
          }
    const secret = secretEnvThroughStdin(remote, io.stdin ?? command.input)
    const r = await runProcess(
      this.sshPath,
      [...this.sshArgs(), '-o', 'ControlMaster=auto', '--', this.options.hostname, secret.line],
      {
        input: secret.input,
        stdout: io.stdout,
        ...(io.stderr && { stderr: io.stderr }),
        // Only if the connection itself hangs: the remote `timeout` normally ends it first.
        timeoutMs:
          io.timeoutMs === undefined ? undefined : io.timeoutMs + (KILL_AFTER_SECONDS + 10) * 1000
      }
    )
    const stderr = r.stderr.toString()
    if (r.code === 255) {
      const failure = this.sshFailure(stderr, command)
      if (failure) throw failure
    }
    return { code: r.code, stdout: r.stdout, stderr }
  }

  private async writeFrom(
    input: Readable | string | Buffer,
    remotePath: string,
    mode?: number
  ): Promise<void> {
    const script =
      mode === undefined
        ? 'mkdir -p -- "$2" && cat > "$1"'
        : 'mkdir -p -- "$2" && umask 077 && cat > "$1" && chmod -- "$3" "$1"'
    const args = [remotePath, path.posix.dirname(remotePath)]
    if (mode !== undefined) args.push(mode.toString(8).padStart(4, '0'))
    const command = cmd(['sh', '-c', script, 'sh', ...args])
    const r = await this.exec(command, { stdin: input })
    throwUnlessSuccess(this.name, command, redactedResult(command, r.code, '', r.stderr))
  }

  /**
   * Recognise a failure of ssh itself (exit 255) from its stderr, as opposed to a remote command
   * that exited 255. Only ssh's own message forms are matched, at the start of a line.
   */
  private sshFailure(stderr: string, command?: Command): SshConnectionError | undefined {
    const o = this.options
    const where = `${o.hostname}:${o.port}`
    const said = `\nssh said: ${tail(stderr)}`
    if (
      /^Host key verification failed/m.test(stderr) ||
      /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)
    ) {
      const changed = /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr)
      const fingerprint = /SHA256:[A-Za-z0-9+/=]+/.exec(stderr)?.[0]
      return new SshConnectionError(
        `The host key of ${where} is not in the pinned known-hosts file ${o.knownHostsFile}` +
          (changed
            ? ` (a different key is pinned for it: the server's key changed, or this is not the right server)`
            : '') +
          (fingerprint ? `; the server presented ${fingerprint}` : '') +
          `. Nothing was run. If this is the right server, add its key to that file: ` +
          `run \`ssh-keyscan -p ${o.port} ${o.hostname}\`, check the fingerprints against ` +
          `\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on the server itself (out of band), ` +
          `then append the matching line${changed ? ' in place of the old one' : ''}.`,
        'host-key',
        this.name
      )
    }
    if (
      /^\S+: Permission denied \(/m.test(stderr) ||
      /^Too many authentication failures/m.test(stderr)
    ) {
      const key =
        o.key !== undefined
          ? 'the private key given as content'
          : o.keyFile !== undefined
            ? `the key ${o.keyFile}`
            : 'the default keys in ~/.ssh'
      return new SshConnectionError(
        `SSH login as ${o.user} to ${where} was refused: the server did not accept ${key}. ` +
          `Add its public half (\`ssh-keygen -y -f KEYFILE\` prints it) to ~${o.user}/.ssh/authorized_keys on the server, ` +
          `and use a key without a passphrase (ssh runs in batch mode).${said}`,
        'auth',
        this.name
      )
    }
    if (
      /^(ssh|kex_exchange_identification|client_loop|mux_client_\w+|Control socket connect.*|Bad owner or permissions.*):/m.test(
        stderr
      ) ||
      /^Connection (to .* )?(closed|reset|timed out)/m.test(stderr)
    ) {
      const what = command
        ? `The SSH connection to ${where} failed while running ${describeCommand(command)}`
        : `Cannot connect to ${where} over SSH`
      return new SshConnectionError(`${what}.${said}`, 'connect', this.name)
    }
    return undefined
  }
}

/** A private (0700) directory for the key and the control socket, short enough for a socket path. */
async function makePrivateTempDir(): Promise<string> {
  const bases = [process.env.RUNNER_TEMP, os.tmpdir(), '/tmp'].filter((b): b is string => !!b)
  // 'cm-' + the 40 hex digits of %C; the socket path must fit in sockaddr_un.
  const base =
    bases.find(b => path.join(b, 'sitecycle-ssh-XXXXXX', 'cm-').length + 40 <= MAX_SOCKET_PATH) ??
    '/tmp'
  return makeRunTempDir(base, 'sitecycle-ssh-')
}

/** Key text as OpenSSH wants it: LF line ends and a final newline (secrets often lose it). */
function normalizeKey(key: string): string {
  const k = key.replace(/\r\n?/g, '\n').trim()
  return `${k}\n`
}

/** A path inside an `-o Option=value` argument: `%` escaped (then `tokens` added), quoted when it holds spaces. */
function sshOptionValue(p: string, tokens = ''): string {
  const escaped = p.replace(/%/g, '%%') + tokens
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/(["\\])/g, '\\$1')}"` : escaped
}

function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

async function isReadableFile(p: string): Promise<boolean> {
  try {
    await fs.access(p, fsConstants.R_OK)
    return (await fs.stat(p)).isFile()
  } catch {
    return false
  }
}

/**
 * The remote shell line and its standard input, with the command's secret environment values
 * (those it also lists in `redact`: database and basic-auth passwords) moved out of the line: the
 * line is visible to every user of the host in its process list while the command runs, so each
 * secret goes first on standard input instead, one line each, read by the shell (`read -r`
 * takes one line and no more from a pipe) and exported; the command then reads the rest of the
 * input as it would have. Pure but for wrapping a stream input.
 */
export function secretEnvThroughStdin(
  command: Command,
  input: Readable | string | Buffer | undefined
): { line: string; input: Readable | string | Buffer | undefined } {
  const secrets = new Set((command.redact ?? []).filter(Boolean))
  const hidden = Object.entries(command.env ?? {}).filter(([, v]) => secrets.has(v))
  if (!hidden.length) return { line: toShellLine(command), input }
  for (const [name, value] of hidden)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || /[\r\n\0]/.test(value))
      throw new SitecycleError(
        `the secret in ${JSON.stringify(name)} is not a one-line value of a valid variable name; it cannot be passed to a remote command safely`,
        'input'
      )
  const env = Object.fromEntries(
    Object.entries(command.env ?? {}).filter(([, v]) => !secrets.has(v))
  )
  const names = hidden.map(([name]) => name)
  const reads = names.map(n => `IFS= read -r ${n} && export ${n}`).join(' && ')
  const line = `${reads} && ${toShellLine({ ...command, env })}`
  const prefix = hidden.map(([, v]) => v + '\n').join('')
  if (input === undefined) return { line, input: prefix }
  if (typeof input === 'string' || Buffer.isBuffer(input))
    return { line, input: Buffer.concat([Buffer.from(prefix), Buffer.from(input)]) }
  const joined = new PassThrough()
  joined.write(prefix)
  input.on('error', e => joined.destroy(e))
  input.pipe(joined)
  return { line, input: joined }
}
