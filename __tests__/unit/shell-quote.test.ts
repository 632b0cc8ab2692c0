import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { cmd } from '../../src/commands/command.js'
import { quoteArg, toShellLine } from '../../src/hosts/shell-quote.js'
import { SitecycleError } from '../../src/util/errors.js'

const HOSTILE = [
  'plain',
  '',
  ' ',
  "it's",
  "''",
  "'\\''",
  '"double"',
  '$(touch /tmp/sitecycle-pwned)',
  '`touch /tmp/sitecycle-pwned`',
  '$HOME',
  '${HOME}',
  'a; touch /tmp/sitecycle-pwned',
  'a && b || c | d & e',
  'line1\nline2\n',
  'tab\there',
  '\\',
  'back\\slash\\',
  '*',
  '~',
  '-n',
  '--',
  '#not a comment',
  '!',
  '> /tmp/sitecycle-pwned',
  'ünïcødé ☃'
]

/** Run a shell line through /bin/sh and return what it wrote to stdout. */
function sh(line: string): Buffer {
  return execFileSync('/bin/sh', ['-c', line], {
    env: { PATH: '/usr/bin:/bin', KEEP: 'kept', DROP: 'dropped' }
  })
}

/** Split printf '%s\0' output back into words. */
function words(out: Buffer): string[] {
  const parts = out.toString('utf8').split('\0')
  parts.pop()
  return parts
}

describe('quoteArg', () => {
  it('wraps in single quotes and escapes single quotes', () => {
    expect(quoteArg('abc')).toBe("'abc'")
    expect(quoteArg("it's")).toBe("'it'\\''s'")
    expect(quoteArg('')).toBe("''")
  })

  it.each(HOSTILE)('passes %j through /bin/sh intact', s => {
    expect(words(sh(`/usr/bin/printf '%s\\0' ${quoteArg(s)}`))).toEqual([s])
  })

  it('refuses a NUL byte, which no shell can carry', () => {
    expect(() => quoteArg('a\0b')).toThrow(SitecycleError)
  })
})

describe('toShellLine', () => {
  let dir: string
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-quote-'))
  })
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('builds cd && env -u ... NAME=value argv, all quoted', () => {
    expect(
      toShellLine(
        cmd(['/usr/bin/python3', '-m', 'pip'], {
          cwd: '/x',
          unsetEnv: ['PIP_FIND_LINKS'],
          env: { A: 'b' }
        })
      )
    ).toBe("cd '/x' && env -u PIP_FIND_LINKS A='b' '/usr/bin/python3' '-m' 'pip'")
  })

  it('is just the quoted argv when there is no cwd or env', () => {
    expect(toShellLine(cmd(['ls', '-l']))).toBe("'ls' '-l'")
  })

  it('delivers every hostile argument intact and runs nothing they contain', async () => {
    const marker = path.join(dir, 'pwned')
    const hostile = [...HOSTILE, `$(touch ${marker})`, `; touch ${marker}`, `\`touch ${marker}\``]
    const out = sh(toShellLine(cmd(['/usr/bin/printf', '%s\\0', ...hostile])))
    expect(words(out)).toEqual(hostile)
    await expect(fs.access(marker)).rejects.toThrow()
  })

  it('sets env values verbatim, unsets unsetEnv, keeps the rest, and changes directory', async () => {
    const weird = path.join(dir, "dir with 'quotes' and $(x)")
    await fs.mkdir(weird)
    const value = "v'1 $(touch x) `y`\nz;"
    const line = toShellLine(
      cmd(['/bin/sh', '-c', 'printf "%s\\0" "$A" "${DROP-unset}" "$KEEP" "$(pwd)"'], {
        cwd: weird,
        env: { A: value },
        unsetEnv: ['DROP']
      })
    )
    expect(words(sh(line))).toEqual([value, 'unset', 'kept', weird])
  })

  it('does not run the command when the directory is missing', () => {
    const line = toShellLine(cmd(['/usr/bin/printf', 'ran'], { cwd: path.join(dir, 'missing') }))
    expect(() => sh(line)).toThrow()
  })

  it('treats a cwd starting with - as a path, not a cd option', async () => {
    await fs.mkdir(path.join(dir, '-P'))
    const line = toShellLine(cmd(['/bin/pwd'], { cwd: '-P' }))
    const out = execFileSync('/bin/sh', ['-c', line], { cwd: dir }).toString().trim()
    expect(out).toBe(path.join(dir, '-P'))
  })

  it('rejects environment names that cannot be quoted', () => {
    expect(() => toShellLine(cmd(['true'], { env: { 'A;rm': 'x' } }))).toThrow(/not valid/)
    expect(() => toShellLine(cmd(['true'], { unsetEnv: ['$(x)'] }))).toThrow(SitecycleError)
    expect(() => toShellLine(cmd(['true'], { env: { '1A': 'x' } }))).toThrow(SitecycleError)
  })

  it('rejects an empty argv', () => {
    expect(() => toShellLine(cmd([]))).toThrow(SitecycleError)
  })
})
