/**
 * The demo's private Apache: it listens only on the port the user gave (declared by the site's
 * vhost, so nothing listens before the vhost exists and the first graceful starts it), and it
 * defines the `combined` log format that sitecycle's vhosts name in their CustomLog.
 */
import { afterAll, expect, test } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { freePort, startApache, type PrivateApache } from '../../src/demo/private-apache.js'

let apache: PrivateApache | undefined
let dir = ''
afterAll(async () => {
  await apache?.stop()
  if (dir) await fs.rm(dir, { recursive: true, force: true })
})

/** The TCP ports the processes of `pid` (Apache's parent) listen on. */
function listeningPorts(pid: number): number[] {
  const out = execFileSync('ss', ['-Hltnp']).toString()
  return out
    .split('\n')
    .filter(l => l.includes(`pid=${pid},`))
    .map(l => Number(/:(\d+)\s/.exec(l.split(/\s+/)[3] + ' ')?.[1]))
}

test('listens only on the given port, and writes the access log in the combined format', async () => {
  const port = await freePort()
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sitecycle-private-apache-'))
  apache = await startApache(path.join(dir, 'apache'), { ports: [port] })
  const pidFile = path.join(apache.dir, 'run', 'apache2.pid')
  await expect(fs.readFile(pidFile, 'utf8')).rejects.toThrow()
  const log = path.join(apache.dir, 'access.log')
  await fs.writeFile(
    path.join(apache.confDir, 'site.conf'),
    [
      `Listen 127.0.0.1:${port}`,
      `<VirtualHost 127.0.0.1:${port}>`,
      '  ServerName 127.0.0.1',
      `  CustomLog ${log} combined`,
      '</VirtualHost>',
      ''
    ].join('\n')
  )
  execFileSync(apache.ctl[0], ['configtest'], { stdio: 'pipe' })
  execFileSync(apache.ctl[0], ['graceful'], { stdio: 'pipe' })
  let status = 0
  for (let i = 0; i < 100 && !status; i++) {
    status = await fetch(`http://127.0.0.1:${port}/nothing-here`, {
      headers: { 'User-Agent': 'private-apache-test', Referer: 'http://example.org/' }
    }).then(
      r => r.status,
      () => 0
    )
    if (!status) await new Promise(r => setTimeout(r, 100))
  }
  expect(status).toBe(404)
  const pid = Number((await fs.readFile(pidFile, 'utf8')).trim())
  expect([...new Set(listeningPorts(pid))]).toEqual([port])
  let line = ''
  for (let i = 0; i < 50 && !line; i++) {
    line = (await fs.readFile(log, 'utf8').catch(() => '')).trim()
    if (!line) await new Promise(r => setTimeout(r, 100))
  }
  expect(line).toMatch(
    /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/nothing-here HTTP\/1\.1" 404 \d+ "http:\/\/example\.org\/" "private-apache-test"$/
  )
})

test('stop ends an Apache whose pid file is gone, children included, and says so', async () => {
  const own = await startApache()
  const conf = path.join(own.dir, 'apache2.conf')
  const running = (): string[] =>
    execFileSync('ps', ['-eo', 'pid=,args='])
      .toString()
      .split('\n')
      .filter(l => l.includes(`apache2 -f ${conf}`))
  expect(running().length).toBeGreaterThan(1)
  // What `apachectl stop` then cannot act on: it reads the parent's pid from this file.
  await fs.rm(path.join(own.dir, 'run', 'apache2.pid'))
  const said: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((chunk: string) => said.push(String(chunk)) > 0) as typeof write
  try {
    await own.stop()
  } finally {
    process.stderr.write = write
  }
  expect(said.join('')).toMatch(
    /still running after apachectl stop \(pid file said nothing\); killing \d+/
  )
  for (let i = 0; i < 50 && running().length; i++) await new Promise(r => setTimeout(r, 100))
  expect(running()).toEqual([])
  await expect(fs.stat(own.dir)).rejects.toThrow()
})
