/**
 * A load generator for the zero-downtime tests and the deploy benchmark: N workers, each on
 * its own keep-alive connection, GET one loopback URL back to back until stopped (or until a
 * time or request bound), recording every answer: when it started and ended, its status, the
 * version that served it (header X-Sample-Version, else the body of `/__version__`) and the
 * start of its body. The report then says how many failed and which version answered when,
 * so a test can check that after a switch every request is served by the new release.
 */
import http from 'node:http'
import { performance } from 'node:perf_hooks'

/** The header every response of the sample application carries. */
export const VERSION_HEADER = 'x-sample-version'

/** Wall-clock milliseconds since the epoch, with sub-millisecond precision; the clock of every
 * timestamp in a report (comparable with Date.now() and across processes on one machine). */
export function now(): number {
  return performance.timeOrigin + performance.now()
}

export interface LoadOptions {
  /** The URL to GET; must be on loopback (127.0.0.0/8, ::1 or localhost). */
  url: string
  /** Workers, each with one keep-alive connection (default 16). */
  concurrency?: number
  /** Stop on its own after this many seconds (default 60). */
  maxSeconds?: number
  /** Stop on its own after this many requests in all (default 1,000,000). */
  maxRequests?: number
  /** Requests per second in all, spread over the workers (default: none, each worker sends
   * its next request as soon as the previous one is answered). A worker that falls behind the
   * schedule sends at once; latency is always measured from the actual send. */
  ratePerSecond?: number
  /** Give up on one request after this many milliseconds: it counts as failed (default 10,000). */
  requestTimeoutMs?: number
  /** Extra request headers. */
  headers?: Record<string, string>
}

/** One request and its answer. Times are {@link now} milliseconds. */
export interface LoadSample {
  /** When the request was sent. */
  start: number
  /** When its answer was complete (or it failed). */
  end: number
  /** HTTP status, null on a network error or timeout. */
  status: number | null
  /** The version that answered (X-Sample-Version, else the body of a 200), null when unknown. */
  version: string | null
  /** The first 200 characters of the body, trimmed. */
  body: string
  /** The network error, when there was one. */
  error?: string
}

/** When a version was seen: first and last request start it answered, and how many. */
export interface VersionSeen {
  first: number
  last: number
  count: number
}

export interface LoadReport {
  startedAt: number
  endedAt: number
  total: number
  /** Requests that got no answer or an answer other than 200. */
  failed: number
  /** Up to 20 failed samples, the first ones. */
  failures: LoadSample[]
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Version -> when it answered, by request start time. */
  versions: Record<string, VersionSeen>
  /** Every request, in order of start. */
  samples: LoadSample[]
}

/** A load that runs until stop() (or its own bounds); stop() waits for requests in flight. */
export interface RunningLoad {
  stop(): Promise<LoadReport>
  /** The samples recorded so far (the live array: do not modify). */
  readonly samples: readonly LoadSample[]
}

/** A sample that counts as failed: no answer, or an answer other than 200. */
export function isFailure(s: LoadSample): boolean {
  return s.status !== 200
}

/** The p-th percentile (0..100) of values, nearest rank; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]
}

/** Latency in milliseconds of each sample. */
export function latencies(samples: readonly LoadSample[]): number[] {
  return samples.map(s => s.end - s.start)
}

/** The samples whose request started in [from, to). */
export function startedBetween(
  samples: readonly LoadSample[],
  from: number,
  to = Infinity
): LoadSample[] {
  return samples.filter(s => s.start >= from && s.start < to)
}

/** Summarise samples: counts, failures, latency percentiles and version timelines. */
export function summarize(
  samples: readonly LoadSample[]
): Omit<LoadReport, 'samples' | 'startedAt' | 'endedAt'> {
  const failures = samples.filter(isFailure)
  const lat = latencies(samples)
  const versions: Record<string, VersionSeen> = {}
  for (const s of samples) {
    if (s.version === null) continue
    const v = (versions[s.version] ??= { first: s.start, last: s.start, count: 0 })
    v.first = Math.min(v.first, s.start)
    v.last = Math.max(v.last, s.start)
    v.count++
  }
  return {
    total: samples.length,
    failed: failures.length,
    failures: failures.slice(0, 20),
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat.reduce((m, x) => Math.max(m, x), 0),
    versions
  }
}

/** How a switch to `version` looked to the load from time `since` (until `until`). */
export interface SettleReport {
  /** Samples started in [since, until) that were not answered by `version`. */
  other: LoadSample[]
  /** Start of the last such sample (null when none): from just after it every request got `version`. */
  lastOtherStart: number | null
  /** lastOtherStart - since in ms (0 when every request after `since` got `version`). */
  lagMs: number
}

/** Which requests started in [since, until) were answered by another version than `version`
 * (`until`: the next switch, if any). */
export function settleAfter(
  samples: readonly LoadSample[],
  version: string,
  since: number,
  until = Infinity
): SettleReport {
  const other = samples.filter(s => s.start >= since && s.start < until && s.version !== version)
  const lastOtherStart = other.reduce<number | null>(
    (m, s) => (m === null ? s.start : Math.max(m, s.start)),
    null
  )
  return { other, lastOtherStart, lagMs: lastOtherStart === null ? 0 : lastOtherStart - since }
}

function requireLoopback(url: URL): void {
  const h = url.hostname.replace(/^\[|\]$/g, '')
  if (!(h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)))
    throw new Error(`the load generator only targets loopback; ${url.href} is not on loopback`)
  if (url.protocol !== 'http:')
    throw new Error(`the load generator speaks plain http only, not ${url.protocol}`)
}

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException
  return err?.code ? `${err.code}: ${err.message}` : String(err?.message ?? e)
}

/** Send one GET on the agent; resolves with its sample (never rejects). */
function requestOnce(
  agent: http.Agent,
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number
): Promise<LoadSample> {
  const start = now()
  return new Promise(resolve => {
    let settled = false
    const done = (s: Omit<LoadSample, 'start' | 'end'>): void => {
      if (settled) return
      settled = true
      resolve({ start, end: now(), ...s })
    }
    const req = http.request(url, { agent, method: 'GET', headers }, res => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        if (size < 4096) chunks.push(c)
        size += c.length
      })
      res.on('error', e => done({ status: null, version: null, body: '', error: errorText(e) }))
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').trim().slice(0, 200)
        const status = res.statusCode ?? null
        const header = res.headers[VERSION_HEADER]
        const fromHeader = Array.isArray(header) ? header[0] : header
        const fromBody = status === 200 && /^[0-9][0-9A-Za-z.+!-]*$/.test(body) ? body : null
        done({ status, version: fromHeader ?? fromBody, body })
      })
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', e => done({ status: null, version: null, body: '', error: errorText(e) }))
    req.end()
  })
}

/**
 * Start hitting `url` with `concurrency` workers, each sending its next request as soon as the
 * previous one is answered (or at the next slot of `ratePerSecond`), over keep-alive
 * connections. Runs until stop(), maxSeconds or maxRequests, whichever comes first.
 */
export function startLoad(opts: LoadOptions): RunningLoad {
  const url = new URL(opts.url)
  requireLoopback(url)
  const concurrency = opts.concurrency ?? 16
  const maxRequests = opts.maxRequests ?? 1_000_000
  const timeoutMs = opts.requestTimeoutMs ?? 10_000
  const headers = { 'User-Agent': 'sitecycle-load', ...(opts.headers ?? {}) }
  const startedAt = now()
  const deadline = startedAt + (opts.maxSeconds ?? 60) * 1000
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: concurrency,
    maxFreeSockets: concurrency
  })
  const samples: LoadSample[] = []
  const interval = opts.ratePerSecond ? 1000 / opts.ratePerSecond : 0
  let issued = 0
  let stopping = false

  const worker = async (): Promise<void> => {
    while (!stopping && issued < maxRequests && now() < deadline) {
      const due = startedAt + issued++ * interval
      const wait = due - now()
      if (wait > 1) await new Promise(r => setTimeout(r, wait))
      if (stopping) break
      samples.push(await requestOnce(agent, url, headers, timeoutMs))
    }
  }
  const workers = Array.from({ length: concurrency }, () => worker())
  let report: Promise<LoadReport> | undefined

  return {
    samples,
    stop() {
      report ??= (async () => {
        stopping = true
        await Promise.all(workers)
        agent.destroy()
        // Workers push when an answer ends: put the samples in order of start.
        samples.sort((a, b) => a.start - b.start)
        return { startedAt, endedAt: now(), ...summarize(samples), samples }
      })()
      return report
    }
  }
}
