/** The idle slot's WSGI script brought up to date before its daemons restart, and put back. */
import { EMPTY_RELEASE, siteLayout } from '../../sites/layout.js'
import { pointSlot, restartSlotGroup } from '../../sites/site-state.js'
import { writeIfChanged, writeWsgiScript } from '../../sites/wsgi-scripts.js'
import type { DeployContext } from './context.js'

/**
 * Bring the idle slot's WSGI script up to date (a changed app.wsgi, or an older sitecycle's
 * script), keeping the text it had for the undo. Returns whether it wrote.
 */
export async function rewriteIdleScript(c: DeployContext): Promise<boolean> {
  const before = await c.exec.readFile(siteLayout(c.site.root).wsgiScript(c.state.idleSlot))
  const rewrote = await writeWsgiScript(c.exec, c.config, c.site, c.state.idleSlot)
  if (rewrote && before !== undefined) c.idleScriptBefore = before
  return rewrote
}

/** The undo of restart-idle (and of await-idle for a reused release): the idle slot holds the
 * release kept warm for a rollback again, restarted. */
export async function restoreIdleSlot(c: DeployContext): Promise<void> {
  if (c.idleScriptBefore !== undefined)
    await writeIfChanged(
      c.exec,
      siteLayout(c.site.root).wsgiScript(c.state.idleSlot),
      c.idleScriptBefore,
      0o644
    )
  await pointSlot(c.exec, c.site, c.python, c.state.idleSlot, c.idleBefore ?? EMPTY_RELEASE)
  await restartSlotGroup(c.exec, c.site, c.python, c.state.idleSlot)
}
