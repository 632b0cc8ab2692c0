/**
 * Alerts of unattended runs, as the config's `alerts:` asks: a mail through SMTP and/or the one
 * open issue per site and operation. Only unattended runs alert (a scheduled workflow, cron with
 * `--unattended` or SITECYCLE_UNATTENDED=1): a person at a terminal sees the failure already.
 *
 * An alert that cannot be sent is a warning: it never changes how the run ended. Every text is
 * redacted first: the run's registered secrets, the SMTP password, the GitHub token and the value
 * of every environment variable the config names as holding a secret (`*_env` settings).
 */
import type { AlertsConfig, SitecycleConfig } from '../config/model.js'
import type { GithubIssuesApi } from '../github/api.js'
import { createGithubApi } from '../github/client.js'
import { actionsRunUrl } from '../github/deployments.js'
import { SecretFilter, type Reporter } from '../util/reporter.js'
import { failureText, failureTitle, type RunFailure, type RunSuccess } from './alert-report.js'
import { reportFailureIssue, resolveFailureIssue } from './issue-alerts.js'
import type { MailTransport } from './mail-message.js'
import { SmtpTransport, type SmtpSettings } from './smtp-transport.js'

export { isUnattended } from './unattended.js'

/** Where the run happens, in words, for the alert. */
export function runPlace(env: NodeJS.ProcessEnv, machine: string): string {
  if (env.GITHUB_ACTIONS === 'true')
    return `GitHub Actions (${env.GITHUB_WORKFLOW ?? 'a workflow'}, ${env.GITHUB_EVENT_NAME ?? 'run'})`
  return `cron or a script on ${machine}`
}

/** What an Alerter needs from outside; tests replace the transport or GitHub's fetch. */
export interface AlerterDeps {
  /** Where the SMTP password, GITHUB_TOKEN, GITHUB_REPOSITORY and the run's URL come from. */
  env: NodeJS.ProcessEnv
  reporter: Reporter
  /** The run's own secret filter (the reporter's), applied on top of the alerter's. */
  redact?: (text: string) => string
  /** The mail transport (default: SMTP as `alerts.email` says). */
  transport?: MailTransport
  /** Extra SMTP settings (a private CA to trust, timeouts). */
  smtp?: Pick<SmtpSettings, 'ca' | 'timeoutMs' | 'clientName'>
  /** The issues client (default: createGithubApi with GITHUB_TOKEN on GITHUB_REPOSITORY). */
  github?: GithubIssuesApi
  /** The fetch of the default GitHub client. */
  fetch?: typeof globalThis.fetch
  /** This machine's name, for the alert's "where". */
  machine?: string
  now?: () => Date
}

/** What an alert did, for logs and tests. */
export interface AlertsSent {
  mailed: boolean
  issue?: { number: number; opened: boolean; url: string }
  closedIssue?: number
  /** Warnings: alerts that could not be sent. */
  problems: string[]
}

/** The environment variables the config names as holding secrets (every `...Env` setting). */
export function secretEnvNames(config: unknown): string[] {
  const names = new Set<string>()
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk)
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if (/Env$/.test(key) && typeof v === 'string') names.add(v)
        else walk(v)
      }
    }
  }
  walk(config)
  return [...names]
}

/** Sends the alerts of one run. */
export class Alerter {
  private readonly filter = new SecretFilter()

  constructor(
    private readonly settings: AlertsConfig,
    private readonly deps: AlerterDeps,
    /** The whole config, whose secret environment variables are redacted. */
    config?: SitecycleConfig
  ) {
    const env = deps.env
    for (const name of [
      ...secretEnvNames(config ?? settings),
      'GITHUB_TOKEN',
      'SITECYCLE_SSH_KEY',
      'SITECYCLE_GITHUB_TOKEN'
    ]) {
      const value = env[name]
      if (value) {
        this.filter.add(value)
        for (const line of value.split(/\r?\n/))
          if (line.trim().length >= 8) this.filter.add(line.trim())
      }
    }
  }

  /** Every registered secret replaced by ***: the run's, then the alerter's own. */
  redact(text: string): string {
    return this.filter.apply(this.deps.redact ? this.deps.redact(text) : text)
  }

  /** Mail and/or open (or comment on) the issue of a failure. Never throws. */
  async failed(failure: Omit<RunFailure, 'at' | 'where' | 'logUrl'>): Promise<AlertsSent> {
    const full: RunFailure = {
      ...failure,
      at: (this.deps.now ?? (() => new Date()))(),
      where: runPlace(this.deps.env, this.deps.machine ?? 'this machine'),
      ...(actionsRunUrl(this.deps.env) !== undefined && { logUrl: actionsRunUrl(this.deps.env) })
    }
    const sent: AlertsSent = { mailed: false, problems: [] }
    const redact = (text: string) => this.redact(text)
    if (this.settings.email) {
      await this.attempt(sent, 'the alert mail', async () => {
        const email = this.settings.email!
        await this.transport().send({
          from: email.from,
          to: email.to,
          subject: redact(failureTitle(full)),
          text: failureText(full, redact)
        })
        sent.mailed = true
        this.deps.reporter.info(`alert mailed to ${email.to.join(', ')}`)
      })
    }
    if (this.settings.githubIssues) {
      await this.attempt(sent, 'the alert issue', async () => {
        const result = await reportFailureIssue(this.github(), full, redact)
        sent.issue = { number: result.issue, opened: result.opened, url: result.url }
        this.deps.reporter.info(
          `${result.opened ? 'opened' : 'commented on'} the alert issue #${result.issue}: ${result.url}`
        )
      })
    }
    return sent
  }

  /** Close the open issue of this site and operation, if any. Never throws. */
  async succeeded(success: Omit<RunSuccess, 'at' | 'where' | 'logUrl'>): Promise<AlertsSent> {
    const sent: AlertsSent = { mailed: false, problems: [] }
    if (!this.settings.githubIssues) return sent
    const full: RunSuccess = {
      ...success,
      at: (this.deps.now ?? (() => new Date()))(),
      where: runPlace(this.deps.env, this.deps.machine ?? 'this machine'),
      ...(actionsRunUrl(this.deps.env) !== undefined && { logUrl: actionsRunUrl(this.deps.env) })
    }
    await this.attempt(sent, 'the alert issue', async () => {
      const closed = await resolveFailureIssue(this.github(), full, text => this.redact(text))
      if (closed !== undefined) {
        sent.closedIssue = closed
        this.deps.reporter.info(
          `closed the alert issue #${closed}: ${success.op} of ${success.site} works again`
        )
      }
    })
    return sent
  }

  private async attempt(sent: AlertsSent, what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
    } catch (error) {
      const message = this.redact(
        `${what} was not sent: ${error instanceof Error ? error.message : String(error)}`
      )
      sent.problems.push(message)
      this.deps.reporter.warn(message)
    }
  }

  private transport(): MailTransport {
    if (this.deps.transport) return this.deps.transport
    const email = this.settings.email!
    const password = email.passwordEnv ? this.deps.env[email.passwordEnv] : undefined
    if (email.passwordEnv && !password)
      throw new Error(
        `the SMTP password variable ${email.passwordEnv} (alerts.email.password_env) is not set`
      )
    return new SmtpTransport({
      host: email.smtpHost,
      port: email.smtpPort,
      starttls: email.starttls && email.smtpPort !== 465,
      implicitTls: email.smtpPort === 465,
      ...(email.user !== undefined && { user: email.user }),
      ...(password !== undefined && { password }),
      ...this.deps.smtp
    })
  }

  private github(): GithubIssuesApi {
    if (this.deps.github) return this.deps.github
    const env = this.deps.env
    const token = env.SITECYCLE_GITHUB_TOKEN || env.GITHUB_TOKEN
    const repository = env.GITHUB_REPOSITORY
    if (!token || !repository)
      throw new Error(
        'alerts.github_issues needs GITHUB_TOKEN (or SITECYCLE_GITHUB_TOKEN) and GITHUB_REPOSITORY in the environment (a token with issues: write)'
      )
    return createGithubApi({
      token,
      repository,
      ...(env.GITHUB_API_URL && { baseUrl: env.GITHUB_API_URL }),
      ...(this.deps.fetch && { fetch: this.deps.fetch })
    })
  }
}
