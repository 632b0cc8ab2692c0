/**
 * What of the live site a deploy does not change although the config now differs (the live
 * slot's WSGI script and environment, the Apache vhost), said plainly as a note.
 */
import { ENV_FILE, envFileText, type RenderedEnv } from '../../config/app-env.js'
import { renderVhost, renderWsgiScript, vhostServesStatic } from '../../commands/apache.js'
import { siteLayout, vhostFileName } from '../../sites/layout.js'
import type { SiteState } from '../../sites/site-state.js'
import type { DeployRequest } from './context.js'

/**
 * What of the live release's WSGI script and environment differs from what this config would
 * write (a changed app.wsgi or env), said plainly: the live slot is never rewritten while it
 * serves, so they wait for the next deploy of another version. Undefined when nothing differs.
 */
export async function describeStaleLive(
  req: DeployRequest,
  state: SiteState,
  appEnv: RenderedEnv | undefined
): Promise<string | undefined> {
  if (req.site.apache.mode !== 'blue-green' || state.live === null) return undefined
  const l = siteLayout(req.site.root)
  const slot = state.liveSlot
  const [script, env] = await Promise.all([
    req.exec.readFile(l.wsgiScript(slot)),
    req.exec.readFile(`${l.release(state.live)}/${ENV_FILE}`)
  ])
  const changed = [
    ...(script !== renderWsgiScript(req.site, req.config.app.wsgi, l.slot(slot), slot)
      ? [`the ${slot} slot's WSGI script (app.wsgi, or a script an older sitecycle wrote)`]
      : []),
    ...(env !== (appEnv ? envFileText(appEnv) : undefined) ? ['the environment (env)'] : [])
  ]
  if (!changed.length) return undefined
  return `${changed.join(' and ')} of live release ${state.live} ${changed.length > 1 ? 'differ' : 'differs'} from this config: the live slot is not rewritten while it serves; they take effect with the next deploy of another version`
}

/**
 * Whether the site's Apache vhost is the one this config gives, said plainly when not: only init
 * writes the vhost, and a deploy never reloads Apache (a graceful restarts every daemon group on
 * it), so a changed `static:`, a shared folder's `url:`, or an Apache, access or maintenance
 * setting waits for `sitecycle init --reload`. Undefined when the vhost agrees, or cannot be read
 * (init then has more to say).
 */
export async function describeStaleVhost(req: DeployRequest): Promise<string | undefined> {
  const path = `${req.site.apache.confDir}/${vhostFileName(req.site)}`
  const vhost = await req.exec.readFile(path).catch(() => undefined)
  if (vhost === undefined || vhost === renderVhost(req.site)) return undefined
  const until = `Apache serves it as before until you run: sitecycle init ${req.site.name} --reload (a deploy does not reload Apache)`
  if (!vhostServesStatic(req.site, vhost)) {
    const now = req.site.static?.length
      ? req.site.static.map(e => `${e.prefix} from ${e.folder}`).join(', ')
      : 'none'
    return `the static files (static:) of site ${req.site.name} changed since its Apache vhost ${path} was written (now: ${now}); ${until}`
  }
  return `the Apache vhost ${path} of site ${req.site.name} differs from what its config gives now (apache:, shared: url, access: or maintenance: settings, or a vhost an older sitecycle wrote); ${until}`
}
