/** `sitecycle status <site>`: live release, installed releases, lock holder, history. */
import type { Command } from 'commander'
import { siteStatus, type SiteStatus } from '../pipelines/status.js'
import { act, EXIT, siteAndExecutor, type CliContext } from './context.js'
import { jsonOption, siteCommandOptions, type HostOptions, type JsonOption } from './options.js'

export type StatusOptions = HostOptions & JsonOption

export function registerStatus(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('status')
    .description('live release, installed releases, lock holder, history')
    .argument('<site>', 'the site, as named in the config')
  jsonOption(cmd)
  siteCommandOptions(cmd).action(
    act(ctx, async (name: string, o: StatusOptions) => {
      const t = await siteAndExecutor(ctx, o, name)
      printStatus(await siteStatus(t.config, t.site, t.exec), Boolean(o.json), ctx.out)
      return EXIT.ok
    })
  )
}

function printStatus(s: SiteStatus, json: boolean, out: (s: string) => void): void {
  if (json) {
    out(JSON.stringify(s, null, 2))
    return
  }
  if (!s.initialized) {
    out(
      `site ${s.site} at ${s.root} on ${s.host} is not initialized: run \`sitecycle init ${s.site}\``
    )
    return
  }
  const lines = [
    `site ${s.site} on ${s.host} (${s.root})${s.role ? `, ${s.role}` : ''}${s.frozen ? ', FROZEN (maintenance page)' : ''}`,
    `  live:      ${s.live ?? 'none'} (slot ${s.liveSlot})`,
    `  previous:  ${s.idle ?? 'none'} (${s.idleComplete === false ? (s.running.length ? 'in the idle slot, being installed by the running operation' : 'in the idle slot, half-installed: not a rollback target; the next operation puts the warm release back') : 'warm in the idle slot'})`,
    `  releases:  ${s.releases.map(r => `${r.dir}${r.bad ? ' [bad]' : ''}${r.complete ? '' : ' [incomplete]'}`).join(', ') || 'none'}`,
    `  lock:      ${s.lock ? `held by ${s.lock.op} ${s.lock.id} (${s.lock.actor}, pid ${s.lock.pid} on ${s.lock.machine}, ${s.lock.state}) since ${s.lock.since}` : 'free'}`
  ]
  if (s.attempt)
    lines.push(
      `  attempt:   ${s.attempt.id} ${s.attempt.phase} (${s.attempt.version ?? '?'} on ${s.attempt.preview}, production ${s.attempt.production})`
    )
  if (s.running.length) lines.push(`  running:   ${s.running.join(', ')} (holds the lock)`)
  if (s.unfinished.length)
    lines.push(`  unfinished: ${s.unfinished.join(', ')} (the next operation recovers them)`)
  lines.push('  history:')
  for (const h of s.history)
    lines.push(
      `    ${h.at}  ${h.op.padEnd(8)} ${String(h.version ?? '').padEnd(10)} ${h.status}${h.error ? `: ${String(h.error)}` : ''}`
    )
  out(lines.join('\n'))
}
