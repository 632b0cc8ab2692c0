/**
 * A small SMTP client (RFC 5321) over node:net and node:tls, enough for alert mails: EHLO (HELO
 * when refused), STARTTLS or TLS from the first byte, AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO,
 * DATA with dot-stuffing, QUIT; multi-line replies; a timeout on every reply.
 *
 * A password is sent only over TLS, or to a server on this machine (loopback).
 */
import net from 'node:net'
import tls from 'node:tls'
import { hostname } from 'node:os'
import { SitecycleError } from '../util/errors.js'
import { renderMessage, type MailMessage, type MailTransport } from './mail-message.js'

/** Where and how to reach the SMTP server. */
export interface SmtpSettings {
  host: string
  port: number
  /** Upgrade the connection with STARTTLS (required when true: a server without it is refused). */
  starttls: boolean
  /** TLS from the first byte (port 465, "SMTPS"); STARTTLS is then not used. */
  implicitTls?: boolean
  /** Log in as this user (AUTH PLAIN, or LOGIN when the server offers only that). */
  user?: string
  /** The password of `user` (a secret: never part of an error message). */
  password?: string
  /** Certificates to trust besides the system's (a private CA, or a test server's). */
  ca?: string | Buffer
  /** The name given in EHLO (default: this machine's host name). */
  clientName?: string
  /** Milliseconds to wait for each reply (default 30000). */
  timeoutMs?: number
}

/** An SMTP exchange that failed: the command (never a credential) and the server's reply. */
export class SmtpError extends SitecycleError {
  constructor(
    message: string,
    /** The reply code, when the server answered. */
    readonly code?: number
  ) {
    super(message, 'alert')
    this.name = 'SmtpError'
  }
}

interface Reply {
  code: number
  lines: string[]
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Reads CRLF-terminated reply lines from whichever socket is current. */
class Connection {
  private buffer = ''
  private lines: string[] = []
  private waiter?: { resolve: () => void; reject: (e: Error) => void }
  private failure?: Error

  constructor(
    public socket: net.Socket,
    private readonly label: string,
    private readonly timeoutMs: number
  ) {
    this.socket.on('data', this.onData)
    this.socket.on('timeout', this.onTimeout)
    this.socket.on('error', this.onError)
    this.socket.on('close', this.onClose)
    socket.setTimeout(timeoutMs)
  }

  /** Read from `socket` from now on (after STARTTLS the TLS socket replaces the plain one). */
  attach(socket: net.Socket): void {
    this.detach()
    this.socket = socket
    socket.setTimeout(this.timeoutMs)
    socket.on('data', this.onData)
    socket.on('timeout', this.onTimeout)
    socket.on('error', this.onError)
    socket.on('close', this.onClose)
  }

  /** Stop reading the current socket (before TLS takes it over). */
  detach(): void {
    this.socket.off('data', this.onData)
    this.socket.off('timeout', this.onTimeout)
    this.socket.off('error', this.onError)
    this.socket.off('close', this.onClose)
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buffer += chunk.toString('utf8')
    let end: number
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      this.lines.push(this.buffer.slice(0, end).replace(/\r$/, ''))
      this.buffer = this.buffer.slice(end + 1)
    }
    this.wake()
  }

  private readonly onTimeout = (): void =>
    this.fail(new SmtpError(`${this.label}: no answer within ${this.timeoutMs / 1000}s`))

  private readonly onError = (e: Error): void =>
    this.fail(new SmtpError(`${this.label}: ${e.message}`))

  private readonly onClose = (): void =>
    this.fail(new SmtpError(`${this.label}: the server closed the connection`))

  private fail(error: Error): void {
    this.failure ??= error
    this.wake()
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.resolve()
  }

  private async nextLine(): Promise<string> {
    for (;;) {
      const line = this.lines.shift()
      if (line !== undefined) return line
      if (this.failure) throw this.failure
      await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }))
    }
  }

  /** One reply, all its lines (`250-...` continues, `250 ...` ends). */
  async reply(): Promise<Reply> {
    const lines: string[] = []
    for (;;) {
      const line = await this.nextLine()
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line)
      if (!m) throw new SmtpError(`${this.label}: not an SMTP reply: '${line.slice(0, 200)}'`)
      lines.push(m[3])
      if (m[2] !== '-') return { code: Number(m[1]), lines }
    }
  }

  write(text: string): void {
    this.socket.write(text)
  }
}

/** Sends each message over a new SMTP connection. */
export class SmtpTransport implements MailTransport {
  private readonly label: string

  constructor(private readonly settings: SmtpSettings) {
    this.label = `SMTP server ${settings.host}:${settings.port}`
  }

  async send(message: MailMessage): Promise<void> {
    if (message.to.length === 0) throw new SmtpError('no recipient for the alert mail')
    const conn = await this.connect()
    try {
      await this.expect(conn, undefined, [220], 'greeting')
      let extensions = await this.hello(conn)
      const tlsActive =
        this.settings.implicitTls === true || (await this.startTls(conn, extensions))
      if (tlsActive && !this.settings.implicitTls) extensions = await this.hello(conn)
      if (this.settings.user !== undefined) await this.login(conn, extensions, tlsActive)
      await this.expect(conn, `MAIL FROM:<${address(message.from)}>`, [250])
      for (const to of message.to) await this.expect(conn, `RCPT TO:<${address(to)}>`, [250, 251])
      await this.expect(conn, 'DATA', [354])
      await this.expect(conn, undefined, [250], 'message', dotStuffed(renderMessage(message)))
      await this.expect(conn, 'QUIT', [221]).catch(() => undefined)
    } finally {
      conn.socket.destroy()
    }
  }

  private connect(): Promise<Connection> {
    const { host, port, implicitTls, ca } = this.settings
    const timeout = this.settings.timeoutMs ?? 30000
    return new Promise((resolve, reject) => {
      const socket = implicitTls
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca })
        : net.connect({ host, port })
      const ready = implicitTls ? 'secureConnect' : 'connect'
      const onError = (e: Error) => reject(new SmtpError(`${this.label}: ${e.message}`))
      socket.once('error', onError)
      socket.setTimeout(timeout, () => {
        socket.destroy()
        reject(new SmtpError(`${this.label}: no connection within ${timeout / 1000}s`))
      })
      socket.once(ready, () => {
        socket.off('error', onError)
        resolve(new Connection(socket, this.label, timeout))
      })
    })
  }

  /** EHLO, or HELO when the server refuses it; returns the extensions offered (upper case). */
  private async hello(conn: Connection): Promise<string[]> {
    const name = this.settings.clientName ?? (hostname() || 'localhost')
    conn.write(`EHLO ${name}\r\n`)
    const reply = await conn.reply()
    if (reply.code === 250) return reply.lines.slice(1).map(l => l.toUpperCase())
    await this.expect(conn, `HELO ${name}`, [250])
    return []
  }

  private async startTls(conn: Connection, extensions: string[]): Promise<boolean> {
    if (!this.settings.starttls) return false
    if (!extensions.includes('STARTTLS'))
      throw new SmtpError(
        `${this.label} does not offer STARTTLS; set alerts.email.starttls: false only for a server on a trusted network, or use port 465 (TLS)`
      )
    await this.expect(conn, 'STARTTLS', [220])
    const { host, ca } = this.settings
    conn.detach()
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: conn.socket,
        servername: net.isIP(host) ? undefined : host,
        ca
      })
      s.once('secureConnect', () => resolve(s))
      s.once('error', e => reject(new SmtpError(`${this.label}: TLS failed: ${e.message}`)))
    })
    conn.attach(secure)
    return true
  }

  private async login(conn: Connection, extensions: string[], tlsActive: boolean): Promise<void> {
    const { user = '', password = '', host } = this.settings
    if (!tlsActive && !LOOPBACK.has(host))
      throw new SmtpError(
        `refusing to send the SMTP password to ${host} unencrypted: set alerts.email.starttls: true or use port 465`
      )
    const auth = extensions.find(e => e.startsWith('AUTH ') || e.startsWith('AUTH='))
    const mechanisms = auth ? auth.slice(5).split(/\s+/) : []
    if (mechanisms.length === 0)
      throw new SmtpError(
        `${this.label} offers no AUTH, and alerts.email.user is set: remove the user, or check the server`
      )
    if (mechanisms.includes('PLAIN')) {
      const token = Buffer.from(`\0${user}\0${password}`).toString('base64')
      await this.expect(conn, undefined, [235], 'AUTH PLAIN', `AUTH PLAIN ${token}\r\n`)
      return
    }
    if (!mechanisms.includes('LOGIN'))
      throw new SmtpError(
        `${this.label} offers AUTH ${mechanisms.join(' ')}, and sitecycle speaks PLAIN and LOGIN`
      )
    await this.expect(conn, 'AUTH LOGIN', [334])
    await this.expect(conn, undefined, [334], 'AUTH LOGIN user', `${b64(user)}\r\n`)
    await this.expect(conn, undefined, [235], 'AUTH LOGIN password', `${b64(password)}\r\n`)
  }

  /**
   * Send `command` (or `raw` text, shown as `shown`) and read the reply; a code not in `codes`
   * is an SmtpError naming the command and the reply.
   */
  private async expect(
    conn: Connection,
    command: string | undefined,
    codes: number[],
    shown?: string,
    raw?: string
  ): Promise<Reply> {
    if (raw !== undefined) conn.write(raw)
    else if (command !== undefined) conn.write(`${command}\r\n`)
    const reply = await conn.reply()
    if (!codes.includes(reply.code)) {
      const what = shown ?? command ?? 'the command'
      throw new SmtpError(
        `${this.label} refused ${what}: ${reply.code} ${reply.lines.join(' ')}`.trim(),
        reply.code
      )
    }
    return reply
  }
}

/** An address without angle brackets, CR, LF or spaces (they would change the command). */
function address(value: string): string {
  const a = value.trim().replace(/^.*<([^>]*)>.*$/, '$1')
  if (!/^[^\s<>\r\n]+@[^\s<>\r\n]+$/.test(a))
    throw new SmtpError(`'${value}' is not a mail address such as alerts@example.org`)
  return a
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64')

/** DATA content: a line starting with '.' gets another one; ends with CRLF.CRLF. */
export function dotStuffed(message: string): string {
  const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
  return `${body.endsWith('\r\n') ? body : `${body}\r\n`}.\r\n`
}
