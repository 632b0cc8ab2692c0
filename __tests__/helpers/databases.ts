/**
 * Throwaway database servers for integration tests: PostgreSQL 15 and MariaDB started by hand in
 * temp dirs, listening on unix sockets in those dirs and on a free loopback port, with real
 * authentication (a password for TCP logins), and stopped again. No system service is touched.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { openSync, closeSync, promises as fs } from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { freePort } from './sshd.js'

const PG_BIN = '/usr/lib/postgresql/15/bin'

/** A running test PostgreSQL cluster. */
export interface PostgresServer {
  /** Unix socket directory (use as `host`). */
  socketDir: string
  /** TCP port on 127.0.0.1 (the socket in socketDir carries the same number). */
  port: number
  /** Superuser name (trust over the unix socket, password over TCP). */
  user: 'postgres'
  /** The superuser's password (for TCP logins). */
  password: string
  /** Run SQL as the superuser over the socket; returns psql's unaligned output. */
  sql(database: string, sql: string): string
  /** Server log file. */
  logFile: string
  stop(): Promise<void>
}

/** A running test MariaDB server. */
export interface MariaDbServer {
  /** Unix socket file (use as `host`). */
  socket: string
  port: number
  /** root logs in over the unix socket by its OS identity (unix_socket auth), no password. */
  rootUser: 'root'
  /** Run SQL as root over the socket; returns batch output without column names. */
  sql(sql: string, database?: string): string
  logFile: string
  stop(): Promise<void>
}

async function waitFor(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 20_000
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`)
    await new Promise(r => setTimeout(r, 100))
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/**
 * initdb a cluster in a temp dir owned by `postgres` (initdb refuses root), start it with pg_ctl
 * on a free port and a socket in the temp dir. Local (socket) logins are trusted; TCP logins need
 * the password (scram-sha-256).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-pg-'))
  await fs.chmod(dir, 0o755)
  const data = path.join(dir, 'data')
  const socketDir = path.join(dir, 'run')
  const logFile = path.join(dir, 'server.log')
  const password = 'pg-test-secret'
  const pwFile = path.join(dir, 'pw')
  await fs.mkdir(socketDir)
  await fs.writeFile(pwFile, password + '\n')
  execFileSync('chown', ['-R', 'postgres:postgres', dir])
  const asPostgres = (file: string, args: string[]): string =>
    execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir }).toString()
  asPostgres(`${PG_BIN}/initdb`, [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    `--pwfile=${pwFile}`,
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync'
  ])
  const port = await freePort()
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${socketDir} -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=50`
  asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-l', logFile, '-o', opts, '-w', '-t', '30', 'start'])
  const sql = (database: string, text: string): string =>
    execFileSync(
      'psql',
      [
        '-X',
        '-q',
        '-At',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        socketDir,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database
      ],
      {
        input: text
      }
    ).toString()
  return {
    socketDir,
    port,
    user: 'postgres',
    password,
    sql,
    logFile,
    async stop() {
      try {
        asPostgres(`${PG_BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // already gone
      }
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Initialise a MariaDB data dir with mariadb-install-db in a temp dir and start mariadbd on it
 * (as root, `--user=root`), with its socket in the temp dir and a free loopback port. Real grant
 * tables: root authenticates over the unix socket by its OS identity.
 */
export async function startMariaDb(): Promise<MariaDbServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-maria-'))
  const data = path.join(dir, 'data')
  const socket = path.join(dir, 'mysqld.sock')
  const logFile = path.join(dir, 'server.log')
  // A temp folder of its own: a server starting removes the `#sql*` temp files it finds in its
  // tmpdir, so two test files starting MariaDB at once in /tmp broke each other's bootstrap.
  const tmp = path.join(dir, 'tmp')
  await fs.mkdir(tmp)
  execFileSync('mariadb-install-db', [
    '--no-defaults',
    `--datadir=${data}`,
    `--tmpdir=${tmp}`,
    '--auth-root-authentication-method=socket',
    '--user=root',
    '--skip-test-db'
  ])
  const port = await freePort()
  const logFd = openSync(logFile, 'a')
  const child: ChildProcess = spawn(
    'mariadbd',
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--tmpdir=${tmp}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      `--pid-file=${path.join(dir, 'mariadbd.pid')}`,
      `--log-error=${logFile}`,
      '--innodb-buffer-pool-size=32M',
      '--innodb-log-file-size=16M',
      '--innodb-flush-log-at-trx-commit=0',
      '--skip-log-bin',
      '--max-connections=50'
    ],
    { stdio: ['ignore', logFd, logFd] }
  )
  closeSync(logFd)
  let exited = false
  const exit = new Promise<void>(resolve => child.once('exit', () => ((exited = true), resolve())))
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGKILL')
      await exit
    }
    await fs.rm(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(async () => {
      if (exited)
        throw new Error(`mariadbd exited:\n${await fs.readFile(logFile, 'utf8').catch(() => '')}`)
      return canConnect(port)
    }, 'mariadbd accepting connections')
  } catch (e) {
    await stop()
    throw e
  }
  const sql = (text: string, database?: string): string =>
    execFileSync(
      'mariadb',
      [
        '--no-defaults',
        `--socket=${socket}`,
        '-u',
        'root',
        '-N',
        '-B',
        ...(database ? [`--database=${database}`] : [])
      ],
      {
        input: text
      }
    ).toString()
  return { socket, port, rootUser: 'root', sql, logFile, stop }
}
