/**
 * The release pipeline: run the tests → decide the version → check it (valid, newer than every
 * earlier release, its tag nowhere else) → build the sdist and wheel (their version must be the
 * decided one) → finish the manifest → tag → publish to each store → the GitHub release. Each
 * step that changes something has its undo, so a failed release leaves no tag, no half-published
 * version and no release page behind.
 *
 * In a workflow the pipeline runs in two stages: `prepare` (tests to manifest, no token needed,
 * from a composite action's `run:` step) hands a small JSON file to `publish` (tag to GitHub
 * release, in a JavaScript action that receives the runner's tokens).
 */
import projectVersionProgram from '../host/project-version.py'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { AppConfig, ReleaseConfig } from '../config/model.js'
import type { Command } from '../commands/command.js'
import { describeCommand } from '../commands/command.js'
import type { GithubApi } from '../github/api.js'
import type { Executor } from '../hosts/executor.js'
import { LocalExecutor } from '../hosts/local-executor.js'
import {
  buildRelease,
  DEFAULT_BUILD_PYTHON,
  type BuildReleaseOptions,
  type BuiltRelease
} from '../releases/build.js'
import * as git from '../releases/git.js'
import {
  MANIFEST_FILE,
  readManifest,
  SHA256SUMS_FILE,
  writeManifest
} from '../releases/manifest.js'
import { isPrerelease, normalizeProjectName } from '../releases/version.js'
import {
  checkBuiltVersion,
  checkNewerThanReleased,
  checkTagPlacement,
  decideVersion,
  pep440Of,
  type DecidedVersion,
  type VersionRules
} from '../releases/version-rules.js'
import {
  dirtyTreeMessage,
  MAX_RECORDED_CHANGES,
  readWorkTree,
  type WorkTreeState
} from '../releases/work-tree.js'
import { splitCommandLine } from '../sites/render-config.js'
import type { PublishResult, ReleaseStore } from '../stores/store.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import { describePlan, PipelineError, runPipeline, type Step, type StepReport } from './pipeline.js'
import { checkIsPackage } from '../releases/package-check.js'

/** Which part of the pipeline a run does. */
export type ReleaseStage = 'all' | 'prepare' | 'publish'

/** What the prepare stage hands to the publish stage (written as JSON between two job steps). */
export interface ReleaseHandoff {
  /** Distribution name, from the built manifest. */
  name: string
  version: string
  tag: string
  /** The commit built (the tag goes there). */
  commit: string
  /** `<outDir>/<version>/`: the files, manifest.json and SHA256SUMS. */
  releaseDir: string
  manifestPath: string
  /** Release notes given to the prepare stage (already in the manifest). */
  notes?: string
}

export interface ReleaseRequest {
  /** The application (its package name and tests command). */
  app: AppConfig
  /** How releases are made: the config's `release:` (or defaultReleaseConfig). */
  release: ReleaseConfig
  /** The stores to publish to, in order (built from `release.stores`, plus any extra). */
  stores: ReleaseStore[]
  reporter: Reporter
  /** The version to release; else the triggering tag's, else the package metadata's. */
  version?: string
  /** The tag that started the run (a pushed tag), if any. */
  tag?: string
  /** Release notes (Markdown): written into the manifest and put before GitHub's generated notes. */
  notes?: string
  /** Do not run the tests command (recorded in the manifest and the notes). */
  skipTests?: boolean
  /**
   * Build even from a work tree with uncommitted changes or untracked files (recorded in the
   * manifest and the notes). Without it such a tree is refused before anything runs.
   */
  allowDirty?: boolean
  /**
   * Paths inside the work tree that are not the application's and do not make it dirty (the
   * sitecycle checkout of the reusable workflow). The release's out_dir is always left out.
   */
  ignorePaths?: string[]
  /** GitHub: when given, the tag is made through it and a GitHub release is made. Else `git tag`. */
  github?: GithubApi
  /** `all` (default), `prepare` (tests to manifest) or `publish` (from `handoff`). */
  stage?: ReleaseStage
  /** What the prepare stage made: required for the publish stage. */
  handoff?: ReleaseHandoff
  /** Runs git, the tests and the metadata probe (a LocalExecutor by default). */
  exec?: Executor
  /** Python that builds the release (default /usr/bin/python3). */
  python?: string
  /** Environment the wheelhouse's index URL variable is read from (process.env by default). */
  env?: NodeJS.ProcessEnv
  /** Builds the release (buildRelease by default). */
  build?: (opts: BuildReleaseOptions) => Promise<BuiltRelease>
}

/** A store a release went to. */
export interface PublishedTo {
  store: string
  kind: string
  location: string
  /** False when the same version was there already with the same content. */
  changed: boolean
}

/** What a release run produced. */
export interface ReleaseOutcome {
  stage: ReleaseStage
  name?: string
  version: string
  tag: string
  /** The commit released. */
  commit: string
  /** True when this run created the tag (false when it was there, on this commit). */
  tagCreated: boolean
  /** The tests before this release: passed, skipped (--skip-tests) or none configured. */
  tests?: 'passed' | 'skipped' | 'none'
  /** True when built from a work tree with uncommitted changes (--allow-dirty). */
  dirty?: boolean
  /** Absolute paths of the sdist and the wheel. */
  files: string[]
  releaseDir?: string
  manifestPath?: string
  published: PublishedTo[]
  /** The GitHub release page, when one was made or found. */
  releaseUrl?: string
  steps: StepReport[]
}

/** A release that failed: its steps' reports, whether every undo ran, and the cause. */
export class ReleaseFailed extends SitecycleError {
  constructor(
    readonly failedStep: string,
    readonly cause: unknown,
    readonly steps: StepReport[],
    readonly undoComplete: boolean
  ) {
    super(
      `release failed at step '${failedStep}': ${cause instanceof Error ? cause.message : String(cause)}` +
        (undoComplete
          ? ''
          : '; some undo failed (see the warnings): check the tag and the stores by hand'),
      'release-failed'
    )
    this.name = 'ReleaseFailed'
  }

  /** True when the run failed before changing anything (tests, version decision and checks). */
  get changedNothing(): boolean {
    return ['check-tree', 'run-tests', 'decide-version', 'check-version', 'resume'].includes(
      this.failedStep
    )
  }
}

interface ReleaseContext {
  req: ReleaseRequest
  exec: Executor
  rules: VersionRules
  source: string
  /** The work tree's changes, when it was found dirty and allowed (--allow-dirty). */
  dirtyTree?: WorkTreeState
  /** What became of the tests: recorded in the manifest and the notes. */
  tests: 'passed' | 'skipped' | 'none'
  /** The release notes as the manifest holds them (given notes plus what the run records). */
  finalNotes?: string
  decided?: DecidedVersion
  commit?: string
  previousTag?: string
  /** The tag already points at the commit (a pushed tag, or a re-run). */
  tagAtHead: boolean
  tagCreated: boolean
  built?: { name: string; version: string; dir: string; manifestPath: string; files: string[] }
  /** Built by this run (so its undo may remove it). */
  builtHere: boolean
  published: { store: ReleaseStore; result: PublishResult }[]
  githubReleaseId?: number
  releaseUrl?: string
}

const STAGE_STEPS: Record<ReleaseStage, string[]> = {
  all: [
    'check-tree',
    'run-tests',
    'decide-version',
    'check-version',
    'build',
    'manifest',
    'tag',
    'publish',
    'github-release'
  ],
  prepare: ['check-tree', 'run-tests', 'decide-version', 'check-version', 'build', 'manifest'],
  publish: ['resume', 'check-version', 'tag', 'publish', 'github-release']
}

/** The steps of a release stage, in order. */
export function releaseSteps(stage: ReleaseStage = 'all'): Step<ReleaseContext>[] {
  const all: Step<ReleaseContext>[] = [
    {
      name: 'check-tree',
      title:
        'check the git work tree holds no uncommitted change or untracked file (unless --allow-dirty)',
      run: checkTree
    },
    {
      name: 'run-tests',
      title: "run the application's tests (app.tests); a failure stops the release",
      when: c => !c.req.skipTests,
      run: runTests
    },
    {
      name: 'resume',
      title: 'take over the release built by the prepare stage (manifest and commit checked)',
      run: resume
    },
    {
      name: 'decide-version',
      title:
        'decide the version: given, from the tag that started the run, or from the package metadata',
      run: async c => {
        const metadata =
          c.req.version || c.req.tag ? undefined : await readProjectVersion(c.exec, c.source)
        c.decided = decideVersion({ explicit: c.req.version, tag: c.req.tag, metadata }, c.rules)
        git.checkTagName(c.decided.tag)
        return `${c.decided.version} (from the ${c.decided.source === 'input' ? 'version given' : c.decided.source === 'tag' ? 'tag' : 'package metadata'}), tag ${c.decided.tag}`
      }
    },
    {
      name: 'check-version',
      title:
        'check the version: valid, newer than every release (tags and stores), its tag on no other commit',
      run: checkVersion
    },
    {
      name: 'build',
      title:
        'build the sdist and the wheel (python -m build; isolated when the build Python lacks the backend) and check their version',
      run: build,
      undo: async c => {
        if (c.builtHere && c.built) await fs.rm(c.built.dir, { recursive: true, force: true })
      }
    },
    {
      name: 'manifest',
      title:
        'finish manifest.json and SHA256SUMS: the release notes, the tests run or skipped, a dirty work tree',
      run: finishManifest
    },
    {
      name: 'tag',
      title: 'tag the commit (through the GitHub API with a token, else git tag)',
      run: async c => {
        const { tag } = c.decided!
        if (c.tagAtHead) return `tag ${tag} is already on ${short(c.commit!)}`
        if (c.req.github) await c.req.github.createTag(tag, c.commit!)
        else await git.createTag(c.exec, c.source, tag, c.commit!)
        c.tagCreated = true
        return `created ${tag} on ${short(c.commit!)}${c.req.github ? ` in ${c.req.github.repository}` : ' (git)'}`
      },
      undo: async c => {
        // Only a tag this run made: a pushed tag that started the run stays.
        if (!c.tagCreated) return
        const { tag } = c.decided!
        if (c.req.github) await c.req.github.deleteTag(tag)
        else await git.deleteTag(c.exec, c.source, tag)
        c.tagCreated = false
      }
    },
    {
      name: 'publish',
      title: 'publish the release to each configured store',
      run: publish,
      undo: async c => unpublishAll(c)
    },
    {
      name: 'github-release',
      title: 'the GitHub release: notes generated by GitHub, the files as assets',
      when: c => c.req.github !== undefined,
      run: githubRelease,
      undo: async c => {
        if (c.githubReleaseId === undefined) return
        await c.req.github!.deleteRelease(c.githubReleaseId)
        c.githubReleaseId = undefined
        c.releaseUrl = undefined
      }
    }
  ]
  return STAGE_STEPS[stage].map(name => all.find(s => s.name === name)!)
}

/** The plan of a release stage, for --dry-run: one line per step. */
export function releasePlan(stage: ReleaseStage = 'all'): string[] {
  return describePlan(releaseSteps(stage))
}

/**
 * Release: run the steps of the request's stage; on failure undo the completed ones in reverse
 * and throw ReleaseFailed. Bad requests (a publish stage without its handoff) throw SitecycleError.
 */
export async function runRelease(req: ReleaseRequest): Promise<ReleaseOutcome> {
  const stage = req.stage ?? 'all'
  if (stage === 'publish' && !req.handoff) {
    throw new SitecycleError('the publish stage needs the handoff of the prepare stage', 'input')
  }
  const ctx: ReleaseContext = {
    req,
    exec: req.exec ?? new LocalExecutor(),
    rules: { tagPrefix: req.release.tagPrefix, scheme: req.release.versionScheme },
    source: path.resolve(req.release.source),
    tagAtHead: false,
    tagCreated: false,
    builtHere: false,
    tests: req.skipTests ? 'skipped' : 'none',
    published: []
  }
  // Before the tests and the tag: a project that is not a package cannot be built.
  if (stage !== 'publish' && !req.build) await checkIsPackage(ctx.source)
  let steps: StepReport[]
  try {
    steps = await runPipeline(releaseSteps(stage), ctx, req.reporter)
  } catch (e) {
    if (e instanceof PipelineError)
      throw new ReleaseFailed(e.failedStep, e.cause, e.reports, e.undoComplete)
    throw e
  }
  const b = ctx.built
  return {
    stage,
    ...(b && { name: b.name }),
    version: b?.version ?? ctx.decided!.version,
    tag: ctx.decided!.tag,
    commit: ctx.commit!,
    tagCreated: ctx.tagCreated,
    ...(stage !== 'publish' && { tests: ctx.tests, dirty: ctx.dirtyTree !== undefined }),
    files: b?.files ?? [],
    ...(b && { releaseDir: b.dir, manifestPath: b.manifestPath }),
    published: ctx.published.map(p => ({
      store: p.store.label,
      kind: p.store.kind,
      location: p.result.location,
      changed: p.result.changed
    })),
    ...(ctx.releaseUrl !== undefined && { releaseUrl: ctx.releaseUrl }),
    steps
  }
}

/** What the prepare stage hands to the publish stage. */
export function handoffOf(outcome: ReleaseOutcome, notes?: string): ReleaseHandoff {
  if (!outcome.name || !outcome.releaseDir || !outcome.manifestPath) {
    throw new SitecycleError(
      'nothing was built: there is no release to hand to the publish stage',
      'release'
    )
  }
  return {
    name: outcome.name,
    version: outcome.version,
    tag: outcome.tag,
    commit: outcome.commit,
    releaseDir: outcome.releaseDir,
    manifestPath: outcome.manifestPath,
    ...(notes !== undefined && { notes })
  }
}

/** Read a handoff file written by the prepare stage; SitecycleError naming the file when it is not one. */
export async function readHandoff(file: string): Promise<ReleaseHandoff> {
  let value: unknown
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'))
  } catch (e) {
    throw new SitecycleError(
      `cannot read the release handoff ${file}: ${(e as Error).message}; run the prepare stage first`,
      'input'
    )
  }
  const h = value as Partial<ReleaseHandoff> | null
  const fields = ['name', 'version', 'tag', 'commit', 'releaseDir', 'manifestPath'] as const
  const missing = fields.filter(f => typeof h?.[f] !== 'string' || h[f] === '')
  if (missing.length) {
    throw new SitecycleError(
      `the release handoff ${file} lacks ${missing.join(', ')}; run the prepare stage again`,
      'input'
    )
  }
  return h as ReleaseHandoff
}

function short(sha: string): string {
  return sha.slice(0, 12)
}

async function runTests(c: ReleaseContext): Promise<string> {
  const line = c.req.app.tests
  if (!line) {
    c.req.reporter.warn('no tests command configured (app.tests): releasing untested')
    c.tests = 'none'
    return 'no tests command (app.tests)'
  }
  const argv = splitCommandLine(line, 'app.tests')
  const command: Command = { argv, cwd: c.source }
  c.req.reporter.info(`   $ ${describeCommand(command)}`)
  const r = await c.exec.tryRun(command)
  const output = `${r.stdout}${r.stderr}`.trim().split('\n')
  if (r.code !== 0) {
    throw new SitecycleError(
      `the tests failed (${line}, exit code ${r.code}); nothing was built or tagged:\n${output.slice(-15).join('\n')}`,
      'release'
    )
  }
  c.tests = 'passed'
  return `passed: ${output[output.length - 1] || line}`
}

async function checkTree(c: ReleaseContext): Promise<string> {
  const ignore = [path.resolve(c.req.release.outDir), ...(c.req.ignorePaths ?? [])]
  const state = await readWorkTree(c.exec, c.source, ignore)
  if (state.changes.length === 0) return `${state.top}: clean`
  if (!c.req.allowDirty) throw new SitecycleError(dirtyTreeMessage(state), 'input')
  c.dirtyTree = state
  c.req.reporter.warn(
    `releasing from a work tree with ${state.changes.length} uncommitted change(s) (--allow-dirty): ${state.changes.slice(0, 5).join(', ')}; the manifest records it`
  )
  return `${state.top}: ${state.changes.length} uncommitted change(s), allowed (--allow-dirty)`
}

/** What the notes say about how the release was made, when it was not made the usual way. */
export function provenanceNotes(
  tests: 'passed' | 'skipped' | 'none',
  commit: string | null,
  dirty?: string[]
): string[] {
  const lines: string[] = []
  if (dirty) {
    const shown = dirty.slice(0, 10).join(', ')
    lines.push(
      `**Built from a work tree with uncommitted changes** (--allow-dirty): commit ${commit ? short(commit) : 'unknown'} plus ${shown}${dirty.length > 10 ? `, and ${dirty.length - 10} more` : ''}.`
    )
  }
  if (tests === 'skipped')
    lines.push('**Tests skipped** (--skip-tests): this release was not tested.')
  if (tests === 'none')
    lines.push('**No tests configured** (app.tests): this release was not tested.')
  return lines
}

async function finishManifest(c: ReleaseContext): Promise<string> {
  const b = c.built!
  const manifest = await readManifest(b.manifestPath)
  const dirty = c.dirtyTree?.changes
  const notes = [c.req.notes, ...provenanceNotes(c.tests, manifest.commit, dirty)]
    .filter(Boolean)
    .join('\n\n')
  await writeManifest(b.dir, {
    ...manifest,
    ...(notes && { notes }),
    tests: c.tests,
    dirty: dirty !== undefined,
    ...(dirty && { dirty_changes: dirty.slice(0, MAX_RECORDED_CHANGES) })
  })
  c.finalNotes = notes || undefined
  return `${b.manifestPath} (tests ${c.tests}${dirty ? ', dirty work tree' : ''}${c.req.notes ? ', with notes' : ''})`
}

/** A Python program printing the static version of the project in argv[1] (exit 3 when it has none). */
const PROJECT_VERSION_PROGRAM = projectVersionProgram

/**
 * The command that prints a project's version without building: `project.version`, or a dynamic
 * one as setuptools (`attr`, `file`), flit_core (the module's `__version__`) or hatchling
 * (`tool.hatch.version.path`) reads it; exit 3 when it cannot be told.
 */
export function projectVersionCommand(python: string, sourceDir: string): Command {
  return { argv: [python, '-I', '-c', PROJECT_VERSION_PROGRAM, sourceDir] }
}

/** The project's version as its metadata states it, without building; undefined when it cannot be told. */
export async function readProjectVersion(
  exec: Executor,
  sourceDir: string,
  python = DEFAULT_BUILD_PYTHON
): Promise<string | undefined> {
  const r = await exec.tryRun(projectVersionCommand(python, sourceDir))
  const version = r.stdout.trim()
  return r.code === 0 && version !== '' ? version : undefined
}

async function checkVersion(c: ReleaseContext): Promise<string> {
  const decided = c.decided!
  const head = await git.currentCommit(c.exec, c.source)
  if (c.commit !== undefined && c.commit !== head) {
    throw new SitecycleError(
      `the checkout moved from ${short(c.commit)} (built by the prepare stage) to ${short(head)}; release again from the start`,
      'release'
    )
  }
  c.commit = head
  const tags = await git.listTags(c.exec, c.source)
  const stored: Record<string, string[]> = {}
  for (const store of c.req.stores) stored[store.label] = await store.listVersions()
  const { previousTag } = checkNewerThanReleased(
    decided,
    { tags: tags.map(t => t.name), stored },
    c.rules
  )
  c.previousTag = previousTag
  const tagCommit = c.req.github
    ? await c.req.github.getTagCommit(decided.tag)
    : (tags.find(t => t.name === decided.tag)?.commit ?? null)
  c.tagAtHead = checkTagPlacement(decided.tag, tagCommit, head) === 'at-head'
  return `${decided.version} > ${previousTag ?? 'no earlier release'}; tag ${decided.tag} ${c.tagAtHead ? 'already on' : 'to be made on'} ${short(head)}`
}

/** The wheelhouse settings of the build, the index URL read from its (secret) variable. */
function wheelhouseOf(c: ReleaseContext): BuildReleaseOptions['wheelhouse'] {
  const w = c.req.release.wheelhouse
  if (!w) return undefined
  let indexUrl: string | undefined
  if (w.indexUrlEnv) {
    indexUrl = (c.req.env ?? process.env)[w.indexUrlEnv]
    if (!indexUrl) {
      throw new SitecycleError(
        `release.wheelhouse.index_url_env names ${w.indexUrlEnv}, which is not set: set it (from a secret) to the package index URL`,
        'config'
      )
    }
    c.req.reporter.addSecret(indexUrl)
  }
  return {
    findLinks: w.findLinks,
    ...(w.requirements !== undefined && { requirements: w.requirements }),
    ...(indexUrl !== undefined && { indexUrl })
  }
}

/** The source of an isolated build named by release.build (none: pip's own configuration). */
function buildSourceOf(c: ReleaseContext): Pick<BuildReleaseOptions, 'buildSource'> {
  const b = c.req.release.build
  let indexUrl: string | undefined
  if (b.indexUrlEnv) {
    indexUrl = (c.req.env ?? process.env)[b.indexUrlEnv]
    if (!indexUrl) {
      throw new SitecycleError(
        `release.build.index_url_env names ${b.indexUrlEnv}, which is not set: set it (from a secret) to the package index URL`,
        'config'
      )
    }
    c.req.reporter.addSecret(indexUrl)
  }
  if (b.findLinks.length === 0 && indexUrl === undefined) return {}
  return { buildSource: { findLinks: b.findLinks, ...(indexUrl !== undefined && { indexUrl }) } }
}

async function build(c: ReleaseContext): Promise<string> {
  const decided = c.decided!
  const wheelhouse = wheelhouseOf(c)
  const built = await (c.req.build ?? buildRelease)({
    sourceDir: c.source,
    outDir: c.req.release.outDir,
    python: c.req.python ?? DEFAULT_BUILD_PYTHON,
    commit: c.commit ?? null,
    isolation: c.req.release.build.isolation,
    ...buildSourceOf(c),
    ...(wheelhouse && { wheelhouse }),
    onProgress: line => c.req.reporter.info(`   ${line}`)
  })
  const m = built.manifest
  try {
    checkBuiltVersion(decided.version, m.version)
    if (normalizeProjectName(m.name) !== normalizeProjectName(c.req.app.package)) {
      throw new SitecycleError(
        `the built package is ${m.name}, but app.package is ${c.req.app.package}; set app.package to the distribution name`,
        'release'
      )
    }
  } catch (e) {
    // The step failed, so its undo will not run: remove what it built here.
    await fs.rm(built.dir, { recursive: true, force: true })
    throw e
  }
  c.builtHere = true
  c.built = {
    name: m.name,
    version: m.version,
    dir: built.dir,
    manifestPath: built.manifestPath,
    files: m.files.map(f => path.join(built.dir, f.name))
  }
  return `${m.files.map(f => f.name).join(', ')} in ${built.dir}`
}

async function resume(c: ReleaseContext): Promise<string> {
  const h = c.req.handoff!
  const manifest = await readManifest(h.manifestPath)
  checkBuiltVersion(h.version, manifest.version)
  c.decided = { version: h.version, tag: git.checkTagName(h.tag), source: 'input' }
  c.commit = h.commit
  c.finalNotes = manifest.notes
  c.built = {
    name: manifest.name,
    version: manifest.version,
    dir: h.releaseDir,
    manifestPath: h.manifestPath,
    files: manifest.files.map(f => path.join(h.releaseDir, f.name))
  }
  for (const file of c.built.files) await fs.access(file)
  return `${manifest.name} ${manifest.version} from ${h.releaseDir}`
}

async function publish(c: ReleaseContext): Promise<string> {
  const b = c.built!
  if (c.req.stores.length === 0) {
    c.req.reporter.warn(`no store configured (release.stores): the release stays in ${b.dir}`)
    return 'no store configured'
  }
  for (const store of c.req.stores) {
    try {
      const result = await store.publish(
        { dir: b.dir, name: b.name, version: b.version },
        c.req.reporter
      )
      c.published.push({ store, result })
    } catch (e) {
      // This step failed, so its undo will not run: take back what it published so far.
      await unpublishAll(c).catch(ue =>
        c.req.reporter.warn(`could not take back every earlier publish: ${(ue as Error).message}`)
      )
      throw new SitecycleError(
        `publishing to ${store.label} failed: ${(e as Error).message}`,
        e instanceof SitecycleError ? e.kind : 'release'
      )
    }
  }
  return c.published
    .map(p => `${p.store.label}: ${p.result.location}${p.result.changed ? '' : ' (already there)'}`)
    .join('; ')
}

/** Unpublish, newest first, every version this run published (never one that was there before). */
async function unpublishAll(c: ReleaseContext): Promise<void> {
  const failures: string[] = []
  for (const p of [...c.published].reverse()) {
    if (!p.result.changed) continue
    try {
      await p.store.unpublish(c.built!.version, c.req.reporter)
    } catch (e) {
      failures.push(`${p.store.label}: ${(e as Error).message}`)
    }
  }
  c.published = []
  if (failures.length)
    throw new SitecycleError(`unpublish failed in ${failures.join('; ')}`, 'release')
}

async function githubRelease(c: ReleaseContext): Promise<string> {
  const gh = c.req.github!
  const { tag } = c.decided!
  const b = c.built!
  if (c.req.stores.some(s => s.kind === 'github-release')) {
    // The github-release store made the release with its assets: do not make a second one.
    const existing = await gh.getReleaseByTag(tag)
    if (!existing) {
      throw new SitecycleError(
        `the github-release store published ${tag}, but ${gh.repository} has no published release for it`,
        'release'
      )
    }
    c.releaseUrl = existing.url
    return `${existing.url} (made by the github-release store)`
  }
  const generated = await gh.generateNotes(tag, c.previousTag, c.commit)
  const body = [c.finalNotes ?? c.req.notes, generated.body].filter(Boolean).join('\n\n')
  const draft = await gh.createRelease({
    tag,
    name: generated.name || `${b.name} ${b.version}`,
    body,
    draft: true,
    prerelease: isPrerelease(pep440Of(b.version)),
    target: c.commit
  })
  c.githubReleaseId = draft.id
  try {
    for (const file of [
      ...b.files,
      path.join(b.dir, MANIFEST_FILE),
      path.join(b.dir, SHA256SUMS_FILE)
    ]) {
      await gh.uploadAsset(draft.id, file, path.basename(file))
    }
    const published = await gh.publishRelease(draft.id)
    c.releaseUrl = published.url
    return published.url
  } catch (e) {
    // The step failed, so its undo will not run: the draft (never visible) goes.
    await gh
      .deleteRelease(draft.id)
      .catch(de =>
        c.req.reporter.warn(
          `could not delete the draft release ${draft.id}: ${(de as Error).message}`
        )
      )
    c.githubReleaseId = undefined
    throw e
  }
}
