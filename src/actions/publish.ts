/**
 * The publish action (actions/publish): the second stage of a release, as a JavaScript action
 * because only those receive the runner's tokens (the Actions artifact service's, and the
 * GitHub token for tags and releases). It takes the release the prepare stage built (its handoff
 * file), tags the commit, publishes to the configured stores and makes the GitHub release; a
 * failure undoes what it did, so no tag and no half-published version remains.
 */
import path from 'node:path'
import { loadConfig } from '../config/load-config.js'
import type { StoreConfig } from '../config/model.js'
import { createGithubApi } from '../github/client.js'
import type { GithubApi } from '../github/api.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import {
  readHandoff,
  ReleaseFailed,
  runRelease,
  type ReleaseOutcome
} from '../pipelines/release.js'
import type { StepReport } from '../pipelines/pipeline.js'
import { createStore, type StoreDeps } from '../stores/registry.js'
import { SitecycleError } from '../util/errors.js'
import type { ActionCore } from './action-core.js'
import { CoreReporter } from './core-reporter.js'
import { writeKnownHostsFile, type TempFile } from './secrets.js'
import { errorMessage, writeSummary } from './site-action.js'

/** The publish action's inputs (actions/publish/action.yml). */
export enum PublishInput {
  Config = 'config',
  Handoff = 'handoff',
  Token = 'token',
  SshKey = 'ssh-key',
  KnownHosts = 'known-hosts'
}

/** The publish action's outputs; the release action and workflow pass them on. */
export enum PublishOutput {
  Version = 'version',
  Tag = 'tag',
  /** The sdist and the wheel, absolute paths, one a line. */
  Files = 'files',
  ManifestPath = 'manifest-path',
  ReleaseUrl = 'release-url',
  TagCreated = 'tag-created'
}

/** The publish action's settings, read once from its inputs. */
export interface PublishSettings {
  /** sitecycle.yml (its `release:` names the stores). */
  configFile: string
  /** The JSON file the prepare stage wrote (`sitecycle release --handoff FILE`). */
  handoffFile: string
  /** A token with `contents: write`: tags and the GitHub release through the API. Without one, `git tag`. */
  token?: string
  /** Private key for a directory store on an SSH host (a secret). */
  sshKey?: string
  /** Pinned known-hosts lines for that host. */
  knownHosts?: string
}

/** What the action takes from outside, replaceable in tests. */
export interface PublishActionDeps {
  env?: NodeJS.ProcessEnv
  /** Builds the GitHub API from the token (createGithubApi by default). */
  createGithub?: (token: string, repository: string, env: NodeJS.ProcessEnv) => GithubApi
  /** @actions/artifact's client or a stand-in (the artifact store's default otherwise). */
  artifactClient?: StoreDeps['artifactClient']
  createExecutor?: typeof createExecutor
}

/** Read and check the inputs; one SitecycleError naming every bad input. */
export function readPublishSettings(core: Pick<ActionCore, 'getInput'>): PublishSettings {
  const get = (name: string): string | undefined => core.getInput(name).trim() || undefined
  const handoffFile = get(PublishInput.Handoff)
  if (!handoffFile) {
    throw new SitecycleError(
      `input '${PublishInput.Handoff}' is empty; expected the file written by 'sitecycle release --handoff FILE'`,
      'input'
    )
  }
  const token = get(PublishInput.Token)
  const sshKey = get(PublishInput.SshKey)
  const knownHosts = get(PublishInput.KnownHosts)
  return {
    configFile: get(PublishInput.Config) ?? 'sitecycle.yml',
    handoffFile,
    ...(token !== undefined && { token }),
    ...(sshKey !== undefined && { sshKey }),
    ...(knownHosts !== undefined && { knownHosts })
  }
}

function defaultGithub(token: string, repository: string, env: NodeJS.ProcessEnv): GithubApi {
  return createGithubApi({
    token,
    repository,
    ...(env.GITHUB_API_URL && { baseUrl: env.GITHUB_API_URL })
  })
}

/** Set the outputs of a finished release. */
export function setPublishOutputs(core: Pick<ActionCore, 'setOutput'>, o: ReleaseOutcome): void {
  core.setOutput(PublishOutput.Version, o.version)
  core.setOutput(PublishOutput.Tag, o.tag)
  core.setOutput(PublishOutput.Files, o.files.join('\n'))
  core.setOutput(PublishOutput.ManifestPath, o.manifestPath ?? '')
  core.setOutput(PublishOutput.ReleaseUrl, o.releaseUrl ?? '')
  core.setOutput(PublishOutput.TagCreated, String(o.tagCreated))
}

/** The job summary: one table of the steps, and where the release went. */
export function renderPublishSummary(
  steps: StepReport[],
  head: string,
  redact: (s: string) => string
): string {
  const cell = (s: string) => redact(s).replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const rows = steps.map(s => `| ${s.name} | ${s.status} | ${cell(s.note ?? s.error ?? '')} |`)
  return [
    `### ${cell(head)}`,
    '',
    '| step | status | detail |',
    '| --- | --- | --- |',
    ...rows,
    ''
  ].join('\n')
}

/**
 * Run the publish action. Throws (secrets redacted) when it fails; outputs are set on success,
 * the job summary in every case. The caller passes the message to core.setFailed.
 */
export async function runPublishAction(
  core: ActionCore,
  deps: PublishActionDeps = {}
): Promise<void> {
  const env = deps.env ?? process.env
  const reporter = new CoreReporter(core)
  reporter.addSecret(core.getInput(PublishInput.Token))
  reporter.addSecret(core.getInput(PublishInput.SshKey))
  const executors: Executor[] = []
  let knownHosts: TempFile | undefined
  try {
    const settings = readPublishSettings(core)
    const config = await loadConfig(settings.configFile)
    const handoff = await readHandoff(settings.handoffFile)
    const repository = env.GITHUB_REPOSITORY ?? ''
    const github = settings.token
      ? (deps.createGithub ?? defaultGithub)(settings.token, repository, env)
      : undefined
    if (settings.knownHosts) knownHosts = await writeKnownHostsFile(settings.knownHosts)
    const storeDeps: StoreDeps = {
      executorFor: host => {
        const e = (deps.createExecutor ?? createExecutor)(host, {
          ...config.ssh,
          ...(knownHosts && { knownHostsFile: knownHosts.path }),
          ...(settings.sshKey !== undefined && { key: settings.sshKey })
        })
        executors.push(e)
        return e
      },
      env,
      ...(github && { github }),
      ...(deps.artifactClient !== undefined && { artifactClient: deps.artifactClient })
    }
    const release = config.release
    if (!release) {
      throw new SitecycleError(
        `${config.file} has no release: section: it names the stores to publish to`,
        'config'
      )
    }
    const stores = release.stores.map((s: StoreConfig) => createStore(s, storeDeps))
    const source = path.resolve(release.source)
    reporter.info(`publishing ${handoff.name} ${handoff.version} (${handoff.tag}) from ${source}`)
    try {
      const outcome = await runRelease({
        app: config.app,
        release,
        stores,
        reporter,
        stage: 'publish',
        handoff,
        ...(handoff.notes !== undefined && { notes: handoff.notes }),
        ...(github && { github })
      })
      setPublishOutputs(core, outcome)
      await writeSummary(
        core,
        renderPublishSummary(
          outcome.steps,
          `released ${outcome.name} ${outcome.version} (${outcome.tag})`,
          s => reporter.redact(s)
        )
      )
    } catch (e) {
      if (e instanceof ReleaseFailed) {
        await writeSummary(
          core,
          renderPublishSummary(
            e.steps,
            `release of ${handoff.version} failed at ${e.failedStep}`,
            s => reporter.redact(s)
          )
        )
      }
      throw e
    }
  } catch (e) {
    reporter.closeGroup()
    const message = reporter.redact(errorMessage(e))
    throw new SitecycleError(message, e instanceof SitecycleError ? e.kind : 'internal')
  } finally {
    for (const e of executors) await e.close().catch(() => undefined)
    await knownHosts?.remove()
  }
}
