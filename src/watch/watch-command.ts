/**
 * `sitecycle watch <site>` once the site is open: check it, print the report (text or --json) and
 * choose the exit code: 0 clean, 5 drifted.
 */
import { DIFFERENCES_EXIT } from '../compare/compare-command.js'
import { watchSite, type WatchRequest } from './watch.js'
import { formatWatchText } from './watch-report.js'

export interface WatchCommandOptions extends WatchRequest {
  json: boolean
  out: (text: string) => void
}

/** Watch, print, and return the exit code (0 clean, {@link DIFFERENCES_EXIT} drifted). */
export async function watchCommand(o: WatchCommandOptions): Promise<number> {
  const report = await watchSite(o)
  o.out(o.json ? JSON.stringify(report, null, 2) : formatWatchText(report))
  return report.drifted ? DIFFERENCES_EXIT : 0
}
