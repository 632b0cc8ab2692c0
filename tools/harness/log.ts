/**
 * The harness's log of a run: every line a step printed, prefixed with where it came from,
 * with every secret (the secrets given, github.token, values passed to `::add-mask::`) replaced
 * by *** before it is stored, as the runner does before a line reaches the log.
 */

/** An `::error`, `::warning` or `::notice` a step printed. */
export interface Annotation {
  level: 'error' | 'warning' | 'notice'
  message: string
  /** The job and step that printed it (`job / step`). */
  origin: string
  file?: string
  line?: number
  title?: string
}

/** The log, the masks and the annotations of one harness run. */
export class HarnessLog {
  /** Every line, masked, as `[origin] text`. */
  readonly lines: string[] = []
  readonly annotations: Annotation[] = []
  private readonly masks = new Set<string>()

  constructor(private readonly sink?: (line: string) => void) {}

  /** Mask a value from now on; each line of a multi-line value is masked on its own too. */
  addMask(value: string | undefined): void {
    if (!value) return
    const v = value.trim() ? value : ''
    if (!v) return
    this.masks.add(v)
    for (const part of v.split(/\r?\n/)) if (part.trim().length > 0) this.masks.add(part)
  }

  /** The masked values, for checks such as "this output holds a secret". */
  get maskedValues(): string[] {
    return [...this.masks]
  }

  /** Replace every masked value in `text` with ***, longest first. */
  mask(text: string): string {
    let out = text
    for (const m of [...this.masks].sort((a, b) => b.length - a.length)) {
      if (out.includes(m)) out = out.split(m).join('***')
    }
    return out
  }

  /** True when `text` holds a masked value. */
  holdsSecret(text: string): boolean {
    return [...this.masks].some(m => text.includes(m))
  }

  /** Add one line (masked). */
  write(origin: string, text: string): void {
    for (const raw of text.split('\n')) {
      const line = `[${origin}] ${this.mask(raw)}`
      this.lines.push(line)
      this.sink?.(line)
    }
  }

  /** Record an annotation (masked) and log it. */
  annotate(a: Annotation): void {
    const masked = { ...a, message: this.mask(a.message) }
    this.annotations.push(masked)
    const at = a.file ? ` (${a.file}${a.line ? `:${a.line}` : ''})` : ''
    this.write(a.origin, `${a.level}${at}: ${masked.message}`)
  }

  /** The last `n` lines of one origin, for failure messages. */
  tail(origin: string, n = 30): string[] {
    const prefix = `[${origin}]`
    return this.lines.filter(l => l.startsWith(prefix)).slice(-n)
  }
}
