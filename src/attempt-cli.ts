/**
 * The CLI's `attempt start|promote|cancel|status <preview>` and `remove <site>`: options read and
 * checked, the pipeline called, the result printed (JSON with --json), the exit code chosen.
 */
import { getSite } from './config/load-config.js'
import type { SitecycleConfig, SiteConfig } from './config/model.js'
import { parseDuration } from './config/schema.js'
import type { Executor } from './hosts/executor.js'
import {
  AttemptFailed,
  attemptStatus,
  cancelAttempt,
  describeAttempt,
  promoteAttempt,
  startAttempt,
  type AttemptOutcome,
  type AttemptRequest
} from './pipelines/attempt.js'
import { syncSource } from './pipelines/sync.js'
import { removeOldSite } from './pipelines/remove-old.js'
import { SitecycleError } from './util/errors.js'
import type { StreamReporter } from './util/reporter.js'

interface CliValues {
  values: Record<string, string | boolean | undefined>
}

export interface AttemptCommand {
  cli: CliValues
  /** start | promote | cancel | status */
  sub: string | undefined
  config: SitecycleConfig
  /** The preview's name. */
  name: string | undefined
  /** An executor on the preview's host. */
  exec: Executor
  /** An executor on production's host (the preview's when they share it). */
  productionExec: (site: SiteConfig) => Executor
  reporter: StreamReporter
  json: boolean
  out: (s: string) => void
  lockWait?: number
}

const SUBS = ['start', 'promote', 'cancel', 'status', 'plan'] as const

/** `attempt plan <preview>`: the two sites of an attempt, from the config file alone. */
export function attemptPlan(
  config: SitecycleConfig,
  name: string | undefined
): { preview: string; production: string } {
  if (!name)
    throw new SitecycleError(
      `attempt plan: which preview site? e.g. sitecycle attempt plan v2`,
      'usage'
    )
  const preview = getSite(config, name)
  return { preview: preview.name, production: syncSource(config, preview).name }
}

/** Seconds of `--keep-old`, or undefined when not given. */
export function keepOldSeconds(value: unknown): number | undefined {
  if (value === undefined) return undefined
  const seconds = typeof value === 'string' ? parseDuration(value) : undefined
  if (seconds === undefined)
    throw new SitecycleError(
      `--keep-old ${String(value)}: expected a duration such as 7d, 12h or 1w2d (units s, m, h, d, w)`,
      'usage'
    )
  return seconds
}

function print(o: AttemptOutcome, json: boolean, out: (s: string) => void): void {
  out(json ? JSON.stringify({ status: o.phase, ...o }, null, 2) : describeAttempt(o))
}

/** Run `sitecycle attempt ...`; returns the exit code. */
export async function attemptCommand(c: AttemptCommand): Promise<number> {
  if (!c.sub || !(SUBS as readonly string[]).includes(c.sub))
    throw new SitecycleError(
      `attempt: expected one of ${SUBS.join(', ')}, e.g. sitecycle attempt start v2 --version 2.0.0`,
      'usage'
    )
  if (!c.name)
    throw new SitecycleError(
      `attempt ${c.sub}: which preview site? e.g. sitecycle attempt ${c.sub} v2`,
      'usage'
    )
  const preview = getSite(c.config, c.name)
  const production = syncSource(c.config, preview)
  const keepOld = keepOldSeconds(c.cli.values['keep-old'])
  const req: AttemptRequest = {
    config: c.config,
    preview,
    previewExec: c.exec,
    productionExec: c.productionExec(production),
    reporter: c.reporter,
    ...(c.lockWait !== undefined && { lockWait: c.lockWait })
  }
  try {
    switch (c.sub) {
      case 'start': {
        const o = await startAttempt({
          ...req,
          ...(typeof c.cli.values.release === 'string' && { release: c.cli.values.release }),
          ...(typeof c.cli.values.version === 'string' && { version: c.cli.values.version }),
          ...(typeof c.cli.values.message === 'string' && { message: c.cli.values.message })
        })
        print(o, c.json, c.out)
        return 0
      }
      case 'promote': {
        const o = await promoteAttempt({
          ...req,
          ...(keepOld !== undefined && { keepOldSeconds: keepOld })
        })
        print(o, c.json, c.out)
        return 0
      }
      case 'cancel': {
        print(await cancelAttempt(req), c.json, c.out)
        return 0
      }
      default: {
        const record = await attemptStatus(req)
        if (c.json) c.out(JSON.stringify(record ?? null, null, 2))
        else if (!record) c.out(`site ${preview.name} has no upgrade attempt`)
        else
          c.out(
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
        return 0
      }
    }
  } catch (e) {
    if (!(e instanceof AttemptFailed)) throw e
    process.stderr.write(c.reporter.filter.apply(`sitecycle: ${e.message}`) + '\n')
    if (c.json)
      c.out(
        JSON.stringify(
          { status: 'failed', failedStep: e.failedStep, error: e.message, ...e.outcome },
          null,
          2
        )
      )
    // A promote stopped half way (its undo did not finish) needs a look; otherwise run again.
    return e.outcome.phase === 'promoting' ? 4 : 1
  }
}

export interface RemoveCommand {
  cli: CliValues
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: StreamReporter
  json: boolean
  out: (s: string) => void
  lockWait?: number
}

/** Run `sitecycle remove <site>`; returns the exit code. */
export async function removeCommand(c: RemoveCommand): Promise<number> {
  const o = await removeOldSite({
    config: c.config,
    site: c.site,
    exec: c.exec,
    reporter: c.reporter,
    now: Boolean(c.cli.values.now),
    reload: Boolean(c.cli.values.reload),
    ...(c.lockWait !== undefined && { lockWait: c.lockWait })
  })
  c.out(
    c.json
      ? JSON.stringify(o, null, 2)
      : `site ${o.site} removed${o.database ? `; database ${o.database} left in place` : ''}`
  )
  return 0
}
