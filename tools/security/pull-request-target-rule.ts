import { isMap, isScalar, isSeq } from 'yaml'
import type { Finding } from './finding.js'
import { findingAt, jobsOf, nodeAt, stepsOf, stringAt, type SourceFile } from './source-file.js'

/** Commands in a `run:` script that fetch or switch to other code. */
const CHECKOUT_COMMANDS =
  /\b(git\s+(checkout|switch|fetch|pull|clone|worktree)|gh\s+pr\s+checkout)\b/
/** Expressions naming the pull request's head: code the base repository does not control. */
const HEAD_REFERENCE = /github\.(event\.pull_request\.head|head_ref)\b/

/** Reads a local reusable workflow (`./.github/workflows/x.yml`) to follow a job's `uses:`. */
export type LoadLocalWorkflow = (relPath: string) => Promise<SourceFile | undefined>

/**
 * `pull_request_target` runs with the base repository's token and secrets; checking out the
 * pull request's head there runs the author's code with them ("pwn request"). The rule is
 * strict: in a workflow with that trigger, no checkout at all: no `actions/checkout` (any
 * ref), no step input naming the head, no `git checkout`/`fetch`/`clone`/`gh pr checkout` in
 * a script. A job calling a remote reusable workflow is a finding too (its steps cannot be
 * seen here); a local one is followed and checked the same way.
 */
export async function checkPullRequestTarget(
  file: SourceFile,
  loadLocalWorkflow: LoadLocalWorkflow
): Promise<Finding[]> {
  if (file.kind !== 'workflow' || !triggersOf(file).includes('pull_request_target')) return []
  return checkoutsIn(file, file, loadLocalWorkflow, new Set([file.path]))
}

/** The event names of a workflow's `on:` (string, list or map form). */
export function triggersOf(file: SourceFile): string[] {
  const on = nodeAt(file.doc.contents, 'on')
  if (isScalar(on)) return [String(on.value)]
  if (isSeq(on)) return on.items.flatMap(item => (isScalar(item) ? [String(item.value)] : []))
  if (isMap(on))
    return on.items.flatMap(pair => (isScalar(pair.key) ? [String(pair.key.value)] : []))
  return []
}

async function checkoutsIn(
  origin: SourceFile,
  file: SourceFile,
  loadLocalWorkflow: LoadLocalWorkflow,
  seen: Set<string>
): Promise<Finding[]> {
  const via = file === origin ? '' : ` (in ${file.path}, called from ${origin.path})`
  const findings: Finding[] = []
  const report = (node: Parameters<typeof findingAt>[1], message: string): void => {
    findings.push(findingAt(file, node, 'pull-request-target-checkout', `${message}${via}`))
  }
  for (const { step, where } of stepsOf(file)) {
    const uses = stringAt(step, 'uses') ?? ''
    if (/^actions\/checkout@/i.test(uses)) {
      report(
        nodeAt(step, 'uses'),
        `${where} checks out code in a \`pull_request_target\` workflow; use \`pull_request\` for anything that reads the pull request's code`
      )
    }
    const inputs = nodeAt(step, 'with')
    if (isMap(inputs)) {
      for (const pair of inputs.items) {
        if (isScalar(pair.value) && HEAD_REFERENCE.test(String(pair.value.value))) {
          report(
            pair.value,
            `${where}.with names the pull request head in a \`pull_request_target\` workflow`
          )
        }
      }
    }
    const run = nodeAt(step, 'run')
    if (isScalar(run)) {
      const match = CHECKOUT_COMMANDS.exec(String(run.value))
      if (match)
        report(run, `${where}.run runs \`${match[0]}\` in a \`pull_request_target\` workflow`)
    }
  }
  for (const [id, job] of jobsOf(file)) {
    const usesNode = nodeAt(job, 'uses')
    const uses = stringAt(job, 'uses')
    if (!uses) continue
    if (!uses.startsWith('./')) {
      report(
        usesNode,
        `jobs.${id} calls the remote reusable workflow \`${uses}\` from a \`pull_request_target\` workflow, where its checkouts cannot be checked`
      )
      continue
    }
    const relPath = uses.slice(2).replace(/@.*$/, '')
    if (seen.has(relPath)) continue
    seen.add(relPath)
    const called = await loadLocalWorkflow(relPath)
    if (!called) {
      report(
        usesNode,
        `jobs.${id} calls \`${uses}\`, which cannot be read to check it for checkouts`
      )
      continue
    }
    findings.push(...(await checkoutsIn(origin, called, loadLocalWorkflow, seen)))
  }
  return findings
}
