/**
 * The WSGI scripts sitecycle manages on a site (one per slot, and `current` for the
 * single-group fallback), written only when their text changes: mod_wsgi restarts a daemon
 * group whose script's modification time changes.
 */
import type { SitecycleConfig, SiteConfig } from '../config/model.js'
import { renderWsgiScript } from '../commands/apache.js'
import type { Executor } from '../hosts/executor.js'
import { siteLayout, type Slot } from './layout.js'

/** Write `content` to `path` (aside, then renamed over) unless it holds that already. Returns
 * whether it wrote. */
export async function writeIfChanged(
  exec: Executor,
  path: string,
  content: string,
  mode: number
): Promise<boolean> {
  const now = await exec.readFile(path)
  if (now === content) return false
  await exec.writeFile(`${path}.tmp`, content, mode)
  await exec.run({ argv: ['mv', '-T', `${path}.tmp`, path] })
  return true
}

/** Write a slot's WSGI script (or `current`'s) as this version of sitecycle renders it, when it
 * differs. Returns whether it wrote. */
export async function writeWsgiScript(
  exec: Executor,
  config: SitecycleConfig,
  site: SiteConfig,
  slot: Slot | 'current'
): Promise<boolean> {
  const l = siteLayout(site.root)
  const [path, link] =
    slot === 'current' ? [l.currentScript, l.current] : [l.wsgiScript(slot), l.slot(slot)]
  return writeIfChanged(exec, path, renderWsgiScript(site, config.app.wsgi, link, slot), 0o644)
}
