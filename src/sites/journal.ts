import { appendFile, appendFileDurably } from '../commands/files.js'
import type { Executor } from '../hosts/executor.js'

/** One line of .sitecycle/journal.jsonl. Never holds a secret: callers pass only names and versions. */
export interface JournalEvent {
  /** Operation id: every event of one run shares it. */
  id: string
  op: string
  event: 'start' | 'step' | 'end' | 'recovered' | 'mark-bad' | 'unlock' | 'intent'
  at: string
  [key: string]: unknown
}

/** An operation rebuilt from the journal. */
export interface JournalOperation {
  id: string
  op: string
  start: JournalEvent
  steps: JournalEvent[]
  end?: JournalEvent
  /**
   * What a data operation was about to swap in (pipelines/data-swap.ts), written before the swap
   * so that whoever finds the run interrupted can put the site back whole.
   */
  intent?: JournalEvent
}

/** Appends to and reads the site's journal on its host. */
export class Journal {
  constructor(
    private readonly exec: Executor,
    private readonly path: string
  ) {}

  /**
   * Append one event (a whole line, O_APPEND). An `intent` (what a data operation is about to
   * swap in) is on disk before this resolves: whoever finds the run interrupted, after a power
   * loss too, must know what it was doing.
   */
  async append(event: Omit<JournalEvent, 'at'> & { at?: string }): Promise<void> {
    await this.write(
      JSON.stringify({ at: new Date().toISOString(), ...event }) + '\n',
      event.event === 'intent'
    )
  }

  /** Append several events in one write (a reader sees all of them or none). */
  async appendAll(events: (Omit<JournalEvent, 'at'> & { at?: string })[]): Promise<void> {
    const at = new Date().toISOString()
    await this.write(events.map(e => JSON.stringify({ at, ...e }) + '\n').join(''))
  }

  /**
   * One O_APPEND write: by the executor itself when it can (the local one: an operation writes a
   * line per step, and starting `tee -a` for each costs more than the write), else `tee -a`;
   * `sync`: fsynced before it resolves (else `dd ... conv=fsync`).
   */
  private async write(text: string, sync = false): Promise<void> {
    if (this.exec.appendFile) await this.exec.appendFile(this.path, text, { sync })
    else await this.exec.run((sync ? appendFileDurably : appendFile)(this.path, text))
  }

  /** Every event, oldest first; a torn last line (a run killed mid-write) is skipped. */
  async events(): Promise<JournalEvent[]> {
    const text = (await this.exec.readFile(this.path)) ?? ''
    const out: JournalEvent[] = []
    for (const line of text.split('\n')) {
      if (!line.trim()) continue
      try {
        out.push(JSON.parse(line) as JournalEvent)
      } catch {
        // a line cut short by a kill: ignore it
      }
    }
    return out
  }

  /** Events grouped by operation, oldest first. */
  async operations(): Promise<JournalOperation[]> {
    const ops = new Map<string, JournalOperation>()
    for (const e of await this.events()) {
      let op = ops.get(e.id)
      if (!op) {
        if (e.event !== 'start') {
          if (e.event === 'recovered' || e.event === 'mark-bad') continue
          continue
        }
        op = { id: e.id, op: e.op, start: e, steps: [] }
        ops.set(e.id, op)
        continue
      }
      if (e.event === 'step') op.steps.push(e)
      else if (e.event === 'intent') op.intent = e
      else if (e.event === 'end' || e.event === 'recovered') op.end = e
    }
    return [...ops.values()]
  }
}

/** A short unique id for an operation. */
export function newOperationId(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')
  return `${t}-${Math.random().toString(36).slice(2, 8)}`
}
