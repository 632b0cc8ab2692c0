/**
 * The scopes of the GITHUB_TOKEN and a `permissions:` value read as access by scope, as GitHub
 * reads it ("Controlling permissions for GITHUB_TOKEN"). Pure, without the workflow parser, so
 * the docs generators (tools/docs) read the workflows' grants the same way the harness does.
 */
import { HarnessInvalid } from './errors.js'

/** The access of one scope. */
export type Access = 'none' | 'read' | 'write'

/** Access by scope (every scope of SCOPES present). */
export type TokenPermissions = Record<string, Access>

/** The scopes a workflow's `permissions:` may name. */
export const SCOPES = [
  'actions',
  'attestations',
  'checks',
  'contents',
  'deployments',
  'discussions',
  'id-token',
  'issues',
  'models',
  'packages',
  'pages',
  'pull-requests',
  'repository-projects',
  'security-events',
  'statuses'
] as const

/** The order of access levels. */
export const RANK: Record<Access, number> = { none: 0, read: 1, write: 2 }

export function all(access: Access): TokenPermissions {
  return Object.fromEntries(SCOPES.map(s => [s, access]))
}

/**
 * The repository's default GITHUB_TOKEN permissions: `permissive` is read/write on every scope
 * (id-token none, models read); `restricted` is contents and packages read, the rest none.
 */
export function repositoryDefault(mode: 'permissive' | 'restricted'): TokenPermissions {
  if (mode === 'permissive') return { ...all('write'), 'id-token': 'none', models: 'read' }
  return { ...all('none'), contents: 'read', packages: 'read' }
}

/** An evaluated `permissions:` value as access by scope; undefined when absent. */
export function parsePermissions(value: unknown, at: string): TokenPermissions {
  if (value === 'read-all') return all('read')
  if (value === 'write-all') return all('write')
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new HarnessInvalid(`${at}: permissions must be read-all, write-all or a mapping`)
  }
  const out = all('none')
  for (const [scope, access] of Object.entries(value)) {
    if (access !== 'read' && access !== 'write' && access !== 'none')
      throw new HarnessInvalid(`${at}: permissions.${scope} must be read, write or none`)
    out[scope] = access
  }
  return out
}
