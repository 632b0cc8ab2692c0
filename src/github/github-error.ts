/**
 * GitHub API failures as one sentence each: what sitecycle was doing, the request (method and
 * URL, never the token), the status and GitHub's own message, and what to do about it.
 */
import { SitecycleError } from '../util/errors.js'

/** The fields of Octokit's RequestError that sitecycle reads (duck-typed: no import needed). */
export interface OctokitRequestErrorLike {
  name: string
  message: string
  status: number
  request?: { method?: string; url?: string }
  response?: { status: number; data?: unknown }
}

/** A failed GitHub API request, carrying its status for callers that branch on it. */
export class GithubError extends SitecycleError {
  constructor(
    message: string,
    /** HTTP status, or undefined when no answer came (network error). */
    readonly status: number | undefined,
    /** `METHOD URL` of the request that failed. */
    readonly request: string,
    /** GitHub's `errors[].code` values (e.g. `already_exists`), when it gave any. */
    readonly codes: string[] = []
  ) {
    super(message, 'github')
    this.name = 'GithubError'
  }
}

/** True for Octokit's RequestError (name `HttpError`, numeric status). */
export function isOctokitRequestError(err: unknown): err is OctokitRequestErrorLike {
  return (
    err instanceof Error &&
    err.name === 'HttpError' &&
    typeof (err as Partial<OctokitRequestErrorLike>).status === 'number'
  )
}

/** The HTTP status of an Octokit or GitHub error; undefined for anything else or no answer. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof GithubError) return err.status
  if (isOctokitRequestError(err)) return err.response ? err.status : undefined
  return undefined
}

/** GitHub's `errors[].code` list from a validation-error body (422). */
export function errorCodesOf(err: unknown): string[] {
  if (err instanceof GithubError) return err.codes
  if (!isOctokitRequestError(err)) return []
  const data = err.response?.data as { errors?: { code?: unknown }[] } | undefined
  return Array.isArray(data?.errors)
    ? data.errors.map(e => (typeof e?.code === 'string' ? e.code : '')).filter(Boolean)
    : []
}

function gitHubMessage(data: unknown): string {
  if (typeof data === 'string') return data.trim().slice(0, 300)
  if (!data || typeof data !== 'object') return ''
  const body = data as { message?: unknown; errors?: unknown }
  let text = typeof body.message === 'string' ? body.message : ''
  if (Array.isArray(body.errors) && body.errors.length > 0) {
    const details = body.errors.map(e => {
      if (typeof e === 'string') return e
      const item = e as { resource?: string; field?: string; code?: string; message?: string }
      return [
        item.resource && item.field
          ? `${item.resource}.${item.field}`
          : (item.resource ?? item.field),
        item.code,
        item.message
      ]
        .filter(Boolean)
        .join(' ')
    })
    text += ` (${details.join('; ')})`
  }
  return text
}

function hintFor(status: number | undefined): string {
  switch (status) {
    case undefined:
      return 'check the network connection to GitHub and try again'
    case 401:
      return 'the token is missing, expired or revoked: pass a valid token'
    case 403:
      return "the token lacks a permission (releases and tags need 'contents: write') or a rate limit was hit"
    case 404:
      return 'check the repository name, and that the token can see it (a private repository answers 404 to a token without access)'
    default:
      return status >= 500 ? 'GitHub failed on its side: try again later' : ''
  }
}

/** Strip query strings that could carry anything sensitive, keep method and path. */
function describeRequest(err: OctokitRequestErrorLike): string {
  const method = err.request?.method ?? 'GET'
  const url = (err.request?.url ?? '').replace(/\?.*$/, '')
  return `${method} ${url}`.trim()
}

/**
 * Turn any error from an Octokit call into a GithubError whose message names what was being
 * done (`what`, e.g. "create the draft release v1.4.0 in acme/site"), the request and status.
 * A SitecycleError passes through unchanged.
 */
export function toGithubError(what: string, err: unknown): SitecycleError {
  if (err instanceof SitecycleError) return err
  if (isOctokitRequestError(err)) {
    const request = describeRequest(err)
    const status = err.response ? err.status : undefined
    const answer =
      status === undefined
        ? `got no answer (${err.message})`
        : `answered ${status}${gitHubMessage(err.response?.data) ? ` ${gitHubMessage(err.response?.data)}` : ''}`
    const hint = hintFor(status)
    return new GithubError(
      `GitHub API: could not ${what}: ${request} ${answer}${hint ? `; ${hint}` : ''}`,
      status,
      request,
      errorCodesOf(err)
    )
  }
  const message = err instanceof Error ? err.message : String(err)
  return new GithubError(`GitHub API: could not ${what}: ${message}`, undefined, '')
}
