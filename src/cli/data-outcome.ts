/** The one line a restore or a sync prints (restore.ts, sync.ts). */
import type { restoreSite } from '../pipelines/restore.js'

type DataOutcome = Awaited<ReturnType<typeof restoreSite>>

export function describeDataOutcome(o: DataOutcome): string {
  return (
    `site ${o.site} ${o.status} from snapshot ${o.snapshot} of site ${o.source.site}` +
    (o.database ? `: ${o.database.tables.length} tables` : '') +
    (o.files.length ? `, ${o.files.length} data folder(s)` : '') +
    (o.anonymized ? ', anonymized' : '') +
    (o.hooks ? `, ${o.hooks} hook(s) run in ${o.live}` : '') +
    (o.frozen ? '; it stays frozen (it was before)' : '')
  )
}
