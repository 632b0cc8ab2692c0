/**
 * The deploy pipeline: a release file (checked against its manifest) installed into a fresh
 * virtualenv beside the live one, configured, started in the idle slot, verified there before
 * any user reaches it, switched in with one rename, verified again as users see it, and undone
 * in reverse on any failure so the previous release serves again.
 */
import { basename } from 'node:path'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { apacheConfigTest } from '../commands/apache.js'
import { changeMode, makeDirs, removeTree } from '../commands/files.js'
import * as py from '../commands/python.js'
import { FREE_SPACE } from '../commands/host-scripts.js'
import type { Executor } from '../hosts/executor.js'
import { checkArchive } from '../releases/archive-check.js'
import { resolveRelease, type ResolvedRelease } from '../releases/resolve-release.js'
import { satisfiesRequiresPython } from '../releases/version.js'
import { EMPTY_RELEASE, siteLayout, type Slot } from '../sites/layout.js'
import {
  describeProbe,
  listReleases,
  pointSlot,
  probeHealth,
  readSiteState,
  requireInitialized,
  restartSlotGroup,
  switchLiveSlot,
  type SiteState
} from '../sites/site-state.js'
import { renderConfigFile, splitCommandLine, type RenderedConfig } from '../sites/render-config.js'
import { SitecycleError } from '../util/errors.js'
import type { Reporter } from '../util/reporter.js'
import {
  withSiteOperation,
  OperationFailed,
  type OperationContext,
  type OperationOutcome
} from './operation.js'
import { PipelineError, runPipeline, describePlan, type Step } from './pipeline.js'
import { pruneReleases } from './prune.js'

export interface DeployRequest {
  config: SitecycleConfig
  site: SiteConfig
  exec: Executor
  reporter: Reporter
  /** A release file, a release directory, or a directory of releases. Defaults to the site's `releases`. */
  release?: string
  /** The version to take from a directory of releases (newest when omitted). */
  version?: string
  lockWait?: number
  env?: NodeJS.ProcessEnv
}

interface DeployContext extends OperationContext {
  release: ResolvedRelease
  rendered?: RenderedConfig
  state: SiteState
  /** Where the release file is on the host. */
  upload: string
  wheelOnHost?: string
  /** True when this run created releases/<version> (so its undo may remove it). */
  createdRelease: boolean
  idleBefore: string | null
  switched: boolean
  notes: string[]
}

/** Everything checked before the host is touched: the release and the rendered config. */
export interface PreparedDeploy {
  release: ResolvedRelease
  rendered?: RenderedConfig
}

/** Check the release (manifest, checksum, archive paths, version, package) and render the
 * config in memory (every secret present). Touches no host. */
export async function prepareDeploy(req: DeployRequest): Promise<PreparedDeploy> {
  const path = req.release ?? req.site.releases
  if (!path)
    throw new SitecycleError(
      `no release given for site ${req.site.name}: pass a release file or directory (--release PATH), or set sites.${req.site.name}.releases in ${req.config.file}`,
      'input'
    )
  const release = await resolveRelease({
    path,
    version: req.version,
    packageName: req.config.app.package
  })
  await checkArchive(release.file)
  let rendered: RenderedConfig | undefined
  if (req.site.config) {
    rendered = await renderConfigFile(
      req.site.config.template,
      {
        site: { name: req.site.name, root: req.site.root, url: req.site.url },
        release: {
          version: release.version,
          dir: siteLayout(req.site.root).release(release.version)
        }
      },
      req.env ?? process.env
    )
    for (const s of rendered.secrets) req.reporter.addSecret(s)
  }
  return { release, rendered }
}

/** The steps of a deploy, in order. */
export function deploySteps(): Step<DeployContext>[] {
  return [
    {
      name: 'preflight',
      title:
        'check the host: site initialized, Python version, pip, free space, apachectl configtest',
      run: preflight
    },
    {
      name: 'upload',
      title: 'copy the release file to the host',
      run: async c => {
        const dir = `${siteLayout(c.site.root).incoming}/${c.opId}`
        await c.exec.run(makeDirs([dir], '700'))
        await c.exec.put(c.release.file, c.upload, 0o644)
        return `${basename(c.release.file)} (${c.release.size} bytes)`
      },
      undo: async c => {
        await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`))
      }
    },
    {
      name: 'install',
      title: 'install the release into a fresh virtualenv under releases/ (pip, offline)',
      run: install,
      undo: async c => {
        if (c.createdRelease)
          await c.exec.run(removeTree(siteLayout(c.site.root).release(c.release.version)))
      }
    },
    {
      name: 'render-config',
      title: 'write the rendered config file into the release',
      when: c => c.rendered !== undefined,
      run: async c => {
        const path = `${siteLayout(c.site.root).release(c.release.version)}/app.ini`
        await c.exec.writeFile(path, c.rendered!.text, 0o640)
        await c.exec.tryRun({ argv: ['chgrp', c.site.apache.group, path] })
        const names = c.rendered!.secretNames
        return `app.ini${names.length ? ` with secrets ${names.join(', ')}` : ''}`
      }
    },
    {
      name: 'hooks',
      title: "run the site's after_install hooks in the new virtualenv",
      when: c => c.site.hooks.afterInstall.length > 0,
      run: runHooks
    },
    {
      name: 'start-idle',
      title: 'point the idle slot at the new release and restart its daemon group',
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        c.idleBefore = c.state.idle
        await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.release.version)
        const pids = await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
        return `slot ${c.state.idleSlot}, pids ${pids}`
      },
      undo: async c => {
        await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE)
        await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
      }
    },
    {
      name: 'verify-idle',
      title:
        'verify the new release over HTTP through the private route, before any user reaches it',
      when: c => c.site.apache.mode === 'blue-green',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, {
          slot: c.state.idleSlot,
          version: c.release.version
        })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(
              p,
              `the new release ${c.release.version} on slot ${c.state.idleSlot} (${c.site.health.path})`,
              c.release.version
            ),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    {
      name: 'switch',
      title: 'route users to the new release (one atomic rename of live.map)',
      run: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.release.version)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.idleSlot)
        }
        c.switched = true
        return c.site.apache.mode === 'single'
          ? 'current link'
          : `live slot ${c.state.liveSlot} -> ${c.state.idleSlot}`
      },
      undo: async c => {
        if (c.site.apache.mode === 'single') {
          await pointSlot(c.exec, c.site, c.python, 'blue', c.state.live ?? EMPTY_RELEASE)
          await restartSlotGroup(c.exec, c.site, c.python, 'current')
        } else {
          await switchLiveSlot(c.exec, c.site, c.python, c.state.liveSlot)
        }
        c.switched = false
      }
    },
    {
      name: 'verify-live',
      title: 'verify the site as users see it',
      run: async c => {
        const p = await probeHealth(c.exec, c.site, c.python, { version: c.release.version })
        if (!p.ok)
          throw new SitecycleError(
            describeProbe(
              p,
              `site ${c.site.name} (${c.site.health.path}) after the switch`,
              c.release.version
            ),
            'verify'
          )
        return `HTTP ${p.status}`
      }
    },
    {
      name: 'prune',
      title: 'remove old releases beyond keep_releases (never the live one or the one before it)',
      critical: false,
      run: async c => {
        const removed = await pruneReleases(c.exec, c.site, c.python)
        await c.exec.run(removeTree(`${siteLayout(c.site.root).incoming}/${c.opId}`))
        return removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove'
      }
    }
  ]
}

async function preflight(c: DeployContext): Promise<string> {
  requireInitialized(c.state, c.site, c.exec)
  const python = await c.exec.tryRun(py.pythonVersion(c.python))
  if (python.code !== 0)
    throw new SitecycleError(
      `${c.python} does not run on ${c.exec.name}: ${python.stderr.trim()}; install Debian's python3`,
      'preflight'
    )
  const version = python.stdout.trim()
  if (c.release.requiresPython && !satisfiesRequiresPython(c.release.requiresPython, version))
    throw new SitecycleError(
      `${c.release.name} ${c.release.version} requires Python ${c.release.requiresPython} but ${c.python} on ${c.exec.name} is ${version}`,
      'preflight'
    )
  const pip = await c.exec.tryRun(py.pipVersion(c.python))
  if (pip.code !== 0)
    throw new SitecycleError(
      `pip is missing for ${c.python} on ${c.exec.name}: install python3-pip (${pip.stderr.trim().split('\n').pop()})`,
      'preflight'
    )
  const free = Number(
    (await c.exec.run(py.hostScript(c.python, FREE_SPACE, [c.site.root]))).stdout.trim()
  )
  if (free < c.site.preflight.minFreeMb)
    throw new SitecycleError(
      `only ${free} MiB free under ${c.site.root} on ${c.exec.name}; the site needs ${c.site.preflight.minFreeMb} MiB (preflight.min_free_mb)`,
      'preflight'
    )
  const test = await c.exec.tryRun(apacheConfigTest(c.site))
  if (test.code !== 0)
    throw new SitecycleError(
      `apachectl configtest fails on ${c.exec.name}: ${(test.stderr || test.stdout).trim()}`,
      'preflight'
    )
  return `Python ${version}, ${free} MiB free, configtest ok`
}

async function install(c: DeployContext): Promise<string> {
  const l = siteLayout(c.site.root)
  const dir = l.release(c.release.version)
  const existing = (await listReleases(c.exec, c.site, c.python)).find(
    r => r.dir === c.release.version
  )
  if (existing) {
    const same = existing.complete && existing.info?.sha256 === c.release.sha256
    if (same) return `${c.release.version} is already installed with the same content: reused`
    if (existing.dir === c.state.idle || existing.dir === c.state.live)
      throw new SitecycleError(
        `version ${c.release.version} is installed in a slot of site ${c.site.name} with other content ` +
          `(sha256 ${existing.info?.sha256 ?? 'unknown'}, this release ${c.release.sha256}): a version must not be reused for other content; build a new version`,
        'release'
      )
    await c.exec.run(removeTree(dir))
  }
  c.createdRelease = true
  await c.exec.run(py.createVenv(c.python, dir))
  let wheel = c.upload
  if (c.release.kind === 'sdist') {
    const wheels = `${l.incoming}/${c.opId}/wheels`
    await c.exec.run(py.pipWheel(c.python, c.upload, wheels))
    const listing = await c.exec.run({ argv: ['ls', '-1', wheels] })
    const built = listing.stdout.split('\n').filter(f => f.endsWith('.whl'))
    if (built.length !== 1)
      throw new SitecycleError(
        `building a wheel from ${basename(c.upload)} gave ${built.length} wheels`,
        'install'
      )
    wheel = `${wheels}/${built[0]}`
  }
  c.wheelOnHost = wheel
  const findLinks = [`${l.incoming}/${c.opId}`]
  await c.exec.run(py.pipInstall(c.python, dir, wheel, findLinks))
  await c.exec.tryRun(py.compileAll(dir))
  await c.exec.run(changeMode('755', dir))
  const record = {
    name: c.release.name,
    version: c.release.version,
    sha256: c.release.sha256,
    file: basename(c.release.file),
    kind: c.release.kind,
    commit: c.release.manifest.commit ?? null,
    installedAt: new Date().toISOString(),
    operation: c.opId
  }
  // Written last: a release directory without release.json is half-installed.
  await c.exec.writeFile(`${dir}/release.json.tmp`, JSON.stringify(record, null, 2) + '\n', 0o644)
  await c.exec.run({ argv: ['mv', '-T', `${dir}/release.json.tmp`, `${dir}/release.json`] })
  return `${c.release.kind} into releases/${c.release.version}`
}

async function runHooks(c: DeployContext): Promise<string> {
  const dir = siteLayout(c.site.root).release(c.release.version)
  const configEnv = c.site.config?.env ?? 'SITECYCLE_CONFIG'
  const hooks = c.site.hooks.afterInstall
  for (const [i, line] of hooks.entries()) {
    const argv = splitCommandLine(
      line,
      `${c.config.file}: sites.${c.site.name}.hooks.after_install[${i}]`
    )
    if (['python', 'python3', 'pip'].includes(argv[0])) argv[0] = `${dir}/bin/${argv[0]}`
    c.reporter.info(`   hook: ${line}`)
    await c.exec.run({
      argv,
      cwd: dir,
      env: {
        PATH: `${dir}/bin:/usr/local/bin:/usr/bin:/bin`,
        VIRTUAL_ENV: dir,
        [configEnv]: `${dir}/app.ini`,
        SITECYCLE_SITE: c.site.name,
        SITECYCLE_ROOT: c.site.root,
        SITECYCLE_VERSION: c.release.version
      },
      unsetEnv: ['PYTHONPATH', 'PYTHONHOME'],
      redact: c.rendered?.secrets
    })
  }
  return `${hooks.length} hook${hooks.length === 1 ? '' : 's'}`
}

/** Print the plan without touching anything. */
export function deployPlan(): string[] {
  return describePlan(deploySteps())
}

/** Deploy a release to a site. Throws SitecycleError on bad input (nothing touched) and
 * OperationFailed when a step failed (its undos ran: the previous release serves). */
export async function deploy(req: DeployRequest): Promise<OperationOutcome> {
  const prepared = await prepareDeploy(req)
  const { release } = prepared
  req.reporter.info(
    `deploying ${release.name} ${release.version} (${release.kind}) to site ${req.site.name} on ${req.exec.name}`
  )
  const state0 = await readSiteState(req.exec, req.site, req.config.app.python)
  requireInitialized(state0, req.site, req.exec)
  return withSiteOperation(
    {
      op: 'deploy',
      config: req.config,
      site: req.site,
      exec: req.exec,
      reporter: req.reporter,
      lockWait: req.lockWait
    },
    {
      version: release.version,
      sha256: release.sha256,
      liveSlot: state0.liveSlot,
      live: state0.live,
      idle: state0.idle
    },
    async octx => {
      const state = await readSiteState(octx.exec, octx.site, octx.python)
      const base = {
        op: 'deploy',
        site: req.site.name,
        host: req.exec.name,
        previousVersion: state.live,
        targetVersion: release.version,
        url: req.site.url,
        operationId: octx.opId,
        notes: [] as string[]
      }
      if (state.live === release.version) {
        req.reporter.info(
          `${release.version} is already live on site ${req.site.name}: nothing to do`
        )
        return {
          ...base,
          status: 'unchanged' as const,
          version: state.live,
          rolledBack: false,
          undoComplete: true,
          steps: [],
          journal: { live: state.live }
        }
      }
      const ctx: DeployContext = {
        ...octx,
        release,
        rendered: prepared.rendered,
        state,
        upload: `${siteLayout(req.site.root).incoming}/${octx.opId}/${basename(release.file)}`,
        createdRelease: false,
        idleBefore: state.idle,
        switched: false,
        notes: []
      }
      try {
        const steps = await runPipeline(deploySteps(), ctx, req.reporter, {
          onEvent: e => octx.journal.append({ id: octx.opId, op: 'deploy', event: 'step', ...e })
        })
        await octx.exec.tryRun(
          removeTree(`${siteLayout(req.site.root).release(release.version)}/BAD`)
        )
        return {
          ...base,
          status: 'deployed' as const,
          version: release.version,
          rolledBack: false,
          undoComplete: true,
          steps,
          journal: { live: release.version, previous: state.live }
        }
      } catch (e) {
        if (!(e instanceof PipelineError)) throw e
        await octx.exec.tryRun(removeTree(`${siteLayout(req.site.root).incoming}/${octx.opId}`))
        const after = await readSiteState(octx.exec, octx.site, octx.python).catch(() => undefined)
        const switchedOnce = e.reports.some(
          r => r.name === 'switch' && (r.status === 'undone' || r.status === 'undo-failed')
        )
        throw new OperationFailed({
          ...base,
          status: switchedOnce || e.undoComplete ? 'rolled-back' : 'failed',
          version: after?.live ?? state.live,
          rolledBack: e.undoComplete,
          undoComplete: e.undoComplete,
          steps: e.reports,
          error: e.cause instanceof Error ? e.cause.message : String(e.cause),
          failedStep: e.failedStep
        })
      }
    }
  )
}

export type { Slot }
