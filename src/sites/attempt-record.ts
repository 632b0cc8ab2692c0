/**
 * The state of an upgrade attempt, kept on both of its sites (`<root>/.sitecycle/attempt.json`
 * of the production site and of the preview), so that a run interrupted at any point, or a later
 * job of the workflow, knows where the attempt stands. Every change of phase is also one finished
 * operation (`op: attempt`) in both sites' journals.
 */
import type { SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { commitFile } from '../commands/files.js'
import type { SiteAddress, SiteIdentity } from './identity.js'
import { Journal } from './journal.js'
import { siteLayout } from './layout.js'

/**
 * The phases, in order. `syncing` → `deploying` → `freezing` → `catching-up` → `open` (the
 * window) → `promoting` → `promoted`; `cancelled` from any phase before `promoted`.
 */
export const ATTEMPT_PHASES = [
  'syncing',
  'deploying',
  'freezing',
  'catching-up',
  'open',
  'promoting',
  'promoted',
  'cancelled'
] as const
export type AttemptPhase = (typeof ATTEMPT_PHASES)[number]

/** Whether the attempt is over (a new one may start). */
export function attemptFinished(phase: AttemptPhase): boolean {
  return phase === 'promoted' || phase === 'cancelled'
}

/** Whether `phase` comes after `than` (both not cancelled). */
export function phaseAfter(phase: AttemptPhase, than: AttemptPhase): boolean {
  return ATTEMPT_PHASES.indexOf(phase) > ATTEMPT_PHASES.indexOf(than)
}

/** What `attempt.json` holds (the same on both sites). */
export interface AttemptRecord {
  id: string
  preview: string
  production: string
  /** The release asked for: a version, or a file or folder given by path. */
  asked: { version?: string; release?: string }
  /** The version the preview serves, once deployed. */
  version?: string
  /** The version production served when the attempt began. */
  previousVersion: string | null
  phase: AttemptPhase
  startedAt: string
  updatedAt: string
  /** Production was already frozen when the attempt began (a cancel then leaves it frozen). */
  productionWasFrozen: boolean
  previewUrl: string
  productionUrl: string
  /** From `promoting` on: each site's role, address and identity record before the promote. */
  before?: {
    production: { role: SiteConfig['role']; address: SiteAddress; identity?: SiteIdentity }
    preview: { role: SiteConfig['role']; address: SiteAddress; identity?: SiteIdentity }
  }
  /** After `promoted`: when the old production may be removed. */
  removeAfter?: string
  /** Who moved the attempt along: one entry per phase change. */
  history: { phase: AttemptPhase; at: string; run: string }[]
}

/** Where the record lives on a site's host. */
export function attemptPath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).state}/attempt.json`
}

/** Read a site's record; undefined when there is none or it cannot be parsed. */
export async function readAttempt(
  exec: Executor,
  site: Pick<SiteConfig, 'root'>
): Promise<AttemptRecord | undefined> {
  const text = await exec.readFile(attemptPath(site))
  if (text === undefined) return undefined
  try {
    const parsed = JSON.parse(text) as AttemptRecord
    return typeof parsed.id === 'string' && ATTEMPT_PHASES.includes(parsed.phase)
      ? parsed
      : undefined
  } catch {
    return undefined
  }
}

/** One site of an attempt, on its host. */
export interface AttemptSite {
  site: SiteConfig
  exec: Executor
  /** The host's Python (the config's `app.python`): the record is written by a host program. */
  python: string
}

/**
 * Move the attempt to `phase` (with `changes`): write the record on both sites (aside, then a
 * rename) and one finished `attempt` operation in both journals. Returns the new record.
 */
export async function moveAttempt(
  record: AttemptRecord,
  phase: AttemptPhase,
  sites: { production: AttemptSite; preview: AttemptSite },
  run: string,
  changes: Partial<AttemptRecord> = {},
  note?: Record<string, unknown>
): Promise<AttemptRecord> {
  const at = new Date().toISOString()
  const next: AttemptRecord = {
    ...record,
    ...changes,
    phase,
    updatedAt: at,
    history: [...record.history, { phase, at, run }]
  }
  const text = JSON.stringify(next, null, 2) + '\n'
  for (const { site, exec, python } of [sites.production, sites.preview])
    await exec.run(commitFile(python, attemptPath(site), text, 0o644))
  for (const [role, { site, exec }] of Object.entries(sites)) {
    // One write of both lines: a reader never sees this operation started and not ended.
    const id = `${record.id}-${next.history.length}`
    const fields = {
      id,
      op: 'attempt',
      site: site.name,
      attempt: record.id,
      as: role,
      phase,
      ...(next.version !== undefined && { version: next.version }),
      preview: record.preview,
      production: record.production,
      run,
      ...note
    }
    await new Journal(exec, siteLayout(site.root).journal).appendAll([
      { ...fields, event: 'start', at },
      { id, op: 'attempt', event: 'end', status: phase, at }
    ])
  }
  return next
}
