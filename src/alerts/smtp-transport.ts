/**
 * Alert mails over SMTP with nodemailer: STARTTLS (required when asked, never opportunistic when
 * not) or TLS from the first byte, AUTH when a user is set, the message as mail-message.ts renders
 * it (headers that cannot be injected, a quoted-printable UTF-8 body), a timeout on each phase.
 * Failures become one SmtpError naming the server, the command and the reply; never a credential.
 *
 * A password is sent only over TLS, or to a server on this machine (loopback).
 */
import net from 'node:net'
import { hostname } from 'node:os'
import nodemailer from 'nodemailer'
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
  /** Log in as this user (AUTH PLAIN or LOGIN, as the server offers). */
  user?: string
  /** The password of `user` (a secret: never part of an error message). */
  password?: string
  /** Certificates to trust besides the system's (a private CA, or a test server's). */
  ca?: string | Buffer
  /** The name given in EHLO (default: this machine's host name). */
  clientName?: string
  /** Milliseconds to wait for the connection, the greeting and each reply (default 30000). */
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

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** What nodemailer's errors carry besides the message. */
interface NodemailerError extends Error {
  code?: string
  command?: string
  responseCode?: number
  response?: string
}

/** Sends each message over a new SMTP connection. */
export class SmtpTransport implements MailTransport {
  private readonly label: string

  constructor(private readonly settings: SmtpSettings) {
    this.label = `SMTP server ${settings.host}:${settings.port}`
  }

  async send(message: MailMessage): Promise<void> {
    if (message.to.length === 0) throw new SmtpError('no recipient for the alert mail')
    const s = this.settings
    const tlsUsed = s.implicitTls === true || s.starttls
    if (s.user !== undefined && !tlsUsed && !LOOPBACK.has(s.host))
      throw new SmtpError(
        `refusing to send the SMTP password to ${s.host} unencrypted: set alerts.email.starttls: true or use port 465`
      )
    const envelope = { from: address(message.from), to: message.to.map(address) }
    const timeout = s.timeoutMs ?? 30000
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.implicitTls === true,
      requireTLS: !s.implicitTls && s.starttls,
      ignoreTLS: !s.implicitTls && !s.starttls,
      name: s.clientName ?? (hostname() || 'localhost'),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      tls: {
        ...(s.ca !== undefined && { ca: s.ca }),
        ...(!net.isIP(s.host) && { servername: s.host })
      },
      ...(s.user !== undefined && { auth: { user: s.user, pass: s.password ?? '' } })
    })
    try {
      await transport.sendMail({ envelope, raw: renderMessage(message) })
    } catch (e) {
      throw this.failure(e as NodemailerError)
    } finally {
      transport.close()
    }
  }

  /** One sentence for a failed exchange: the server, what was refused, its reply. */
  private failure(e: NodemailerError): SmtpError {
    const password = this.settings.password
    const clean = (text: string) => (password ? text.split(password).join('***') : text)
    if (e.responseCode !== undefined) {
      const what = e.command ? e.command.replace(/^AUTH (\w+).*$/, 'AUTH $1') : 'the message'
      return new SmtpError(
        clean(`${this.label} refused ${what}: ${e.response ?? e.responseCode}`),
        e.responseCode
      )
    }
    if (e.code === 'ETLS' || /certificate|TLS|SSL/i.test(e.message))
      return new SmtpError(clean(`${this.label}: TLS failed: ${e.message}`))
    if (e.code === 'ETIMEDOUT')
      return new SmtpError(
        `${this.label}: no answer within ${(this.settings.timeoutMs ?? 30000) / 1000}s`
      )
    return new SmtpError(clean(`${this.label}: ${e.message}`))
  }
}

/** An address without angle brackets, CR, LF or spaces (they would change the command). */
function address(value: string): string {
  const a = value.trim().replace(/^.*<([^>]*)>.*$/, '$1')
  if (!/^[^\s<>\r\n]+@[^\s<>\r\n]+$/.test(a))
    throw new SmtpError(`'${value}' is not a mail address such as alerts@example.org`)
  return a
}
