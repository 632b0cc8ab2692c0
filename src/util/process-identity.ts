/**
 * Which process is which, beyond its PID: a PID is reused once its process is gone, so a
 * process is told by its PID, its start time (field 22 of /proc/<pid>/stat, in clock ticks
 * since boot) and the boot it started in (/proc/sys/kernel/random/boot_id). Linux only; where
 * /proc cannot be read the start time and boot id are absent and only the PID is compared.
 */
import { readFileSync } from 'node:fs'

/** A process as recorded by the one that wants to be recognised later. */
export interface ProcessIdentity {
  pid: number
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22), as text. */
  start?: string
  /** The boot the process started in (/proc/sys/kernel/random/boot_id). */
  boot?: string
}

/** The start time of `pid` (field 22 of /proc/<pid>/stat), or undefined when it cannot be read. */
export function processStartTime(pid: number, procRoot = '/proc'): string | undefined {
  let text: string
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  return startTimeFromStat(text)
}

/** Whether the process has ended and waits to be reaped (state Z or X in /proc/<pid>/stat). */
export function isZombie(pid: number, procRoot = '/proc'): boolean {
  let text: string
  try {
    text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8')
  } catch {
    return false
  }
  const state = text.slice(text.lastIndexOf(')') + 1).trim()[0]
  return state === 'Z' || state === 'X'
}

/**
 * Field 22 of a /proc/<pid>/stat line. The second field (the command name, in parentheses) may
 * hold spaces and parentheses itself, so fields are counted from the last `)`: the text after
 * it starts with field 3.
 */
export function startTimeFromStat(stat: string): string | undefined {
  const close = stat.lastIndexOf(')')
  if (close < 0) return undefined
  const fields = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/)
  const start = fields[22 - 3]
  return start !== undefined && /^\d+$/.test(start) ? start : undefined
}

/** This boot's id, or undefined when it cannot be read. */
export function bootId(procRoot = '/proc'): string | undefined {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/** This process, as others will recognise it. */
export function thisProcess(): ProcessIdentity {
  const start = processStartTime(process.pid)
  const boot = bootId()
  return {
    pid: process.pid,
    ...(start !== undefined && { start }),
    ...(boot !== undefined && { boot })
  }
}

/**
 * Whether the recorded process still runs on this machine: its PID is taken by a process that
 * started at the recorded time in the recorded boot. A record without start time or boot id (as
 * older sitecycle versions wrote) is judged by its PID alone.
 */
export function processRuns(p: ProcessIdentity): boolean {
  if (!Number.isSafeInteger(p.pid) || p.pid <= 0) return false
  if (p.boot !== undefined) {
    const now = bootId()
    if (now !== undefined && now !== p.boot) return false
  }
  try {
    process.kill(p.pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  // A zombie (ended, not yet reaped: its parent died and PID 1 may never reap it) runs nothing.
  if (isZombie(p.pid)) return false
  if (p.start !== undefined) {
    const start = processStartTime(p.pid)
    if (start !== undefined && start !== p.start) return false
  }
  return true
}
