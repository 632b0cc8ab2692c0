/**
 * Issue alerts: one open issue per site and operation, found by its label
 * (`sitecycle:<site>:<op>`) and the marker hidden in its body. A failure opens it, or comments on
 * it when it is open already; a success comments and closes it.
 */
import type { GithubIssue, GithubIssuesApi } from '../github/api.js'
import {
  alertLabel,
  alertMarker,
  failureMarkdown,
  failureTitle,
  successMarkdown,
  type RunFailure,
  type RunSuccess
} from './alert-report.js'

/** What reportFailureIssue did: the issue and whether it was opened now. */
export interface IssueAlertResult {
  issue: number
  url: string
  opened: boolean
}

/** The open alert issue of a site and operation, or undefined (the oldest when several). */
export async function findAlertIssue(
  api: GithubIssuesApi,
  site: string,
  op: string
): Promise<GithubIssue | undefined> {
  const marker = alertMarker(site, op)
  const labelled = await api.listOpenIssues([alertLabel(site, op)])
  // A person may put the label on another issue: the marker tells sitecycle's own.
  return labelled.find(i => i.body.includes(marker))
}

/** Open the issue of this failure's site and operation, or comment on the open one. */
export async function reportFailureIssue(
  api: GithubIssuesApi,
  failure: RunFailure,
  redact: (text: string) => string
): Promise<IssueAlertResult> {
  const body = failureMarkdown(failure, redact)
  const open = await findAlertIssue(api, failure.site, failure.op)
  if (open) {
    await api.commentOnIssue(open.number, `It failed again.\n\n${body}`)
    return { issue: open.number, url: open.url, opened: false }
  }
  const created = await api.createIssue({
    title: redact(failureTitle(failure)),
    body: `${alertMarker(failure.site, failure.op)}\n${body}`,
    labels: [alertLabel(failure.site, failure.op)]
  })
  return { issue: created.number, url: created.url, opened: true }
}

/** Comment on and close the open issue of this site and operation; returns its number, if any. */
export async function resolveFailureIssue(
  api: GithubIssuesApi,
  success: RunSuccess,
  redact: (text: string) => string
): Promise<number | undefined> {
  const open = await findAlertIssue(api, success.site, success.op)
  if (!open) return undefined
  await api.commentOnIssue(open.number, successMarkdown(success, redact))
  await api.closeIssue(open.number)
  return open.number
}
