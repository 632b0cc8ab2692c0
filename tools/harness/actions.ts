/**
 * Finding the action a `uses:` step names: `./path` in the job's workspace (as the runner
 * resolves it, also inside composite actions), `owner/repo[/path]@ref` from the test's fixture
 * map. Docker actions (`docker://`, `using: docker`) are refused.
 */
import { existsSync } from 'node:fs'
import path from 'node:path'
import { HarnessUnsupported, type SourceLocation } from './errors.js'
import type { RemoteActionFixture } from './model.js'
import { loadAction, type LoadedAction } from './templates.js'

/** A `uses:` of a step, split. */
export type ActionReference =
  | { kind: 'local'; path: string }
  | { kind: 'remote'; owner: string; repo: string; subpath: string; ref: string }

/** Split a step's `uses:`; refuses docker:// and malformed references. */
export function parseActionReference(uses: string, where: SourceLocation): ActionReference {
  if (uses.startsWith('docker://')) {
    throw new HarnessUnsupported(`docker actions (uses: ${uses})`, where)
  }
  if (uses.startsWith('./') || uses.startsWith('.\\')) return { kind: 'local', path: uses }
  const m = /^([^/@\s]+)\/([^/@\s]+)((?:\/[^@\s]+)?)@(.+)$/.exec(uses)
  if (!m) {
    throw new HarnessUnsupported(
      `the action reference '${uses}'`,
      where,
      'expected owner/repo[/path]@ref or ./path'
    )
  }
  return { kind: 'remote', owner: m[1], repo: m[2], subpath: m[3].replace(/^\//, ''), ref: m[4] }
}

/** An action ready to run: its loaded action.yml and what the runner tells it about itself. */
export interface ResolvedAction {
  action: LoadedAction
  /** GITHUB_ACTION_REPOSITORY / GITHUB_ACTION_REF (empty for a local action). */
  repository: string
  ref: string
  /** Env for the fixture's processes. */
  env: Record<string, string>
}

/** Look up a remote action in the fixture map: `owner/repo[/path]@ref` first, then without the ref. */
export function findRemoteFixture(
  ref: Extract<ActionReference, { kind: 'remote' }>,
  fixtures: Record<string, RemoteActionFixture>
): RemoteActionFixture | undefined {
  const name = `${ref.owner}/${ref.repo}${ref.subpath ? `/${ref.subpath}` : ''}`
  return fixtures[`${name}@${ref.ref}`] ?? fixtures[name]
}

/**
 * Resolve and load a step's action. A local action missing from the workspace returns a
 * message (the step fails, as on GitHub); a remote one without fixture is refused.
 */
export async function resolveAction(
  uses: string,
  workspace: string,
  fixtures: Record<string, RemoteActionFixture>,
  where: SourceLocation
): Promise<ResolvedAction | { missing: string }> {
  const ref = parseActionReference(uses, where)
  if (ref.kind === 'local') {
    const dir = path.resolve(workspace, ref.path)
    if (!existsSync(path.join(dir, 'action.yml')) && !existsSync(path.join(dir, 'action.yaml'))) {
      return {
        missing: `can't find 'action.yml' or 'action.yaml' under '${dir}'; did you forget to run actions/checkout before running your local action?`
      }
    }
    return { action: await loadAction(dir, workspace), repository: '', ref: '', env: {} }
  }
  const fixture = findRemoteFixture(ref, fixtures)
  if (!fixture) {
    throw new HarnessUnsupported(
      `the remote action ${uses} without a fixture`,
      where,
      `add '${ref.owner}/${ref.repo}${ref.subpath ? `/${ref.subpath}` : ''}' to remoteActions`
    )
  }
  return {
    action: await loadAction(fixture.dir),
    repository: `${ref.owner}/${ref.repo}`,
    ref: ref.ref,
    env: fixture.env ?? {}
  }
}
