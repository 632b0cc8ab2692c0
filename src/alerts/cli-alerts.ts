/**
 * Alerts of the CLI run by cron: `sitecycle <command> <site> --unattended` (or with
 * SITECYCLE_UNATTENDED=1) alerts as the config's `alerts:` says when the command ends non-zero,
 * with the error the CLI printed; a success closes the open issue of that site and command. The
 * command itself runs exactly as without alerts (same output, same exit code).
 */
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load-config.js'
import { StreamReporter } from '../util/reporter.js'
import type { AlertedOperation } from './alert-around.js'
import { isUnattended } from './unattended.js'

/** The CLI's main(argv, out) → exit code. */
export type CliMain = (argv: string[], out?: (s: string) => void) => Promise<number>

/** How many of the CLI's last stderr lines an alert quotes. */
const ERROR_LINES = 20

/** A non-zero exit of the CLI, with what it printed on stderr. */
class CliFailed extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly failedStep?: string
  ) {
    super(message)
  }
}

/** Commands whose second word is the site (`maintenance on v1`). */
const SITE_AFTER_ACTION = new Set(['maintenance'])

/**
 * Run the CLI's `main` with alerts when the run is unattended and the config has `alerts:`;
 * otherwise just run it. Returns main's exit code.
 */
export async function runCliWithAlerts(
  argv: string[],
  main: CliMain,
  options: {
    env?: NodeJS.ProcessEnv
    out?: (s: string) => void
    deps?: AlertedOperation<number>['deps']
  } = {}
): Promise<number> {
  const env = options.env ?? process.env
  const { values, positionals } = parseArgs({
    args: argv,
    strict: false,
    allowPositionals: true,
    options: { config: { type: 'string', short: 'c' }, unattended: { type: 'boolean' } }
  })
  const command = positionals[0]
  const site = SITE_AFTER_ACTION.has(command ?? '') ? positionals[2] : positionals[1]
  if (!command || !site || !isUnattended(env, values.unattended === true))
    return main(argv, options.out)
  const config = await loadConfig(
    typeof values.config === 'string' ? values.config : 'sitecycle.yml'
  ).catch(() => undefined)
  // Without a readable config there is nothing to alert with: main reports the config error.
  if (!config?.alerts) return main(argv, options.out)

  const captured: string[] = []
  const reporter = new StreamReporter()
  const run = async (): Promise<number> => {
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured.push(
        ...String(chunk)
          .split('\n')
          .filter(l => l !== '')
      )
      if (captured.length > 200) captured.splice(0, captured.length - 200)
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest)
    }) as typeof process.stderr.write
    let code: number
    try {
      code = await main(argv, options.out)
    } finally {
      process.stderr.write = write
    }
    if (code !== 0) throw failureOf(code, captured)
    return code
  }
  // Loaded only now: a run that does not alert never reads the GitHub and SMTP clients.
  const { withAlerts } = await import('./alert-around.js')
  try {
    return await withAlerts(
      {
        config,
        op: command,
        site,
        env,
        reporter,
        unattended: values.unattended === true,
        summary: () => `\`sitecycle ${command} ${site}\` on ${hostname()} exited 0`,
        ...(options.deps && { deps: options.deps })
      },
      run
    )
  } catch (error) {
    if (error instanceof CliFailed) return error.code
    throw error
  }
}

/** The error lines the CLI printed (`sitecycle: ...`, warnings), else its last lines. */
function failureOf(code: number, lines: string[]): CliFailed {
  const errors = lines.filter(l => /^(sitecycle: |warning: )/.test(l))
  const shown = (errors.length > 0 ? errors : lines).slice(-ERROR_LINES)
  const text = shown.join('\n') || `the command exited ${code} without a message`
  const step = /at step '([^']+)'/.exec(text)?.[1]
  return new CliFailed(code, `${text}\n(exit code ${code})`, step)
}
