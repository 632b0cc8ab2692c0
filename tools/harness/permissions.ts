/**
 * The GITHUB_TOKEN permissions of jobs, and the ceiling GitHub puts on called workflows: a
 * called workflow's jobs may keep or lower what their caller job grants, never raise it. GitHub
 * checks the whole tree of calls when the run is queued and refuses the run before any job
 * starts ("The nested job 'X' is requesting 'deployments: write', but is only allowed
 * 'deployments: none'"); permissionProblems walks the same tree and answers those messages.
 *
 * Documented behaviour imitated (docs.github.com):
 * - "Controlling permissions for GITHUB_TOKEN": `permissions:` at the workflow or job level; if
 *   the access of any scope is given, every scope not given is `none`; `read-all` / `write-all`;
 *   `permissions: {}` disables them all.
 * - "Automatic token authentication" / "GITHUB_TOKEN reference": the default access is the
 *   repository's setting, permissive (read/write on every scope) or restricted (contents and
 *   packages read, metadata read).
 * - "Reusing workflows", Access and permissions: "The GITHUB_TOKEN permissions passed from the
 *   caller workflow can be only downgraded (not elevated) by the called workflow"; a called
 *   workflow without `permissions:` inherits its caller job's.
 */
import path from 'node:path'
import { evaluateToken } from './expressions.js'
import { formatLocation } from './errors.js'
import type { Session } from './runtime.js'
import { entries, find, literalOf, loadWorkflow, where, type TemplateToken } from './templates.js'

import { RANK, parsePermissions, repositoryDefault, type TokenPermissions } from './token-scopes.js'

export {
  parsePermissions,
  repositoryDefault,
  SCOPES,
  type Access,
  type TokenPermissions
} from './token-scopes.js'
/** The scopes where `asked` exceeds `allowed`, in GitHub's message shape. */
export function exceeding(
  job: string,
  asked: TokenPermissions,
  allowed: TokenPermissions
): string[] {
  const out: string[] = []
  for (const [scope, access] of Object.entries(asked)) {
    const limit = allowed[scope] ?? 'none'
    if (RANK[access] > RANK[limit])
      out.push(
        `The nested job '${job}' is requesting '${scope}: ${access}', but is only allowed '${scope}: ${limit}'.`
      )
  }
  return out
}

/** The `permissions:` of a mapping token (workflow or job), parsed; undefined when absent. */
function permissionsOf(
  token: TemplateToken | undefined,
  file: string
): TokenPermissions | undefined {
  const p = find(token, 'permissions')
  if (!p) return undefined
  const value = evaluateToken(p, {
    contexts: {},
    status: { failed: false, cancelled: false },
    file
  })
  return parsePermissions(value, formatLocation(where(file, p)))
}

/** Where a job's `uses:` points on this machine, or undefined when no fixture answers it. */
export interface CallTarget {
  file: string
  root: string
  repository: string
  sha: string
}

/**
 * Walk a workflow and the workflows its jobs call: every job's permissions (its own, else the
 * workflow's, else the ceiling its caller grants, else the repository default) checked against
 * the ceiling of a called workflow. Returns GitHub's messages, empty when the tree may run.
 * `ceiling` is the caller job's grant when this workflow is itself called.
 */
export async function permissionProblems(
  session: Session,
  source: CallTarget,
  ceiling: TokenPermissions | undefined,
  resolveCall: (uses: string, caller: CallTarget) => CallTarget | undefined,
  depth = 0
): Promise<string[]> {
  if (depth > 4) return []
  const loaded = await loadWorkflow(source.file, source.root)
  const file = loaded.name
  const fallback = repositoryDefault(session.options.defaultTokenPermissions ?? 'restricted')
  const workflowLevel = permissionsOf(loaded.root, file)
  const problems: string[] = []
  for (const [id, job] of entries(find(loaded.root, 'jobs'))) {
    const asked = permissionsOf(job, file) ?? workflowLevel
    if (ceiling && asked) problems.push(...exceeding(id, asked, ceiling))
    const uses = find(job, 'uses')
    if (!uses) continue
    const grant = asked ?? ceiling ?? fallback
    const target = resolveCall(String(literalOf(uses)), source)
    if (!target) continue
    const nested = await permissionProblems(session, target, grant, resolveCall, depth + 1)
    const at = `${path.relative(source.root, source.file)} (Line: ${uses.line ?? '?'}, Col: ${uses.col ?? '?'})`
    for (const n of nested)
      problems.push(
        n.includes('Error calling workflow')
          ? n
          : `${at}: Error calling workflow '${String(literalOf(uses))}'. ${n}`
      )
  }
  return problems
}
