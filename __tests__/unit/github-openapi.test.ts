/**
 * The fake GitHub's OpenAPI check itself: it must refuse what GitHub's description does not
 * allow (a wrong path, a wrong method, a missing required body field, a wrong parameter type,
 * a misspelt property, an upload sent to the wrong host), and its own answers must match the
 * description. Without these, the client tests would prove nothing.
 */
import { describe, expect, it } from '@jest/globals'
import { API_ORIGIN, FakeGithub, UPLOADS_ORIGIN } from '../helpers/github-openapi.js'
import {
  checkResponse,
  findOperation,
  loadGithubDescription,
  operationsOf,
  validateSchema
} from '../helpers/openapi-check.js'

const doc = loadGithubDescription()

async function send(
  fake: FakeGithub,
  method: string,
  url: string,
  options: { json?: unknown; bytes?: Buffer; headers?: Record<string, string> } = {}
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {
    authorization: `token ${fake.token}`,
    'user-agent': 'sitecycle-test',
    accept: 'application/vnd.github+json',
    ...options.headers
  }
  let body: string | Uint8Array<ArrayBuffer> | undefined
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['content-type'] ??= 'application/json; charset=utf-8'
  } else if (options.bytes) {
    body = new Uint8Array(options.bytes)
    headers['content-type'] ??= 'application/octet-stream'
  }
  const response = await fake.fetch(url, { method, headers, body })
  const text = await response.text()
  return { status: response.status, body: text ? JSON.parse(text) : undefined }
}

const releases = (fake: FakeGithub): string => `${API_ORIGIN}/repos/${fake.repository}/releases`

describe('finding the operation', () => {
  it('matches method, host and template, literal segments before parameters', () => {
    const at = (method: string, url: string): string => {
      const m = findOperation(doc, method, new URL(url))
      return m.ok
        ? `${m.operation.operationId} ${JSON.stringify(m.pathParams)}`
        : `NO: ${m.problem}`
    }
    expect(at('GET', `${API_ORIGIN}/repos/a/b/releases/latest`)).toBe(
      'repos/get-latest-release {"owner":"a","repo":"b"}'
    )
    expect(at('GET', `${API_ORIGIN}/repos/a/b/releases/7`)).toBe(
      'repos/get-release {"owner":"a","repo":"b","release_id":"7"}'
    )
    expect(at('POST', `${API_ORIGIN}/repos/a/b/releases/generate-notes`)).toMatch(
      /^repos\/generate-release-notes /
    )
    // A multi-segment parameter takes an encoded or a raw slash.
    expect(at('GET', `${API_ORIGIN}/repos/a/b/git/ref/tags%2Fv1.0`)).toBe(
      'git/get-ref {"owner":"a","repo":"b","ref":"tags/v1.0"}'
    )
    expect(at('GET', `${API_ORIGIN}/repos/a/b/git/ref/tags/v1.0`)).toBe(
      'git/get-ref {"owner":"a","repo":"b","ref":"tags/v1.0"}'
    )
    expect(at('POST', `${UPLOADS_ORIGIN}/repos/a/b/releases/7/assets`)).toMatch(
      /^repos\/upload-release-asset /
    )
    // Uploads live on uploads.github.com only.
    expect(at('POST', `${API_ORIGIN}/repos/a/b/releases/7/assets`)).toMatch(
      /^NO: POST .* matches no operation: the description offers GET /
    )
    expect(at('GET', `${API_ORIGIN}/repos/a/b/releasez`)).toMatch(
      /^NO: no path of GitHub's OpenAPI description matches/
    )
  })

  it('indexes the whole description', () => {
    expect(operationsOf(doc).length).toBeGreaterThan(900)
  })
})

describe('the fake refuses requests GitHub would not take', () => {
  it('a wrong path', async () => {
    const fake = new FakeGithub()
    const answer = await send(fake, 'POST', `${API_ORIGIN}/repos/${fake.repository}/release`, {
      json: { tag_name: 'v1' }
    })
    expect(answer.status).toBe(400)
    expect(fake.violations.join('\n')).toMatch(
      /no path of GitHub's OpenAPI description matches https:\/\/api.github.com\/repos\/acme\/weave\/release/
    )
    expect(() => fake.assertClean()).toThrow(/OpenAPI violations/)
    expect(fake.operations()).toEqual(['unmatched'])
  })

  it('a method the path does not have', async () => {
    const fake = new FakeGithub()
    await send(fake, 'PUT', releases(fake), { json: { tag_name: 'v1' } })
    expect(fake.violations[0]).toMatch(
      /PUT \/repos\/acme\/weave\/releases matches no operation: the description offers GET .*POST/
    )
  })

  it('a body without a required field', async () => {
    const fake = new FakeGithub()
    const answer = await send(fake, 'POST', releases(fake), {
      json: { name: 'no tag', draft: true }
    })
    expect(answer.status).toBe(400)
    expect(fake.violations).toEqual([
      expect.stringMatching(/repos\/create-release .*body: required property 'tag_name' is missing/)
    ])
    expect(fake.releases).toEqual([])
  })

  it('a body field of the wrong type, and a misspelt one', async () => {
    const fake = new FakeGithub()
    await send(fake, 'POST', releases(fake), {
      json: { tag_name: 'v1', draft: 'yes', generate_notes: true }
    })
    expect(fake.violations).toEqual([
      expect.stringMatching(/body.draft: is string, expected boolean/),
      expect.stringMatching(/body: property 'generate_notes' is not in the description/)
    ])
  })

  it('an enum value the description does not list', async () => {
    const fake = new FakeGithub()
    await send(fake, 'PATCH', `${releases(fake)}/5`, { json: { make_latest: 'yes' } })
    expect(fake.violations).toEqual([
      expect.stringMatching(/body.make_latest: "yes" is not one of \["true","false","legacy"\]/)
    ])
  })

  it('a path parameter of the wrong type', async () => {
    const fake = new FakeGithub()
    await send(fake, 'GET', `${releases(fake)}/abc/assets`)
    expect(fake.violations).toEqual([
      expect.stringMatching(
        /repos\/list-release-assets .*path parameter release_id: is string, expected integer/
      )
    ])
  })

  it('a query parameter of the wrong type, an unknown one, and a missing required one', async () => {
    const fake = new FakeGithub()
    await send(fake, 'GET', `${releases(fake)}?per_page=lots&pages=2`)
    expect(fake.violations).toEqual([
      expect.stringMatching(/query parameter per_page: is string, expected integer/),
      expect.stringMatching(/query parameter 'pages' is not described \(known: per_page, page\)/)
    ])
    const other = new FakeGithub()
    await send(other, 'POST', `${UPLOADS_ORIGIN}/repos/${other.repository}/releases/1/assets`, {
      bytes: Buffer.from('x')
    })
    expect(other.violations).toEqual([
      expect.stringMatching(/required query parameter 'name' is missing/)
    ])
  })

  it('a body where none is taken, a JSON body that is not JSON, a content type not described', async () => {
    const fake = new FakeGithub()
    await send(fake, 'DELETE', `${releases(fake)}/1`, { json: { really: true } })
    await send(fake, 'POST', releases(fake), {
      bytes: Buffer.from('{tag_name:'),
      headers: { 'content-type': 'application/json' }
    })
    await send(fake, 'POST', releases(fake), {
      bytes: Buffer.from('tag_name=v1'),
      headers: { 'content-type': 'application/x-www-form-urlencoded' }
    })
    expect(fake.violations).toEqual([
      expect.stringMatching(/repos\/delete-release .*sends a body, but the operation takes none/),
      expect.stringMatching(/the body is not JSON/),
      expect.stringMatching(
        /content-type application\/x-www-form-urlencoded is not one of application\/json/
      )
    ])
  })

  it('a request without User-Agent', async () => {
    const fake = new FakeGithub()
    await fake.fetch(releases(fake), { headers: { authorization: `token ${fake.token}` } })
    expect(fake.violations).toEqual([expect.stringMatching(/no User-Agent header/)])
  })

  it('takes a valid request, answers a bad token with 401, and answers in the described shape', async () => {
    const fake = new FakeGithub()
    const created = await send(fake, 'POST', releases(fake), {
      json: { tag_name: 'v1.0.0', name: 'v1.0.0', draft: true }
    })
    expect(created.status).toBe(201)
    expect(checkResponse(doc, findOp('repos/create-release'), 201, created.body)).toEqual([])
    expect(created.body).toMatchObject({
      tag_name: 'v1.0.0',
      draft: true,
      upload_url: expect.stringMatching(/^https:\/\/uploads.github.com\//)
    })
    expect(
      (await send(fake, 'GET', releases(fake), { headers: { authorization: 'token wrong' } }))
        .status
    ).toBe(401)
    fake.assertClean()
  })
})

function findOp(operationId: string) {
  const op = operationsOf(doc).find(o => o.operationId === operationId)
  if (!op) throw new Error(operationId)
  return op
}

describe('response and schema checks', () => {
  it('catches a response missing a required field or with a wrong type', () => {
    const op = findOp('repos/generate-release-notes')
    expect(checkResponse(doc, op, 200, { name: 'v1' })).toEqual([
      expect.stringMatching(/required property 'body' is missing/)
    ])
    expect(checkResponse(doc, op, 200, { name: 'v1', body: 7 })).toEqual([
      expect.stringMatching(/response.body: is integer, expected string/)
    ])
    expect(checkResponse(doc, op, 418, {})).toEqual([
      expect.stringMatching(/status 418 is not described \(described: 200, 404\)/)
    ])
  })

  it('follows $refs into nested schemas: a release with a broken asset is caught', () => {
    const problems = checkResponse(doc, findOp('repos/get-release'), 200, {
      id: 1,
      assets: [{ id: 'one', name: 'x' }]
    })
    expect(problems.join('\n')).toMatch(/required property 'upload_url' is missing/)
    expect(problems.join('\n')).toMatch(/response.assets\[0\].id: is string, expected integer/)
    expect(problems.join('\n')).toMatch(
      /response.assets\[0\]: required property 'browser_download_url' is missing/
    )
  })

  it('checks nested objects of a body for unknown properties, takes null where allowed, names where', () => {
    const schema = {
      type: 'object',
      properties: {
        a: { type: 'object', properties: { b: { type: 'integer' } } },
        n: { nullable: true, allOf: [{ $ref: '#/components/schemas/simple-user' }] },
        list: { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'integer' }] } }
      }
    }
    const strict = { rejectUnknownProperties: true }
    expect(validateSchema(doc, schema, { a: { b: 1, c: 2 } }, 'body', strict)).toEqual([
      "body.a: property 'c' is not in the description (known: b)"
    ])
    expect(validateSchema(doc, schema, { a: { b: 1, c: 2 } }, 'body')).toEqual([])
    expect(validateSchema(doc, schema, { n: null })).toEqual([])
    expect(validateSchema(doc, schema, { n: { login: 'x' } }).join('\n')).toMatch(
      /\$\.n: required property 'id' is missing/
    )
    expect(validateSchema(doc, schema, { list: ['a', 1, true] })).toEqual([
      '$.list[2]: matches none of oneOf ($.list[2]: is boolean, expected string | $.list[2]: is boolean, expected integer)'
    ])
  })

  it('knows nullable, oneOf, anyOf, formats, and refuses keywords it cannot check', () => {
    expect(validateSchema(doc, { type: 'string', nullable: true }, null)).toEqual([])
    expect(validateSchema(doc, { type: 'string' }, null)).toEqual(['$: is null, expected string'])
    const oneOf = { oneOf: [{ type: 'string' }, { type: 'integer' }] }
    expect(validateSchema(doc, oneOf, 3)).toEqual([])
    expect(validateSchema(doc, oneOf, true)[0]).toMatch(/matches none of oneOf/)
    expect(validateSchema(doc, { oneOf: [{ type: 'number' }, { type: 'integer' }] }, 3)[0]).toMatch(
      /matches 2 alternatives of oneOf/
    )
    expect(validateSchema(doc, { anyOf: [{ type: 'number' }, { type: 'integer' }] }, 3)).toEqual([])
    expect(
      validateSchema(doc, { type: 'string', format: 'date-time' }, '2024-01-01 10:00')[0]
    ).toMatch(/not an RFC 3339 date-time/)
    expect(
      validateSchema(doc, { type: 'string', format: 'date-time' }, '2024-01-01T10:00:00Z')
    ).toEqual([])
    expect(
      validateSchema(doc, { type: 'array', items: { type: 'integer' }, maxItems: 1 }, [1, 'a'])
    ).toEqual(['$: more than 1 items', '$[1]: is string, expected integer'])
    expect(() => validateSchema(doc, { type: 'string', const: 'x' }, 'x')).toThrow(
      /uses 'const', which this validator does not check/
    )
  })
})
