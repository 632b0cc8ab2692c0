/**
 * `sitecycle attempt start|promote|cancel|status|plan <preview>`: an upgrade attempt, one
 * subcommand each with its own options; the pipeline called, the result printed (JSON with
 * --json), the exit code chosen.
 */
import { Option, type Command } from 'commander'
import { getSite, loadConfig } from '../config/load-config.js'
import type { SitecycleConfig } from '../config/model.js'
import { parseDuration } from '../config/schema.js'
import {
  AttemptFailed,
  attemptStatus,
  cancelAttempt,
  describeAttempt,
  promoteAttempt,
  startAttempt,
  type AttemptOutcome,
  type AttemptRequest
} from '../pipelines/attempt.js'
import { syncSource } from '../pipelines/sync.js'
import { SitecycleError } from '../util/errors.js'
import {
  act,
  EXIT,
  printError,
  siteAndExecutor,
  sourceExecutor,
  type CliContext
} from './context.js'
import {
  configOption,
  jsonOption,
  lockWaitOption,
  parseVersion,
  quietOption,
  siteCommandOptions,
  type ConfigOptions,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export type AttemptOptions = HostOptions & JsonOption & LockWaitOption

export interface AttemptStartOptions extends AttemptOptions {
  release?: string
  version?: string
  message?: string
}

export interface AttemptPromoteOptions extends AttemptOptions {
  keepOld?: number
}

/** `attempt plan <preview>`: the two sites of an attempt, from the config file alone. */
export function attemptPlan(
  config: SitecycleConfig,
  name: string
): { preview: string; production: string } {
  const preview = getSite(config, name)
  return { preview: preview.name, production: syncSource(config, preview).name }
}

/** Seconds of `--keep-old`. */
export function keepOldSeconds(value: string): number {
  const seconds = parseDuration(value)
  if (seconds === undefined)
    throw new SitecycleError(
      `--keep-old ${value}: expected a duration such as 7d, 12h or 1w2d (units s, m, h, d, w)`,
      'usage'
    )
  return seconds
}

function print(o: AttemptOutcome, json: boolean, out: (s: string) => void): void {
  out(json ? JSON.stringify({ status: o.phase, ...o }, null, 2) : describeAttempt(o))
}

/** A subcommand working on the preview: its options, and its action given the request. */
function subcommand(
  attempt: Command,
  ctx: CliContext,
  name: string,
  description: string,
  options: (cmd: Command) => void,
  run: (req: AttemptRequest, o: AttemptOptions) => Promise<number>
): void {
  const cmd = attempt
    .command(name)
    .description(description)
    .argument('<preview>', 'the preview site, as named in the config')
  options(cmd)
  lockWaitOption(cmd)
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (previewName: string, o: AttemptOptions) => {
      const t = await siteAndExecutor(ctx, o, previewName)
      const preview = getSite(t.config, previewName)
      const production = syncSource(t.config, preview)
      const req: AttemptRequest = {
        config: t.config,
        preview,
        previewExec: t.exec,
        productionExec: sourceExecutor(ctx, o, t, production),
        reporter: ctx.reporter,
        ...(o.lockWait !== undefined && { lockWait: o.lockWait })
      }
      try {
        return await run(req, o)
      } catch (e) {
        if (!(e instanceof AttemptFailed)) throw e
        printError(ctx, e.message)
        if (o.json)
          ctx.out(
            JSON.stringify(
              { status: 'failed', failedStep: e.failedStep, error: e.message, ...e.outcome },
              null,
              2
            )
          )
        // A promote stopped half way (its undo did not finish) needs a look; otherwise run again.
        return e.outcome.phase === 'promoting' ? EXIT.needsAttention : EXIT.failed
      }
    })
  )
}

export function registerAttempt(program: Command, ctx: CliContext): void {
  const attempt = program
    .command('attempt')
    .summary('an upgrade attempt on a preview: start, promote, cancel, status, plan')
    .description(
      'an upgrade attempt: start syncs the preview from its production, deploys the release to it, freezes production with a link to the preview and syncs once more; promote makes the preview production (the old production becomes old, frozen, kept a while); cancel unfreezes production. Each resumes an interrupted run'
    )
  subcommand(
    attempt,
    ctx,
    'start',
    'sync the preview from its production, deploy the release to it, freeze production with a link to the preview, sync once more',
    cmd =>
      cmd
        .option('--release <path>', 'release file, release folder or folder of releases')
        .addOption(
          new Option('--version <version>', 'the version to deploy (default: newest)').argParser(
            parseVersion('version')
          )
        )
        .option('--message <text>', "the sentence production's maintenance page shows"),
    async (req, options) => {
      const o = options as AttemptStartOptions
      print(
        await startAttempt({
          ...req,
          ...(o.release !== undefined && { release: o.release }),
          ...(o.version !== undefined && { version: o.version }),
          ...(o.message !== undefined && { message: o.message })
        }),
        Boolean(o.json),
        ctx.out
      )
      return EXIT.ok
    }
  )
  subcommand(
    attempt,
    ctx,
    'promote',
    "make the preview production: its vhost takes production's address; the old production becomes old, frozen and kept (--keep-old)",
    cmd =>
      cmd.addOption(
        new Option(
          '--keep-old <duration>',
          'how long the old production is kept, such as 7d or 12h (default 7d)'
        ).argParser(keepOldSeconds)
      ),
    async (req, options) => {
      const o = options as AttemptPromoteOptions
      print(
        await promoteAttempt({
          ...req,
          ...(o.keepOld !== undefined && { keepOldSeconds: o.keepOld })
        }),
        Boolean(o.json),
        ctx.out
      )
      return EXIT.ok
    }
  )
  subcommand(
    attempt,
    ctx,
    'cancel',
    'give the attempt up: production is unfrozen',
    () => undefined,
    async (req, o) => {
      print(await cancelAttempt(req), Boolean(o.json), ctx.out)
      return EXIT.ok
    }
  )
  subcommand(
    attempt,
    ctx,
    'status',
    "the attempt's phase, release, sites and history",
    () => undefined,
    async (req, o) => {
      const record = await attemptStatus(req)
      if (o.json) ctx.out(JSON.stringify(record ?? null, null, 2))
      else if (!record) ctx.out(`site ${req.preview.name} has no upgrade attempt`)
      else
        ctx.out(
          [
            `attempt ${record.id}: ${record.phase}`,
            `  release   ${record.version ?? record.asked.version ?? record.asked.release ?? '?'} (production had ${record.previousVersion ?? 'nothing'})`,
            `  preview   ${record.preview} ${record.previewUrl}`,
            `  production ${record.production} ${record.productionUrl}`,
            `  started   ${record.startedAt}`,
            ...(record.removeAfter ? [`  old kept  until ${record.removeAfter}`] : []),
            ...record.history.map(h => `  ${h.at}  ${h.phase}  (${h.run})`)
          ].join('\n')
        )
      return EXIT.ok
    }
  )
  const plan = attempt
    .command('plan')
    .description(
      'print the preview and production site names as JSON, from the config alone (for a workflow)'
    )
    .argument('<preview>', 'the preview site, as named in the config')
  quietOption(configOption(plan)).action(
    act(ctx, async (name: string, o: ConfigOptions) => {
      ctx.out(JSON.stringify(attemptPlan(await loadConfig(o.config), name)))
      return EXIT.ok
    })
  )
}
