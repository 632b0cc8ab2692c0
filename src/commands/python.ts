import { cmd, type Command } from './command.js'
import * as scripts from './host-scripts.js'

/** pip settings a machine may carry that a fresh server does not have: pip runs without them. */
export const PIP_HERMETIC_UNSET = [
  'PIP_FIND_LINKS',
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'PIP_NO_INDEX',
  'PIP_USER',
  'PYTHONPATH',
  'PYTHONHOME'
]
export const PIP_HERMETIC_ENV = {
  PIP_CONFIG_FILE: '/dev/null',
  PIP_DISABLE_PIP_VERSION_CHECK: '1',
  PIP_NO_INPUT: '1'
}

const hermetic = { env: PIP_HERMETIC_ENV, unsetEnv: PIP_HERMETIC_UNSET }

/** Run one of the host scripts with the host's Python. */
export function hostScript(python: string, program: string, args: string[]): Command {
  return cmd([python, '-c', program, ...args])
}

/** `python3 -m venv --without-pip <dir>`: pip is run from the system Python with --python. */
export function createVenv(python: string, dir: string): Command {
  return cmd([python, '-m', 'venv', '--without-pip', dir], {
    unsetEnv: ['PYTHONPATH', 'PYTHONHOME']
  })
}

/** Build a wheel from an sdist offline with the host's setuptools and wheel. */
export function pipWheel(python: string, sdist: string, outDir: string): Command {
  return cmd(
    [
      python,
      '-m',
      'pip',
      'wheel',
      '--no-index',
      '--no-build-isolation',
      '--no-deps',
      '--wheel-dir',
      outDir,
      sdist
    ],
    hermetic
  )
}

/** Install a wheel into a virtualenv, offline: dependencies only from the given folders. */
export function pipInstall(
  python: string,
  venv: string,
  wheel: string,
  findLinks: string[]
): Command {
  return cmd(
    [
      python,
      '-m',
      'pip',
      '--python',
      `${venv}/bin/python`,
      'install',
      '--no-index',
      ...findLinks.flatMap(d => ['--find-links', d]),
      '--no-compile',
      wheel
    ],
    hermetic
  )
}

/** Print the interpreter's version as `3.11.2`. */
export function pythonVersion(python: string): Command {
  return cmd([python, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'])
}

/** `python -m pip --version`: pip must be there to install releases. */
export function pipVersion(python: string): Command {
  return cmd([python, '-m', 'pip', '--version'], hermetic)
}

/** Byte-compile a virtualenv's site-packages so the first request does not pay for it. */
export function compileAll(venv: string): Command {
  return cmd([`${venv}/bin/python`, '-m', 'compileall', '-q', '-j', '0', `${venv}/lib`])
}

export const script = scripts
