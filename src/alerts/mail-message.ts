/**
 * A plain-text mail as bytes on the wire (RFC 5322 headers, a MIME text/plain UTF-8 body in
 * quoted-printable so any line length and any character travel through any SMTP server).
 */
import { randomBytes } from 'node:crypto'

/** One mail to send. */
export interface MailMessage {
  /** Sender address (`alerts@example.org`). */
  from: string
  /** Recipient addresses. */
  to: string[]
  subject: string
  /** The body, plain text. */
  text: string
}

/** Sends mail; the SMTP client implements it, tests may pass another. */
export interface MailTransport {
  /** Deliver `message` to every recipient, or throw naming what the server refused. */
  send(message: MailMessage): Promise<void>
}

/** No CR or LF in a header value: a value can never add a header of its own. */
function headerValue(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim()
}

/** A header value as RFC 2047 encoded words when it is not plain ASCII. */
function encodedHeader(value: string): string {
  const clean = headerValue(value)
  if (/^[\x20-\x7e]*$/.test(clean)) return clean
  // Encoded words are at most 75 characters: cut the UTF-8 text on character boundaries.
  const words: string[] = []
  let chunk = ''
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk)
      chunk = ''
    }
    chunk += ch
  }
  if (chunk) words.push(chunk)
  return words.map(w => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ')
}

/** RFC 2045 quoted-printable of UTF-8 text, CRLF line ends, lines of at most 76 characters. */
export function quotedPrintable(text: string): string {
  const out: string[] = []
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    const bytes = Buffer.from(line, 'utf8')
    let current = ''
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]
      const last = i === bytes.length - 1
      const plain = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)
      const token = plain
        ? String.fromCharCode(b)
        : `=${b.toString(16).toUpperCase().padStart(2, '0')}`
      if (current.length + token.length > 75) {
        out.push(`${current}=`)
        current = ''
      }
      current += token
    }
    out.push(current)
  }
  return out.join('\r\n')
}

/** The whole message (headers and body), CRLF line ends, ready for DATA (before dot-stuffing). */
export function renderMessage(message: MailMessage, date = new Date()): string {
  const domain = /@([A-Za-z0-9.-]+)$/.exec(message.from)?.[1] ?? 'sitecycle.invalid'
  const headers = [
    `From: ${headerValue(message.from)}`,
    `To: ${message.to.map(headerValue).join(', ')}`,
    `Subject: ${encodedHeader(message.subject)}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${randomBytes(12).toString('hex')}.sitecycle@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    'Auto-Submitted: auto-generated'
  ]
  return `${headers.join('\r\n')}\r\n\r\n${quotedPrintable(message.text)}\r\n`
}
