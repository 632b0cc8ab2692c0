/**
 * One operation of an unattended run, with its alerts: a failure (a thrown error) is mailed
 * and/or reported in the issue of its site and operation, then re-thrown; a success closes that
 * issue. In an attended run, or without `alerts:` in the config, the operation just runs.
 */
import type { SitecycleConfig } from '../config/model.js'
import type { Reporter } from '../util/reporter.js'
import { describeError } from './alert-report.js'
import { Alerter, isUnattended, type AlerterDeps } from './alerter.js'

/** Which operation runs, and how alerts reach out. */
export interface AlertedOperation<T> {
  config: SitecycleConfig
  op: string
  site: string
  host?: string
  env: NodeJS.ProcessEnv
  reporter: Reporter
  /** The run's secret filter. */
  redact?: (text: string) => string
  /** `--unattended` was given (the environment can say so too). */
  unattended?: boolean
  /** One line saying what a successful run did (for the closing comment). */
  summary: (result: T) => string
  /**
   * How a returned result ends the operation (default: it succeeded). A stage of a deploy in
   * stages with more to come is `pending` (nothing sent); one that undid the deploy `failed`,
   * with the error to report.
   */
  settle?: (result: T) => 'succeeded' | 'pending' | { failed: unknown }
  /** Replacements for tests: the GitHub fetch, the mail transport, SMTP settings. */
  deps?: Pick<AlerterDeps, 'fetch' | 'transport' | 'smtp' | 'github'>
}

/** Run `operation` with alerts on failure and success (see the module comment). */
export async function withAlerts<T>(
  settings: AlertedOperation<T>,
  operation: () => Promise<T>
): Promise<T> {
  const alerts = settings.config.alerts
  if (!alerts || !isUnattended(settings.env, settings.unattended)) return operation()
  const alerter = new Alerter(
    alerts,
    {
      env: settings.env,
      reporter: settings.reporter,
      ...(settings.redact && { redact: settings.redact }),
      ...settings.deps
    },
    settings.config
  )
  const where = {
    op: settings.op,
    site: settings.site,
    ...(settings.host !== undefined && { host: settings.host })
  }
  let result: T
  try {
    result = await operation()
  } catch (error) {
    await alerter.failed({ ...where, ...describeError(error) })
    throw error
  }
  const settled = settings.settle?.(result) ?? 'succeeded'
  if (settled === 'succeeded')
    await alerter.succeeded({ ...where, summary: settings.summary(result) })
  else if (settled !== 'pending')
    await alerter.failed({ ...where, ...describeError(settled.failed) })
  return result
}
