import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cmd } from '../../src/commands/command.js'
import { createExecutor } from '../../src/hosts/create-executor.js'
import { CommandError } from '../../src/hosts/executor.js'
import { LocalExecutor } from '../../src/hosts/local-executor.js'
import { SshConnectionError, SshExecutor } from '../../src/hosts/ssh-executor.js'
import { SitecycleError } from '../../src/util/errors.js'
import { generateKey, knownHostsLine, startSshd, type Sshd } from '../helpers/sshd.js'

const PY = '/usr/bin/python3'

describe('SshExecutor against a real sshd', () => {
  let sshd: Sshd
  let dir: string
  const opened: SshExecutor[] = []

  /** An executor for the test sshd; closed after each test. */
  function connectTo(
    extra: Partial<ConstructorParameters<typeof SshExecutor>[0]> = {}
  ): SshExecutor {
    const ex = new SshExecutor({
      user: sshd.user,
      hostname: '127.0.0.1',
      port: sshd.port,
      keyFile: sshd.keyFile,
      knownHostsFile: sshd.knownHostsFile,
      connectTimeoutSeconds: 5,
      ...extra
    })
    opened.push(ex)
    return ex
  }

  async function acceptedLogins(): Promise<number> {
    return ((await fs.readFile(sshd.logFile, 'utf8')).match(/Accepted publickey/g) ?? []).length
  }

  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
  })
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-ssh-test-'))
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map(e => e.close()))
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('is named ssh://user@host:port', () => {
    expect(connectTo().name).toBe(`ssh://root@127.0.0.1:${sshd.port}`)
  })

  it('runs with env, unsetEnv, cwd, input and hostile args intact, over one connection', async () => {
    const ssh = connectTo()
    const before = await acceptedLogins()
    const marker = path.join(dir, 'pwned')
    const hostile = [
      `$(touch ${marker})`,
      `; touch ${marker}`,
      `\`touch ${marker}\``,
      "it's",
      'a\nb',
      '*',
      '',
      '$HOME'
    ]
    const script =
      'import json,os,sys; print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), ' +
      '"A": os.environ.get("A"), "GONE": os.environ.get("SITECYCLE_GONE", "unset"), "stdin": sys.stdin.read()}))'

    const r = await ssh.run(
      cmd([PY, '-c', script, ...hostile], {
        cwd: dir,
        env: { A: "va'lue $(x)\n" },
        unsetEnv: ['SITECYCLE_GONE'],
        input: 'from stdin\n'
      })
    )
    expect(JSON.parse(r.stdout)).toEqual({
      argv: hostile,
      cwd: dir,
      A: "va'lue $(x)\n",
      GONE: 'unset',
      stdin: 'from stdin\n'
    })
    await expect(fs.access(marker)).rejects.toThrow()

    // More calls of every kind: still the same single connection.
    expect((await ssh.run(cmd(['/bin/echo', 'two']))).stdout).toBe('two\n')
    await ssh.writeFile(path.join(dir, 'f'), 'x')
    expect(await ssh.readFile(path.join(dir, 'f'))).toBe('x')
    expect((await ssh.tryRun(cmd(['/bin/false']))).code).toBe(1)
    expect(await acceptedLogins()).toBe(before + 1)
  })

  it('unsetEnv removes a variable the remote environment really has', async () => {
    const ssh = connectTo()
    // HOME is always set by sshd for the session.
    const kept = await ssh.run(cmd(['/bin/sh', '-c', 'echo "${HOME-unset}"']))
    expect(kept.stdout).toBe('/root\n')
    const removed = await ssh.run(
      cmd(['/bin/sh', '-c', 'echo "${HOME-unset}"'], { unsetEnv: ['HOME'] })
    )
    expect(removed.stdout).toBe('unset\n')
  })

  it('a non-zero exit is a CommandError with host, code and stderr tail; secrets are hidden', async () => {
    const ssh = connectTo()
    const secret = 'hunter2-secret'
    const c = cmd(['/bin/sh', '-c', 'echo "$1" >&2; echo "$1"; exit 7', 'sh', secret], {
      redact: [secret]
    })
    const error = await ssh.run(c).catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(error).toMatchObject({ host: ssh.name, code: 7, stdout: '***\n', stderr: '***\n' })
    expect(error.message).toMatch(/exit code 7:\n\*\*\*/)
    expect(error.message + error.commandLine).not.toContain(secret)
  })

  it('secret environment values reach the command through stdin, never the remote process list', async () => {
    const ssh = connectTo()
    const secret = `pw-${process.pid}-s3cr3t 'with' $quotes`
    const marker = path.join(dir, 'running')
    // The command reports its variable, then its own stdin (what follows the secrets), and waits
    // while the test reads every process's command line on the (same) host.
    const c = cmd(
      [
        '/bin/sh',
        '-c',
        'printf "%s|" "$DB_PASSWORD" "$PLAIN"; cat; touch "$1"; sleep 1.5',
        'sh',
        marker
      ],
      { env: { DB_PASSWORD: secret, PLAIN: 'visible' }, redact: [secret], input: 'rest of stdin\n' }
    )
    const running = ssh.run(c)
    let lines = ''
    for (let i = 0; i < 100 && !lines; i++) {
      await new Promise(r => setTimeout(r, 20))
      if (
        await fs.stat(marker).then(
          () => true,
          () => false
        )
      )
        lines = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    }
    expect(lines).toContain(marker)
    expect(lines).not.toContain(secret)
    expect(lines).not.toContain('pw-')
    const r = await running
    // The output is redacted by the executor; unredacted it would be the secret itself.
    expect(r.stdout).toBe('***|visible|rest of stdin\n')
  })

  it('a remote command exiting 255 is its own failure, not an SSH failure', async () => {
    const error = await connectTo()
      .run(cmd(['/bin/sh', '-c', 'echo oops >&2; exit 255']))
      .catch(e => e)
    expect(error).toBeInstanceOf(CommandError)
    expect(error.code).toBe(255)
  })

  it('kills a remote command after its timeout (code 124), on the server too', async () => {
    const ssh = connectTo()
    const pidFile = path.join(dir, 'pid')
    const r = await ssh.tryRun(cmd(['/bin/sh', '-c', `echo $$ > ${pidFile}; exec /bin/sleep 30`]), {
      timeoutMs: 500
    })
    expect(r.code).toBe(124)
    const pid = Number(await fs.readFile(pidFile, 'utf8'))
    expect(() => process.kill(pid, 0)).toThrow()
  })

  it('put, get, writeFile and readFile round-trip content and mode', async () => {
    const ssh = connectTo()
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256))
    const local = path.join(dir, 'local.bin')
    await fs.writeFile(local, bytes)
    const remote = path.join(dir, 'remote dir $(x)', 'sub', "it's.bin")

    await ssh.put(local, remote, 0o640)
    expect(Buffer.compare(await fs.readFile(remote), bytes)).toBe(0)
    expect((await fs.stat(remote)).mode & 0o777).toBe(0o640)

    const back = path.join(dir, 'back', 'copy.bin')
    await ssh.get(remote, back)
    expect(Buffer.compare(await fs.readFile(back), bytes)).toBe(0)

    const ini = path.join(dir, 'etc', 'app.ini')
    await ssh.writeFile(ini, 'password = x\n', 0o600)
    expect((await fs.stat(ini)).mode & 0o777).toBe(0o600)
    await ssh.writeFile(ini, 'password = y\n', 0o644)
    expect((await fs.stat(ini)).mode & 0o777).toBe(0o644)
    expect(await ssh.readFile(ini)).toBe('password = y\n')
    await ssh.writeFile(ini, Buffer.from('')) // empty content is a real write too
    expect(await ssh.readFile(ini)).toBe('')

    expect(await ssh.readFile(path.join(dir, 'missing'))).toBeUndefined()
    await expect(ssh.readFile(dir)).rejects.toBeInstanceOf(CommandError)
    const failedGet = path.join(dir, 'never.bin')
    await expect(ssh.get(path.join(dir, 'missing'), failedGet)).rejects.toBeInstanceOf(CommandError)
    await expect(fs.access(failedGet)).rejects.toThrow()
  })

  it('behaves like LocalExecutor for the same calls', async () => {
    const calls = async (ex: LocalExecutor | SshExecutor, sub: string) => {
      const p = path.join(dir, sub, 'f.txt')
      await ex.writeFile(p, 'same', 0o600)
      return [
        await ex.readFile(p),
        await ex.readFile(path.join(dir, sub, 'none')),
        (
          await ex.tryRun(
            cmd(['/bin/sh', '-c', 'pwd; echo "$X"; exit 3'], {
              cwd: path.join(dir, sub),
              env: { X: 'y' }
            })
          )
        ).stdout,
        (await ex.tryRun(cmd(['/bin/true'], { cwd: path.join(dir, 'nowhere') }))).code,
        (await ex.tryRun(cmd([path.join(dir, 'no-such-program')]))).code
      ]
    }
    const viaSsh = await calls(connectTo(), 'ssh')
    const viaLocal = await calls(new LocalExecutor(), 'local')
    expect(viaSsh).toEqual(['same', undefined, `${path.join(dir, 'ssh')}\ny\n`, 1, 127])
    expect(viaLocal).toEqual(['same', undefined, `${path.join(dir, 'local')}\ny\n`, 1, 127])
  })

  it('refuses a host whose key is not the pinned one, with a clear error, and runs nothing', async () => {
    const otherKey = path.join(dir, 'other_host')
    generateKey(otherKey)
    const wrongKnownHosts = path.join(dir, 'known_hosts')
    await fs.writeFile(wrongKnownHosts, await knownHostsLine(sshd.port, `${otherKey}.pub`))
    const before = await acceptedLogins()
    const marker = path.join(dir, 'ran')

    const error = await connectTo({ knownHostsFile: wrongKnownHosts })
      .run(cmd(['/usr/bin/touch', marker]))
      .catch(e => e)
    expect(error).toBeInstanceOf(SshConnectionError)
    expect(error).toBeInstanceOf(SitecycleError)
    expect(error).toMatchObject({ kind: 'host', reason: 'host-key' })
    expect(error.message).toContain(
      `The host key of 127.0.0.1:${sshd.port} is not in the pinned known-hosts file ${wrongKnownHosts}`
    )
    expect(error.message).toContain(`ssh-keyscan -p ${sshd.port} 127.0.0.1`)
    expect(error.message).toContain('ssh-keygen -lf')
    await expect(fs.access(marker)).rejects.toThrow()
    expect(await acceptedLogins()).toBe(before)
    // The pinned file is left as it was: nothing learned.
    expect(await fs.readFile(wrongKnownHosts, 'utf8')).toBe(
      await knownHostsLine(sshd.port, `${otherKey}.pub`)
    )
  })

  it('refuses a host missing from an empty known-hosts file', async () => {
    const empty = path.join(dir, 'empty_known_hosts')
    await fs.writeFile(empty, '')
    const error = await connectTo({ knownHostsFile: empty })
      .run(cmd(['/bin/true']))
      .catch(e => e)
    expect(error).toMatchObject({ kind: 'host', reason: 'host-key' })
    expect(error.message).toContain(`not in the pinned known-hosts file ${empty}`)
    expect(await fs.readFile(empty, 'utf8')).toBe('')
  })

  it('reports a key the server does not accept as an authentication failure', async () => {
    const stranger = path.join(dir, 'stranger')
    generateKey(stranger)
    const error = await connectTo({ keyFile: stranger })
      .run(cmd(['/bin/true']))
      .catch(e => e)
    expect(error).toBeInstanceOf(SshConnectionError)
    expect(error).toMatchObject({ kind: 'host', reason: 'auth' })
    expect(error.message).toContain(`SSH login as root to 127.0.0.1:${sshd.port} was refused`)
    expect(error.message).toContain('authorized_keys')
  })

  it('reports a closed port as a connection failure', async () => {
    const error = await connectTo({ port: 1 })
      .run(cmd(['/bin/true']))
      .catch(e => e)
    expect(error).toMatchObject({ kind: 'host', reason: 'connect' })
    expect(error.message).toMatch(/Cannot connect to 127.0.0.1:1 over SSH[\s\S]*Connection refused/)
  })

  it('logs in with key content, and keeps no copy of the key on disk once connected', async () => {
    const keyContent = (await fs.readFile(sshd.keyFile, 'utf8')).trimEnd() // as secrets often arrive
    const tmp = os.tmpdir()
    const ours = async () =>
      (await fs.readdir(tmp)).filter(
        n => n.startsWith('sitecycle-ssh-') && !n.startsWith('sitecycle-ssh-test')
      )
    const dirsBefore = new Set(await ours())
    const ssh = connectTo({ keyFile: undefined, key: keyContent })
    const seen = await ssh.run(cmd(['/bin/echo', 'ok']))
    expect(seen.stdout).toBe('ok\n')

    // This executor's folder (control socket, owner file): private, and without the key.
    const mine = (await ours()).filter(d => !dirsBefore.has(d))
    expect(mine).toHaveLength(1)
    const dir = path.join(tmp, mine[0]!)
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700)
    for (const name of await fs.readdir(dir)) {
      const content = await fs.readFile(path.join(dir, name), 'utf8').catch(() => '')
      expect(content).not.toContain(keyContent.split('\n')[1]!)
    }
    expect(await fs.readdir(dir)).not.toContain('id')
    // The connection lives on without the key: more commands run over it.
    const logins = await acceptedLogins()
    expect((await ssh.run(cmd(['/bin/echo', 'again']))).stdout).toBe('again\n')
    expect(await acceptedLogins()).toBe(logins)

    await ssh.close()
    await expect(fs.access(dir)).rejects.toThrow()
    // The master is gone too: a new call logs in again, with the key content again.
    const before = await acceptedLogins()
    await ssh.run(cmd(['/bin/true']))
    expect(await acceptedLogins()).toBe(before + 1)
    await ssh.close()
  })

  it('createExecutor builds an SSH executor from the config, and refuses one without known hosts', async () => {
    const host = { kind: 'ssh' as const, user: 'root', hostname: '127.0.0.1', port: sshd.port }
    expect(() => createExecutor(host, { keyFile: sshd.keyFile })).toThrow(SitecycleError)
    expect(() => createExecutor(host, { keyFile: sshd.keyFile })).toThrow(/known-hosts/)

    const ex = createExecutor(host, { keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile })
    try {
      expect(ex).toBeInstanceOf(SshExecutor)
      expect((await ex.run(cmd(['/usr/bin/id', '-u']))).stdout).toBe('0\n')
    } finally {
      await ex.close()
    }
    expect(createExecutor({ kind: 'local' })).toBeInstanceOf(LocalExecutor)
  })

  it('forwards a local port to a port on the server loopback, until closed', async () => {
    // A server only the host's loopback reaches (this machine plays the host).
    const server = http.createServer((req, res) => {
      res.end(`${req.headers['x-probe'] ?? ''} from ${req.socket.remoteAddress}`)
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const hostPort = (server.address() as { port: number }).port
    const ssh = connectTo()
    try {
      const forward = await ssh.forwardPort(hostPort)
      expect(forward.port).not.toBe(hostPort)
      // A new connection each time (no keep-alive: an open channel outlives a cancel).
      const get = (port: number) =>
        new Promise<string>((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port, agent: false, headers: { 'X-Probe': 'p1' } },
            res => {
              let body = ''
              res.on('data', d => (body += d))
              res.on('end', () => resolve(body))
            }
          )
          req.on('error', reject)
        })
      // sshd makes the connection on the host: the server sees it from its own loopback.
      expect(await get(forward.port)).toBe('p1 from 127.0.0.1')
      await forward.close()
      await expect(get(forward.port)).rejects.toThrow(/ECONNREFUSED/)
    } finally {
      server.close()
    }
  })
})
