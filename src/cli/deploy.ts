/** `sitecycle deploy <site>`: install a release, verify it in the idle slot, switch, roll back on failure. */
import { resolve as resolvePath } from 'node:path'
import { Option, type Command } from 'commander'
import { deploy, type DeployRequest } from '../pipelines/deploy.js'
import { formatDryRun, planDeploy } from '../pipelines/dry-run.js'
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
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: DeployOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
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
      printOutcome(await deploy(request), Boolean(o.json), ctx.out)
      return EXIT.ok
    })
  )
}
