import { promises as fs } from 'node:fs'
import * as path from 'node:path'
import { checkActionlint } from './actionlint-rule.js'
import { checkExpressionsInRun } from './expression-in-run-rule.js'
import { sortFindings, type Finding, type RuleName } from './finding.js'
import { checkPermissions } from './permissions-rule.js'
import { checkPinnedUses } from './pinned-uses-rule.js'
import { checkPullRequestTarget, type LoadLocalWorkflow } from './pull-request-target-rule.js'
import { listCheckedFiles, loadSourceFile, type SourceFile } from './source-file.js'

/** Every rule, by name: each takes one parsed file and returns its findings. */
export const RULES: Record<
  RuleName,
  (file: SourceFile, root: string) => Finding[] | Promise<Finding[]>
> = {
  actionlint: file => checkActionlint(file),
  'no-expression-in-run': checkExpressionsInRun,
  'read-only-permissions': checkPermissions,
  'pinned-uses': checkPinnedUses,
  'pull-request-target-checkout': (file, root) =>
    checkPullRequestTarget(file, localWorkflowLoader(root))
}

/** Options of a check run. */
export interface CheckOptions {
  /** Only these rules (all when absent). */
  rules?: readonly RuleName[]
}

/** Runs the rules on one parsed file. */
export async function checkFile(
  file: SourceFile,
  root: string,
  options: CheckOptions = {}
): Promise<Finding[]> {
  const names = options.rules ?? (Object.keys(RULES) as RuleName[])
  const findings: Finding[] = []
  for (const name of names) findings.push(...(await RULES[name](file, root)))
  return sortFindings(findings)
}

/**
 * Runs the rules on every workflow (`.github/workflows/*.yml`, `workflows/*.yml`) and action
 * (`action.yml`, `actions/*\/action.yml`) under `root`. Returns the files checked and the
 * findings, sorted; no findings means the repository passes.
 */
export async function checkRepository(
  root: string,
  options: CheckOptions = {}
): Promise<{ files: string[]; findings: Finding[] }> {
  const files = await listCheckedFiles(root)
  const findings: Finding[] = []
  for (const { path: relPath, kind } of files) {
    findings.push(...(await checkFile(await loadSourceFile(root, relPath, kind), root, options)))
  }
  return { files: files.map(file => file.path), findings: sortFindings(findings) }
}

/** Loads `./.github/workflows/x.yml`-style paths relative to `root`, undefined when missing. */
export function localWorkflowLoader(root: string): LoadLocalWorkflow {
  return async relPath => {
    const resolved = path.resolve(root, relPath)
    if (!resolved.startsWith(path.resolve(root) + path.sep)) return undefined
    try {
      await fs.access(resolved)
    } catch {
      return undefined
    }
    return loadSourceFile(root, path.relative(root, resolved).split(path.sep).join('/'), 'workflow')
  }
}
