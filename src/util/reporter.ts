/**
 * Progress output. The CLI prints lines on stderr; the actions use @actions/core groups and
 * annotations. Pipelines only see this interface. Every text passes through the secrets filter.
 */
export interface Reporter {
  info(message: string): void
  warn(message: string): void
  stepStart(name: string, title: string): void
  stepEnd(name: string, status: string, ms: number, note?: string): void
  /** Register a secret: it is replaced by *** in everything printed from now on. */
  addSecret(secret: string): void
}

/** Replaces registered secrets in text. */
export class SecretFilter {
  private secrets: string[] = []
  add(secret: string): void {
    if (secret && secret.length >= 3 && !this.secrets.includes(secret)) {
      this.secrets.push(secret)
      this.secrets.sort((a, b) => b.length - a.length)
    }
  }
  list(): readonly string[] {
    return this.secrets
  }
  apply(text: string): string {
    let out = text
    for (const s of this.secrets) out = out.split(s).join('***')
    return out
  }
}

/** Lines on a stream (stderr for the CLI), one per event, with elapsed times. */
export class StreamReporter implements Reporter {
  readonly filter = new SecretFilter()
  constructor(
    private readonly write: (line: string) => void = line => process.stderr.write(line + '\n'),
    private readonly quiet = false
  ) {}
  info(message: string): void {
    if (!this.quiet) this.write(this.filter.apply(message))
  }
  warn(message: string): void {
    this.write(this.filter.apply(`warning: ${message}`))
  }
  stepStart(name: string, title: string): void {
    if (!this.quiet) this.write(this.filter.apply(`-> ${name}: ${title}`))
  }
  stepEnd(name: string, status: string, ms: number, note?: string): void {
    const line = `   ${name} ${status} (${(ms / 1000).toFixed(2)}s)${note ? `: ${note}` : ''}`
    if (!this.quiet || status !== 'ok') this.write(this.filter.apply(line))
  }
  addSecret(secret: string): void {
    this.filter.add(secret)
  }
}
