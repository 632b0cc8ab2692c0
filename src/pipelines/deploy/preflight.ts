/** The preflight step: the host checked, read-only, before a deploy changes anything. */
import type { SiteConfig } from '../../config/model.js'
import { apacheConfigTest } from '../../commands/apache.js'
import { HOST_FACTS } from '../../commands/host-scripts.js'
import * as py from '../../commands/python.js'
import type { Executor } from '../../hosts/executor.js'
import type { ResolvedRelease } from '../../releases/resolve-release.js'
import { satisfiesRequiresPython } from '../../releases/version.js'
import { requireInitialized, type SiteState } from '../../sites/site-state.js'
import { SitecycleError } from '../../util/errors.js'
import type { DeployContext } from './context.js'

/** preflight: the host checks, and pip's runner on the host kept for the install. */
export async function preflight(c: DeployContext): Promise<string> {
  const facts = await checkHost(c)
  c.pipRunner = facts.pipRunner
  return facts.note
}

/** What preflight learned about the host. */
export interface HostFacts {
  python: string
  freeMb: number
  /** pip's `__pip-runner__.py` on the host, when there is one. */
  pipRunner?: string
  /** One line for the step's report. */
  note: string
}

/**
 * The host checks of preflight, read-only (a dry run runs them too): the site initialized, the
 * release's Python requirement against the host's Python, pip, free space, apachectl configtest.
 * Throws SitecycleError (kind `preflight`, or `site` when not initialized) naming what fails.
 */
export async function checkHost(c: {
  exec: Executor
  site: SiteConfig
  python: string
  state: SiteState
  release: ResolvedRelease
}): Promise<HostFacts> {
  requireInitialized(c.state, c.site, c.exec)
  // One Python start for the Python version, pip and free space; configtest beside it.
  const [factsRun, test] = await Promise.all([
    c.exec.tryRun(py.yieldingToUsers(py.hostScript(c.python, HOST_FACTS, [c.site.root], true))),
    c.exec.tryRun(py.yieldingToUsers(apacheConfigTest(c.site)))
  ])
  if (factsRun.code !== 0)
    throw new SitecycleError(
      `${c.python} does not run on ${c.exec.name}: ${factsRun.stderr.trim()}; install Debian's python3`,
      'preflight'
    )
  const facts = JSON.parse(factsRun.stdout) as {
    python: string
    pip: boolean
    pip_runner?: string | null
    free_mb: number
  }
  const version = facts.python
  if (c.release.requiresPython && !satisfiesRequiresPython(c.release.requiresPython, version))
    throw new SitecycleError(
      `${c.release.name} ${c.release.version} requires Python ${c.release.requiresPython} but ${c.python} on ${c.exec.name} is ${version}`,
      'preflight'
    )
  if (!facts.pip)
    throw new SitecycleError(
      `pip is missing for ${c.python} on ${c.exec.name}: install python3-pip (and python3-venv)`,
      'preflight'
    )
  const free = facts.free_mb
  if (free < c.site.preflight.minFreeMb)
    throw new SitecycleError(
      `only ${free} MiB free under ${c.site.root} on ${c.exec.name}; the site needs ${c.site.preflight.minFreeMb} MiB (preflight.min_free_mb)`,
      'preflight'
    )
  if (test.code !== 0)
    throw new SitecycleError(
      `apachectl configtest fails on ${c.exec.name}: ${(test.stderr || test.stdout).trim()}`,
      'preflight'
    )
  return {
    python: version,
    freeMb: free,
    ...(facts.pip_runner ? { pipRunner: facts.pip_runner } : {}),
    note: `Python ${version}, ${free} MiB free, configtest ok`
  }
}
