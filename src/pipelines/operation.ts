import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import { Journal, newOperationId } from '../sites/journal.js'
import { siteLayout } from '../sites/layout.js'
import {
  acquireLock,
  currentHolder,
  releaseLock,
  replaceHolder,
  type LockHolder
} from '../sites/lock.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import type { StepReport } from './pipeline.js'
import { recoverInterrupted } from './recover.js'

/** What every operation on a site has at hand. */
export interface OperationContext {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  journal: Journal
  /** This operation's id in the journal and the lock. */
  opId: string
  /** The host's Python (Debian's, by full path). */
  python: string
  holder: LockHolder
  /** What the recovery did to finish a killed frozen deploy (frozen-deploy.ts), when it did. */
  recoveredFreeze?: string[]
  /** The operation's name in the journal (deploy, restore, sync ...). */
  op: string
  /**
   * Interrupted data runs whose data could not be put back, which this operation replaces whole
   * (a restore or sync): closed in the journal as recovered by it when it succeeds, left open
   * (the site in doubt, frozen) when it fails. See data-recovery.ts.
   */
  superseded?: { id: string; op: string; notes: string[] }[]
}

export interface OperationOptions {
  op: string
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** Seconds to wait for the site lock (absent: DEFAULT_LOCK_WAIT_SECONDS; 0: fail at once). */
  lockWait?: number
  /** The lock, when the operation already holds it (taken by a host program that did more in
   * the same run, e.g. WARM_SWITCH): it is not taken again, and is released at the end. */
  held?: HeldLock
  /**
   * A stage of a staged deploy that leaves its run open for the next stage
   * (deploy-stages.ts): when the body succeeds and this returns a holder, no end line is
   * written and the lock is kept, held by that holder (the run, not this process).
   */
  handOff?: (result: { status: string }, ctx: OperationContext) => LockHolder | undefined
}

/** A site lock an operation took before withSiteOperation. */
export interface HeldLock {
  opId: string
  holder: LockHolder
  /**
   * The journal has this operation's start line already: written by the host program that
   * took the lock, after it found no unfinished run in the journal (so there is nothing to
   * recover) and before it changed anything. Then withSiteOperation neither recovers nor
   * writes a start line.
   */
  started: boolean
}

/** The outcome of a deploy or rollback, for outputs, summaries and exit codes. */
export interface OperationOutcome {
  op: string
  site: string
  host: string
  /** deployed | unchanged | rolled-back | failed */
  status: 'deployed' | 'unchanged' | 'rolled-back' | 'failed' | 'prepared' | 'switched'
  /** The release users get now. */
  version: string | null
  /** The release users got before. */
  previousVersion: string | null
  /** The release this operation tried to make live. */
  targetVersion: string | null
  url: string
  rolledBack: boolean
  /** Whether every undo ran (false: the site needs a look). */
  undoComplete: boolean
  steps: StepReport[]
  /** What went wrong, in one sentence, when it did. */
  error?: string
  failedStep?: string
  operationId: string
  notes: string[]
}

/** An operation that failed after touching the host: its outcome says what was undone. */
export class OperationFailed extends SitecycleError {
  constructor(readonly outcome: OperationOutcome) {
    super(
      `${outcome.op} of ${outcome.targetVersion ?? 'the release'} to site ${outcome.site} failed at step '${outcome.failedStep}': ${outcome.error}` +
        (outcome.rolledBack
          ? `; rolled back: ${outcome.version ?? 'nothing'} serves again`
          : outcome.undoComplete
            ? `; ${outcome.steps.some(r => r.status === 'undone') ? 'undone' : 'nothing was changed'}: ${outcome.version ?? 'nothing'} serves as before`
            : '; some undo steps failed: check `sitecycle status`'),
      'operation'
    )
    this.name = 'OperationFailed'
  }
}

/**
 * Run `body` holding the site lock, with the operation's start and end in the journal, after
 * recovering whatever an interrupted earlier run left. The lock is released in every case.
 */
export async function withSiteOperation<
  T extends { journal?: Record<string, unknown>; status: string }
>(
  options: OperationOptions,
  start: Record<string, unknown> | ((ctx: OperationContext) => Promise<Record<string, unknown>>),
  body: (ctx: OperationContext) => Promise<T>
): Promise<T> {
  const { config, site, exec, reporter, held } = options
  const opId = held?.opId ?? newOperationId()
  const holder = held?.holder ?? currentHolder(options.op, opId)
  const journal = new Journal(exec, siteLayout(site.root).journal)
  const python = config.app.python
  if (!held)
    await acquireLock(exec, site.root, holder, {
      ...(options.lockWait !== undefined && { waitSeconds: options.lockWait }),
      reporter,
      siteName: site.name,
      python
    })
  const ctx: OperationContext = {
    config,
    site,
    exec,
    reporter,
    journal,
    opId,
    python,
    holder,
    op: options.op
  }
  let endWritten = false
  let handedOff = false
  // An operation refused while its start fields are gathered (a version not installed, a site
  // not initialized) has no start line: it gets no end line either.
  let started = held?.started === true
  try {
    if (!held?.started) {
      await recoverInterrupted(ctx)
      const startFields = typeof start === 'function' ? await start(ctx) : start
      await journal.append(startLine(options.op, opId, site.name, holder, startFields))
      started = true
    }
    const result = await body(ctx)
    const next = options.handOff?.(result, ctx)
    if (next) {
      await replaceHolder(exec, site.root, next)
      handedOff = true
      return result
    }
    for (const s of ctx.superseded ?? [])
      await journal.append({ id: s.id, op: s.op, event: 'recovered', by: opId, notes: s.notes })
    await journal.append({
      id: opId,
      op: options.op,
      event: 'end',
      status: result.status,
      ...(result.journal ?? {})
    })
    endWritten = true
    return result
  } catch (e) {
    // A data operation that could not put the site's data back leaves its run open, so that the
    // next operation's recovery finishes the job (pipelines/data-recovery.ts).
    const leaveOpen = (e as { leaveOpen?: boolean }).leaveOpen === true
    if (started && !endWritten && !leaveOpen) {
      const fields =
        e instanceof OperationFailed
          ? {
              status: e.outcome.status,
              failedStep: e.outcome.failedStep,
              error: e.outcome.error,
              live: e.outcome.version,
              rolledBack: e.outcome.rolledBack
            }
          : { status: 'failed', error: e instanceof Error ? e.message : String(e) }
      await journal.append({ id: opId, op: options.op, event: 'end', ...fields }).catch(() => {})
    }
    throw e
  } finally {
    if (!handedOff)
      await releaseLock(exec, site.root, holder, python).catch(err =>
        reporter.warn(`could not release the lock: ${err}`)
      )
  }
}

/** The journal's start line of an operation (without `at`), `fields` last. */
export function startLine(
  op: string,
  opId: string,
  siteName: string,
  holder: LockHolder,
  fields: Record<string, unknown> = {}
): { id: string; op: string; event: 'start' } & Record<string, unknown> {
  return {
    id: opId,
    op,
    event: 'start',
    site: siteName,
    actor: holder.actor,
    run: holder.run,
    ...fields
  }
}
