/**
 * An application's repository for the end-to-end workflow tests: a site's folder (its
 * sitecycle.yml and config template) made a git repository, set up on a private Apache with the
 * sample app's first version deployed by the CLI; and the starter workflows/deploy-staged.yml as
 * such a repository copies it, with the harness options that run it against this working tree.
 */
import { execFileSync } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { checkoutFixture, type HarnessOptions } from '../../tools/harness/index.js'
import { startApache, type TestApache } from './apache.js'
import { describeRun, runCli, type CliResult } from './cli.js'
import { REPO, SITECYCLE, SITECYCLE_SHA } from './harness-repo.js'
import { buildSampleRelease, makeTempDir } from './sample-app.js'
import { makeTestSite, type TestSite } from './site.js'

/** git in `dir` (as user t), its output trimmed. */
export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args],
    { encoding: 'utf8' }
  ).trim()
}

/**
 * Make `dir` the application's repository on branch main, everything in it committed with
 * `message` except the site root (root/, ignored).
 */
export async function commitAppRepository(dir: string, message: string): Promise<void> {
  await fs.writeFile(path.join(dir, '.gitignore'), 'root/\n')
  execFileSync('git', ['init', '-q', '-b', 'main', dir])
  gitIn(dir, 'add', '-A')
  gitIn(dir, 'commit', '-q', '-m', message)
}

/** A deployed site whose folder is the application's repository (see setUpAppRepo). */
export interface AppRepo {
  apache: TestApache
  site: TestSite
  /** The test's temporary folder (mode 0755); the sample's releases are in its releases/. */
  work: string
  /** git in the application's repository (the site's folder). */
  git(...args: string[]): string
  /** The CLI on the site's sitecycle.yml, with the environment given to setUpAppRepo. */
  cli(args: string[]): Promise<CliResult>
  /** Stop Apache, remove the site and the temporary folder. */
  cleanup(): Promise<void>
}

export interface AppRepoOptions {
  /** Prefix of the temporary folder's name. */
  tempPrefix: string
  /** The sample's versions built into the releases folder; the first is deployed. */
  versions: string[]
  /** Site YAML lines beside `releases:` (the releases folder). */
  siteYaml?: string
  /** Environment of every CLI run (the config template's secrets). */
  env: Record<string, string>
}

/**
 * The sample's releases built and a private Apache started (side by side), site v1 on it
 * (`releases:` the folder they were built in) initialised and the first version deployed by the
 * CLI, then the site's folder committed as the application's repository. What was started is
 * stopped again when a step fails.
 */
export async function setUpAppRepo(options: AppRepoOptions): Promise<AppRepo> {
  const work = await makeTempDir(options.tempPrefix)
  let apache: TestApache | undefined
  let site: TestSite | undefined
  const cleanup = async () => {
    await apache?.stop()
    await site?.cleanup()
    await fs.rm(work, { recursive: true, force: true })
  }
  try {
    await fs.chmod(work, 0o755)
    const releases = path.join(work, 'releases')
    const [started, built] = await Promise.allSettled([
      startApache(),
      Promise.all(
        options.versions.map(version => buildSampleRelease({ version, releasesDir: releases }))
      )
    ])
    // An Apache that started is stopped by cleanup even when a build failed.
    if (started.status === 'rejected') throw started.reason
    apache = started.value
    if (built.status === 'rejected') throw built.reason
    site = await makeTestSite({
      apache,
      siteYaml: [`releases: ${releases}`, options.siteYaml ?? ''].join('\n')
    })
    const config = path.join(site.dir, 'sitecycle.yml')
    const cli = (args: string[]) => runCli(['-c', config, ...args], { env: options.env })
    for (const args of [
      ['init', 'v1'],
      ['deploy', 'v1', '--version', options.versions[0]!]
    ]) {
      const r = await cli(args)
      if (r.code !== 0) throw new Error(`setup: sitecycle ${args.join(' ')}: ${describeRun(r)}`)
    }
    await commitAppRepository(site.dir, 'sitecycle.yml')
    const dir = site.dir
    return {
      apache,
      site,
      work,
      git: (...args) => gitIn(dir, ...args),
      cli,
      cleanup
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}

/**
 * The smoke test an application's repository carries (a shell script): it asks the idle slot
 * (SITECYCLE_IDLE_URL with SITECYCLE_IDLE_HEADER and _HOST, as `sitecycle idle` gives them) for its
 * version, writes it into `sawFile` and prints it; then passes, fails (exit 1), or prints
 * `smoke test: waiting` and hangs for two minutes.
 */
export function idleSmokeScript(sawFile: string, result: 'pass' | 'fail' | 'hang'): string {
  return `#!/bin/sh
set -eu
version=$(/usr/bin/python3 -c '
import os, urllib.request
name, value = os.environ["SITECYCLE_IDLE_HEADER"].split(": ")
req = urllib.request.Request(os.environ["SITECYCLE_IDLE_URL"] + "/__version__",
    headers={name: value, "Host": os.environ["SITECYCLE_IDLE_HOST"]})
print(urllib.request.urlopen(req).read().decode().strip())')
echo "$version" > "${sawFile}"
echo "smoke test: the idle slot serves $version"
${result === 'fail' ? 'echo "smoke test: the new release is not what we want" >&2; exit 1' : ''}
${result === 'hang' ? 'echo "smoke test: waiting"; sleep 120' : ''}
`
}

/**
 * The starter workflows/deploy-staged.yml copied into the application's repository at `repoDir`
 * as its README says: OWNER and the pin replaced by sitecycle at this working tree's commit, a
 * self-hosted runner (the server). `edit` changes the starter's text first. Returns the path of
 * the copy (.github/workflows/deploy-staged.yml).
 */
export async function copyStagedStarter(
  repoDir: string,
  edit: (starter: string) => string = starter => starter
): Promise<string> {
  const workflows = path.join(repoDir, '.github', 'workflows')
  await fs.mkdir(workflows, { recursive: true })
  const starter = await fs.readFile(path.join(REPO, 'workflows', 'deploy-staged.yml'), 'utf8')
  const file = path.join(workflows, 'deploy-staged.yml')
  await fs.writeFile(
    file,
    edit(starter)
      .replace(/OWNER\/sitecycle@0{40}/, `${SITECYCLE}@${SITECYCLE_SHA}`)
      .replace('runs-on: ubuntu-latest', 'runs-on: self-hosted')
  )
  return file
}

/**
 * Harness options for a workflow of the application's repository `app` at `repoDir`, run at its
 * HEAD on main: actions/checkout clones it, sitecycle is this working tree, environment v1 (with
 * a required reviewer) approved. `env` is added to PATH in every step's environment.
 */
export function appHarnessOptions(
  app: string,
  repoDir: string,
  { secrets, env = {} }: { secrets: Record<string, string>; env?: Record<string, string> }
): HarnessOptions {
  return {
    repository: { root: repoDir, name: app },
    github: { repository: app, sha: gitIn(repoDir, 'rev-parse', 'HEAD'), ref: 'refs/heads/main' },
    remoteActions: {
      'actions/checkout': checkoutFixture({ [app]: { dir: repoDir, mode: 'clone' } }),
      [SITECYCLE]: { dir: REPO }
    },
    environments: { v1: { reviewers: ['release-manager'] } },
    approve: () => true,
    secrets,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }
  }
}
