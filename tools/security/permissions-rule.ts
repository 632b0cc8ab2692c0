import { isMap, isScalar, type Node } from 'yaml'
import type { Finding } from './finding.js'
import { findingAt, jobsOf, nodeAt, type SourceFile } from './source-file.js'

const READ_ONLY_LEVELS = new Set(['read', 'none'])
const LEVELS = new Set(['read', 'write', 'none'])

/**
 * Least privilege for the `GITHUB_TOKEN`: every workflow declares top-level `permissions:`
 * that are read-only (`{}`, `read-all`, or each scope `read`/`none`), so a job that needs to
 * write declares exactly those scopes itself; a job never takes `write-all`.
 */
export function checkPermissions(file: SourceFile): Finding[] {
  if (file.kind !== 'workflow') return []
  const findings: Finding[] = []
  const top = nodeAt(file.doc.contents, 'permissions')
  if (!top) {
    findings.push(
      findingAt(
        file,
        undefined,
        'read-only-permissions',
        'the workflow declares no top-level `permissions:`; add `permissions: {}` (or read scopes) and grant write scopes on the jobs that need them'
      )
    )
  } else {
    findings.push(...checkTopLevel(file, top))
  }
  for (const [id, job] of jobsOf(file)) {
    const permissions = nodeAt(job, 'permissions')
    if (permissions) findings.push(...checkJobLevel(file, id, permissions))
  }
  return findings
}

function checkTopLevel(file: SourceFile, node: Node): Finding[] {
  if (isScalar(node)) {
    if (node.value === 'read-all') return []
    return [
      findingAt(
        file,
        node,
        'read-only-permissions',
        `top-level \`permissions: ${String(node.value)}\` is not read-only; use \`{}\`, \`read-all\` or read scopes, and grant write scopes on the jobs that need them`
      )
    ]
  }
  if (!isMap(node)) {
    return [
      findingAt(
        file,
        node,
        'read-only-permissions',
        'top-level `permissions:` must be a map of scopes, `{}` or `read-all`'
      )
    ]
  }
  const findings: Finding[] = []
  for (const pair of node.items) {
    const scope = isScalar(pair.key) ? String(pair.key.value) : '?'
    const level = isScalar(pair.value) ? String(pair.value.value) : undefined
    if (level !== undefined && READ_ONLY_LEVELS.has(level)) continue
    findings.push(
      findingAt(
        file,
        (pair.value as Node | null) ?? (pair.key as Node),
        'read-only-permissions',
        `top-level \`permissions\` grants \`${scope}: ${level ?? '?'}\`; keep the top level read-only and grant it on the job that needs it`
      )
    )
  }
  return findings
}

function checkJobLevel(file: SourceFile, id: string, node: Node): Finding[] {
  if (isScalar(node)) {
    if (node.value === 'read-all') return []
    return [
      findingAt(
        file,
        node,
        'read-only-permissions',
        `job \`${id}\` takes \`permissions: ${String(node.value)}\`; grant only the scopes it needs, e.g. \`contents: write\``
      )
    ]
  }
  if (!isMap(node))
    return [
      findingAt(
        file,
        node,
        'read-only-permissions',
        `job \`${id}\` permissions must be a map of scopes`
      )
    ]
  const findings: Finding[] = []
  for (const pair of node.items) {
    const level = isScalar(pair.value) ? String(pair.value.value) : undefined
    if (level !== undefined && LEVELS.has(level)) continue
    const scope = isScalar(pair.key) ? String(pair.key.value) : '?'
    findings.push(
      findingAt(
        file,
        (pair.value as Node | null) ?? (pair.key as Node),
        'read-only-permissions',
        `job \`${id}\` permission \`${scope}: ${level ?? '?'}\` is not one of read, write, none`
      )
    )
  }
  return findings
}
