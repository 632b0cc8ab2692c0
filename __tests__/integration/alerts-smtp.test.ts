/**
 * Alert mails through a real SMTP server on loopback (Debian's aiosmtpd): the message arrives
 * with the failure's subject and facts and the run's log link, and without any secret; a login
 * (AUTH PLAIN, over plain text to loopback only, and over STARTTLS) and dot-stuffing work; a
 * refused login is an error that names the server and never the password.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { Alerter } from '../../src/alerts/alerter.js'
import { SmtpError, SmtpTransport } from '../../src/alerts/smtp-transport.js'
import { StreamReporter } from '../../src/util/reporter.js'
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server.js'

const PASSWORD = 'smtp-pass-Zq81xK'
const DB_PASSWORD = 'db-secret-77hJk2'
const servers: SmtpServer[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map(s => s.stop()))
})

async function server(options: Parameters<typeof startSmtpServer>[0] = {}): Promise<SmtpServer> {
  const s = await startSmtpServer(options)
  servers.push(s)
  return s
}

/** The decoded body of a quoted-printable message. */
function bodyOf(data: string): string {
  const body = data.slice(data.indexOf('\r\n\r\n') + 4 || data.indexOf('\n\n') + 2)
  return Buffer.from(
    body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1'
  ).toString('utf8')
}

describe('alert mail', () => {
  it('arrives with what failed and the log link, logged in, secrets redacted', async () => {
    const smtp = await server({ user: 'alerts', password: PASSWORD })
    const lines: string[] = []
    const env = {
      SMTP_PASSWORD: PASSWORD,
      DB_PASSWORD,
      GITHUB_ACTIONS: 'true',
      GITHUB_EVENT_NAME: 'schedule',
      GITHUB_WORKFLOW: 'nightly sync',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/weave',
      GITHUB_RUN_ID: '987654321'
    }
    const alerter = new Alerter(
      {
        githubIssues: false,
        email: {
          smtpHost: '127.0.0.1',
          smtpPort: smtp.port,
          starttls: false,
          user: 'alerts',
          passwordEnv: 'SMTP_PASSWORD',
          from: 'sitecycle@example.org',
          to: ['ops@example.org', 'dev@example.org']
        }
      },
      { env, reporter: new StreamReporter(l => lines.push(l)) },
      {
        file: '/x/sitecycle.yml',
        app: { package: 'weave', wsgi: 'weave.wsgi:app', python: '/usr/bin/python3' },
        ssh: {},
        sites: {
          v1: { database: { engine: 'postgres', name: 'weave', passwordEnv: 'DB_PASSWORD' } }
        } as never
      }
    )
    const sent = await alerter.failed({
      op: 'sync',
      site: 'v2',
      step: 'restore-database',
      // A secret the command line leaked, and a line starting with a dot (dot-stuffing).
      error: `pg_restore failed: password=${DB_PASSWORD} rejected\n.hidden line kept\nnon-ASCII: café ✓`
    })
    expect(sent).toEqual({ mailed: true, problems: [] })
    const [mail, ...more] = await smtp.messages()
    expect(more).toHaveLength(0)
    expect(mail.mail_from).toBe('sitecycle@example.org')
    expect(mail.rcpt_tos).toEqual(['ops@example.org', 'dev@example.org'])
    expect(mail.login).toBe('alerts')
    expect(mail.data).toMatch(
      /^Subject: sitecycle: sync of site v2 failed at step restore-database\r?$/m
    )
    expect(mail.data).toMatch(/^To: ops@example.org, dev@example.org\r?$/m)
    const body = bodyOf(mail.data)
    expect(body).toContain('operation: sync')
    expect(body).toContain('site:      v2')
    expect(body).toContain('step:      restore-database')
    expect(body).toContain('log:       https://github.com/acme/weave/actions/runs/987654321')
    expect(body).toContain('GitHub Actions (nightly sync, schedule)')
    expect(body).toContain('pg_restore failed: password=*** rejected')
    expect(body).toContain('\n  .hidden line kept')
    expect(body).toContain('non-ASCII: café ✓')
    for (const secret of [PASSWORD, DB_PASSWORD]) {
      expect(mail.data).not.toContain(secret)
      expect(body).not.toContain(secret)
      expect(lines.join('\n')).not.toContain(secret)
    }
  })

  it('upgrades with STARTTLS before logging in, trusting the given certificate', async () => {
    const smtp = await server({ user: 'alerts', password: PASSWORD, starttls: true })
    await new SmtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      starttls: true,
      user: 'alerts',
      password: PASSWORD,
      ca: smtp.cert
    }).send({ from: 'a@example.org', to: ['b@example.org'], subject: 'hello', text: 'over TLS' })
    const [mail] = await smtp.messages()
    expect(mail.tls).toBe(true)
    expect(mail.login).toBe('alerts')
    expect(bodyOf(mail.data)).toContain('over TLS')
  })

  it('refuses a server whose certificate it cannot trust, and sends nothing', async () => {
    const smtp = await server({ starttls: true })
    const err = await new SmtpTransport({ host: '127.0.0.1', port: smtp.port, starttls: true })
      .send({ from: 'a@example.org', to: ['b@example.org'], subject: 's', text: 't' })
      .catch(e => e)
    expect(err).toBeInstanceOf(SmtpError)
    expect(err.message).toMatch(/TLS failed/)
    expect(await smtp.messages()).toHaveLength(0)
  })

  it('reports a refused login with the server and code, never the password', async () => {
    const smtp = await server({ user: 'alerts', password: PASSWORD })
    const wrong = 'wrong-password-123'
    const err = await new SmtpTransport({
      host: '127.0.0.1',
      port: smtp.port,
      starttls: false,
      user: 'alerts',
      password: wrong
    })
      .send({ from: 'a@example.org', to: ['b@example.org'], subject: 's', text: 't' })
      .catch(e => e)
    expect(err).toBeInstanceOf(SmtpError)
    expect(err.message).toMatch(
      new RegExp(`SMTP server 127.0.0.1:${smtp.port} refused AUTH PLAIN: 535`)
    )
    expect(err.message).not.toContain(wrong)
    expect(err.message).not.toContain(Buffer.from(`\0alerts\0${wrong}`).toString('base64'))
    expect(await smtp.messages()).toHaveLength(0)
  })

  it('warns instead of failing when the server cannot be reached', async () => {
    const lines: string[] = []
    const alerter = new Alerter(
      {
        githubIssues: false,
        email: {
          smtpHost: '127.0.0.1',
          smtpPort: 1,
          starttls: false,
          from: 'a@example.org',
          to: ['b@example.org']
        }
      },
      { env: {}, reporter: new StreamReporter(l => lines.push(l)) }
    )
    const sent = await alerter.failed({ op: 'deploy', site: 'v1', error: 'boom' })
    expect(sent.mailed).toBe(false)
    expect(sent.problems[0]).toMatch(
      /^the alert mail was not sent: SMTP server 127.0.0.1:1: .*ECONNREFUSED/
    )
    expect(lines.some(l => l.startsWith('warning: the alert mail was not sent'))).toBe(true)
  })
})
