/**
 * Differential test of src/alerts/mail-message.ts: Python's own `email` package (policy=default,
 * the parser of the standard library) reads the messages renderMessage writes and must find
 * the same subject, addresses and body text, with no defect, for non-ASCII subjects and
 * bodies, long lines, trailing spaces, `=` signs and line ends of every kind.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { renderMessage, type MailMessage } from '../../src/alerts/mail-message.js'

const LONG = 'deploy of site v1 to web1.example.org failed at step switch-live '.repeat(4)

const MESSAGES: MailMessage[] = [
  { from: 'alerts@example.org', to: ['ops@example.org'], subject: 'plain', text: 'one line' },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org', 'Ops Team <team@example.org>'],
    subject: 'sitecycle: déploiement échoué sur « web1 »',
    text: 'Le déploiement a échoué.\nÉtape : switch-live\n'
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: `部署失败：站点 v1 ${'在服务器 web1 上'.repeat(6)} 🚨🔥`,
    text: `${'日本語のテキスト、'.repeat(30)}\n😀 emoji at the start of a line`
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: `sitecycle: ${LONG.slice(0, 70)}é${LONG.slice(0, 70)}`,
    text: `${LONG}\n${'x'.repeat(300)}\n${'=3D'.repeat(40)}\n`
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: 'injected\r\nBcc: everyone@example.org',
    text: 'trailing spaces   \ntrailing tab\t\n\n.\n..\nFrom the start\r\nwindows line\rold mac line\n= at end ='
  },
  { from: 'alerts@example.org', to: ['ops@example.org'], subject: '', text: '' },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: `sitecycle: ${LONG}`,
    text: 'a long plain subject is folded, and reads back unfolded'
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: `${'x'.repeat(90)} and a word longer than a line`,
    text: 'no space to fold at: encoded words'
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: 'looks encoded: =?UTF-8?B?aGk=?= but is not',
    text: 'shown as written'
  },
  {
    from: 'alerts@example.org',
    to: ['ops@example.org'],
    subject: ' spaces around, and  two inside ',
    text: `${' '.repeat(80)}\n${'\t'.repeat(80)}x\n${'é'.repeat(100)}`
  }
]

const PYTHON = `
import email, json, sys
from email import policy
out = []
for raw in json.load(sys.stdin):
    m = email.message_from_bytes(raw.encode('ascii'), policy=policy.default)
    defects = [type(d).__name__ for d in m.defects]
    for name in ('from', 'to', 'subject'):
        defects += [name + ': ' + type(d).__name__ for d in m[name].defects]
    out.append({
        'from': str(m['from']),
        'to': [str(a) for a in m['to'].addresses],
        'subject': str(m['subject']),
        'body': m.get_content().replace('\\r\\n', '\\n'),
        'type': m.get_content_type(),
        'charset': m.get_content_charset(),
        'bcc': m['bcc'],
        'defects': defects,
    })
json.dump(out, sys.stdout)
`

interface Parsed {
  from: string
  to: string[]
  subject: string
  body: string
  type: string
  charset: string
  bcc: string | null
  defects: string[]
}

function parseWithPython(raws: string[]): Parsed[] {
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', PYTHON], {
      input: JSON.stringify(raws),
      encoding: 'utf8'
    })
  ) as Parsed[]
}

describe("renderMessage reads back the same through Python's email package", () => {
  const raws = MESSAGES.map(m => renderMessage(m, new Date('2026-12-06T22:00:00Z')))
  const parsed = parseWithPython(raws)

  it('subject, addresses, body text and type, with no defect', () => {
    expect(parsed).toEqual(
      MESSAGES.map(m => ({
        from: m.from,
        to: m.to,
        // One header line: CR and LF become a space, and the ends are trimmed.
        subject: m.subject.replace(/[\r\n]+/g, ' ').trim(),
        // Line ends (CRLF on the wire) compared as LF; the body ends with one.
        body: `${m.text.replace(/\r\n?/g, '\n')}\n`,
        type: 'text/plain',
        charset: 'utf-8',
        bcc: null,
        defects: []
      }))
    )
  })

  it('travels as 7-bit lines of at most 78 characters (RFC 5322; 76 with encoded words), CRLF only', () => {
    for (const raw of raws) {
      expect(raw).toMatch(/^[\x20-\x7e\r\n\t]*$/)
      expect(raw.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/)
      const long = raw.split('\r\n').filter(l => l.length > 78)
      expect(long).toEqual([])
      // A line with an encoded word: at most 76 characters (RFC 2047).
      expect(raw.split('\r\n').filter(l => l.includes('=?UTF-8?') && l.length > 76)).toEqual([])
    }
  })
})
