/**
 * A GitHub deployment around an operation that makes a release live on a site (deploy, and the
 * upgrade attempt's deploy to its preview): the deployment is recorded before the operation,
 * `in_progress` while it runs, then `success` with the site's URL (GitHub marks the environment's
 * earlier deployments inactive: auto_inactive) or `failure`; both with the run's log.
 *
 * Recording is a side note to the operation: a GitHub failure here is a warning, never the
 * operation's failure, and never stops it.
 */
import type { SiteConfig } from '../config/model.js'
import type { Reporter } from '../util/reporter.js'
import type { GithubDeploymentsApi } from './api.js'
import { createGithubApi } from './client.js'

/** What a deployment record says about the operation. */
export interface DeploymentTarget {
  /** The commit (or tag, or branch) of the application deployed; GITHUB_SHA in a workflow. */
  ref: string
  /** The site: its name is the environment, its role says production or transient (preview). */
  site: Pick<SiteConfig, 'name' | 'role' | 'url'>
  /** `deploy` (default), or such as `deploy:attempt`. */
  task?: string
  /** The release being made live, when known before the operation. */
  version?: string
  /** The host worked on, for a site on several hosts. */
  host?: string
  /** The run's log (actionsRunUrl). */
  logUrl?: string
  /** The GitHub environment, when it is not the site's name. */
  environment?: string
}

/** How the operation ended, as the deployment's last status says it. */
export interface DeploymentResult {
  ok: boolean
  /** One line for the Deployments view (cut to 140 characters). */
  description: string
}

/** What `new`, then `update` of a deployment send, in order; for tests and dry runs. */
export function deploymentRequest(target: DeploymentTarget) {
  const environment = target.environment ?? target.site.name
  return {
    ref: target.ref,
    environment,
    task: target.task ?? 'deploy',
    description: `sitecycle ${target.task ?? 'deploy'} of ${target.version ?? 'a release'} to site ${target.site.name}${target.host ? ` on ${target.host}` : ''}`,
    transientEnvironment: target.site.role === 'preview',
    productionEnvironment: target.site.role === 'production',
    payload: {
      site: target.site.name,
      ...(target.version !== undefined && { version: target.version }),
      ...(target.host !== undefined && { host: target.host })
    }
  }
}

/**
 * Run `operation` inside a GitHub deployment of `target`. `describe` turns the operation's result
 * into the final status (a result can be a failure: an outcome that rolled back); a thrown error
 * is a `failure` status with its message (pass `redact` to clean it) and is re-thrown.
 */
export async function withGithubDeployment<T>(
  api: GithubDeploymentsApi,
  target: DeploymentTarget,
  reporter: Reporter,
  operation: () => Promise<T>,
  options: {
    describe: (result: T) => DeploymentResult
    /** Describe a thrown error (default: its message). */
    describeError?: (error: unknown) => string
    redact?: (text: string) => string
  }
): Promise<T> {
  const id = await startGithubDeployment(api, target, reporter, options.redact)
  let result: T
  try {
    result = await operation()
  } catch (error) {
    await settleGithubDeployment(
      api,
      id,
      target,
      {
        ok: false,
        description: options.describeError ? options.describeError(error) : messageOf(error)
      },
      reporter,
      options.redact
    )
    throw error
  }
  await settleGithubDeployment(api, id, target, options.describe(result), reporter, options.redact)
  return result
}

/**
 * Record a deployment of `target` and set it `in_progress`; its id, or undefined (with a warning)
 * when GitHub refused. A deploy in stages starts it at prepare and settles it at its last stage.
 */
export async function startGithubDeployment(
  api: GithubDeploymentsApi,
  target: DeploymentTarget,
  reporter: Reporter,
  redact: (text: string) => string = text => text
): Promise<number | undefined> {
  const request = deploymentRequest(target)
  try {
    const deployment = await api.createDeployment(request)
    await api.createDeploymentStatus(deployment.id, {
      state: 'in_progress',
      description: request.description,
      ...(target.logUrl !== undefined && { logUrl: target.logUrl })
    })
    reporter.info(
      `GitHub deployment ${deployment.id} of ${api.repository} to environment ${request.environment} is in progress`
    )
    return deployment.id
  } catch (error) {
    reporter.warn(
      `the deployment is not recorded on GitHub (the ${target.task ?? 'deploy'} goes on): ${redact(messageOf(error))}`
    )
    return undefined
  }
}

/** Set the deployment `id` (nothing without one) to `success` or `failure`; a refusal is a warning. */
export async function settleGithubDeployment(
  api: GithubDeploymentsApi,
  id: number | undefined,
  target: DeploymentTarget,
  result: DeploymentResult,
  reporter: Reporter,
  redact: (text: string) => string = text => text
): Promise<void> {
  if (id === undefined) return
  try {
    await api.createDeploymentStatus(id, {
      state: result.ok ? 'success' : 'failure',
      description: redact(result.description),
      ...(target.logUrl !== undefined && { logUrl: target.logUrl }),
      ...(result.ok && { environmentUrl: target.site.url, autoInactive: true })
    })
  } catch (error) {
    reporter.warn(
      `GitHub deployment ${id} could not be set to ${result.ok ? 'success' : 'failure'}: ${redact(messageOf(error))}`
    )
  }
}

/**
 * The deployments API of the workflow run's repository (GITHUB_REPOSITORY, GITHUB_API_URL), the
 * commit it deploys (GITHUB_SHA, else GITHUB_REF) and its log; undefined without a token, a
 * repository or a ref (outside a workflow nothing is recorded).
 */
export function runDeploymentsApi(
  env: NodeJS.ProcessEnv,
  token: string | undefined,
  fetch?: typeof globalThis.fetch
): { api: GithubDeploymentsApi; ref: string; logUrl?: string } | undefined {
  const repository = env.GITHUB_REPOSITORY
  const ref = env.GITHUB_SHA || env.GITHUB_REF
  if (!token || !repository || !ref) return undefined
  const api = createGithubApi({
    token,
    repository,
    ...(env.GITHUB_API_URL && { baseUrl: env.GITHUB_API_URL }),
    ...(fetch && { fetch })
  })
  const logUrl = actionsRunUrl(env)
  return { api, ref, ...(logUrl !== undefined && { logUrl }) }
}

/**
 * The log of this workflow run (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`,
 * with `/attempts/N` after a re-run), or undefined outside GitHub Actions.
 */
export function actionsRunUrl(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT } = env
  if (!GITHUB_REPOSITORY || !GITHUB_RUN_ID || !/^\d+$/.test(GITHUB_RUN_ID)) return undefined
  const server = (GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const attempt =
    GITHUB_RUN_ATTEMPT && /^\d+$/.test(GITHUB_RUN_ATTEMPT) && GITHUB_RUN_ATTEMPT !== '1'
      ? `/attempts/${GITHUB_RUN_ATTEMPT}`
      : ''
  return `${server}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}${attempt}`
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
