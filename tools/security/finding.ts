/** The security rules a workflow or action file is checked against. */
export type RuleName =
  | 'actionlint'
  | 'no-expression-in-run'
  | 'read-only-permissions'
  | 'pinned-uses'
  | 'pull-request-target-checkout'

/** One violation of a rule, at a place in a file. */
export interface Finding {
  /** Path of the file, relative to the repository root, with `/` separators. */
  file: string
  /** 1-based line of the offending text. */
  line: number
  /** 1-based column of the offending text. */
  column: number
  rule: RuleName
  /** What is wrong and what to do instead, in one sentence. */
  message: string
}

/** `file:line:column [rule] message`, the form editors and CI logs link to. */
export function formatFinding(finding: Finding): string {
  return `${finding.file}:${finding.line}:${finding.column} [${finding.rule}] ${finding.message}`
}

/** Findings in file, line, column order (stable for reports and snapshots). */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      a.rule.localeCompare(b.rule) ||
      a.message.localeCompare(b.message)
  )
}
