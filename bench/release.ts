/**
 * The release benchmark (`npm run bench:release`): what a sitecycle release costs over a bare
 * `python3 -m build` of the same application. A release without tests does the build plus its
 * own work: decide and check the version (git, the store's versions), check the built version
 * and archives, write the manifest, tag with git and publish to a directory store (PEP 503 index
 * and notes). Target: release_ratio <= 1.2.
 *
 * Everything happens in a temp dir (a git repository holding the sample app, a directory store),
 * removed at the end. Figures go to stdout as `name value unit`; progress goes to stderr.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeCommand } from '../src/commands/command.js'
import { defaultReleaseConfig } from '../src/config/load-config.js'
import { LocalExecutor } from '../src/hosts/local-executor.js'
import { runRelease } from '../src/pipelines/release.js'
import { DEFAULT_BUILD_PYTHON, pythonBuildCommand } from '../src/releases/build.js'
import { prepareSampleSource } from '../src/releases/sample-source.js'
import { createStore } from '../src/stores/registry.js'
import type { Reporter } from '../src/util/reporter.js'

/** Settings of one run (command-line flags). */
interface BenchSettings {
  /** Timed runs of each kind; the medians are reported (--runs). */
  runs: number
  /** Print the pipeline's step lines on stderr (--verbose). */
  verbose: boolean
}

function parseArgs(argv: string[]): BenchSettings {
  const s: BenchSettings = { runs: 5, verbose: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--runs') {
      const n = Number(argv[++i])
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--runs needs a whole number >= 1, got '${argv[i]}'`)
      s.runs = n
    } else if (a === '--verbose') s.verbose = true
    else throw new Error(`unknown argument '${a}': expected --runs N, --verbose`)
  }
  return s
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2))
  const dir = await mkdtemp(join(tmpdir(), 'sitecycle-bench-release-'))
  try {
    const repo = await prepareSampleSource({ version: '1.0.0', into: dir })
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' })
    execFileSync('git', ['init', '-q', repo])
    const commit = (m: string) => {
      git('add', '-A')
      git('-c', 'user.name=bench', '-c', 'user.email=bench@example.org', 'commit', '-q', '-m', m)
    }
    commit('sample')
    const exec = new LocalExecutor()

    // Warm-up (not measured): file caches, Python's bytecode of build and setuptools.
    const warm = pythonBuildCommand(DEFAULT_BUILD_PYTHON, repo, join(dir, 'warm'))
    await exec.run(warm)
    log(`bare build: ${describeCommand(pythonBuildCommand(DEFAULT_BUILD_PYTHON, repo, '<out>'))}`)

    const bare: number[] = []
    const releases: number[] = []
    const store = createStore(
      { type: 'directory', path: join(dir, 'store'), host: { kind: 'local' } },
      { executorFor: () => exec, env: process.env }
    )
    const reporter: Reporter = {
      info: m => settings.verbose && log(m),
      warn: m => log(`warning: ${m}`),
      stepStart: () => undefined,
      stepEnd: (name, status, ms, note) =>
        settings.verbose &&
        log(`   ${name} ${status} (${(ms / 1000).toFixed(2)}s)${note ? `: ${note}` : ''}`),
      addSecret: () => undefined
    }
    const release = { ...defaultReleaseConfig(repo), outDir: join(dir, 'out') }
    for (let i = 0; i < settings.runs; i++) {
      // Alternate the two so a slow patch of the machine hits both alike.
      let t = performance.now()
      await exec.run(pythonBuildCommand(DEFAULT_BUILD_PYTHON, repo, join(dir, `bare-${i}`)))
      bare.push((performance.now() - t) / 1000)

      const version = `1.0.${i + 1}`
      await writeFile(join(repo, 'sitecycle_sample', '_version.py'), `__version__ = "${version}"\n`)
      commit(version)
      t = performance.now()
      const outcome = await runRelease({
        app: {
          package: 'sitecycle-sample',
          wsgi: 'sitecycle_sample.wsgi:application',
          python: DEFAULT_BUILD_PYTHON
        },
        release,
        stores: [store],
        reporter,
        version,
        skipTests: true,
        exec
      })
      releases.push((performance.now() - t) / 1000)
      log(
        `run ${i + 1}: bare ${bare[i].toFixed(3)}s, release ${outcome.version} ${releases[i].toFixed(3)}s`
      )
    }
    const releaseS = median(releases)
    const bareS = median(bare)
    process.stdout.write(`release_s ${releaseS.toFixed(3)} s\n`)
    process.stdout.write(`bare_build_s ${bareS.toFixed(3)} s\n`)
    process.stdout.write(`release_ratio ${(releaseS / bareS).toFixed(3)} ratio\n`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})
