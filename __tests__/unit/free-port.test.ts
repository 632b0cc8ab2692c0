// freePort never hands out a port twice in one process: the kernel chooses ports at random and
// may choose a closed one again (500 choices from the 14,000 or so it gives listen(0) here repeat
// one almost surely), and two sites given one port fail Apache's configtest.
import { createServer } from 'node:net'
import { freePort } from '../../src/util/free-port.js'

test('500 ports in a row: all different, each free to listen on', async () => {
  const ports: number[] = []
  for (let i = 0; i < 500; i++) ports.push(await freePort())
  expect(new Set(ports).size).toBe(500)
  for (const port of ports.slice(0, 20)) {
    const s = createServer()
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    await new Promise<void>(resolve => s.close(() => resolve()))
  }
})
