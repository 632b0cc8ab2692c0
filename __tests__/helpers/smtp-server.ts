/**
 * A real SMTP server on loopback for tests: Debian's aiosmtpd (python3-aiosmtpd) run by
 * /usr/bin/python3, writing each message it accepts (envelope and raw bytes) to a folder as JSON.
 * Optionally it requires a login (AUTH PLAIN and LOGIN) and offers STARTTLS with a self-signed
 * certificate made by openssl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

const SERVER_PY = String.raw`
import asyncio, json, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

out, port, user, password, cert, key = sys.argv[1:7]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(out, '%d-%d.json' % (time.time_ns(), os.getpid()))
        with open(name + '.tmp', 'w') as f:
            json.dump({
                'mail_from': envelope.mail_from,
                'rcpt_tos': envelope.rcpt_tos,
                'data': envelope.original_content.decode('utf-8', 'replace'),
                'login': session.auth_data.login.decode() if session.auth_data else None,
                'tls': session.ssl is not None,
            }, f)
        os.rename(name + '.tmp', name)
        return '250 OK'

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

kwargs = {}
if user:
    kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(cert))
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kwargs.update(tls_context=ctx, require_starttls=True)
controller = Controller(Handler(), hostname='127.0.0.1', port=int(port), **kwargs)
controller.start()
print('ready', flush=True)
try:
    sys.stdin.read()
finally:
    controller.stop()
`

/** One message the server accepted. */
export interface ReceivedMail {
  mail_from: string
  rcpt_tos: string[]
  /** The raw message (headers and body) as sent in DATA, after un-dot-stuffing. */
  data: string
  /** The user that logged in, if any. */
  login: string | null
  /** Whether the message came over TLS (STARTTLS). */
  tls: boolean
}

export interface SmtpServer {
  port: number
  /** The certificate to trust (STARTTLS servers). */
  cert?: string
  /** Messages received so far, oldest first. */
  messages(): Promise<ReceivedMail[]>
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const net = await import('node:net')
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Start aiosmtpd on a free loopback port. */
export async function startSmtpServer(
  options: { user?: string; password?: string; starttls?: boolean } = {}
): Promise<SmtpServer> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-smtp-'))
  const out = path.join(dir, 'mail')
  await fs.mkdir(out)
  const script = path.join(dir, 'server.py')
  await fs.writeFile(script, SERVER_PY)
  let cert = ''
  let key = ''
  if (options.starttls) {
    cert = path.join(dir, 'cert.pem')
    key = path.join(dir, 'key.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert
      ],
      { stdio: 'ignore' }
    )
  }
  const port = await freePort()
  const child: ChildProcess = spawn(
    '/usr/bin/python3',
    [script, out, String(port), options.user ?? '', options.password ?? '', cert, key],
    { stdio: ['pipe', 'pipe', 'pipe'] }
  )
  let stderr = ''
  child.stderr?.on('data', d => (stderr += String(d)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aiosmtpd did not start: ${stderr}`)), 15000)
    child.stdout?.on('data', d => {
      if (String(d).includes('ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`aiosmtpd exited with ${code}: ${stderr}`))
    })
  })
  return {
    port,
    ...(cert && { cert: await fs.readFile(cert, 'utf8') }),
    async messages() {
      const names = (await fs.readdir(out)).filter(n => n.endsWith('.json')).sort()
      return Promise.all(
        names.map(
          async n => JSON.parse(await fs.readFile(path.join(out, n), 'utf8')) as ReceivedMail
        )
      )
    },
    async stop() {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.stdin?.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      await fs.rm(dir, { recursive: true, force: true })
    }
  }
}
