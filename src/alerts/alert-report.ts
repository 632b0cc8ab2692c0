/**
 * What an alert says: which operation failed on which site, at which step, with which error, and
 * where its log is; in the same words in a mail and in an issue. Every text is redacted by the
 * caller's filter before it leaves this module.
 */

/** An unattended run that failed. */
export interface RunFailure {
  /** The operation: deploy, rollback, snapshot, sync, mirror, ... */
  op: string
  site: string
  /** The host worked on, when known. */
  host?: string
  /** The step that failed, when the operation has steps. */
  step?: string
  /** What went wrong, one sentence (or a few lines). */
  error: string
  /** The run's log (GitHub Actions), when there is one. */
  logUrl?: string
  /** Where it ran: `GitHub Actions (schedule)`, `cron on web1`. */
  where: string
  at: Date
}

/** An unattended run that succeeded (it closes the open issue of its site and operation). */
export interface RunSuccess {
  op: string
  site: string
  /** One line: what the run did. */
  summary: string
  logUrl?: string
  where: string
  at: Date
}

/** The label of the one open issue per site and operation: `sitecycle:<site>:<op>`. */
export function alertLabel(site: string, op: string): string {
  return `sitecycle:${site}:${op}`
}

/** A marker hidden in the issue body (an HTML comment), naming the same pair. */
export function alertMarker(site: string, op: string): string {
  return `<!-- sitecycle-alert site=${site} op=${op} -->`
}

/** The mail subject and the issue title of a failure. */
export function failureTitle(f: RunFailure): string {
  return `sitecycle: ${f.op} of site ${f.site} failed${f.step ? ` at step ${f.step}` : ''}`
}

/** The facts of a failure as `name: value` lines, for a mail. */
export function failureText(f: RunFailure, redact: (text: string) => string): string {
  const lines = [
    `The unattended ${f.op} of site ${f.site} failed.`,
    '',
    `operation: ${f.op}`,
    `site:      ${f.site}`,
    ...(f.host ? [`host:      ${f.host}`] : []),
    ...(f.step ? [`step:      ${f.step}`] : []),
    `when:      ${f.at.toISOString()}`,
    `where:     ${f.where}`,
    `log:       ${f.logUrl ?? 'not in GitHub Actions: see the output of the cron job'}`,
    '',
    'error:',
    ...f.error.split('\n').map(l => `  ${l}`),
    '',
    `Look at the site with: sitecycle status ${f.site}`
  ]
  return redact(lines.join('\n'))
}

/** The same facts in Markdown, for an issue or a comment. */
export function failureMarkdown(f: RunFailure, redact: (text: string) => string): string {
  const rows = [
    ['operation', f.op],
    ['site', f.site],
    ...(f.host ? [['host', f.host]] : []),
    ...(f.step ? [['step', f.step]] : []),
    ['when', f.at.toISOString()],
    ['where', f.where],
    ['log', f.logUrl ? `[the run's log](${f.logUrl})` : 'not in GitHub Actions']
  ]
  const table = ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)]
  return redact(
    [
      `The unattended **${f.op}** of site **${f.site}** failed.`,
      '',
      ...table,
      '',
      '```text',
      f.error.replace(/```/g, "'''"),
      '```',
      '',
      `Look at the site with \`sitecycle status ${f.site}\`. sitecycle closes this issue after the next ${f.op} of ${f.site} that succeeds.`
    ].join('\n')
  )
}

/** The closing comment of an issue after a success. */
export function successMarkdown(s: RunSuccess, redact: (text: string) => string): string {
  return redact(
    `The ${s.op} of site **${s.site}** succeeded at ${s.at.toISOString()} (${s.where}): ${s.summary}` +
      (s.logUrl ? ` ([log](${s.logUrl}))` : '') +
      '. Closing.'
  )
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

/**
 * The step and message of a failed operation's error: the operations' typed errors carry
 * `failedStep` (or `outcome.failedStep`); anything else is its message alone.
 */
export function describeError(error: unknown): { step?: string; error: string } {
  const e = error as { failedStep?: unknown; outcome?: { failedStep?: unknown } } | undefined
  const step =
    typeof e?.failedStep === 'string'
      ? e.failedStep
      : typeof e?.outcome?.failedStep === 'string'
        ? e.outcome.failedStep
        : undefined
  const message = error instanceof Error ? error.message : String(error)
  return { ...(step !== undefined && { step }), error: message }
}
