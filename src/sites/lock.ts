import { hostname } from 'node:os'
import { removeTree } from '../commands/files.js'
import { RELEASE_LOCK, TAKE_LOCK } from '../commands/host-scripts.js'
import { hostScript } from '../commands/python.js'
import { DEFAULTS } from '../config/schema.js'
import type { Executor } from '../hosts/executor.js'
import { SitecycleError } from '../util/errors.js'
import { processRuns, thisProcess } from '../util/process-identity.js'
import type { Reporter } from '../util/reporter.js'
import { siteLayout } from './layout.js'

/** Who holds a site's lock. */
export interface LockHolder {
  op: string
  id: string
  pid: number
  /** The holding process's start time (/proc/<pid>/stat field 22): a reused PID is told apart by
   * it. Absent in holders written by older versions. */
  start?: string
  /** The boot the holding process started in (/proc/sys/kernel/random/boot_id). */
  boot?: string
  /** The machine the holding sitecycle process runs on (the runner, not the site's host). */
  machine: string
  actor: string
  /** The GitHub run, when the holder is a workflow run. */
  run?: string
  since: string
  /**
   * A deploy run in stages (pipelines/deploy-stages.ts) between two of its stages: no process
   * holds the lock then, the run does. Only that run (`run`, `attempt`) may go on; the holder
   * counts as alive until `until`, and as gone after it, whatever machine asks.
   */
  stage?: HeldBetweenStages
}

/** The stage a staged deploy reached, and the run that may take the next one. */
export interface HeldBetweenStages {
  reached: 'prepared' | 'switched'
  /** The run that holds it: GITHUB_REPOSITORY/GITHUB_RUN_ID, or the name given with --run. */
  run: string
  /** GITHUB_RUN_ATTEMPT (a re-run is another attempt: it starts over), or '1'. */
  attempt: string
  /** ISO time after which the lock counts as left by a dead run. */
  until: string
}

/**
 * Whether the holder is known to be gone: only knowable from the machine it ran on. Its PID is
 * not enough (PIDs are reused): a process with that PID but another start time, or a holder from
 * an earlier boot, is gone.
 */
export function holderState(h: LockHolder, now: number = Date.now()): 'alive' | 'dead' | 'unknown' {
  // Between two stages no process holds the lock: its deadline says whether the run may go on.
  if (h.stage) return now > Date.parse(h.stage.until) ? 'dead' : 'alive'
  if (h.machine !== hostname()) return 'unknown'
  return processRuns(h) ? 'alive' : 'dead'
}

export function describeHolder(h: LockHolder): string {
  if (h.stage)
    return `${h.op} ${h.id} by ${h.actor}, ${h.stage.reached} by run ${h.stage.run} (attempt ${h.stage.attempt}) and held for its next stage until ${h.stage.until}`
  const run = h.run ? `, run ${h.run}` : ''
  return `${h.op} ${h.id} by ${h.actor} (pid ${h.pid} on ${h.machine}${run}) since ${h.since}`
}

export function currentHolder(op: string, id: string): LockHolder {
  const run = process.env.GITHUB_RUN_ID
    ? `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY ?? ''}/actions/runs/${process.env.GITHUB_RUN_ID}`
    : undefined
  return {
    op,
    id,
    ...thisProcess(),
    machine: hostname(),
    actor: process.env.GITHUB_ACTOR ?? process.env.SUDO_USER ?? process.env.USER ?? 'unknown',
    run,
    since: new Date().toISOString()
  }
}

export async function readHolder(exec: Executor, root: string): Promise<LockHolder | undefined> {
  const l = siteLayout(root)
  let text: string | undefined
  try {
    text = await exec.readFile(l.lockHolder)
  } catch (e) {
    throw hostFileError(exec, 'read the lock holder', l.lockHolder, e)
  }
  if (text === undefined) {
    const exists = await exec.tryRun({ argv: ['test', '-d', l.lock] })
    if (exists.code === 0) return UNKNOWN_HOLDER
    return undefined
  }
  try {
    return JSON.parse(text) as LockHolder
  } catch {
    return UNKNOWN_HOLDER
  }
}

const UNKNOWN_HOLDER: LockHolder = {
  op: 'unknown',
  id: 'unknown',
  pid: 0,
  machine: 'unknown',
  actor: 'unknown',
  since: 'unknown'
}

/**
 * Seconds to keep trying when the lock cannot be made for a reason that is neither a holder nor
 * one of the hopeless errors (at least this long, or `waitSeconds` when longer).
 */
export const UNEXPLAINED_FAILURE_SECONDS = 5
/**
 * Seconds a run waits for a lock held by another live run when the caller says nothing
 * (`--lock-wait`, the actions' `lock-wait` input): long enough for a status read or a warm
 * rollback to finish, short enough that a refusal comes at once in human terms.
 */
export const DEFAULT_LOCK_WAIT_SECONDS = 5
/** Pauses between attempts: doubled from the first up to the longest. */
const FIRST_PAUSE_MS = 50
const LONGEST_PAUSE_MS = 1000
/** Attempts made at least when the lock could not be made and no holder is there to name. */
const MIN_ATTEMPTS = 3

export interface AcquireOptions {
  /** Seconds to wait for a held lock (default DEFAULT_LOCK_WAIT_SECONDS); 0 fails at once. */
  waitSeconds?: number
  /** The site's name, for messages (default: its root). */
  siteName?: string
  reporter?: Reporter
  /** The host's Python, which runs host/take-lock.py (default: the config's default). */
  python?: string
}

/** The result of taking the lock: `stale` is the dead holder it replaced, if any. */
export interface AcquiredLock {
  holder: LockHolder
  stale?: LockHolder
}

/**
 * Take the site lock: `mkdir .sitecycle/lock.<id>`, the holder written in it, renamed to
 * `.sitecycle/lock` (atomic), each attempt one host program (host/take-lock.py). A lock whose
 * holder is known dead (same machine, process gone or its PID reused) is taken over and reported
 * as stale. A lock held by a live run is waited for, with growing pauses, until `waitSeconds`
 * have passed; a site where the lock cannot be made at all (read-only file system, permission
 * denied, no space) fails at once with one sentence naming the path.
 */
export async function acquireLock(
  exec: Executor,
  root: string,
  holder: LockHolder,
  options: AcquireOptions = {}
): Promise<AcquiredLock> {
  const l = siteLayout(root)
  const site = options.siteName ?? root
  const begun = Date.now()
  const waitSeconds = options.waitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS
  const deadline = begun + waitSeconds * 1000
  const unexplainedDeadline = Math.max(deadline, begun + UNEXPLAINED_FAILURE_SECONDS * 1000)
  let waiting = false
  let pause = FIRST_PAUSE_MS
  let stale: LockHolder | undefined
  for (let attempt = 1; ; attempt++) {
    const r = await tryTakeLock(exec, root, holder, options.python ?? DEFAULTS.python)
    if (r.taken) return stale ? { holder, stale } : { holder }
    if (r.cannot) throw cannotLockError(exec, site, r.cannot)
    const held = await readHolder(exec, root)
    if (!held && r.missingState) {
      throw new SitecycleError(
        `site root ${root} on ${exec.name} is not initialized (no ${l.state}): run \`sitecycle init\` first`,
        'site'
      )
    }
    if (held && (held.pid || held.stage) && holderState(held) === 'dead') {
      options.reporter?.warn(`taking over the lock of a run that is gone: ${describeHolder(held)}`)
      await exec.run(removeTree(l.lock))
      stale = held
      continue
    }
    if (held && Date.now() >= deadline)
      throw new SitecycleError(
        `site ${site} on ${exec.name} is locked by ${describeHolder(held)}` +
          `${waitSeconds > 0 ? ` (waited ${waitSeconds} s)` : ''}; ` +
          `wait for it (--lock-wait SECONDS), or if that run is gone, clear it with \`sitecycle unlock\``,
        'lock'
      )
    if (!held && Date.now() >= unexplainedDeadline && attempt >= MIN_ATTEMPTS)
      throw new SitecycleError(
        `cannot take the lock of site ${site} on ${exec.name}: ${r.problem || `${l.lock} could not be made`}; nothing was changed`,
        'host'
      )
    if (held && !waiting && deadline > Date.now()) {
      options.reporter?.info(`waiting for the lock held by ${describeHolder(held)}`)
      waiting = true
    }
    await new Promise(resolve => setTimeout(resolve, pause))
    pause = Math.min(pause * 2, LONGEST_PAUSE_MS)
  }
}

/** Why a lock cannot be made at all, whatever anyone else does: no point in waiting. */
interface LockImpossible {
  path: string
  why: string
  detail: string
}

/** The errors of mkdir, writes and reads that no wait cures, as their messages read. */
const HOPELESS: { pattern: RegExp; code: string; why: string }[] = [
  { pattern: /Read-only file system/i, code: 'EROFS', why: 'is on a read-only file system' },
  {
    pattern: /Permission denied|Operation not permitted/i,
    code: 'EACCES',
    why: 'cannot be written by this user'
  },
  {
    pattern: /No space left on device/i,
    code: 'ENOSPC',
    why: 'is on a file system with no space left'
  },
  {
    pattern: /Disk quota exceeded/i,
    code: 'EDQUOT',
    why: 'is on a file system whose quota is used up'
  }
]

function hopeless(text: string, code?: string): { why: string } | undefined {
  return HOPELESS.find(
    h => h.code === code || (code === 'EPERM' && h.code === 'EACCES') || h.pattern.test(text)
  )
}

function cannotLockError(exec: Executor, site: string, c: LockImpossible): SitecycleError {
  return new SitecycleError(
    `cannot take the lock of site ${site} on ${exec.name}: ${c.path} ${c.why} (${c.detail}); nothing was changed`,
    'host'
  )
}

/** A failure to read or write a file on the host, as one sentence naming the file. */
function hostFileError(exec: Executor, what: string, file: string, e: unknown): SitecycleError {
  return new SitecycleError(`cannot ${what} ${file} on ${exec.name}: ${errorDetail(e)}`, 'host')
}

/** The last line of what went wrong: a command's stderr, or the errno's message. */
function errorDetail(e: unknown): string {
  const stderr = (e as { stderr?: unknown }).stderr
  const text =
    typeof stderr === 'string' && stderr.trim()
      ? stderr
      : e instanceof Error
        ? e.message
        : String(e)
  return text.trim().split('\n').pop() ?? ''
}

/** What host/take-lock.py prints. */
interface TakeLockOutput {
  taken: boolean
  /** The call that failed: mkdir of `lock.<id>`, the holder's write, or the rename to `lock`. */
  step?: 'mkdir' | 'write' | 'rename'
  /** The errno's name (EROFS, ENOENT ...). */
  errno?: string
  /** The line mkdir(1) or mv(1) would print, or Node's message for the holder's write. */
  detail?: string
}

/**
 * One attempt, one host program (host/take-lock.py): a private directory holding holder.json,
 * renamed to `lock` (rename(2) of a directory fails when the target is a non-empty directory),
 * so the lock never exists without its holder. A failed attempt leaves nothing behind.
 */
async function tryTakeLock(
  exec: Executor,
  root: string,
  holder: LockHolder,
  python: string
): Promise<{ taken: boolean; missingState: boolean; cannot?: LockImpossible; problem?: string }> {
  const l = siteLayout(root)
  const out = await exec.run(
    hostScript(python, TAKE_LOCK, [l.state, holder.id, JSON.stringify(holder, null, 2) + '\n'])
  )
  const r = JSON.parse(out.stdout) as TakeLockOutput
  if (r.taken) return { taken: true, missingState: false }
  const detail = r.detail ?? ''
  if (r.step === 'mkdir' || r.step === 'write') {
    const h = hopeless(detail, r.errno)
    if (h)
      return { taken: false, missingState: false, cannot: { path: l.state, why: h.why, detail } }
  }
  if (r.step === 'write')
    throw new SitecycleError(
      `cannot write the lock holder ${l.state}/lock.${holder.id}/holder.json on ${exec.name}: ${detail}`,
      'host'
    )
  return { taken: false, missingState: r.step === 'mkdir' && r.errno === 'ENOENT', problem: detail }
}

/**
 * Rewrite the holder of a lock this operation holds (same id), in one rename: a staged deploy
 * hands the lock from its process to its run between stages, and takes it back. Throws when the
 * lock is no longer this operation's.
 */
export async function replaceHolder(
  exec: Executor,
  root: string,
  holder: LockHolder
): Promise<void> {
  const l = siteLayout(root)
  const held = await readHolder(exec, root)
  if (!held || held.id !== holder.id)
    throw new SitecycleError(
      `the lock of ${root} on ${exec.name} is no longer held by ${holder.op} ${holder.id}${held ? ` but by ${describeHolder(held)}` : ''}`,
      'lock'
    )
  const tmp = `${l.lock}/holder.json.${process.pid}`
  await exec.writeFile(tmp, JSON.stringify(holder, null, 2) + '\n', 0o644)
  await exec.run({ argv: ['mv', '-T', tmp, l.lockHolder] })
}

/** What host/release-lock.py prints. */
interface ReleaseLockOutput {
  released: boolean
  /** What failed: the holder's read, or the lock's removal. */
  step?: 'read' | 'remove'
  path?: string
  detail?: string
}

/**
 * Release the lock, but only if this holder still has it, then remove the `lock.<id>` folders of
 * attempts killed between their mkdir and their rename (older than a minute, so a contender in
 * the middle of its attempt is left alone): here, not when taking the lock, so that it stays off
 * the path of a rollback's switch. One host program (host/release-lock.py).
 */
export async function releaseLock(
  exec: Executor,
  root: string,
  holder: LockHolder,
  python: string = DEFAULTS.python
): Promise<void> {
  const l = siteLayout(root)
  const out = await exec.run(hostScript(python, RELEASE_LOCK, [l.state, holder.id]))
  const r = JSON.parse(out.stdout) as ReleaseLockOutput
  if (r.step === 'read')
    throw new SitecycleError(
      `cannot read the lock holder ${r.path ?? l.lockHolder} on ${exec.name}: ${r.detail ?? ''}`,
      'host'
    )
  if (r.step === 'remove')
    throw new SitecycleError(
      `cannot remove the lock ${l.lock} on ${exec.name}: ${r.detail ?? ''}`,
      'host'
    )
}
