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

/**
 * Run one of the host scripts with the host's Python, isolated (-I: no PYTHON* variables, no
 * user site) and without the site module (-S: they use only the standard library, and Python
 * starts in a third of the time). `withSite` keeps the system's site-packages (to find pip).
 */
export function hostScript(
  python: string,
  program: string,
  args: string[],
  withSite = false
): Command {
  return cmd([python, '-I', ...(withSite ? [] : ['-S']), '-c', program, ...args])
}

/** The CPU priority ({@link yieldingToUsers}) of a deploy's own heavy work on the host. */
export const DEPLOY_NICENESS = 10

/**
 * The command at a lower CPU priority (`nice -n 10`, coreutils): on a host busy serving, the
 * deploy's installs and checks take what the site's own processes leave, so users' latency does
 * not rise while it runs; on an idle host it runs as fast as ever.
 */
export function yieldingToUsers(command: Command): Command {
  return { ...command, argv: ['nice', '-n', String(DEPLOY_NICENESS), ...command.argv] }
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

/** How pip runs to install into a virtualenv. The defaults are pip's own `--python` and
 * `--no-compile` (then {@link compileAll}). */
export interface PipIntoVenv {
  /**
   * pip's `__pip-runner__.py` on the host (HOST_FACTS reports it): pip then runs directly in the
   * virtualenv's interpreter, which is what `pip --python <venv>/bin/python` does itself after
   * starting the host's Python to parse its options; one interpreter start instead of two.
   */
  runner?: string
  /** Let pip byte-compile what it installs, in its own process (no --no-compile, no compileAll). */
  compile?: boolean
}

/** The start of a pip command that installs into `venv`. */
function pipInto(python: string, venv: string, how: PipIntoVenv): string[] {
  return how.runner
    ? [`${venv}/bin/python`, how.runner]
    : [python, '-m', 'pip', '--python', `${venv}/bin/python`]
}

/** Install a wheel into a virtualenv, offline: dependencies only from the given folders. */
export function pipInstall(
  python: string,
  venv: string,
  wheel: string,
  findLinks: string[],
  how: PipIntoVenv = {}
): Command {
  return cmd(
    [
      ...pipInto(python, venv, how),
      'install',
      '--no-index',
      ...findLinks.flatMap(d => ['--find-links', d]),
      ...(how.compile ? [] : ['--no-compile']),
      wheel
    ],
    hermetic
  )
}

/**
 * Install a wheel into a virtualenv with its dependencies from an index. The URL may carry
 * credentials: it goes to pip through PIP_INDEX_URL, never on the command line, and is redacted.
 */
export function pipInstallFromIndex(
  python: string,
  venv: string,
  wheel: string,
  findLinks: string[],
  indexUrl: string,
  how: PipIntoVenv = {}
): Command {
  return cmd(
    [
      ...pipInto(python, venv, how),
      'install',
      ...findLinks.flatMap(d => ['--find-links', d]),
      ...(how.compile ? [] : ['--no-compile']),
      wheel
    ],
    {
      env: { ...PIP_HERMETIC_ENV, PIP_INDEX_URL: indexUrl },
      unsetEnv: PIP_HERMETIC_UNSET.filter(n => n !== 'PIP_INDEX_URL'),
      redact: [indexUrl]
    }
  )
}

/** Where the wheelhouse's dependencies come from and what pins them. */
export interface WheelhouseSources {
  /** Folders of wheels and sdists searched (offline: the only sources when no index is given). */
  findLinks: string[]
  /**
   * A package index (`--index-url`). It may carry a secret, so it goes to pip through the
   * environment (PIP_INDEX_URL), never the argv, and is redacted from the output.
   */
  indexUrl?: string
  /** Constraints file pinning versions (`-c`), for a file without hashes. */
  constraints?: string
  /** Requirements files (`-r`): a hash-pinned lock, and the app wheel with its hash. */
  requirements?: string[]
  /** Build sdists with the machine's setuptools and wheel (`--no-build-isolation`); default true. */
  noBuildIsolation?: boolean
}

/** True when the config names no source: pip then uses its own configuration (pip.conf, PIP_*). */
export function usesPipConfiguration(sources: WheelhouseSources): boolean {
  return sources.findLinks.length === 0 && sources.indexUrl === undefined
}

function sourceArgs(sources: WheelhouseSources): string[] {
  if (usesPipConfiguration(sources)) return []
  return [
    ...(sources.indexUrl === undefined ? ['--no-index'] : []),
    ...sources.findLinks.flatMap(d => ['--find-links', d])
  ]
}

/** The index URL and its password (pip prints URLs with the password masked, but not every part). */
export function indexSecrets(indexUrl: string | undefined): string[] {
  if (indexUrl === undefined) return []
  const secrets = [indexUrl]
  try {
    const u = new URL(indexUrl)
    if (u.password) secrets.push(decodeURIComponent(u.password), u.password)
    if (u.username) secrets.push(decodeURIComponent(u.username))
  } catch {
    // Not a URL pip would accept either; the whole string is still redacted.
  }
  return secrets
}

/**
 * `pip wheel` of an app wheel's dependencies into `wheelDir`: offline from find-links folders,
 * or from an index whose URL travels in the environment, or, when neither is given, from pip's
 * own configuration (its index and find-links, untouched). `targets` are wheels or sdists given
 * on the command line (the app wheel when no requirements file names it).
 */
export function pipWheelhouse(
  python: string,
  wheelDir: string,
  targets: string[],
  sources: WheelhouseSources
): Command {
  return cmd(
    [
      python,
      '-m',
      'pip',
      'wheel',
      ...sourceArgs(sources),
      ...(sources.noBuildIsolation === false ? [] : ['--no-build-isolation']),
      '--wheel-dir',
      wheelDir,
      ...(sources.constraints !== undefined ? ['--constraint', sources.constraints] : []),
      ...(sources.requirements ?? []).flatMap(r => ['--requirement', r]),
      ...targets
    ],
    usesPipConfiguration(sources)
      ? {
          env: { PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' },
          unsetEnv: ['PIP_USER', 'PYTHONPATH', 'PYTHONHOME']
        }
      : {
          env: {
            ...PIP_HERMETIC_ENV,
            ...(sources.indexUrl !== undefined && { PIP_INDEX_URL: sources.indexUrl })
          },
          unsetEnv: PIP_HERMETIC_UNSET,
          redact: indexSecrets(sources.indexUrl)
        }
  )
}

/**
 * Resolve a hash-pinned requirements.lock against its wheels without installing anything
 * (`--dry-run` into a target that is never created): proves at release time that the deploy's
 * offline `--require-hashes` install will find everything.
 */
export function pipCheckLock(
  python: string,
  lockFile: string,
  findLinks: string[],
  target: string
): Command {
  return cmd(
    [
      python,
      '-m',
      'pip',
      'install',
      '--dry-run',
      '--target',
      target,
      '--no-index',
      '--require-hashes',
      ...findLinks.flatMap(d => ['--find-links', d]),
      '--requirement',
      lockFile
    ],
    hermetic
  )
}

/**
 * Install a release from its wheelhouse into a virtualenv: offline (`--no-index`), every file
 * checked against requirements.lock (`--require-hashes`), so a wheel whose hash differs is refused.
 */
export function pipInstallLocked(
  python: string,
  venv: string,
  lockFile: string,
  findLinks: string[],
  how: PipIntoVenv = {}
): Command {
  return cmd(
    [
      ...pipInto(python, venv, how),
      'install',
      '--no-index',
      '--require-hashes',
      ...findLinks.flatMap(d => ['--find-links', d]),
      ...(how.compile ? [] : ['--no-compile']),
      '--requirement',
      lockFile
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
