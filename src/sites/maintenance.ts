/**
 * Freezing a site: while `<root>/maintenance/ON` exists, the vhost (commands/apache.ts) answers
 * every request with status 503, `Retry-After` and `<root>/maintenance/index.html`, except the
 * health path and the allow-listed clients. Apache checks the flag on every request: turning
 * maintenance on or off is one rename or one unlink, with no reload and no dropped request.
 * Pipelines that must keep users' writes out (restore, sync, a deploy that migrates) call
 * freeze() and unfreeze() while they hold the site lock.
 *
 * Holding a frozen site (`<root>/maintenance/HOLD`) sends the health path and the allow-listed
 * clients to the same answer: no request reaches any daemon of the site. A frozen deploy holds
 * its site while it puts its database back, so that no request runs on a connection the
 * restore closes (pipelines/frozen-deploy.ts).
 */
import {
  DEFAULT_RETRY_AFTER,
  maintenanceFlagPath,
  maintenanceHoldPath,
  maintenancePagePath,
  renderRetryAfter,
  retryAfterPath
} from '../commands/apache.js'
import { commitFile, removeFile, renamePath } from '../commands/files.js'
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'

/** How to freeze a site. */
export interface FreezeOptions {
  /** A sentence for users on the page (plain text; escaped). Default: a generic one. */
  message?: string
  /** Seconds in Retry-After (default sites.<n>.maintenance.retry_after, else 300). */
  retryAfter?: number
  /** A URL users can go to meanwhile (an upgrade attempt shows the preview's), linked on the page. */
  link?: { url: string; text?: string }
}

/** Whether the site is frozen now, and since when. */
export interface FreezeState {
  frozen: boolean
  /** When it was frozen (from the flag file), when it is. */
  since?: string
  retryAfter?: number
}

function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/**
 * Write the default page and Retry-After file when missing (init), so that a flag made by hand
 * (`touch maintenance/ON`) also shows a page. Returns the files written.
 */
export async function prepareMaintenance(exec: Executor, site: SiteConfig): Promise<string[]> {
  const written: string[] = []
  const page = maintenancePagePath(site)
  if ((await exec.readFile(page)) === undefined) {
    await replaceFile(exec, page, renderMaintenancePage(site), 0o644)
    written.push(page)
  }
  const retry = retryAfterPath(site)
  if ((await exec.readFile(retry)) === undefined) {
    const seconds = site.maintenance?.retryAfter ?? DEFAULT_RETRY_AFTER
    await replaceFile(exec, retry, renderRetryAfter(seconds), 0o644)
    written.push(retry)
  }
  return written
}

/** The maintenance page: small, self-contained (no asset the frozen site could not serve). Pure. */
export function renderMaintenancePage(site: SiteConfig, options: FreezeOptions = {}): string {
  const message = checkMaintenanceMessage(
    options.message ?? 'This site is down for maintenance. Please come back in a few minutes.'
  )
  const link = options.link
  if (link && !/^https?:\/\//.test(link.url))
    throw new SitecycleError(
      `maintenance link ${JSON.stringify(link.url)}: expected an http:// or https:// URL`,
      'input'
    )
  const linkHtml = link
    ? `\n<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.text ?? link.url)}</a></p>`
    : ''
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;line-height:1.5;color:#222}</style>
</head>
<body>
<h1>Down for maintenance</h1>
<p>${escapeHtml(message).replace(/\n/g, '<br>\n')}</p>${linkHtml}
</body>
</html>
`
}

/** The flag file's text: when the freeze began and its Retry-After (for status and journal). */
export function renderMaintenanceFlag(retryAfter: number, since: Date = new Date()): string {
  return `frozen since ${since.toISOString()}\nretry_after ${retryAfter}\n`
}

/** The longest Retry-After a maintenance page announces, in seconds (one day). */
export const MAX_RETRY_AFTER = 86_400

/** Throw a SitecycleError naming `what` unless `seconds` is a whole number from 0 to
 * {@link MAX_RETRY_AFTER}. */
export function checkRetryAfter(seconds: number, what = 'retry-after'): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_RETRY_AFTER)
    throw new SitecycleError(
      `${what} ${seconds}: expected a whole number of seconds from 0 to ${MAX_RETRY_AFTER} (one day), e.g. ${what} 600`,
      'input'
    )
  return seconds
}

/**
 * Throw a SitecycleError naming `what` when the maintenance message holds a control character
 * (line breaks excepted: each becomes a <br>): escaped HTML still carries them to users' screens
 * and terminals.
 */
export function checkMaintenanceMessage(message: string, what = 'maintenance message'): string {
  // eslint-disable-next-line no-control-regex
  const bad = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/.exec(message)
  if (bad)
    throw new SitecycleError(
      `${what}: control character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at position ${bad.index + 1}; use plain text (line breaks allowed)`,
      'input'
    )
  return message
}

/** The Retry-After of a freeze: the option, else the site's, else the default; checked. */
export function retryAfterOf(site: SiteConfig, options: FreezeOptions): number {
  return checkRetryAfter(options.retryAfter ?? site.maintenance?.retryAfter ?? DEFAULT_RETRY_AFTER)
}

/** Write `content` beside `path` and rename it over: readers see the old file or the new one. */
async function replaceFile(
  exec: Executor,
  path: string,
  content: string,
  mode: number
): Promise<void> {
  const tmp = `${path}.tmp`
  await exec.writeFile(tmp, content, mode)
  await exec.run(renamePath(tmp, path))
}

/**
 * Freeze the site: write the page and Retry-After, then the flag (each written aside and renamed
 * over). From the flag's rename on, users get 503 and the page. The flag is committed durably
 * (`host/commit-file.py` with `python`: fsync, rename, fsync of its folder): a data operation
 * journals its intent after the freeze, and after a power loss the site must still be closed
 * over data in doubt. Freezing a frozen site updates its page and Retry-After. The site must have
 * been through `sitecycle init` (the vhost holds the rules).
 */
export async function freeze(
  exec: Executor,
  site: SiteConfig,
  python: string,
  options: FreezeOptions = {}
): Promise<FreezeState> {
  const retryAfter = retryAfterOf(site, options)
  const page = renderMaintenancePage(site, options)
  await replaceFile(exec, maintenancePagePath(site), page, 0o644)
  await replaceFile(exec, retryAfterPath(site), renderRetryAfter(retryAfter), 0o644)
  const since = (await frozenState(exec, site)).since ?? new Date().toISOString()
  await exec.run(
    commitFile(
      python,
      maintenanceFlagPath(site),
      renderMaintenanceFlag(retryAfter, new Date(since)),
      0o644
    )
  )
  return { frozen: true, since, retryAfter }
}

/** Unfreeze the site: one unlink of the flag; users reach the live slot again. Idempotent. */
export async function unfreeze(exec: Executor, site: SiteConfig): Promise<FreezeState> {
  const before = await frozenState(exec, site)
  await exec.run(removeFile(maintenanceFlagPath(site)))
  return { ...before, frozen: false }
}

/**
 * Hold the site: from the flag's rename on, every request gets the maintenance answer, the
 * health path and the allow-listed clients too (the page of the freeze, or init's). Requests
 * already past Apache's rewrite finish on their daemon. Needs a vhost written by a sitecycle
 * that knows the hold rule (`sitecycle init`).
 */
export async function holdRequests(exec: Executor, site: SiteConfig): Promise<void> {
  await replaceFile(
    exec,
    maintenanceHoldPath(site),
    `held since ${new Date().toISOString()}\n`,
    0o644
  )
}

/** Release the hold: the health path and the allow-listed clients reach the site again. Idempotent. */
export async function releaseRequests(exec: Executor, site: SiteConfig): Promise<void> {
  await exec.run(removeFile(maintenanceHoldPath(site)))
}

/** Whether the site is frozen now (its flag exists), with since and Retry-After from the flag. */
export async function frozenState(exec: Executor, site: SiteConfig): Promise<FreezeState> {
  const text = await exec.readFile(maintenanceFlagPath(site))
  if (text === undefined) return { frozen: false }
  const since = /^frozen since (\S+)$/m.exec(text)?.[1]
  const retry = /^retry_after (\d+)$/m.exec(text)?.[1]
  return {
    frozen: true,
    ...(since && !Number.isNaN(Date.parse(since)) && { since }),
    ...(retry !== undefined && { retryAfter: Number(retry) })
  }
}
