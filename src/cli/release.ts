/**
 * `sitecycle release`: the release pipeline on this machine with the config's `release:` settings
 * (defaults when it has none), its stores plus `--store PATH`, tagging with git.
 */
import { writeFile } from 'node:fs/promises'
import { dirname, resolve as resolvePath } from 'node:path'
import { Option, type Command } from 'commander'
import { defaultReleaseConfig, loadConfig } from '../config/load-config.js'
import type { StoreConfig } from '../config/model.js'
import { createExecutor } from '../hosts/create-executor.js'
import type { Executor } from '../hosts/executor.js'
import { handoffOf, ReleaseFailed, runRelease } from '../pipelines/release.js'
import { sitecycleCheckoutRoot } from '../releases/work-tree.js'
import { createStore, type StoreDeps } from '../stores/registry.js'
import { SitecycleError } from '../util/errors.js'
import { act, EXIT, reportFailedPipeline, type CliContext } from './context.js'
import {
  configOption,
  jsonOption,
  parseVersion,
  quietOption,
  type ConfigOptions,
  type JsonOption
} from './options.js'

export interface ReleaseOptions extends ConfigOptions, JsonOption {
  store?: string
  version?: string
  notes?: string
  skipTests?: boolean
  allowDirty?: boolean
  tag?: string
  handoff?: string
}

export function registerRelease(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('release')
    .summary('run the tests, decide the version, build, tag and publish')
    .description(
      'run the tests, decide the version, build, tag (git) and publish to the stores of release: in the config (and --store PATH)'
    )
    .addOption(
      new Option(
        '--version <version>',
        'the version to release (default: decided by release: in the config)'
      ).argParser(parseVersion('version'))
    )
    .option('--tag <tag>', 'the tag that started the run; its version is released')
    .option('--notes <text>', 'release notes (Markdown), kept in the manifest')
    .option('--skip-tests', 'do not run app.tests before releasing; recorded in the manifest')
    .option(
      '--allow-dirty',
      'release from a work tree with uncommitted changes; recorded in the manifest and the notes'
    )
    .option('--store <path>', 'also publish to the directory store at PATH on this machine')
    .option(
      '--handoff <file>',
      'build only (tests to manifest) and write FILE for the publish action'
    )
  jsonOption(cmd)
  quietOption(configOption(cmd)).action(
    act(ctx, async (o: ReleaseOptions) => releaseCommand(ctx, o))
  )
}

async function releaseCommand(ctx: CliContext, o: ReleaseOptions): Promise<number> {
  const json = Boolean(o.json)
  const config = await loadConfig(o.config)
  const settings = config.release ?? defaultReleaseConfig(dirname(config.file))
  const executors: Executor[] = []
  const deps: StoreDeps = {
    executorFor: host => {
      const e = createExecutor(host, config.ssh)
      executors.push(e)
      return e
    },
    env: process.env
  }
  try {
    const storeConfigs: StoreConfig[] = [...settings.stores]
    if (o.store !== undefined)
      storeConfigs.push({ type: 'directory', path: resolvePath(o.store), host: { kind: 'local' } })
    const handoffFile = o.handoff
    // sitecycle checked out inside the application's work tree (the reusable workflow) is not
    // the application's: it does not make the tree dirty.
    const sitecycleRoot = sitecycleCheckoutRoot()
    const outcome = await runRelease({
      app: config.app,
      release: settings,
      // With --handoff only the build happens here; the publish action checks and fills the stores
      // (it holds the tokens a github-release or artifact store needs).
      stores: handoffFile ? [] : storeConfigs.map(s => createStore(s, deps)),
      reporter: ctx.reporter,
      version: o.version,
      tag: o.tag,
      notes: o.notes,
      skipTests: Boolean(o.skipTests),
      allowDirty: Boolean(o.allowDirty),
      ...(sitecycleRoot !== undefined && { ignorePaths: [sitecycleRoot] }),
      stage: handoffFile ? 'prepare' : 'all'
    })
    if (handoffFile)
      await writeFile(handoffFile, `${JSON.stringify(handoffOf(outcome, o.notes), null, 2)}\n`)
    if (json) ctx.out(JSON.stringify(outcome, null, 2))
    else {
      const where = outcome.published.map(p => p.location).join(', ')
      ctx.out(
        handoffFile
          ? `built ${outcome.name} ${outcome.version} into ${outcome.releaseDir}; handoff written to ${handoffFile}`
          : `released ${outcome.name} ${outcome.version} as tag ${outcome.tag}${where ? `, published to ${where}` : ''}`
      )
    }
    return EXIT.ok
  } catch (e) {
    if (!(e instanceof ReleaseFailed)) throw e
    const code = reportFailedPipeline(ctx, e, json)
    // A dirty tree, a version refused, a build backend nobody configured: input, nothing touched.
    const badInput =
      ['check-tree', 'decide-version', 'check-version'].includes(e.failedStep) ||
      (e.cause instanceof SitecycleError && ['config', 'input'].includes(e.cause.kind))
    return badInput ? EXIT.input : code
  } finally {
    for (const e of executors) await e.close().catch(() => undefined)
  }
}
