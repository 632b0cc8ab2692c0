/**
 * Flags a command does not honour are refused before anything is read: `--dry-run` on a command
 * without a dry run (it would act), `--allow-bad` on one that goes to no release. Exit 2.
 */
import { expect, it } from '@jest/globals'
import { main } from '../../src/cli.js'
import { captureStderr } from '../helpers/stderr-capture.js'

const stderrLines = captureStderr()

it.each(['snapshot', 'verify', 'mirror', 'init', 'unlock', 'remove', 'status', 'watch'])(
  '%s --dry-run is refused (exit 2) before the config is read',
  async command => {
    const out: string[] = []
    // The config file does not exist: a refusal that came later would say so instead.
    const code = await main([command, 'v1', '-c', '/nonexistent/sitecycle.yml', '--dry-run'], s =>
      out.push(s)
    )
    expect(code).toBe(2)
    expect(out).toEqual([])
    expect(stderrLines().join('')).toBe(
      `sitecycle: --dry-run: sitecycle ${command} has no dry run (refused rather than run for real); the commands with one: deploy, rollback, maintenance, restore, sync\n`
    )
  }
)

it('--allow-bad is refused by a command that goes to no release', async () => {
  const code = await main(['snapshot', 'v1', '-c', '/nonexistent/sitecycle.yml', '--allow-bad'])
  expect(code).toBe(2)
  expect(stderrLines().join('')).toBe(
    'sitecycle: --allow-bad: only deploy and rollback go to a release, not sitecycle snapshot\n'
  )
})

it.each(['deploy', 'rollback'])('%s --dry-run gets as far as reading the config', async command => {
  const code = await main([command, 'v1', '-c', '/nonexistent/sitecycle.yml', '--dry-run'])
  expect(code).toBe(2)
  expect(stderrLines().join('')).toMatch(
    /cannot read the config file \/nonexistent\/sitecycle\.yml/
  )
})

it.each([
  [
    ['run', 'v1', 'python'],
    'sitecycle: run: the command goes after --, e.g. sitecycle run v1 -- python manage.py createsuperuser\n'
  ],
  [
    ['run', 'v1', '--'],
    'sitecycle: run: the command goes after --, e.g. sitecycle run v1 -- python manage.py createsuperuser\n'
  ],
  [
    ['deploy', 'v1', '--', 'python'],
    'sitecycle: --: only sitecycle run and sitecycle idle take a command after --, not sitecycle deploy\n'
  ]
])('%j is refused (exit 2) before the config is read', async (args, message) => {
  const code = await main([
    ...args.slice(0, 2),
    '-c',
    '/nonexistent/sitecycle.yml',
    ...args.slice(2)
  ])
  expect(code).toBe(2)
  expect(stderrLines().join('')).toBe(message)
})

it("run's command after -- is not read as sitecycle's options", async () => {
  // `-c x` after -- belongs to python: sitecycle reads its own -c (a missing file) and says so.
  const code = await main([
    'run',
    'v1',
    '-c',
    '/nonexistent/sitecycle.yml',
    '--',
    'python',
    '-c',
    'x'
  ])
  expect(code).toBe(2)
  expect(stderrLines().join('')).toMatch(/\/nonexistent\/sitecycle\.yml/)
})
