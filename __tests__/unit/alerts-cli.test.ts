/**
 * The CLI under cron (`--unattended`, SITECYCLE_UNATTENDED=1): a non-zero exit opens the issue of
 * the site and command with the error the CLI printed and its step; a zero exit closes it; the exit
 * code and output are main's own; an attended run, or a config without `alerts:`, calls no one.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runCliWithAlerts, type CliMain } from '../../src/alerts/cli-alerts.js'
import { FakeGithub } from '../helpers/github-openapi.js'

let tmp: string
let config: string
let fake: FakeGithub

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-cli-alerts-'))
  config = path.join(tmp, 'sitecycle.yml')
  await fs.writeFile(
    config,
    'app: { package: weave, wsgi: "w:app" }\nalerts: { github_issues: true }\nsites:\n  v1: { root: /srv/v1, url: "https://x.example.org" }\n'
  )
  fake = new FakeGithub()
})
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
  fake.assertClean()
})

const env = () => ({ GITHUB_TOKEN: fake.token, GITHUB_REPOSITORY: fake.repository })

/** A stand-in for cli.ts main: prints like it and returns `code`. */
function fakeMain(code: number, stderr: string[]): CliMain & { calls: string[][] } {
  const calls: string[][] = []
  const main = async (argv: string[], out?: (s: string) => void) => {
    calls.push(argv)
    for (const line of stderr) process.stderr.write(`${line}\n`)
    out?.('result')
    return code
  }
  return Object.assign(main, { calls })
}

describe('runCliWithAlerts', () => {
  it('opens the issue on a failed unattended run and closes it on a success, keeping the exit code', async () => {
    const failing = fakeMain(1, [
      '-> dump-database: pg_dump',
      "sitecycle: snapshot of site v1 failed at step 'dump-database': pg_dump exited 1"
    ])
    const out: string[] = []
    const argv = ['snapshot', 'v1', '-c', config, '--unattended']
    expect(
      await runCliWithAlerts(argv, failing, {
        env: env(),
        out: s => out.push(s),
        deps: { fetch: fake.fetch }
      })
    ).toBe(1)
    expect(failing.calls).toEqual([argv])
    expect(out).toEqual(['result'])
    expect(fake.issues).toHaveLength(1)
    expect(fake.issues[0].title).toBe('sitecycle: snapshot of site v1 failed at step dump-database')
    expect(fake.issues[0].labels).toEqual(['sitecycle:v1:snapshot'])
    expect(fake.issues[0].body).toContain('pg_dump exited 1')
    expect(fake.issues[0].body).toContain('(exit code 1)')

    const ok = fakeMain(0, [])
    expect(
      await runCliWithAlerts(['snapshot', 'v1', '-c', config], ok, {
        env: { ...env(), SITECYCLE_UNATTENDED: '1' },
        deps: { fetch: fake.fetch }
      })
    ).toBe(0)
    expect(fake.issues[0].state).toBe('closed')
  })

  it('calls no one when attended or when the config has no alerts', async () => {
    expect(
      await runCliWithAlerts(['snapshot', 'v1', '-c', config], fakeMain(1, ['sitecycle: x']), {
        env: env(),
        deps: { fetch: fake.fetch }
      })
    ).toBe(1)
    await fs.writeFile(
      config,
      'app: { package: weave, wsgi: "w:app" }\nsites:\n  v1: { root: /srv/v1, url: "https://x.example.org" }\n'
    )
    expect(
      await runCliWithAlerts(
        ['snapshot', 'v1', '-c', config, '--unattended'],
        fakeMain(4, ['sitecycle: x']),
        {
          env: env(),
          deps: { fetch: fake.fetch }
        }
      )
    ).toBe(4)
    expect(fake.calls).toEqual([])
  })
})
