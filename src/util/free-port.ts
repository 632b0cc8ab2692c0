import { createServer, type Server } from 'node:net'

/** Ports this process has handed out already (see freePort). */
const handedOut = new Set<number>()

/**
 * A TCP port on 127.0.0.1 that is free now (the kernel's choice; free until someone takes it) and
 * that this process has not handed out before: the kernel may well choose a port again once it
 * is closed, and two vhosts (or a vhost and its Apache) given one port fail Apache's configtest
 * ("Cannot define multiple Listeners on the same IP:port"). A port chosen again is held open
 * while the kernel is asked for another.
 */
export async function freePort(): Promise<number> {
  const held: Server[] = []
  try {
    for (let i = 0; i < 64; i++) {
      const s = await listenAnywhere()
      held.push(s)
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      if (port && !handedOut.has(port)) {
        handedOut.add(port)
        return port
      }
    }
    throw new Error('no free TCP port on 127.0.0.1 that this process has not handed out already')
  } finally {
    await Promise.all(held.map(s => new Promise<void>(resolve => s.close(() => resolve()))))
  }
}

function listenAnywhere(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => resolve(s))
  })
}
