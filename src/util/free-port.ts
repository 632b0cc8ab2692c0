import { createServer } from 'node:net'

/** A TCP port on 127.0.0.1 that is free now (the kernel's choice; free until someone takes it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      const port = typeof a === 'object' && a ? a.port : 0
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}
