/** `sitecycle deploy <site>`: install a release, verify it in the idle slot, switch, roll back on failure. */
import { resolve as resolvePath } from 'node:path'
import { Option, type Command } from 'commander'
import { deploy, type DeployRequest } from '../pipelines/deploy.js'
import {
  DEFAULT_HOLD_MINUTES,
  DEPLOY_STAGES,
  prepareStage,
  resumeStage,
  stageRun,
  type DeployStage,
  type StageOutcome
} from '../pipelines/deploy-stages.js'
import { formatDryRun, planDeploy } from '../pipelines/dry-run.js'
import { SitecycleError } from '../util/errors.js'
import { act, EXIT, printOutcome, siteAndExecutor, type CliContext } from './context.js'
import {
  allowBadOption,
  dryRunOption,
  jsonOption,
  lockWaitOption,
  parseVersion,
  siteCommandOptions,
  type AllowBadOption,
  type DryRunOption,
  type HostOptions,
  type JsonOption,
  type LockWaitOption
} from './options.js'

export interface DeployOptions
  extends HostOptions, JsonOption, LockWaitOption, DryRunOption, AllowBadOption {
  release?: string
  version?: string
  store?: string
  stage?: DeployStage
  run?: string
  hold?: number
}

/** The options only the prepare stage (or the one-step deploy) takes. */
const PREPARE_ONLY = ['release', 'version', 'store', 'dryRun', 'allowBad', 'hold'] as const
const FLAG: Record<(typeof PREPARE_ONLY)[number], string> = {
  release: '--release',
  version: '--version',
  store: '--store',
  dryRun: '--dry-run',
  allowBad: '--allow-bad',
  hold: '--hold'
}

function parseHold(value: string): number {
  const minutes = Number(value)
  if (!/^\d+$/.test(value) || minutes < 1 || minutes > 1440)
    throw new SitecycleError(`--hold ${value}: give whole minutes, 1 to 1440`, 'usage')
  return minutes
}

export function registerDeploy(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('deploy')
    .description('install a release, verify it in the idle slot, switch, roll back on failure')
    .argument('<site>', 'the site, as named in the config')
    .option('--release <path>', 'release file, release folder or folder of releases')
    .addOption(
      new Option(
        '--version <version>',
        'the version to deploy from a folder of releases or a store (default: newest)'
      ).argParser(parseVersion('version'))
    )
    .option(
      '--store <path>',
      "deploy from the directory store at PATH on this machine (default: the site's store)"
    )
  lockWaitOption(cmd)
  dryRunOption(
    cmd,
    'fetch and verify the release, render the config with its secrets, read-only preflight'
  )
  allowBadOption(cmd, 'deploy')
  cmd
    .addOption(
      new Option(
        '--stage <stage>',
        'run one stage of the deploy (docs/deploy-in-stages.md): prepare (up to verify-idle; the lock then held by the run), switch, finish, or undo (whichever stage was reached)'
      ).choices(DEPLOY_STAGES)
    )
    .option(
      '--run <name>',
      'with --stage outside GitHub Actions: the run that holds the deploy between stages, the same to every stage (in Actions: the workflow run)'
    )
    .addOption(
      new Option(
        '--hold <minutes>',
        `with --stage prepare: how long the run holds the lock for its next stage (default ${DEFAULT_HOLD_MINUTES})`
      ).argParser(parseHold)
    )
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: DeployOptions) => {
      if (o.stage === undefined && (o.run !== undefined || o.hold !== undefined))
        throw new SitecycleError(
          `${o.run !== undefined ? '--run' : '--hold'}: only a deploy in stages takes it (--stage)`,
          'usage'
        )
      if (o.stage !== undefined && o.stage !== 'prepare') {
        const misplaced = PREPARE_ONLY.filter(k => o[k] !== undefined && o[k] !== false)
        if (misplaced.length)
          throw new SitecycleError(
            `${misplaced.map(k => FLAG[k]).join(', ')}: given to --stage prepare, not to --stage ${o.stage}`,
            'usage'
          )
      }
      if (o.stage !== undefined && o.dryRun)
        throw new SitecycleError(
          '--dry-run: a deploy in stages has none; dry-run the one-step deploy',
          'usage'
        )
      const run = o.stage !== undefined ? stageRun(process.env, o.run) : undefined
      const t = await siteAndExecutor(ctx, o, name)
      if (o.stage !== undefined && o.stage !== 'prepare') {
        const outcome = await resumeStage({ ...t, reporter: ctx.reporter, run: run! }, o.stage)
        printStageOutcome(outcome, Boolean(o.json), ctx.out)
        return EXIT.ok
      }
      const request: DeployRequest = {
        ...t,
        reporter: ctx.reporter,
        release: o.release,
        version: o.version,
        ...(o.store !== undefined && {
          store: {
            type: 'directory' as const,
            path: resolvePath(o.store),
            host: { kind: 'local' as const }
          }
        }),
        lockWait: o.lockWait,
        allowBad: Boolean(o.allowBad)
      }
      if (o.dryRun) {
        const plan = await planDeploy(request)
        ctx.out(o.json ? JSON.stringify(plan, null, 2) : formatDryRun(plan))
        return EXIT.ok
      }
      if (o.stage === 'prepare') {
        const outcome = await prepareStage({ ...request, run: run!, holdMinutes: o.hold })
        printStageOutcome(outcome, Boolean(o.json), ctx.out)
        return EXIT.ok
      }
      printOutcome(await deploy(request), Boolean(o.json), ctx.out)
      return EXIT.ok
    })
  )
}

/** A stage's outcome: as a deploy's, and after prepare where the idle slot answers. */
function printStageOutcome(o: StageOutcome, json: boolean, out: (s: string) => void): void {
  if (json) {
    out(JSON.stringify(o, null, 2))
    return
  }
  printOutcome(o, false, out)
  if (o.idle)
    out(
      `the new release answers in the idle slot: ${o.idle.url} with header ${o.idle.header}, from the site's host (sitecycle idle ${o.site} -- COMMAND runs a test against it from here)`
    )
}
