/**
 * A stream that hands what is written to it to the job's log line by line, as it comes: a
 * command's output reaches the log while it runs, each line through the secrets filter (a
 * secret split across two writes is still whole when its line is filtered).
 */
import { StringDecoder } from 'node:string_decoder'
import { Writable } from 'node:stream'

/** Writes each complete line to `log`; the rest when the stream ends or on flush(). */
export class LogLines extends Writable {
  private pending = ''
  // A character split across two chunks is decoded whole.
  private readonly decoder = new StringDecoder('utf8')

  /** @param log receives each line, without its line ending */
  constructor(private readonly log: (line: string) => void) {
    super({ decodeStrings: false })
  }

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void
  ): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk)
    const lines = this.pending.split('\n')
    this.pending = lines.pop() ?? ''
    for (const line of lines) this.log(line.replace(/\r$/, ''))
    done()
  }

  override _final(done: (error?: Error | null) => void): void {
    this.flush()
    done()
  }

  /** Log a last line that has no line ending yet. */
  flush(): void {
    this.pending += this.decoder.end()
    if (this.pending === '') return
    const rest = this.pending
    this.pending = ''
    this.log(rest.replace(/\r$/, ''))
  }
}
