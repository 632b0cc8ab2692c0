/**
 * What a mirror site records about itself, in `<root>/.sitecycle/mirror.json`: the snapshot it
 * shows, and the site it follows when a promote moved it off the `from:` of sitecycle.yml
 * (pipelines/attempt.ts). Read by the mirror refresh (pipelines/mirror.ts) and by the source's
 * snapshot retention, which keeps what each of its mirrors needs (snapshots/retention.ts).
 */
import { commitFile } from '../commands/files.js'
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import type { Executor } from '../hosts/executor.js'
import type { MirrorNeed } from '../snapshots/retention.js'
import { siteLayout } from './layout.js'

/** The file, under the mirror's `.sitecycle/`, that says which snapshot the mirror shows. */
export const MIRROR_STATE_FILE = 'mirror.json'

/** The site a mirror follows since a promote (instead of its `from:`). */
export interface MirrorFollows {
  /** The site that became production. */
  site: string
  /** The site the mirror followed before (the old production). */
  before: string
  /** When the promote made the switch (ISO 8601): snapshots of `before` up to then still count. */
  since: string
  /** The attempt that was promoted. */
  attempt: string
}

/** What `<root>/.sitecycle/mirror.json` holds. */
export interface MirrorState {
  /** The site the snapshot comes from. */
  from: string
  /** The snapshot the mirror shows; null while a refresh is under way (or after one failed). */
  snapshot: string | null
  /** When that snapshot was taken (ISO 8601). */
  takenAt: string | null
  /** When the mirror was last refreshed (ISO 8601, by the run's clock). */
  refreshedAt: string
  /** The lag the mirror had then, as written in the config. */
  lag: string
  /** The snapshot a refresh under way is putting in place. */
  refreshing?: string
  /** Set by a promote of the site the mirror followed: the new production it follows now. */
  follows?: MirrorFollows
}

/** The path of a mirror's state file. */
export function mirrorStatePath(site: Pick<SiteConfig, 'root'>): string {
  return `${siteLayout(site.root).state}/${MIRROR_STATE_FILE}`
}

/** Read which snapshot a mirror shows; undefined when it was never refreshed. */
export async function readMirrorState(
  exec: Executor,
  site: Pick<SiteConfig, 'root'>
): Promise<MirrorState | undefined> {
  const text = await exec.readFile(mirrorStatePath(site))
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as MirrorState
  } catch {
    return undefined // torn by a kill: treated as showing no known snapshot
  }
}

/**
 * Write a mirror's state durably (host/commit-file.py with the host's `python`: aside, fsync,
 * rename over, fsync of the folder): after a power loss the mirror still knows what it shows.
 */
export async function writeMirrorState(
  exec: Executor,
  site: Pick<SiteConfig, 'root'>,
  state: MirrorState,
  python: string
): Promise<void> {
  const text = `${JSON.stringify(state, null, 2)}\n`
  await exec.run(commitFile(python, mirrorStatePath(site), text, 0o640))
}

/**
 * The mirrors whose snapshots come from `site`: mirrors of the config whose `from:` it is (unless
 * a promote moved them elsewhere), and mirrors a promote moved to it, or off it (they still show
 * its older snapshots until the new production has some that old). Mirrors live on their source's
 * host, so their state files are read through `exec`.
 */
export async function mirrorNeedsOf(
  exec: Executor,
  config: SitecycleConfig,
  site: Pick<SiteConfig, 'name'>
): Promise<MirrorNeed[]> {
  const needs: MirrorNeed[] = []
  for (const m of Object.values(config.sites)) {
    if (m.role !== 'mirror' || !m.lag || m.from === undefined) continue
    const follows = (await readMirrorState(exec, m))?.follows
    const sources = follows ? [follows.site, follows.before] : [m.from]
    if (sources.includes(site.name))
      needs.push({ name: m.name, lagSeconds: m.lag.seconds, lag: m.lag.text })
  }
  return needs
}
