/**
 * The job summary, as markdown built by pure functions: an outcome, a failure before any outcome,
 * or a dry run's plan in, one string out. Every text taken from the run passes through `redact`
 * before it is escaped, and the whole string once more at the end, so no secret reaches it.
 */
import type { OperationOutcome } from '../pipelines/operation.js'
import type { StepReport, StepStatus } from '../pipelines/pipeline.js'

/** Replaces secrets in a text (CoreReporter.redact). */
export type Redact = (text: string) => string

const STEP_RESULT: Record<StepStatus, string> = {
  ok: '✅ ok',
  failed: '❌ failed',
  undone: '↩️ undone',
  'undo-failed': '⚠️ undo failed',
  warning: '⚠️ warning',
  skipped: '⏭️ skipped',
  'not-run': '➖ not run'
}

/** The summary of a deploy or rollback that ran: heading, versions, steps, the error if it failed, the URL. */
export function renderOutcomeSummary(outcome: OperationOutcome, redact: Redact): string {
  const t = (s: string) => escapeHtml(redact(s))
  const failed = outcome.error !== undefined
  const out: string[] = [`## ${t(outcomeHeading(outcome, failed))}`, '']
  out.push(
    ...table(
      ['', ''],
      [
        ['Site', `${outcome.site} on ${outcome.host}`],
        ['Before', outcome.previousVersion ?? 'none'],
        ['After', outcome.version ?? 'none'],
        ['Status', outcome.status],
        ['URL', outcome.url],
        ['Operation', outcome.operationId]
      ].map(([k, v]) => [`**${k}**`, cell(redact(v))])
    ),
    ''
  )
  if (outcome.steps.length) {
    out.push(
      '### Steps',
      '',
      ...table(
        ['Step', 'Result', 'Duration', 'Note'],
        outcome.steps.map(s => stepRow(s, redact))
      ),
      ''
    )
  }
  if (failed) {
    out.push(
      `### Error${outcome.failedStep ? ` at step ${t(outcome.failedStep)}` : ''}`,
      '',
      codeBlock(redact(outcome.error!)),
      ''
    )
    if (!outcome.undoComplete)
      out.push(
        '> [!WARNING]',
        '> Some undo steps failed: the site needs a look (`sitecycle status`).',
        ''
      )
  }
  if (outcome.notes.length) out.push('### Notes', '', ...outcome.notes.map(n => `- ${t(n)}`), '')
  return redact(out.join('\n'))
}

/** The summary of a run that failed without an outcome (bad input, config, lock, connection). */
export function renderErrorSummary(
  op: string,
  site: string,
  error: string,
  redact: Redact
): string {
  const heading = `❌ ${capitalize(op)}${site ? ` of site ${site}` : ''} failed`
  return redact([`## ${escapeHtml(redact(heading))}`, '', codeBlock(redact(error)), ''].join('\n'))
}

/** What a dry run shows: the release that would be deployed and the steps it would take. */
export interface PlanSummary {
  site: string
  host: string
  url: string
  release: { name: string; version: string; file: string }
  /** What the dry run checked, one line each (pipelines/dry-run.ts). */
  checks?: string[]
  /** Lines of deployPlan() (none when the deploy would do nothing). */
  plan: string[]
}

/** The summary of a dry run: nothing was touched. */
export function renderPlanSummary(p: PlanSummary, redact: Redact): string {
  const t = (s: string) => escapeHtml(redact(s))
  return redact(
    [
      `## ${t(`📝 Plan: deploy ${p.release.name} ${p.release.version} to site ${p.site} (dry run, nothing changed)`)}`,
      '',
      ...table(
        ['', ''],
        [
          ['Site', `${p.site} on ${p.host}`],
          ['Release file', p.release.file],
          ['URL', p.url]
        ].map(([k, v]) => [`**${k}**`, cell(redact(v))])
      ),
      '',
      ...(p.checks?.length ? ['### Checked', '', ...p.checks.map(c => `- ${t(c)}`), ''] : []),
      '### Steps',
      '',
      codeBlock(redact(p.plan.join('\n') || 'none: nothing to do')),
      ''
    ].join('\n')
  )
}

function outcomeHeading(o: OperationOutcome, failed: boolean): string {
  const target = o.targetVersion ?? 'the release'
  if (o.op === 'rollback') {
    return failed
      ? `❌ Rollback of site ${o.site} to ${target} failed: ${o.version ?? 'nothing'} serves`
      : `↩️ Rolled back site ${o.site} from ${o.previousVersion ?? 'nothing'} to ${o.version ?? 'nothing'}`
  }
  if (failed) {
    return o.rolledBack
      ? `❌ Deploy of ${target} to site ${o.site} failed: rolled back, ${o.version ?? 'nothing'} serves again`
      : `❌ Deploy of ${target} to site ${o.site} failed: ${o.version ?? 'nothing'} serves`
  }
  // The stages of actions/deploy (deploy-stage.ts), each with its own section.
  if (o.status === 'prepared')
    return `🧪 ${target} installed and verified in the idle slot of site ${o.site}: users still get ${o.version ?? 'nothing'}`
  if (o.status === 'switched') return `🔀 Users of site ${o.site} switched to ${target}`
  if (o.status === 'rolled-back')
    return `↩️ Deploy of ${target} to site ${o.site} undone: ${o.version ?? 'nothing'} serves again`
  if (o.status === 'unchanged')
    return `✅ ${target} was already live on site ${o.site}: nothing to do`
  return `✅ Deployed ${target} to site ${o.site}`
}

function stepRow(s: StepReport, redact: Redact): string[] {
  const ran = s.status !== 'skipped' && s.status !== 'not-run'
  const note = s.error ?? s.note ?? ''
  return [
    `\`${s.name}\``,
    STEP_RESULT[s.status] ?? s.status,
    ran ? `${(s.ms / 1000).toFixed(2)} s` : '',
    cell(redact(note))
  ]
}

function table(header: string[], rows: string[][]): string[] {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)]
}

/** A table cell: HTML escaped, pipes escaped, line breaks as <br>. */
function cell(text: string): string {
  return escapeHtml(text).replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>')
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A fenced block whose fence is longer than any run of backticks inside. */
function codeBlock(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map(r => r.length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return `${fence}text\n${text}\n${fence}`
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}
