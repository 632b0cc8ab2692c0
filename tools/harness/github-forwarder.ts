/**
 * A small HTTP server on loopback that hands each request to a `fetch`-shaped handler (a fake
 * GitHub) as if it had been sent to GitHub's own hosts, and rewrites those hosts in the answers
 * (bodies, Location and Link headers) back to itself. Point GITHUB_API_URL of a workflow run at
 * `apiUrl`, and the actions' Octokit clients talk to the fake from their own processes.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A running forwarder. */
export interface GithubForwarder {
  /** `http://127.0.0.1:<port>`: use it as GITHUB_API_URL. */
  apiUrl: string
  /** Requests forwarded so far (method and GitHub URL). */
  readonly requests: { method: string; url: string }[]
  close(): Promise<void>
}

/** GitHub's hosts the handler expects, and the local path prefix each is served under. */
export interface ForwardedOrigins {
  /** The REST API, served at the root (default https://api.github.com). */
  api?: string
  /** Release asset uploads, served under /__uploads (default https://uploads.github.com). */
  uploads?: string
  /** Asset downloads after a redirect, served under /__downloads. */
  downloads?: string
}

const SKIPPED_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive'
])

async function readRequestBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Start forwarding to `handler`; close() it when done. */
export async function startGithubForwarder(
  handler: typeof globalThis.fetch,
  origins: ForwardedOrigins = {}
): Promise<GithubForwarder> {
  const routes: [prefix: string, origin: string][] = [
    ['/__uploads', origins.uploads ?? 'https://uploads.github.com'],
    ['/__downloads', origins.downloads ?? 'https://release-assets.githubusercontent.com'],
    ['', origins.api ?? 'https://api.github.com']
  ]
  const requests: { method: string; url: string }[] = []
  let local = ''
  const toLocal = (text: string): string => {
    let out = text
    for (const [prefix, origin] of routes) out = out.split(origin).join(`${local}${prefix}`)
    return out
  }
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        const pathAndQuery = req.url ?? '/'
        const [prefix, origin] = routes.find(
          ([p]) => p === '' || pathAndQuery === p || pathAndQuery.startsWith(`${p}/`)
        ) as [string, string]
        const target = `${origin}${pathAndQuery.slice(prefix.length)}`
        const headers: Record<string, string> = {}
        for (const [k, v] of Object.entries(req.headers)) {
          if (v !== undefined && !SKIPPED_HEADERS.has(k))
            headers[k] = Array.isArray(v) ? v.join(', ') : v
        }
        const body = await readRequestBody(req)
        const method = req.method ?? 'GET'
        requests.push({ method, url: target })
        const answer = await handler(target, {
          method,
          headers,
          redirect: 'manual',
          ...(body.length > 0 &&
            method !== 'GET' &&
            method !== 'HEAD' && { body: new Uint8Array(body) })
        })
        const outHeaders: Record<string, string> = {}
        answer.headers.forEach((v, k) => {
          if (!SKIPPED_HEADERS.has(k) && k !== 'content-encoding') {
            outHeaders[k] = k === 'location' || k === 'link' ? toLocal(v) : v
          }
        })
        const raw = Buffer.from(await answer.arrayBuffer())
        const type = answer.headers.get('content-type') ?? ''
        const payload = /json|text/.test(type) ? Buffer.from(toLocal(raw.toString('utf8'))) : raw
        res.writeHead(answer.status, { ...outHeaders, 'content-length': String(payload.length) })
        res.end(payload)
      } catch (e) {
        // A network failure the handler simulates: drop the connection, as the network would.
        if (e instanceof TypeError) {
          req.socket.destroy()
          return
        }
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(`forwarder: ${(e as Error).message}`)
      }
    })()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    apiUrl: local,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
