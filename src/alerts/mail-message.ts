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

/**
 * The Subject header line(s): plain ASCII folded at spaces into lines of at most 78 characters
 * (RFC 5322), otherwise RFC 2047 encoded words, each line at most 76 characters with its header
 * name. Text that could read as an encoded word (`=?`) is encoded too, so it shows as written.
 */
function subjectHeader(value: string): string {
  const clean = headerValue(value)
  const name = 'Subject: '
  if (/^[\x20-\x7e]*$/.test(clean) && !clean.includes('=?')) {
    const lines: string[] = []
    let line = name
    for (const [i, word] of clean.split(' ').entries()) {
      const piece = i === 0 ? word : ` ${word}`
      if (line.length + piece.length > 78 && line.trim() !== '' && line !== name) {
        lines.push(line)
        line = ''
      }
      line += piece
    }
    lines.push(line)
    if (lines.every(l => l.length <= 78)) return lines.join('\r\n')
  }
  // 39 bytes of UTF-8 are a 64-character encoded word: with "Subject: " 73 characters. Words
  // are cut on character boundaries, so each decodes on its own.
  const words: string[] = []
  let chunk = ''
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch) > 39) {
      words.push(chunk)
      chunk = ''
    }
    chunk += ch
  }
  if (chunk) words.push(chunk)
  return name + words.map(w => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ')
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
    subjectHeader(message.subject),
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${randomBytes(12).toString('hex')}.sitecycle@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    'Auto-Submitted: auto-generated'
  ]
  return `${headers.join('\r\n')}\r\n\r\n${quotedPrintable(message.text)}\r\n`
}
